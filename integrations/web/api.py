"""The JSON API: thin routes over the agent service and the read tools. Every route but health and login
needs a signed-in user (`CurrentUser`); the practice comes from that user, never from the request."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant import roles
from assistant.audit import record_tool_call
from assistant.service import LETTER_MEDIA_TYPES, LetterFormat
from assistant.types import ActionResult, AgentEvent, AgentReply, Requester
from integrations.web.auth import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Agent,
    AppSettings,
    CurrentRequester,
    CurrentUser,
    Principal,
    RequestId,
    cookie_secure,
    csrf_token,
)
from integrations.web.errors import as_assistant_error, log, unexpected_message
from integrations.web.ratelimit import LoginThrottle, TokenBucket
from integrations.web.schemas import (
    ERROR_RESPONSES,
    AppealLetterDetail,
    AppealLetterEdit,
    ChatRequest,
    FeedbackRequest,
    Health,
    Indexing,
    IndexPart,
    LoginRequest,
    Me,
    Ok,
    ThreadDeleted,
    ThreadDetail,
    ThreadMessage,
    ThreadRename,
    ThreadSummary,
)
from knowledge.codesets import SearchResult
from knowledge.codesets.models import CodeRecord
from knowledge.documents.models import Passage
from knowledge.errors import AssistantError, PermissionDenied, ServiceUnavailable
from knowledge.practice.accounts import authenticate, issue_token, revoke_token
from knowledge.practice.database import check_schema, session_scope
from knowledge.practice.models import Practice, User
from knowledge.x12.jobs import JobView, get_job, list_jobs
from tools.draft_appeal import AppealLetterView
from tools.get_claim import ClaimDetail, get_claim
from tools.lookup_code import lookup_code
from tools.search_codes import search_codes

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
events_log = logging.getLogger("billing_assistant.web.chat")


# -- health and sign-in ----------------------------------------------------------------------------------
@router.get("/health", response_model=Health, responses={503: {"model": Health}}, tags=["service"])
def health(agent: Agent, request: Request, response: Response) -> Health:
    """Whether the server and its database answer (no sign-in needed; says nothing about any practice),
    and how far the search indexes it builds in the background are (the chat page's banner reads it)."""
    backend = agent.engine.url.get_backend_name()
    indexing = _indexing(request)
    try:
        check_schema(agent.engine)
    except AssistantError as exc:
        response.status_code = 503
        return Health(status="unavailable", database=backend, message=exc.message, indexing=indexing)
    return Health(status="ok", database=backend, indexing=indexing)


def _indexing(request: Request) -> Indexing | None:
    """The background indexer's progress (`serve` sets ``app.state.indexing``; other apps build nothing)."""
    status = getattr(request.app.state, "indexing", None)
    if status is None:
        return None
    parts = status.snapshot()

    def part(name: str) -> IndexPart:
        p = parts[name]
        return IndexPart(state=p.state, done=p.done, total=p.total, step=p.step, message=p.message)

    return Indexing(ready=status.ready, knowledge=part("knowledge"), codes=part("codes"))


def _me(principal: Principal, practice_slug: str, settings: AppSettings) -> Me:
    return Me(
        user_id=principal.user_id,
        practice_id=principal.practice_id,
        practice=practice_slug,
        email=principal.email,
        name=principal.name,
        role=principal.role.value,
        via=principal.via,
        csrf_token=csrf_token(settings, principal.session_secret) if principal.session_secret else None,
    )


@router.post("/login", response_model=Me, tags=["sign-in"])
def login(body: LoginRequest, request: Request, response: Response, agent: Agent, settings: AppSettings) -> Me:
    """Sign in with email and password; sets the session cookie and returns the CSRF token for the page.

    The body must be JSON: a cross-site form cannot send that without the browser asking first."""
    throttle: LoginThrottle = request.app.state.login_limiter
    client = request.client.host if request.client else "-"
    wait = throttle.client_wait(client)
    if wait:
        raise HTTPException(429, "Too many sign-in attempts; wait a moment.", headers={"Retry-After": str(wait)})
    email = body.email.strip().lower()
    # The throttle counts in the practice database, in transactions of its own: none of its calls may run
    # while this request holds a writing transaction (on SQLite it would wait for the request's own lock).
    with session_scope(agent.read_sessions) as session:
        practice_id = None
        if body.practice:
            practice_id = session.scalar(select(Practice.id).where(Practice.slug == body.practice))
        account = _account(session, throttle, email, body.practice, practice_id)
    wait = throttle.account_wait(client, account)
    if wait:
        log.info("sign-in held back", extra={"request_id": request.state.request_id})
        raise HTTPException(
            429,
            "Too many wrong passwords for this account; wait, or ask an administrator to reset the password.",
            headers={"Retry-After": str(wait)},
        )
    with session_scope(agent.sessions) as session:
        user = authenticate(session, email=body.email, password=body.password, practice_id=practice_id)
        if user is not None and not (body.practice and practice_id is None):
            old = request.cookies.get(SESSION_COOKIE)
            if old:
                revoke_token(session, secret=old)
            issued = issue_token(session, user=user, kind="session", lifetime=SESSION_LIFETIME)
            slug = session.scalar(select(Practice.slug).where(Practice.id == user.practice_id)) or ""
            principal = Principal.of(user, session_secret=issued.secret)
        else:
            user = None
    if user is None:
        throttle.failed(client, account)
        log.info("sign-in refused", extra={"request_id": request.state.request_id})
        raise HTTPException(401, "Wrong email or password.")
    throttle.succeeded(client, account)
    response.set_cookie(
        SESSION_COOKIE,
        issued.secret,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings, request),
        path="/",
    )
    log.info("signed in", extra={"request_id": request.state.request_id, "user_id": user.id})
    return _me(principal, slug, settings)


def _account(session: Session, throttle: LoginThrottle, email: str, slug: str | None, practice_id: int | None) -> str:
    """The throttle's name for the account signing in: the email, the practice asked for, and the current
    password hashes of the users it could be (so a password reset ends a lock-out at once)."""
    query = select(User.password_hash).where(func.lower(User.email) == email)
    if practice_id is not None:
        query = query.where(User.practice_id == practice_id)
    hashes = sorted(h or "-" for h in session.scalars(query.order_by(User.id)))
    return throttle.account_key(f"{email}|{slug or ''}", list(hashes))


@router.post("/logout", response_model=Ok, tags=["sign-in"])
def logout(user: CurrentUser, request: Request, response: Response, agent: Agent, settings: AppSettings) -> Ok:
    """End the session (the cookie stops working at once, here and in any copy of it)."""
    if user.session_secret:
        with session_scope(agent.sessions) as session:
            revoke_token(session, secret=user.session_secret)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_secure(settings, request)
    )
    return Ok()


@router.get("/me", response_model=Me, tags=["sign-in"])
def me(user: CurrentUser, agent: Agent, settings: AppSettings) -> Me:
    """Who is signed in, and the CSRF token of the session."""
    with session_scope(agent.sessions) as session:
        slug = session.scalar(select(Practice.slug).where(Practice.id == user.practice_id)) or ""
    return _me(user, slug, settings)


# -- chat ------------------------------------------------------------------------------------------------
async def chat_allowance(user: CurrentUser, request: Request) -> None:
    """The per-user rate limit of /api/chat: 429 with Retry-After when the bucket is empty."""
    limiter: TokenBucket = request.app.state.chat_limiter
    wait = limiter.retry_after(f"{user.practice_id}:{user.user_id}")
    if wait:
        raise HTTPException(429, "Too many questions at once; wait a moment.", headers={"Retry-After": str(wait)})


def _wants_stream(request: Request, stream: bool) -> bool:
    return stream or "text/event-stream" in request.headers.get("accept", "")


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event; JSON data on one line (json.dumps escapes newlines)."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


@router.post(
    "/chat",
    response_model=AgentReply,
    dependencies=[Depends(chat_allowance)],
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "The reply as JSON; or, with `Accept: text/event-stream` or `?stream=1`, Server-Sent "
            "Events: `step` ({text}) as each tool runs, then `answer` (the reply) or `error` ({error, message}).",
        },
        429: {"description": "Rate limited; see Retry-After."},
    },
    tags=["chat"],
)
async def chat(
    body: ChatRequest,
    request: Request,
    agent: Agent,
    requester: CurrentRequester,
    stream: Annotated[bool, Query(description="Answer as Server-Sent Events.")] = False,
) -> Any:
    """Ask the assistant. Writes come back as a `pending_action` to confirm or cancel."""
    turns: Executor = request.app.state.turns
    if not _wants_stream(request, stream):
        ask = functools.partial(agent.ask, body.message, requester=requester, thread_id=body.thread_id)
        return await asyncio.get_running_loop().run_in_executor(turns, ask)
    events = _start_turn(agent, body, requester, turns)
    kind, first = await events.get()
    if kind == "error":
        raise first  # nothing sent yet: the error handlers give it its status code
    return StreamingResponse(
        _relay(kind, first, events, requester.request_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _start_turn(
    agent: Agent, body: ChatRequest, requester: Requester, turns: Executor
) -> asyncio.Queue[tuple[str, Any]]:
    """Run the turn on the app's turn pool (the agent and its database session are synchronous), feeding a
    queue."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(kind: str, payload: Any) -> None:
        loop.call_soon_threadsafe(events.put_nowait, (kind, payload))

    def produce() -> None:
        try:
            for event in agent.stream(body.message, requester=requester, thread_id=body.thread_id):
                put("event", event)
        except BaseException as exc:
            put("error", exc)
        finally:
            put("done", None)

    worker = loop.run_in_executor(turns, produce)
    worker.add_done_callback(lambda _future: None)  # keep a reference until it ends
    return events


async def _relay(kind: str, first: Any, events: asyncio.Queue[tuple[str, Any]], request_id: str) -> AsyncIterator[str]:
    started = time.perf_counter()
    while kind != "done":
        if kind == "event":
            event: AgentEvent = first
            if event.type == "answer" and event.reply is not None:
                yield sse("answer", event.reply.model_dump(mode="json"))
            else:
                yield sse(event.type, {"text": event.text})
        elif kind == "error":
            yield sse("error", _error_payload(first, request_id))
        kind, first = await events.get()
    events_log.info("chat streamed in %d ms", (time.perf_counter() - started) * 1000, extra={"request_id": request_id})


def _error_payload(exc: BaseException, request_id: str) -> dict[str, str]:
    known = as_assistant_error(exc)
    if known is not None:
        return {"error": known.code, "message": known.message, "request_id": request_id}
    log.error("chat turn failed", exc_info=exc, extra={"request_id": request_id})
    return {"error": "internal", "message": unexpected_message(request_id), "request_id": request_id}


# -- threads and feedback --------------------------------------------------------------------------------
@router.get("/threads", response_model=list[ThreadSummary], tags=["chat"])
def threads(
    agent: Agent,
    requester: CurrentRequester,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Only conversations whose title or messages hold every word of it."),
    ] = None,
) -> list[ThreadSummary]:
    """The signed-in user's conversations, newest activity first (50 at most); `q` searches them."""
    return [ThreadSummary(**row) for row in agent.threads(requester=requester, query=q)]


@router.get("/threads/{thread_id}", response_model=ThreadDetail, tags=["chat"])
def thread(thread_id: str, agent: Agent, requester: CurrentRequester) -> ThreadDetail:
    """One conversation's messages (404 if it is not the user's)."""
    messages = agent.thread_messages(thread_id, requester=requester)
    return ThreadDetail(id=thread_id, messages=[ThreadMessage(**m) for m in messages])


@router.patch("/threads/{thread_id}", response_model=ThreadSummary, tags=["chat"])
def rename_thread(thread_id: str, body: ThreadRename, agent: Agent, requester: CurrentRequester) -> ThreadSummary:
    """Rename one of the user's conversations (404 if it is not theirs; 422 for a blank or too long title)."""
    return ThreadSummary(**agent.rename_thread(thread_id, body.title, requester=requester))


@router.delete("/threads/{thread_id}", response_model=ThreadDeleted, tags=["chat"])
def delete_thread(thread_id: str, agent: Agent, requester: CurrentRequester) -> ThreadDeleted:
    """Delete one of the user's conversations and its messages for good; its pending actions are cancelled.
    404 if it is not theirs, and for everyone afterwards."""
    return ThreadDeleted(id=thread_id, cancelled_actions=agent.delete_thread(thread_id, requester=requester))


@router.post("/threads/{thread_id}/feedback", response_model=Ok, tags=["chat"])
def feedback(thread_id: str, body: FeedbackRequest, agent: Agent, requester: CurrentRequester) -> Ok:
    """A thumbs up (+1) or down (-1) on an answer of the conversation, with an optional comment (what was
    wrong; at most 2,000 characters, a 422 beyond). 404 if the conversation is not the user's."""
    agent.feedback(thread_id, requester=requester, value=body.value, message_id=body.message_id, comment=body.comment)
    return Ok()


# -- confirmations ---------------------------------------------------------------------------------------
@router.post("/actions/{action_id}/confirm", response_model=ActionResult, tags=["actions"])
def confirm(action_id: str, agent: Agent, requester: CurrentRequester) -> ActionResult:
    """Run a pending write (once). 403 if the user's role may not confirm it; a second confirm answers
    `already_decided`; a write that fails answers `failed` with the reason and writes nothing."""
    return agent.confirm(action_id, requester=requester)


@router.post("/actions/{action_id}/cancel", response_model=ActionResult, tags=["actions"])
def cancel(action_id: str, agent: Agent, requester: CurrentRequester) -> ActionResult:
    """Drop a pending write: nothing is written."""
    return agent.cancel(action_id, requester=requester)


# -- read tools ------------------------------------------------------------------------------------------
def _provided(agent: Agent, name: str, what: str) -> Any:
    provider = agent.providers.get(name)
    if provider is None:
        raise ServiceUnavailable(f"The {what} is not configured on this server.")
    try:
        return provider()
    except AssistantError:
        raise
    except Exception as exc:
        log.exception("%s unavailable", name)
        raise ServiceUnavailable(f"The {what} cannot be opened right now.") from exc


@router.get("/codes/search", response_model=SearchResult, tags=["codes"])
def codes_search(
    agent: Agent,
    _user: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words or a code.")],
    system: Annotated[str | None, Query(description="ICD-10-CM, HCPCS, CARC, RARC, POS or modifier.")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResult:
    """Search the code sets by words."""
    return search_codes(q, system, limit, codesets=_provided(agent, "codesets", "code set cache"))


@router.get("/codes/{code}", response_model=CodeRecord, tags=["codes"])
def code(
    code: str,
    agent: Agent,
    _user: CurrentUser,
    system: Annotated[str | None, Query(description="Which code set, when the code is ambiguous.")] = None,
) -> CodeRecord:
    """Everything known about one code: description, billable or header, notes."""
    return lookup_code(code, system, codesets=_provided(agent, "codesets", "code set cache"))


@router.get("/claims/{claim_number}", response_model=ClaimDetail, tags=["claims"])
def claim(claim_number: str, agent: Agent, requester: CurrentRequester) -> ClaimDetail:
    """One claim of the user's practice: status, lines, remittances, balances (404 for another practice's)."""
    if not roles.may_read(requester.role, "claims"):
        raise PermissionDenied("Your role may not read claims.")
    started = time.perf_counter()
    with session_scope(agent.read_sessions) as session:
        detail = get_claim(claim_number, session=session, practice_id=requester.practice_id)
    # Claim data is patient data: who looked, when (never what they saw), written before it is shown.
    with session_scope(agent.sessions) as session:
        record_tool_call(
            session,
            requester=requester,
            tool="get_claim",
            arguments={"claim_number": claim_number},
            outcome="ok",
            duration_ms=int((time.perf_counter() - started) * 1000),
            thread_id=None,
            message_id=None,
            entity="claim",
            entity_id=claim_number,
            extra={"via": "api"},
        )
    return detail


@router.get("/jobs", response_model=list[JobView], tags=["imports"])
def import_jobs(
    agent: Agent, requester: CurrentRequester, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[JobView]:
    """The practice's newest import jobs (queued, running with progress, done or failed), reports left out."""
    if not roles.may_read(requester.role, "claims"):
        raise PermissionDenied("Your role may not read imports.")
    with session_scope(agent.read_sessions) as session:
        found = list_jobs(session, practice_id=requester.practice_id, limit=limit)
    return [job.model_copy(update={"report": None}) for job in found]


@router.get("/jobs/{job_id}", response_model=JobView, tags=["imports"])
def import_job(job_id: Annotated[int, Path(ge=1)], agent: Agent, requester: CurrentRequester) -> JobView:
    """One import job of the user's practice, with its progress and, when done, its report (404 otherwise)."""
    if not roles.may_read(requester.role, "claims"):
        raise PermissionDenied("Your role may not read imports.")
    with session_scope(agent.read_sessions) as session:
        return get_job(session, practice_id=requester.practice_id, job_id=job_id)


@router.get("/passages/{passage_id}", response_model=Passage, tags=["knowledge"])
def passage(passage_id: str, agent: Agent, user: CurrentUser) -> Passage:
    """A cited passage of the knowledge base, with its document, section and dates (a shared one, or one of
    the user's own practice: another practice's passage is not found)."""
    knowledge_base = _provided(agent, "knowledge_base", "knowledge base")
    try:
        found: Passage = knowledge_base.get_passage(passage_id, practice_id=user.practice_id)
    except AssistantError:
        raise
    except Exception as exc:
        log.exception("knowledge base unavailable")
        raise ServiceUnavailable("The knowledge base cannot be reached right now.") from exc
    return found


# -- appeal letters --------------------------------------------------------------------------------------
# A letter names the patient: only the signed-in users of its practice read it (another practice's letter
# is a 404, like a missing one); only its author edits it or marks it sent. The service audits each use.
LetterId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The `letter_id` of a draft_appeal result.")]


def _letter_detail(view: AppealLetterView) -> AppealLetterDetail:
    base = f"/api/appeals/{view.letter_id}/download?format="
    return AppealLetterDetail(**view.model_dump(), downloads={fmt: base + fmt for fmt in LETTER_MEDIA_TYPES})


@router.get("/appeals/{letter_id}", response_model=AppealLetterDetail, tags=["appeals"])
def appeal_letter(letter_id: LetterId, agent: Agent, requester: CurrentRequester) -> AppealLetterDetail:
    """One appeal letter of the user's practice: its text, fields, citations and status."""
    return _letter_detail(agent.appeal_letter(letter_id, requester=requester))


@router.get(
    "/appeals/{letter_id}/download",
    response_class=Response,
    responses={
        200: {
            "content": {media_type: {} for media_type in LETTER_MEDIA_TYPES.values()},
            "description": "The letter as a file (Content-Disposition: attachment); its name holds no patient field.",
        }
    },
    tags=["appeals"],
)
def download_appeal_letter(
    letter_id: LetterId,
    agent: Agent,
    requester: CurrentRequester,
    fmt: Annotated[LetterFormat, Query(alias="format", description="docx or pdf.")],
) -> Response:
    """The letter as it stands (the author's edits included), as a Word document or a PDF."""
    letter = agent.appeal_letter_file(letter_id, fmt, requester=requester)
    return Response(
        letter.content,
        media_type=letter.media_type,
        headers={"Content-Disposition": f'attachment; filename="{letter.file_name}"', "Cache-Control": "no-store"},
    )


@router.put("/appeals/{letter_id}", response_model=AppealLetterDetail, tags=["appeals"])
def edit_appeal_letter(
    letter_id: LetterId, body: AppealLetterEdit, agent: Agent, requester: CurrentRequester
) -> AppealLetterDetail:
    """Replace a draft's text. 403 for anyone but its author; 409 once it was sent."""
    return _letter_detail(agent.edit_appeal_letter(letter_id, body.body, requester=requester))


@router.post("/appeals/{letter_id}/sent", response_model=AppealLetterDetail, tags=["appeals"])
def mark_appeal_letter_sent(letter_id: LetterId, agent: Agent, requester: CurrentRequester) -> AppealLetterDetail:
    """Mark a draft as sent to the payer; it is not edited after that. 403 for anyone but its author; 409 if
    it was already sent."""
    return _letter_detail(agent.send_appeal_letter(letter_id, requester=requester))


__all__ = ["RequestId", "router"]
