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
from knowledge.practice.claims import get_claim, remittance_claims_for
from knowledge.practice.ledger import ClaimTotals, claim_totals, derive_status, new_entry, recompute_claim_totals
from knowledge.practice.models import (
    Claim,
    ClaimStatus,
    ClaimStatusEvent,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentKind,
    RemittanceClaim,
    Responsibility,
)
from knowledge.practice.types import ZERO

PAYMENT_METHODS = ("cash", "check", "card", "ach", "other")
MAX_AMOUNT = Decimal("100000.00")
_CARC = re.compile(r"^(?:[1-9]\d{0,2}|[A-Z]\d{1,2})$")
GROUP_CODES = ("CO", "OA", "PI", "PR")
#: The memo of a patient payment taken as a prepayment or deposit (shown in the claim's history).
PREPAYMENT_MEMO = "prepayment / deposit"
#: How a payment that leaves the patient in credit after the payer's decision is flagged.
CREDIT_FLAG = "credit balance — for refund review"
#: The payer has decided what the patient owes on a claim in these states.
ADJUDICATED = frozenset({ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED, ClaimStatus.CLOSED})


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


def dollars(value: Decimal) -> str:
    """Money as the proposals write it: $1,250.00, and -$40.00 for a credit."""
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


@dataclass(frozen=True)
class PostingPlan:
    """What a posting will do, worked out before anything is written."""

    claim: Claim
    amount: Decimal
    before: ClaimTotals
    description: str
    #: Flags a person must see in the proposal and the result, e.g. `CREDIT_FLAG`.
    flags: tuple[str, ...] = ()
    #: Remark codes (RARC) of the claim's latest remittance, for the advice the tools add (MA18...).
    remark_codes: tuple[str, ...] = ()


def latest_remittance(session: Session, *, claim: Claim) -> RemittanceClaim | None:
    """The claim's latest posted 835 answer that is not a reversal (what the payer last decided)."""
    posted = [
        r
        for r in remittance_claims_for(session, claim_ids=[claim.id]).get(claim.id, [])
        if r.posted and r.status_code != "22"
    ]
    return posted[-1] if posted else None


def payer_settled_reason(claim: Claim, totals: ClaimTotals, remit: RemittanceClaim | None) -> str | None:
    """Why the payer's decision leaves the patient nothing to pay on this claim, or None if it does not.

    Two cases, both decided by the payer: a denial that assigns the patient nothing (no PR group: CO is the
    provider's contractual obligation and may not be billed to the patient), and a claim the payer paid in
    full with no patient responsibility. A patient's payment there is almost always a mistake (the wrong
    claim, or a copay taken for a visit the payer covered), so it is refused rather than left as a credit.
    """
    if claim.status not in ADJUDICATED or totals.patient_responsibility != ZERO:
        return None
    when = f" on {remit.remittance.payment_date}" if remit is not None else ""
    groups = sorted({a.group_code for a in remit.adjustments}) if remit is not None else []
    if claim.status is ClaimStatus.DENIED:
        codes = ", ".join(dict.fromkeys(f"{a.group_code}-{a.reason_code}" for a in remit.adjustments)) if remit else ""
        why = (
            "CO is the provider's contractual obligation: the patient may not be billed for it"
            if groups == ["CO"]
            else "the payer assigned no patient responsibility (PR)"
        )
        return (
            f"{claim.payer.name} denied claim {claim.claim_number}{when}"
            + (f" with {codes}" if codes else "")
            + f"; {why}, so the patient owes $0.00 on it."
        )
    if totals.insurance_balance > ZERO:
        return None  # the payer still owes on it: a payment now is a credit, flagged by the plan
    if claim.status is ClaimStatus.CLOSED:
        return f"Claim {claim.claim_number} is closed with no patient responsibility (no PR): the patient owes $0.00."
    return (
        f"{claim.payer.name} paid claim {claim.claim_number}{when} with no patient responsibility (no PR) and "
        "nothing is left open on it, so the patient owes $0.00."
    )


def plan_patient_payment(
    session: Session,
    *,
    practice_id: int,
    claim_number: str,
    amount: Decimal | str,
    method: str,
    received_on: dt.date,
    prepayment: bool = False,
) -> PostingPlan:
    """Check a patient payment against the claim now; refuses one the payer's decision rules out (see
    `payer_settled_reason`) unless it is marked a prepayment or deposit, and flags a credit balance."""
    claim = get_claim(session, practice_id=practice_id, claim_number=claim_number)
    value = parse_amount(amount)
    if method.lower() not in PAYMENT_METHODS:
        raise InvalidInput(f"Payment method {method!r} is not one of: {', '.join(PAYMENT_METHODS)}.")
    if received_on > dt.date.today() + dt.timedelta(days=1):
        raise InvalidInput(f"The payment date {received_on} is in the future.")
    before = claim_totals(session, claim_id=claim.id)
    remit = latest_remittance(session, claim=claim)
    settled = payer_settled_reason(claim, before, remit)
    if settled is not None and not prepayment:
        raise Conflict(
            f"Not posted: {settled} Check that this is the right claim. If the patient is paying ahead "
            "(a deposit or a prepayment), ask again and say it is a prepayment."
        )
    # Once the payer has decided, money the patient handed over beyond their share is still posted (it was
    # received) and flagged as a credit for refund review below, up to what the claim billed; a deposit is
    # money held for the patient rather than a payment of this claim. Before the payer decides, more than
    # the claim's open balance is a mistake.
    if not prepayment and claim.status in ADJUDICATED and value > before.billed:
        raise InvalidInput(
            f"${value} is more than the ${before.billed} billed on claim {claim.claim_number}; "
            "check the amount, or post the excess to the patient's account instead."
        )
    if not prepayment and claim.status not in ADJUDICATED and value > before.balance:
        raise InvalidInput(
            f"${value} is more than the ${before.balance} still open on claim {claim.claim_number}; "
            "post the excess to the patient's account instead."
        )
    after = before.patient_balance - value
    flags: tuple[str, ...] = ()
    if after < 0 and claim.status in ADJUDICATED:
        flags = (CREDIT_FLAG,)
        tail = f" ({CREDIT_FLAG}: {dollars(-after)} more than the patient owes)."
    elif after < 0:
        tail = " (a credit until the payer adjudicates)."
    else:
        tail = "."
    kind = PREPAYMENT_MEMO if prepayment else "patient payment"
    description = (
        f"Post a {dollars(value)} {kind} ({method.lower()}, received {received_on}) to claim "
        f"{claim.claim_number} ({claim.payer.name}, DOS {claim.service_date_from}). Patient balance "
        f"{dollars(before.patient_balance)} -> {dollars(after)}" + tail
    )
    remarks = tuple(dict.fromkeys(r.code for r in remit.remarks)) if remit is not None else ()
    return PostingPlan(claim, value, before, description, flags, remarks)


def follow_ledger(session: Session, *, claim: Claim, totals: ClaimTotals, on: dt.date, what: str) -> ClaimStatus:
    """Move the claim to the status its ledger now implies (`ledger.derive_status`), with a history row
    saying which posting moved it, so the claim's history shows why it is paid or closed."""
    status = derive_status(claim.status, totals)
    if status is not claim.status:
        claim.status = status
        session.add(
            ClaimStatusEvent(
                claim_id=claim.id,
                status=status,
                effective_date=on,
                amount=totals.balance,
                source="posting",
                note=f"{what}: balance {dollars(totals.balance)}",
            )
        )
    return status


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
    prepayment: bool = False,
) -> tuple[Payment, ClaimTotals, PostingPlan]:
    """Record a patient's payment on a claim (checked again by `plan_patient_payment`, since the claim may
    have changed since it was proposed); refuses a key that was already used."""
    plan = plan_patient_payment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        method=method,
        received_on=received_on,
        prepayment=prepayment,
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
            memo=PREPAYMENT_MEMO if prepayment else None,
            user_id=user_id,
        )
    )
    totals = recompute_claim_totals(session, plan.claim)
    follow_ledger(session, claim=plan.claim, totals=totals, on=received_on, what="patient payment posted")
    return payment, totals, plan


def plan_adjustment(
    session: Session,
    *,
    practice_id: int,
    claim_number: str,
    amount: Decimal | str | None,
    group_code: str,
    reason_code: str,
    responsibility: Responsibility,
) -> PostingPlan:
    """Check an adjustment against the claim now. ``amount`` None: the whole open balance of that side."""
    claim = get_claim(session, practice_id=practice_id, claim_number=claim_number)
    group = group_code.strip().upper()
    if group not in GROUP_CODES:
        raise InvalidInput(f"Group code {group_code!r} is not one of {', '.join(GROUP_CODES)}.")
    if not _CARC.match(reason_code.strip().upper()):
        raise InvalidInput(f"{reason_code!r} is not a claim adjustment reason code (CARC) such as 45 or B7.")
    before = claim_totals(session, claim_id=claim.id)
    open_amount = before.patient_balance if responsibility is Responsibility.PATIENT else before.insurance_balance
    if amount is None:
        if open_amount <= 0:
            raise InvalidInput(
                f"Claim {claim.claim_number} has no open {responsibility.value} balance to write off "
                f"(patient ${before.patient_balance:,.2f}, insurance ${before.insurance_balance:,.2f})."
            )
        amount = open_amount
    value = parse_amount(amount)
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
    amount: Decimal | str | None,
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
    follow_ledger(session, claim=plan.claim, totals=totals, on=posted_on, what="adjustment posted")
    return entry, totals
