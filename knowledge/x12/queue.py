"""The exceptions queue: what an import could not post, waiting for a person."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.errors import InvalidInput
from knowledge.practice.models import Claim, WorkException

STATUSES = ("open", "resolved", "all")


def list_exceptions(
    session: Session, *, practice_id: int, status: str = "open", limit: int = 50
) -> tuple[int, list[tuple[WorkException, str | None]]]:
    """(how many match, the newest `limit` of them with their claim numbers)."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500")
    condition = [WorkException.practice_id == practice_id]
    if status != "all":
        condition.append(WorkException.status == status)
    total = session.scalar(select(func.count(WorkException.id)).where(*condition)) or 0
    rows = session.execute(
        select(WorkException, Claim.claim_number)
        .outerjoin(Claim, Claim.id == WorkException.claim_id)
        .where(*condition)
        .order_by(WorkException.id.desc())
        .limit(limit)
    ).all()
    return total, [(row[0], row[1]) for row in rows]
