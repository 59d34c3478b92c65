"""Pending actions: a write the assistant proposed, run only when a person with the right role confirms.

Proposing checks the request against the data now (so a bad amount is refused before anyone is asked)
and stores what would be written. Confirming flips the row from `pending` to `confirmed` in one guarded
UPDATE, so a second click (or a second server) finds it already decided and writes nothing; the write
then runs with the action id as its idempotency key, inside a savepoint: if it fails, nothing of it is
kept and the action is marked `failed` with the reason. Every decision is audited with the action id:
a decision already taken (`already_decided`) in the same transaction, a refusal (role, another practice's
action) by the service in a transaction of its own (`record_refusal`), since the refused one is rolled back.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assistant import roles
from assistant.audit import record_tool_call
from assistant.context import RequestContext, bind_context
from assistant.types import ActionResult, PendingActionView, Requester
from knowledge.errors import AssistantError, NotFound, PermissionDenied
from knowledge.practice.models import PendingAction
from tools.descriptor import ToolDescriptor as ToolSpec


def _jsonable(arguments: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(arguments, default=str))  # type: ignore[no-any-return]


def view(action: PendingAction, spec: ToolSpec | None) -> PendingActionView:
    return PendingActionView(
        id=action.id,
        tool=action.tool,
        summary=action.summary,
        arguments=action.arguments,
        status=action.status,
        required_roles=list(spec.confirm_roles) if spec else [],
    )


def propose(spec: ToolSpec, arguments: dict[str, Any], ctx: RequestContext) -> PendingActionView:
    """Check a write against the data now and store it as pending; raises a domain error if it cannot run."""
    assert spec.describe is not None, f"write tool {spec.name} needs a describe function"
    parsed = spec.args_schema()(**arguments).model_dump()
    if spec.settle is not None:
        parsed = spec.args_schema()(**spec.settle(parsed, **bind_context(spec.settle, ctx.bound_value))).model_dump()
    summary = spec.describe(**parsed, **bind_context(spec.describe, ctx.bound_value))
    action = PendingAction(
        id=uuid.uuid4().hex[:20],
        practice_id=ctx.requester.practice_id,
        thread_id=ctx.thread_id,
        requested_by_user_id=ctx.requester.user_id,
        tool=spec.name,
        arguments=_jsonable(parsed),
        summary=summary,
        status="pending",
    )
    ctx.session.add(action)
    ctx.session.flush()
    return view(action, spec)


def get_action(session: Session, *, practice_id: int, action_id: str) -> PendingAction:
    action = session.scalar(
        select(PendingAction).where(PendingAction.id == action_id, PendingAction.practice_id == practice_id)
    )
    if action is None:
        raise NotFound(f"No pending action {action_id!r} in this practice.")
    return action


def _decide(session: Session, action: PendingAction, status: str, requester: Requester) -> bool:
    """Move a pending action to `status`; False if someone already decided it."""
    moved = session.execute(
        update(PendingAction)
        .where(PendingAction.id == action.id, PendingAction.status == "pending")
        .values(status=status, decided_by_user_id=requester.user_id, decided_at=dt.datetime.now(dt.UTC))
    )
    session.flush()
    session.refresh(action)
    return bool(getattr(moved, "rowcount", 0) == 1)


def confirm(
    session: Session,
    *,
    specs: dict[str, ToolSpec],
    requester: Requester,
    action_id: str,
    providers: dict[str, Callable[[], Any]] | None = None,
) -> ActionResult:
    """Run a pending write for a person whose role allows it; exactly once."""
    action = get_action(session, practice_id=requester.practice_id, action_id=action_id)
    spec = specs[action.tool]

    def audit(outcome: str, duration_ms: int = 0, extra: dict[str, Any] | None = None) -> None:
        record_tool_call(
            session,
            requester=requester,
            tool=action.tool,
            arguments=action.arguments,
            outcome=outcome,
            duration_ms=duration_ms,
            thread_id=action.thread_id,
            message_id=None,
            entity="pending_action",
            entity_id=action.id,
            extra=extra,
        )

    if action.status != "pending":
        audit("already_decided", extra={"status": action.status})
        return ActionResult(
            action_id=action.id, status="already_decided", message=f"This action was already {action.status}."
        )
    if not roles.may_confirm(requester.role, spec.confirm_roles):
        raise PermissionDenied(
            f"Your role may not confirm {action.tool.replace('_', ' ')}; "
            f"it needs one of: {', '.join(spec.confirm_roles)}."
        )
    if not _decide(session, action, "confirmed", requester):
        audit("already_decided", extra={"status": action.status})
        return ActionResult(action_id=action.id, status="already_decided", message="This action was already decided.")
    started = time.perf_counter()
    arguments = spec.args_schema()(**action.arguments).model_dump()
    fixed: dict[str, Any] = {
        "session": session,
        "practice_id": requester.practice_id,
        "user_id": requester.user_id,
        "idempotency_key": f"action:{action.id}",
    }

    def value(name: str) -> Any:
        if name in fixed:
            return fixed[name]
        if providers and name in providers:
            return providers[name]()
        raise LookupError(name)

    try:
        with session.begin_nested():
            result = spec.func(**arguments, **bind_context(spec.func, value))
    except AssistantError as exc:
        action.status = "failed"
        action.result = {"error": exc.code, "message": exc.message}
        audit("error", int((time.perf_counter() - started) * 1000), {"error": exc.code})
        return ActionResult(action_id=action.id, status="failed", message=exc.message, result=action.result)
    data = result.model_dump(mode="json") if hasattr(result, "model_dump") else {"result": str(result)}
    action.result = data
    audit("confirmed", int((time.perf_counter() - started) * 1000), {"requested_by": action.requested_by_user_id})
    # A result that says in words what happened instead (a large import queued as a job) is the message.
    note = data.get("note") if isinstance(data.get("note"), str) else None
    message = note or f"Done: {action.summary}"
    return ActionResult(action_id=action.id, status="confirmed", message=message, result=data)


def cancel(session: Session, *, specs: dict[str, ToolSpec], requester: Requester, action_id: str) -> ActionResult:
    """Drop a pending write: the person who asked, or anyone who could confirm it, may cancel."""
    action = get_action(session, practice_id=requester.practice_id, action_id=action_id)
    spec = specs.get(action.tool)
    if action.status != "pending":
        _audit_decision(session, requester, action, "already_decided", {"status": action.status})
        return ActionResult(
            action_id=action.id, status="already_decided", message=f"This action was already {action.status}."
        )
    allowed = requester.user_id == action.requested_by_user_id or (
        spec is not None and roles.may_confirm(requester.role, spec.confirm_roles)
    )
    if not allowed:
        raise PermissionDenied("Only the person who asked, or someone who may confirm it, can cancel this action.")
    if not _decide(session, action, "cancelled", requester):
        _audit_decision(session, requester, action, "already_decided", {"status": action.status})
        return ActionResult(action_id=action.id, status="already_decided", message="This action was already decided.")
    _audit_decision(session, requester, action, "cancelled")
    return ActionResult(action_id=action.id, status="cancelled", message="Cancelled: nothing was written.")


def supersede(session: Session, *, requester: Requester, thread_id: str, keep: str) -> int:
    """Cancel the requester's other pending proposals of the same tool in this thread: a corrected request
    ("no wait, 1727 not 1902", "it was cash not card") replaces the proposal it corrects, so only the
    corrected one can be confirmed. Each is audited as ``superseded``; returns how many were cancelled."""
    kept = session.get(PendingAction, keep)
    if kept is None or kept.thread_id != thread_id:
        return 0
    earlier = session.scalars(
        select(PendingAction).where(
            PendingAction.practice_id == requester.practice_id,
            PendingAction.thread_id == thread_id,
            PendingAction.requested_by_user_id == requester.user_id,
            PendingAction.tool == kept.tool,
            PendingAction.status == "pending",
            PendingAction.id != keep,
        )
    ).all()
    cancelled = 0
    for action in earlier:
        if _decide(session, action, "cancelled", requester):
            _audit_decision(session, requester, action, "superseded", {"replaced_by": keep})
            cancelled += 1
    return cancelled


def confirmed_before(session: Session, *, requester: Requester, thread_id: str, keep: str) -> bool:
    """Whether the requester already confirmed a write of the same tool in this thread: a correction of a
    write that was posted proposes a second one, and confirming it would post twice."""
    kept = session.get(PendingAction, keep)
    if kept is None:
        return False
    found = session.scalar(
        select(PendingAction.id).where(
            PendingAction.practice_id == requester.practice_id,
            PendingAction.thread_id == thread_id,
            PendingAction.tool == kept.tool,
            PendingAction.status == "confirmed",
            PendingAction.id != keep,
        )
    )
    return found is not None


def _audit_decision(
    session: Session, requester: Requester, action: PendingAction, outcome: str, extra: dict[str, Any] | None = None
) -> None:
    record_tool_call(
        session,
        requester=requester,
        tool=action.tool,
        arguments=action.arguments,
        outcome=outcome,
        duration_ms=0,
        thread_id=action.thread_id,
        message_id=None,
        entity="pending_action",
        entity_id=action.id,
        extra=extra,
    )


def record_refusal(
    session: Session,
    *,
    requester: Requester,
    event: str,
    entity: str,
    entity_id: str | None,
    error: AssistantError,
) -> None:
    """Audit a refused request (role, another practice's or a colleague's thread or action) as `denied`.

    Run it in a transaction of its own, after the refused one was rolled back. What the row names is only
    what the requester's practice may know: the tool of an action when the action is theirs, else the event
    (``confirm``, ``continue_thread``...) and the id they sent."""
    tool, arguments, thread_id = event, {}, None
    if entity == "pending_action" and entity_id:
        action = session.scalar(
            select(PendingAction).where(
                PendingAction.id == entity_id, PendingAction.practice_id == requester.practice_id
            )
        )
        if action is not None:
            tool, arguments, thread_id = action.tool, action.arguments, action.thread_id
    elif entity == "thread":
        thread_id = None  # the id may be another practice's: it is kept only as the entity asked for
    record_tool_call(
        session,
        requester=requester,
        tool=tool,
        arguments=arguments,
        outcome="denied",
        duration_ms=0,
        thread_id=thread_id,
        message_id=None,
        entity=entity,
        entity_id=entity_id,
        extra={"event": event, "error": error.code},
    )
