"""The audit log: every tool call and every decision on a write, without message text or patient fields.

A row says who (practice, user, channel), when, which tool or event, which claims and patients it touched
(claim numbers and internal patient ids), and the outcome. Arguments are kept only where they are
identifiers the audit needs (claim numbers, codes, amounts, dates, enumerations) and look like one;
patient fields are hidden, and every other value, free text above all (a search `query`, a `question`,
a memo), is stored as a SHA-256 digest: enough to tell whether two requests asked the same thing, never
what they said (chat text carries names and member ids).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.phi import HIDDEN, PHI_KEYS
from assistant.types import Requester
from knowledge.practice.models import AuditRecord, Claim

#: Arguments kept as they are when their value has the shape of an identifier (no spaces, short).
IDENTIFIER_ARGUMENTS = frozenset(
    {
        "claim_number",
        "claim_numbers",
        "prepayment",
        "code",
        "codes",
        "diagnoses",
        "modifiers",
        "system",
        "reason_code",
        "group_code",
        "side",
        "method",
        "status",
        "payer",
        "amount",
        "units",
        "limit",
        "dry_run",
        "file_name",
        "received_on",
        "service_from",
        "service_to",
        "date_of_service",
    }
)
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_/:*#]{0,39}$")
_ENTITY_ID_CHARS = 80


def digest(text: str) -> str:
    """What the audit keeps of free text."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def safe_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Tool arguments as the audit log keeps them (see the module docstring)."""
    return {str(key): _safe(str(key), value) for key, value in arguments.items()}


def _safe(key: str, value: Any, *, kept: bool | None = None) -> Any:
    keep = key in IDENTIFIER_ARGUMENTS if kept is None else kept
    if value is None:
        return None
    if key in PHI_KEYS:
        return HIDDEN
    if isinstance(value, dict):
        return {
            str(k): _safe(str(k), v, kept=keep and str(k) in IDENTIFIER_ARGUMENTS | {"code"}) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_safe(key, item, kept=keep) for item in value]
    if isinstance(value, bool | int) and keep:
        return value
    text = str(value)
    if keep and _IDENTIFIER.match(text):
        return text
    return digest(text)


def touched(result: dict[str, Any] | None) -> tuple[list[str], list[int]]:
    """The claim numbers and internal patient ids a tool result names."""
    claims: list[str] = []
    patients: list[int] = []

    def walk(value: Any, parent: str = "") -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "claim_number" and isinstance(item, str) and item not in claims:
                    claims.append(item)
                elif (key == "patient_id" or (parent == "patient" and key == "id")) and isinstance(item, int):
                    if item not in patients:
                        patients.append(item)
                else:
                    walk(item, key)
        elif isinstance(value, list):
            for item in value:
                walk(item, parent)

    walk(result or {})
    return claims[:50], patients[:50]


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
    result: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add one audit row in the caller's transaction (see the module docstring for what it keeps)."""
    claims, patients = touched(result)
    for name in ("claim_number", "claim_numbers"):
        asked = arguments.get(name)
        for number in asked if isinstance(asked, list) else [asked]:
            if isinstance(number, str) and _IDENTIFIER.match(number) and number not in claims:
                claims.append(number)
    if claims:  # the patients behind them, by internal id (the results carry no patient id, only PHI)
        rows = session.execute(
            select(Claim.patient_id).where(Claim.practice_id == requester.practice_id, Claim.claim_number.in_(claims))
        )
        patients += [pid for (pid,) in rows if pid not in patients]
    details: dict[str, Any] = {"arguments": safe_arguments(arguments), "channel": requester.channel.value}
    if claims:
        details["claims"] = claims
    if patients:
        details["patient_ids"] = patients
    record = AuditRecord(
        practice_id=requester.practice_id,
        user_id=requester.user_id,
        action=tool[:60],
        outcome=outcome,
        thread_id=thread_id[:80] if thread_id else None,
        message_id=message_id,
        request_id=requester.request_id[:80],
        entity=entity,
        entity_id=_entity_id(entity_id),
        details={**details, **(extra or {})},
        duration_ms=duration_ms,
    )
    session.add(record)
    return record


def _entity_id(value: str | None) -> str | None:
    """An id as a client sent it, fit for the column (it may be anything, from anyone)."""
    if value is None:
        return None
    text = value.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= _ENTITY_ID_CHARS else digest(text)
