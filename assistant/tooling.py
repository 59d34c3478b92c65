"""Turning the plain tool functions into the tools one request may use.

A tool function's ordinary parameters are the model's input schema; its keyword-only parameters are
bound here from the request's context (session, practice, user, code sets, knowledge base), so the model
can never say who is asking or which practice it is. Each call is timed, audited and recorded; a domain
error becomes a result the model (and the person) can read; patient fields are hidden from the model
where the channel may not show them; and a write tool only *proposes*: it records a pending action that
runs when a person confirms it (see `actions.py`).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Literal

from langchain.tools import ToolRuntime
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel

from assistant import actions, roles
from assistant.audit import record_tool_call
from assistant.context import RequestContext, TurnRecorder, bind_context, context_parameters
from assistant.phi import PHI_KEYS, collect_phi, redact
from assistant.types import Requester, ToolCallRecord
from knowledge.errors import AssistantError, PermissionDenied
from tools.descriptor import Access, ToolDescriptor

log = logging.getLogger("billing_assistant.tools")

__all__ = [
    "Access",
    "RequestContext",
    "ToolSpec",
    "TurnRecorder",
    "bind_context",
    "build_tools",
    "call_tool",
    "context_parameters",
]

#: A tool as the server sees it: its descriptor (`tools/descriptor.py`).
ToolSpec = ToolDescriptor


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
    started = time.perf_counter()
    outcome: Literal["ok", "error", "pending", "denied"] = "ok"
    requester = ctx.requester
    data: dict[str, Any]
    try:
        if spec.access == "write" and arguments.get("dry_run") is True and spec.takes("dry_run"):
            # "dry run era-1118.835 b4 we post it": a dry run writes nothing (and runs in a savepoint that is
            # rolled back whatever the tool does), so it is answered now; only the real import is confirmed.
            if not roles.may_propose(requester.role):
                raise PermissionDenied("Only users of the practice can ask for a posting.")
            with ctx.session.begin_nested() as savepoint:
                data = to_jsonable(spec.func(**arguments, **bind_context(spec.func, ctx.bound_value)))
                savepoint.rollback()
        elif spec.access == "write":
            if not roles.may_propose(requester.role):
                raise PermissionDenied("Only users of the practice can ask for a posting.")
            pending = actions.propose(spec, arguments, ctx)
            ctx.recorder.pending_action_id = pending.id
            outcome = "pending"
            data = {
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
                if spec.writes_draft:  # files a draft (no confirm step); a failure keeps nothing of it
                    with ctx.session.begin_nested():
                        data = to_jsonable(spec.func(**arguments, **bind_context(spec.func, ctx.bound_value)))
                else:
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
        result=data,
    )
    log.info("tool %s %s in %d ms", spec.name, outcome, duration, extra={"request_id": requester.request_id})
    if requester.phi_allowed:
        return data
    # The descriptor's free-text patient fields too (X12 exception reasons quote the 835's names).
    hidden: dict[str, Any] = redact(data, PHI_KEYS | frozenset(spec.phi_fields))
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


def _plan_position(runtime: ToolRuntime[RequestContext]) -> tuple[int, int]:
    """Where this call stands in the turn: (the model step, its place in that step's tool calls). LangGraph runs
    one step's calls in threads, so they finish in any order; the reply lists them as the plan did."""
    messages = runtime.state.get("messages", []) if isinstance(runtime.state, dict) else []
    for step in range(len(messages) - 1, -1, -1):
        calls = getattr(messages[step], "tool_calls", None) or []
        for place, call in enumerate(calls):
            if call.get("id") == runtime.tool_call_id:
                return (step, place)
    return (len(messages), 0)


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
                ctx.recorder.order.append(_plan_position(runtime))
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
