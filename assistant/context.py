"""What the server binds for one request: who is asking, the sessions, the shared resources, and what the
turn's tools did. Used by the tool wrapper (`tooling.py`) and by confirmations (`actions.py`)."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from assistant.types import Requester, ToolCallRecord


def context_parameters(func: Callable[..., Any]) -> list[str]:
    """The keyword-only parameters of a tool function: what the server binds."""
    return [p.name for p in inspect.signature(func).parameters.values() if p.kind is p.KEYWORD_ONLY]


def bind_context(func: Callable[..., Any], values: Callable[[str], Any]) -> dict[str, Any]:
    """Values for a function's keyword-only parameters; one with a default may be left to it."""
    bound: dict[str, Any] = {}
    for parameter in inspect.signature(func).parameters.values():
        if parameter.kind is not parameter.KEYWORD_ONLY:
            continue
        try:
            bound[parameter.name] = values(parameter.name)
        except LookupError:
            if parameter.default is inspect.Parameter.empty:
                raise
    return bound


@dataclass
class TurnRecorder:
    """What the tools of one turn did: records for the reply and audit, raw results for citations."""

    records: list[ToolCallRecord] = field(default_factory=list)
    results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    phi: set[str] = field(default_factory=set)
    pending_action_id: str | None = None
    #: Each record's place in the plan (see `tooling._plan_position`), in the order the calls finished.
    order: list[tuple[int, int]] = field(default_factory=list)

    def in_plan_order(self) -> None:
        """Put records and results in the order the plan made the calls, not the order they finished."""
        if len(self.order) != len(self.records) or len(self.order) != len(self.results):
            return  # a call recorded outside a tool (never in a turn): keep what happened
        ranked = sorted(range(len(self.order)), key=self.order.__getitem__)
        self.records = [self.records[i] for i in ranked]
        self.results = [self.results[i] for i in ranked]
        self.order = [self.order[i] for i in ranked]


@dataclass
class RequestContext:
    """Everything the server binds for one request."""

    requester: Requester
    session: Session  # read-write: audit records, pending actions
    thread_id: str
    message_id: str
    providers: dict[str, Callable[[], Any]]  # lazily built shared resources: codesets, knowledge_base...
    recorder: TurnRecorder = field(default_factory=TurnRecorder)
    # The agent may run several tool calls at once in threads; one SQLAlchemy session is not thread-safe.
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Given to read tools, so their queries take no write lock (SQLite); None: they use `session`.
    read_session: Session | None = None

    def read_value(self, name: str) -> Any:
        """`bound_value` for a tool that only reads: its `session` is the read-only one."""
        if name == "session" and self.read_session is not None:
            return self.read_session
        return self.bound_value(name)

    def bound_value(self, name: str) -> Any:
        fixed: dict[str, Any] = {
            "session": self.session,
            "practice_id": self.requester.practice_id,
            "user_id": self.requester.user_id,
        }
        if name in fixed:
            return fixed[name]
        if name in self.providers:
            return self.providers[name]()
        raise LookupError(f"no context value {name!r} to bind (a tool asks for it)")
