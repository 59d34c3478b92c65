"""What the agent service takes and gives: the adapters (web, Slack, CLI) speak only these types."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from knowledge.practice.models import Role
from tools.descriptor import CardKind


class Channel(StrEnum):
    """Where a request comes from; decides whether patient fields (PHI) may be shown."""

    WEB = "web"
    CLI = "cli"
    MCP = "mcp"  # an MCP client (desktop AI app, IDE agent) on the server's machine; shows what the CLI shows
    SLACK_DM = "slack_dm"
    SLACK_CHANNEL = "slack_channel"  # a channel not on the practice's PHI allow list
    SLACK_PHI_CHANNEL = "slack_phi_channel"  # a channel on the allow list


@dataclass(frozen=True)
class Requester:
    """Who is asking, bound by the server (never by the model)."""

    practice_id: int
    user_id: int | None
    role: Role | None  # None: an unmapped user (codes and knowledge only, no claim data)
    channel: Channel = Channel.WEB
    request_id: str = "-"

    @property
    def phi_allowed(self) -> bool:
        """Patient names, birth dates and member ids may appear in replies on this channel."""
        return self.role is not None and self.channel is not Channel.SLACK_CHANNEL


class Citation(BaseModel):
    """A numbered reference to the passage an answer used."""

    number: int
    title: str
    section: str = ""
    source: str = ""
    passage_id: str | None = Field(default=None, description="Opens the passage: GET /api/passages/{passage_id}.")
    url: str | None = None
    payer: str | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None


class ToolCallRecord(BaseModel):
    name: str
    arguments: dict[str, Any]
    outcome: Literal["ok", "error", "pending", "denied"]
    duration_ms: int
    summary: str = Field(default="", description="One line for progress displays (no patient fields).")


class PendingActionView(BaseModel):
    """A write waiting for a person: confirm or cancel it by id."""

    id: str
    tool: str
    summary: str
    arguments: dict[str, Any]
    status: str = "pending"
    required_roles: list[str] = Field(default_factory=list)


class Card(BaseModel):
    """Structured data an adapter may render richly (a code record, a claim, a denial explanation)."""

    kind: CardKind
    data: dict[str, Any]


class AgentReply(BaseModel):
    thread_id: str
    message_id: str
    answer: str = Field(description="Markdown. Every code in it came from a tool result of this turn.")
    citations: list[Citation] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    pending_action: PendingActionView | None = None
    cards: list[Card] = Field(default_factory=list)
    removed_codes: list[str] = Field(default_factory=list, description="Codes the grounding guard took out.")
    contains_phi: bool = Field(
        default=False,
        description="The reply (answer, cards, pending action) shows patient fields: a name, birth date, member "
        "id, or a tool's free-text field that may quote them (an X12 exception reason).",
    )
    phi_hidden: bool = Field(
        default=False, description="Patient fields were taken out because the channel may not show them."
    )


class ActionResult(BaseModel):
    action_id: str
    status: Literal["confirmed", "cancelled", "failed", "already_decided"]
    message: str
    result: dict[str, Any] | None = None


class AgentEvent(BaseModel):
    """One step of a streamed turn: `step` (a tool is running), `answer` (the final reply), `error`."""

    type: Literal["step", "answer", "error"]
    text: str = ""
    reply: AgentReply | None = None
