"""Write tool: adjust or write off part of a claim's balance with a group code and CARC."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from sqlalchemy.orm import Session

from knowledge.practice import posting
from knowledge.practice.models import Responsibility
from tools.claim_views import Balances
from tools.posting_views import PostingResult

#: Roles that may confirm this write (front desk may not adjust balances).
CONFIRM_ROLES = ("admin", "biller")


def post_adjustment(
    claim_number: str,
    amount: Decimal,
    reason_code: str = "45",
    group_code: str = "CO",
    side: Literal["payer", "patient"] = "payer",
    memo: str | None = None,
    *,
    session: Session,
    practice_id: int,
    user_id: int | None,
    idempotency_key: str,
) -> PostingResult:
    """Adjust (write off) part of a claim's balance: `side` payer for the insurance balance (e.g. CO-45
    contractual) or patient for the patient balance (e.g. a small-balance write-off); `reason_code` is a
    claim adjustment reason code (CARC) and `group_code` CO, OA, PI or PR. Only runs after a person with
    the biller or admin role confirms it."""
    entry, totals = posting.post_adjustment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        group_code=group_code,
        reason_code=reason_code,
        responsibility=Responsibility(side),
        posted_on=dt.date.today(),
        idempotency_key=idempotency_key,
        user_id=user_id,
        memo=memo,
    )
    return PostingResult(
        claim_number=claim_number,
        posted=f"{entry.group_code}-{entry.reason_code} adjustment",
        amount=-entry.amount,
        balances=Balances.from_totals(totals),
    )


def describe(
    claim_number: str,
    amount: Decimal,
    reason_code: str = "45",
    group_code: str = "CO",
    side: Literal["payer", "patient"] = "payer",
    memo: str | None = None,
    *,
    session: Session,
    practice_id: int,
) -> str:
    """What `post_adjustment` would write, checked against the claim now (raises on bad input)."""
    return posting.plan_adjustment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        group_code=group_code,
        reason_code=reason_code,
        responsibility=Responsibility(side),
    ).description
