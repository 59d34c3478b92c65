"""Turning the plain tool functions into the tools one request may use.

A tool function's ordinary parameters are the model's input schema; its keyword-only parameters are
bound here from the request's context (session, practice, user, code sets, knowledge base), so the model
can never say who is asking or which practice it is. Each call is timed, audited and recorded; a domain
error becomes a result the model (and the person) can read; patient fields are hidden from the model
where the channel may not show them; and a write tool only *proposes*: it records a pending action that
runs when a person confirms it (see `actions.py`).
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from langchain.tools import ToolRuntime
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, create_model
from sqlalchemy.orm import Session

from assistant import roles
from assistant.audit import record_tool_call
from assistant.phi import collect_phi, redact
from assistant.types import Requester, ToolCallRecord
from knowledge.errors import AssistantError, PermissionDenied

log = logging.getLogger("billing_assistant.tools")

Access = Literal["codes", "knowledge", "claims", "write"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool function and what the server needs to know about it."""

    func: Callable[..., Any]
    access: Access
    step: str  # progress line, formatted with the call's arguments; never patient fields
    describe: Callable[..., str] | None = None  # writes: what would be written, checked now
    confirm_roles: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.func.__name__

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    def context_parameters(self) -> list[str]:
        return context_parameters(self.func)

    def args_schema(self) -> type[BaseModel]:
        """The model's input schema: the function's ordinary parameters (built once per function)."""
        return _args_schema(self.func)

    def step_text(self, arguments: dict[str, Any]) -> str:
        try:
            return self.step.format_map(_Blank(arguments))
        except (KeyError, ValueError, IndexError):
            return self.step


@cache
def _args_schema(func: Callable[..., Any]) -> type[BaseModel]:
    hints = typing.get_type_hints(func)
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(func).parameters.values():
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.POSITIONAL_ONLY):
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (hints[parameter.name], default)
    model: type[BaseModel] = create_model(f"{func.__name__}_arguments", **fields)
    return model


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


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "..."


@dataclass
class TurnRecorder:
    """What the tools of one turn did: records for the reply and audit, raw results for citations."""

    records: list[ToolCallRecord] = field(default_factory=list)
    results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    phi: set[str] = field(default_factory=set)
    pending_action_id: str | None = None


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


def to_jsonable(result: Any) -> dict[str, Any]:
    if isinstance(result, BaseModel):
        data: dict[str, Any] = result.model_dump(mode="json")
        return data
    if isinstance(result, dict):
        return json.loads(json.dumps(result, default=str))  # type: ignore[no-any-return]
    return {"result": json.loads(json.dumps(result, default=str))}


def call_tool(spec: ToolSpec, arguments: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    """Run one tool call with its context bound; a write becomes a pending action. Never raises for a
    domain error: the error is the result."""
    from assistant import actions  # actions imports this module for ToolSpec

    started = time.perf_counter()
    outcome: Literal["ok", "error", "pending", "denied"] = "ok"
    requester = ctx.requester
    try:
        if spec.access == "write":
            if not roles.may_propose(requester.role):
                raise PermissionDenied("Only users of the practice can ask for a posting.")
            pending = actions.propose(spec, arguments, ctx)
            ctx.recorder.pending_action_id = pending.id
            outcome = "pending"
            data: dict[str, Any] = {
                "pending_action": pending.model_dump(mode="json"),
                "note": "Nothing is written until a person confirms this action.",
            }
        else:
            if not roles.may_read(requester.role, spec.access):
                raise PermissionDenied(
                    "Claim data is only available to users of the practice. Ask an administrator to link your "
                    "account; codes and coding guidance are available to everyone."
                )
            try:
                data = to_jsonable(spec.func(**arguments, **bind_context(spec.func, ctx.read_value)))
            finally:
                if ctx.read_session is not None:
                    # End the snapshot (and hand its connection back) before the audit record is
                    # written: one thread never waits for a second connection while holding one.
                    ctx.read_session.rollback()
    except AssistantError as exc:
        outcome = "denied" if isinstance(exc, PermissionDenied) else "error"
        data = {"error": exc.code, "message": exc.message}
    except Exception:  # a bug in a tool must not end the conversation; the log has the details
        log.exception("tool failed", extra={"tool": spec.name, "request_id": requester.request_id})
        outcome = "error"
        data = {"error": "internal", "message": f"The {spec.name} tool failed unexpectedly; the error was logged."}
    duration = int((time.perf_counter() - started) * 1000)
    collect_phi(data, ctx.recorder.phi)
    ctx.recorder.results.append((spec.name, data))
    ctx.recorder.records.append(
        ToolCallRecord(
            name=spec.name,
            arguments=redact(json.loads(json.dumps(arguments, default=str))),
            outcome=outcome,
            duration_ms=duration,
            summary=spec.step_text(arguments),
        )
    )
    record_tool_call(
        ctx.session,
        requester=requester,
        tool=spec.name,
        arguments=arguments,
        outcome=outcome,
        duration_ms=duration,
        thread_id=ctx.thread_id,
        message_id=ctx.message_id,
    )
    log.info("tool %s %s in %d ms", spec.name, outcome, duration, extra={"request_id": requester.request_id})
    if requester.phi_allowed:
        return data
    hidden: dict[str, Any] = redact(data)
    return hidden


def allowed_specs(specs: list[ToolSpec], requester: Requester) -> list[ToolSpec]:
    """The tools the requester's role may use (a write tool only proposes, see `actions.py`)."""
    allowed: list[ToolSpec] = []
    for spec in specs:
        if spec.access != "write" and not roles.may_read(requester.role, spec.access):
            continue
        if spec.access == "write" and not roles.may_propose(requester.role):
            continue
        allowed.append(spec)
    return allowed


def build_tools(specs: list[ToolSpec]) -> list[BaseTool]:
    """LangChain tools for ``specs``. They hold no request: each call takes the request's
    `RequestContext` from LangGraph's runtime context (``agent.stream(..., context=ctx)``), so one
    compiled agent serves every request with the same tools."""
    tools: list[BaseTool] = []
    for spec in specs:

        def run(runtime: ToolRuntime[RequestContext], _spec: ToolSpec = spec, **arguments: Any) -> str:
            ctx = runtime.context
            if not isinstance(ctx, RequestContext):  # a wiring error, not something a user can cause
                raise TypeError("tools need the request's RequestContext as the agent's runtime context")
            with ctx.lock:
                result = call_tool(_spec, arguments, ctx)
                # Each call is its own unit of work: commit so SQLite's write lock is free for the
                # checkpointer, which saves the conversation through its own connection.
                ctx.session.commit()
            return json.dumps(result, default=str)

        tools.append(
            StructuredTool.from_function(
                func=run, name=spec.name, description=spec.description, args_schema=spec.args_schema()
            )
        )
    return tools
