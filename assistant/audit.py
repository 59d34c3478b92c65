"""The audit log: every tool call and every decision on a write, without message text or patient fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assistant.phi import redact
from assistant.types import Requester
from knowledge.practice.models import AuditRecord


def record_tool_call(
    session: Session,
    *,
    requester: Requester,
    tool: str,
    arguments: dict[str, Any],
    outcome: str,
    duration_ms: int,
    thread_id: str | None,
    message_id: str | None,
    entity: str | None = None,
    entity_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add one audit row in the caller's transaction. Arguments are kept with patient fields hidden."""
    safe_arguments = redact({key: str(value) if value is not None else None for key, value in arguments.items()})
    record = AuditRecord(
        practice_id=requester.practice_id,
        user_id=requester.user_id,
        action=tool,
        outcome=outcome,
        thread_id=thread_id,
        message_id=message_id,
        request_id=requester.request_id,
        entity=entity,
        entity_id=entity_id,
        details={"arguments": safe_arguments, "channel": requester.channel.value, **(extra or {})},
        duration_ms=duration_ms,
    )
    session.add(record)
    return record
