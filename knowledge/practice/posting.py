"""Manual postings on a claim: a patient's payment, an adjustment or write-off. Each runs in the caller's
transaction, is keyed for idempotency, and leaves the claim's cached amounts equal to its ledger."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.errors import Conflict, InvalidInput
from knowledge.practice.claims import get_claim
from knowledge.practice.ledger import ClaimTotals, claim_totals, new_entry, recompute_claim_totals
from knowledge.practice.models import (
    Claim,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentKind,
    Responsibility,
)

PAYMENT_METHODS = ("cash", "check", "card", "ach", "other")
MAX_AMOUNT = Decimal("100000.00")
_CARC = re.compile(r"^(?:[1-9]\d{0,2}|[A-Z]\d{1,2})$")
GROUP_CODES = ("CO", "OA", "PI", "PR")


def parse_amount(value: Decimal | str | int | float) -> Decimal:
    """A positive amount of dollars and cents ("$40", "40.00", "1,250.5")."""
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().replace("$", "").replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"Amount {value!r} is not a number of dollars and cents.") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"Amount {value!r} has more than two decimal places.")
    if amount <= 0:
        raise InvalidInput("Amount must be more than zero.")
    if amount > MAX_AMOUNT:
        raise InvalidInput(f"Amount {amount} is over the {MAX_AMOUNT} limit for one posting.")
    return amount.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class PostingPlan:
    """What a posting will do, worked out before anything is written."""

    claim: Claim
    amount: Decimal
    before: ClaimTotals
    description: str


def plan_patient_payment(
    session: Session, *, practice_id: int, claim_number: str, amount: Decimal | str, method: str, received_on: dt.date
) -> PostingPlan:
    claim = get_claim(session, practice_id=practice_id, claim_number=claim_number)
    value = parse_amount(amount)
    if method.lower() not in PAYMENT_METHODS:
        raise InvalidInput(f"Payment method {method!r} is not one of: {', '.join(PAYMENT_METHODS)}.")
    if received_on > dt.date.today() + dt.timedelta(days=1):
        raise InvalidInput(f"The payment date {received_on} is in the future.")
    before = claim_totals(session, claim_id=claim.id)
    if value > before.balance:
        raise InvalidInput(
            f"${value} is more than the ${before.balance} still open on claim {claim.claim_number}; "
            "post the excess to the patient's account instead."
        )
    after = before.patient_balance - value
    description = (
        f"Post a ${value:,.2f} patient payment ({method.lower()}, received {received_on}) to claim "
        f"{claim.claim_number} ({claim.payer.name}, DOS {claim.service_date_from}). Patient balance "
        f"${before.patient_balance:,.2f} -> ${after:,.2f}"
        + (" (a credit until the payer adjudicates)." if after < 0 else ".")
    )
    return PostingPlan(claim, value, before, description)


def post_patient_payment(
    session: Session,
    *,
    practice_id: int,
    claim_number: str,
    amount: Decimal | str,
    method: str,
    received_on: dt.date,
    idempotency_key: str,
    user_id: int | None,
    reference: str | None = None,
) -> tuple[Payment, ClaimTotals]:
    """Record a patient's payment on a claim; refuses a key that was already used."""
    plan = plan_patient_payment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        method=method,
        received_on=received_on,
    )
    if session.scalar(
        select(Payment.id).where(Payment.practice_id == practice_id, Payment.idempotency_key == idempotency_key)
    ):
        raise Conflict(f"This payment was already posted (key {idempotency_key}).")
    payment = Payment(
        practice_id=practice_id,
        kind=PaymentKind.PATIENT,
        patient_id=plan.claim.patient_id,
        amount=plan.amount,
        method=method.lower(),
        reference=reference,
        received_on=received_on,
        idempotency_key=idempotency_key,
        created_by_user_id=user_id,
    )
    session.add(payment)
    session.flush()
    session.add(
        new_entry(
            claim=plan.claim,
            kind=LedgerKind.PATIENT_PAYMENT,
            responsibility=Responsibility.PATIENT,
            amount=-plan.amount,
            posted_on=received_on,
            idempotency_key=idempotency_key,
            payment_id=payment.id,
            user_id=user_id,
        )
    )
    totals = recompute_claim_totals(session, plan.claim)
    return payment, totals


def plan_adjustment(
    session: Session,
    *,
    practice_id: int,
    claim_number: str,
    amount: Decimal | str,
    group_code: str,
    reason_code: str,
    responsibility: Responsibility,
) -> PostingPlan:
    claim = get_claim(session, practice_id=practice_id, claim_number=claim_number)
    value = parse_amount(amount)
    group = group_code.strip().upper()
    if group not in GROUP_CODES:
        raise InvalidInput(f"Group code {group_code!r} is not one of {', '.join(GROUP_CODES)}.")
    if not _CARC.match(reason_code.strip().upper()):
        raise InvalidInput(f"{reason_code!r} is not a claim adjustment reason code (CARC) such as 45 or B7.")
    before = claim_totals(session, claim_id=claim.id)
    open_amount = before.patient_balance if responsibility is Responsibility.PATIENT else before.insurance_balance
    if value > open_amount:
        raise InvalidInput(
            f"${value} is more than the ${open_amount} {responsibility.value} balance of claim {claim.claim_number}."
        )
    description = (
        f"Adjust ${value:,.2f} off the {responsibility.value} balance of claim {claim.claim_number} "
        f"({claim.payer.name}, DOS {claim.service_date_from}) as {group}-{reason_code.strip().upper()}: "
        f"${open_amount:,.2f} -> ${open_amount - value:,.2f}."
    )
    return PostingPlan(claim, value, before, description)


def post_adjustment(
    session: Session,
    *,
    practice_id: int,
    claim_number: str,
    amount: Decimal | str,
    group_code: str,
    reason_code: str,
    responsibility: Responsibility,
    posted_on: dt.date,
    idempotency_key: str,
    user_id: int | None,
    memo: str | None = None,
) -> tuple[LedgerEntry, ClaimTotals]:
    """Adjust (write off) part of a claim's payer or patient balance with a group code and CARC."""
    plan = plan_adjustment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        group_code=group_code,
        reason_code=reason_code,
        responsibility=responsibility,
    )
    exists = select(LedgerEntry.id).where(
        LedgerEntry.practice_id == practice_id, LedgerEntry.idempotency_key == idempotency_key
    )
    if session.scalar(exists):
        raise Conflict(f"This adjustment was already posted (key {idempotency_key}).")
    entry = new_entry(
        claim=plan.claim,
        kind=LedgerKind.WRITE_OFF if responsibility is Responsibility.PATIENT else LedgerKind.ADJUSTMENT,
        responsibility=responsibility,
        amount=-plan.amount,
        posted_on=posted_on,
        idempotency_key=idempotency_key,
        group_code=group_code.strip().upper(),
        reason_code=reason_code.strip().upper(),
        memo=memo,
        user_id=user_id,
    )
    session.add(entry)
    totals = recompute_claim_totals(session, plan.claim)
    return entry, totals
