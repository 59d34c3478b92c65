"""Write tool: post a payment a patient made (copay, coinsurance, balance) to one of their claims."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from knowledge.practice import posting
from tools.claim_views import Balances
from tools.posting_views import PostingResult

#: Roles that may confirm this write.
CONFIRM_ROLES = ("admin", "biller", "front_desk")


def post_patient_payment(
    claim_number: str,
    amount: Decimal,
    method: str = "cash",
    received_on: dt.date | None = None,
    reference: str | None = None,
    *,
    session: Session,
    practice_id: int,
    user_id: int | None,
    idempotency_key: str,
) -> PostingResult:
    """Post a payment the patient made (copay, coinsurance, deductible or balance) to a claim.
    `amount` in dollars (e.g. 40 or 40.00); `method` is cash, check, card, ach or other; `received_on`
    defaults to today. This writes to the practice's books, so it only runs after a person confirms it."""
    on = received_on or dt.date.today()
    payment, totals = posting.post_patient_payment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        method=method,
        received_on=on,
        idempotency_key=idempotency_key,
        user_id=user_id,
        reference=reference,
    )
    return PostingResult(
        claim_number=claim_number,
        posted=f"patient payment #{payment.id}",
        amount=payment.amount,
        balances=Balances.from_totals(totals),
    )


def describe(
    claim_number: str,
    amount: Decimal,
    method: str = "cash",
    received_on: dt.date | None = None,
    reference: str | None = None,
    *,
    session: Session,
    practice_id: int,
) -> str:
    """What `post_patient_payment` would write, checked against the claim now (raises on bad input)."""
    plan = posting.plan_patient_payment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        method=method,
        received_on=received_on or dt.date.today(),
    )
    return plan.description
