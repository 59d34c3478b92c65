"""Tool: the X12 exceptions queue (what an import could not post, and why)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from knowledge.x12.queue import list_exceptions


class ExceptionItem(BaseModel):
    id: int
    kind: str
    reason: str
    claim_number: str | None
    amount: Decimal | None
    source_file: str | None
    position: str | None
    status: str
    created_at: dt.datetime


class ExceptionList(BaseModel):
    status: str
    total: int
    items: list[ExceptionItem]


def x12_exceptions(status: str = "open", limit: int = 50, *, session: Session, practice_id: int) -> ExceptionList:
    """List what X12 imports could not post and wait for a person: remittance claims that did not match a
    claim or did not balance, reversals without their original, payments that do not add up, bad files.

    Each item gives the kind (unmatched_claim, unbalanced_claim, unbalanced_transaction, already_posted,
    billed_mismatch, unmatched_reversal, unmatched_status, duplicate_remittance, bad_file,
    bad_transaction), the reason in words a biller can act on, the claim number when known, the amount
    the payer paid, and the file and segment it came from. `status` is "open" (default), "resolved" or
    "all"; `limit` is how many of the newest to return (1-500).
    """
    total, rows = list_exceptions(session, practice_id=practice_id, status=status, limit=limit)
    return ExceptionList(
        status=status,
        total=total,
        items=[
            ExceptionItem(
                id=item.id,
                kind=item.kind,
                reason=item.reason,
                claim_number=claim_number,
                amount=item.amount,
                source_file=item.source_file,
                position=item.position,
                status=item.status,
                created_at=item.created_at,
            )
            for item, claim_number in rows
        ],
    )
