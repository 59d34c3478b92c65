"""Request and response bodies of the JSON API (they are what the OpenAPI document shows)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from assistant.service import MAX_FEEDBACK_COMMENT, feedback_comment_too_long
from assistant.types import Card, Citation
from knowledge.practice.letters import MAX_BODY_CHARS
from tools.draft_appeal import AppealLetterView

# Control characters other than tab and line breaks; and lone surrogates, which JSON can carry ("\ud800")
# but no database, hash or log can store.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class RequestBody(BaseModel):
    """A request body: every string in it is text a database can store (a 422 otherwise, never a 500)."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        if isinstance(value, str) and _UNPRINTABLE.search(value):
            raise ValueError("contains control characters or unpaired surrogates")
        return value


class LoginRequest(RequestBody):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    practice: str | None = Field(
        default=None,
        max_length=64,
        description="Practice slug, when the email is in several practices.",
    )


class Me(BaseModel):
    """The signed-in user."""

    user_id: int
    practice_id: int
    practice: str
    email: str
    name: str
    role: str
    via: Literal["session", "token"]
    csrf_token: str | None = Field(
        default=None, description="Send as `X-CSRF-Token` on POST requests made with the session cookie."
    )


class ChatRequest(RequestBody):
    message: str = Field(max_length=8000, description="What the person asked.")
    thread_id: str | None = Field(
        default=None,
        max_length=80,
        description="Continue this conversation: a `thread_id` of an earlier reply to the same user. Any other "
        "value names a new conversation of the user's; the reply's `thread_id` is the one to send next.",
    )


class ThreadSummary(BaseModel):
    id: str
    title: str
    channel: str
    updated_at: str = Field(description="Its last activity (a question answered), ISO 8601 with the offset.")


class ThreadRename(RequestBody):
    title: str = Field(
        max_length=1000,
        description="The new title: spaces and line breaks are collapsed, then it must be 1 to 120 characters.",
    )


class ThreadDeleted(BaseModel):
    id: str
    cancelled_actions: list[str] = Field(
        default_factory=list, description="The ids of its pending actions, cancelled with it (nothing was written)."
    )


class ThreadMessage(BaseModel):
    role: Literal["user", "assistant"]
    text: str
    cards: list[Card] = Field(default_factory=list, description="An answer's cards, as the live reply had them.")
    citations: list[Citation] = Field(default_factory=list, description="The passages an answer cites.")


class ThreadDetail(BaseModel):
    id: str
    messages: list[ThreadMessage]


class FeedbackRequest(RequestBody):
    value: Literal[1, -1] = Field(description="+1 helpful, -1 not helpful.")
    message_id: str | None = Field(default=None, max_length=80)
    comment: str | None = Field(
        default=None,
        # Checked below rather than by max_length, so that the 422 says the limit in words.
        json_schema_extra={"maxLength": MAX_FEEDBACK_COMMENT},
        description=f"What was wrong with the answer, in the person's words (at most {MAX_FEEDBACK_COMMENT:,} "
        "characters). Stored with the feedback, never logged.",
    )

    @field_validator("comment", mode="after")
    @classmethod
    def _comment_length(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MAX_FEEDBACK_COMMENT:
            raise PydanticCustomError("comment_too_long", feedback_comment_too_long(len(value)))
        return value


class AppealLetterDetail(AppealLetterView):
    """A filed appeal letter of the user's practice. It names the patient."""

    downloads: dict[str, str] = Field(
        default_factory=dict, description="The letter as a file, by format (docx, pdf): the URL to GET."
    )


class AppealLetterEdit(RequestBody):
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS, description="The draft's new text, whole.")


class Ok(BaseModel):
    status: Literal["ok"] = "ok"


class IndexPart(BaseModel):
    """One search index the server builds in the background after it starts."""

    state: Literal["pending", "building", "ready", "failed", "off"] = Field(
        description="pending (waiting for its turn), building, ready, failed (see message) or off (not built "
        "by this server)."
    )
    done: int = Field(description="Units stored so far (passages, code descriptions).")
    total: int = Field(description="Units this build stores (0 while not known yet).")
    step: str | None = Field(default=None, description="What the build is doing now.")
    message: str | None = Field(default=None, description="Why the build failed.")


class Indexing(BaseModel):
    """The background indexer's progress: what works fully once each part is ready."""

    ready: bool = Field(description="Nothing is left to build.")
    knowledge: IndexPart = Field(description="Policy, playbook and guidance passages (policy search).")
    codes: IndexPart = Field(description="Code-description vectors (semantic code search; lexical works before).")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str = Field(description="The database backend (sqlite or postgresql).")
    message: str | None = Field(default=None, description="Why the service is unavailable.")
    indexing: Indexing | None = Field(
        default=None,
        # Left out of the answer when the server builds nothing in the background (an app made by a test
        # or an embedding host), so that answer stays what it was before background indexing.
        exclude_if=lambda value: value is None,
        description="The search indexes the server is building after its start; absent when it builds none.",
    )


class ErrorBody(BaseModel):
    """Every error answer has this shape."""

    error: str = Field(description="Machine-readable: not_found, permission_denied, invalid_input, ...")
    message: str = Field(description="A sentence a person can read.")
    request_id: str = Field(default="-", description="Quote it when reporting a problem; the log has details.")


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "Not signed in (no session cookie or API token).",
        403: "The role may not do this, or the CSRF token is missing.",
        404: "Not found in the user's practice.",
        422: "The request is malformed.",
        503: "The database or another dependency is unavailable.",
    }.items()
}
