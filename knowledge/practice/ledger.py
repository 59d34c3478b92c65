"""The claim ledger: building entries, and the balances that follow from them.

Entries are the source of truth; a claim's amount columns are a cache recomputed from its entries
(`recompute_claim_totals`). See `models.py` for the sign convention. Every entry carries an
idempotency key unique in its practice, so posting the same thing twice is refused by the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.practice.models import Claim, ClaimStatus, LedgerEntry, LedgerKind, Responsibility
from knowledge.practice.types import ZERO, money

CENT = Decimal("0.01")
#: What the payer said about the money: the claim's status then follows its balance.
PAYER_PAID = frozenset({ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID})


@dataclass(frozen=True)
class ClaimTotals:
    """What a claim's ledger adds up to."""

    billed: Decimal
    payer_paid: Decimal
    adjusted: Decimal
    patient_responsibility: Decimal
    patient_paid: Decimal
    patient_adjusted: Decimal
    insurance_balance: Decimal
    patient_balance: Decimal

    @property
    def balance(self) -> Decimal:
        return self.insurance_balance + self.patient_balance

    def balanced(self) -> bool:
        """The ledger identities hold (they always should: this is what tests and audits check)."""
        payer_side = (
            self.billed == self.payer_paid + self.adjusted + self.patient_responsibility + self.insurance_balance
        )
        patient_side = self.patient_responsibility == self.patient_paid + self.patient_adjusted + self.patient_balance
        return payer_side and patient_side


def totals_from_entries(entries: Iterable[LedgerEntry]) -> ClaimTotals:
    """Add up a claim's entries; a reversal counts under the kind of the entry it reverses."""
    entries = entries if isinstance(entries, list) else list(entries)
    kind_by_id: dict[int, LedgerKind] | None = None  # built only for a claim with a reversal (rare)
    sums: dict[tuple[LedgerKind, Responsibility], Decimal] = {}
    for entry in entries:
        kind = entry.kind
        if kind is LedgerKind.REVERSAL and entry.reverses_entry_id is not None:
            if kind_by_id is None:
                kind_by_id = {other.id: other.kind for other in entries if other.id is not None}
            kind = kind_by_id.get(entry.reverses_entry_id, kind)
        key = (kind, entry.responsibility)
        sums[key] = sums.get(key, ZERO) + entry.amount

    payer, patient = Responsibility.PAYER, Responsibility.PATIENT
    payer_balance = patient_balance = ZERO
    for (_, side), amount in sums.items():
        if side is payer:
            payer_balance += amount
        elif side is patient:
            patient_balance += amount
    total = sums.get
    return ClaimTotals(
        billed=total(_PAYER_CHARGE, ZERO),
        payer_paid=-total(_PAYER_PAYMENT, ZERO) - total(_PAYER_REFUND, ZERO),
        adjusted=-(total(_PAYER_ADJUSTMENT, ZERO) + total(_PAYER_WRITE_OFF, ZERO)),
        patient_responsibility=total(_PATIENT_TRANSFER, ZERO),
        patient_paid=-(total(_PATIENT_PAYMENT, ZERO) + total(_PATIENT_REFUND, ZERO)),
        patient_adjusted=-(total(_PATIENT_ADJUSTMENT, ZERO) + total(_PATIENT_WRITE_OFF, ZERO)),
        insurance_balance=payer_balance,
        patient_balance=patient_balance,
    )


# The (kind, side) sums `totals_from_entries` reads.
_PAYER_CHARGE = (LedgerKind.CHARGE, Responsibility.PAYER)
_PAYER_PAYMENT = (LedgerKind.PAYER_PAYMENT, Responsibility.PAYER)
_PAYER_REFUND = (LedgerKind.REFUND, Responsibility.PAYER)
_PAYER_ADJUSTMENT = (LedgerKind.ADJUSTMENT, Responsibility.PAYER)
_PAYER_WRITE_OFF = (LedgerKind.WRITE_OFF, Responsibility.PAYER)
_PATIENT_TRANSFER = (LedgerKind.TRANSFER, Responsibility.PATIENT)
_PATIENT_PAYMENT = (LedgerKind.PATIENT_PAYMENT, Responsibility.PATIENT)
_PATIENT_REFUND = (LedgerKind.REFUND, Responsibility.PATIENT)
_PATIENT_ADJUSTMENT = (LedgerKind.ADJUSTMENT, Responsibility.PATIENT)
_PATIENT_WRITE_OFF = (LedgerKind.WRITE_OFF, Responsibility.PATIENT)


def claim_entries(session: Session, *, claim_id: int) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.claim_id == claim_id).order_by(LedgerEntry.id)))


def claim_totals(session: Session, *, claim_id: int) -> ClaimTotals:
    return totals_from_entries(claim_entries(session, claim_id=claim_id))


def apply_totals(claim: Claim, totals: ClaimTotals) -> None:
    """Copy ledger totals into the claim's cached amount columns."""
    claim.billed_amount = totals.billed
    claim.paid_amount = totals.payer_paid
    claim.adjusted_amount = totals.adjusted
    claim.patient_responsibility = totals.patient_responsibility
    claim.patient_paid = totals.patient_paid


def recompute_claim_totals(session: Session, claim: Claim) -> ClaimTotals:
    session.flush()
    totals = claim_totals(session, claim_id=claim.id)
    apply_totals(claim, totals)
    return totals


def derive_status(adjudicated: ClaimStatus, totals: ClaimTotals | None) -> ClaimStatus:
    """The claim's status after a posting or an import: the one place these rules live.

    `adjudicated` is the payer's word on the claim (what an 835 says, or the claim's status before a
    manual posting); `totals` its ledger after the posting. The payer's word stands for what the ledger
    cannot tell: a claim not answered yet, rejected, reversed or appealed stays so whatever is posted on
    it (a patient's deposit does not make a submitted claim paid), and so does a denial: a zero-pay 835
    whose adjustments settle the claim is still the payer's denial to read. Once the payer has paid (paid
    or partially paid), the balance decides: nothing left open on either side is `paid` (closed), which
    is why a partially paid claim the patient pays off becomes paid. A balance still open after payment
    keeps the payer's word (paid with the patient's share still owed, or partially paid).
    """
    if totals is None or adjudicated not in PAYER_PAID:
        return adjudicated
    settled = totals.insurance_balance <= ZERO and totals.patient_balance <= ZERO
    return ClaimStatus.PAID if settled else adjudicated


def new_entry(
    *,
    claim: Claim,
    kind: LedgerKind,
    responsibility: Responsibility,
    amount: Decimal,
    posted_on: dt.date,
    idempotency_key: str,
    claim_line_id: int | None = None,
    group_code: str | None = None,
    reason_code: str | None = None,
    payment_id: int | None = None,
    remittance_claim_id: int | None = None,
    memo: str | None = None,
    user_id: int | None = None,
) -> LedgerEntry:
    """Build (not add) one ledger entry for a claim, amount rounded to cents."""
    return LedgerEntry(
        practice_id=claim.practice_id,
        claim_id=claim.id,
        claim_line_id=claim_line_id,
        kind=kind,
        responsibility=responsibility,
        amount=money(amount),
        group_code=group_code,
        reason_code=reason_code,
        payment_id=payment_id,
        remittance_claim_id=remittance_claim_id,
        posted_on=posted_on,
        memo=memo,
        idempotency_key=idempotency_key,
        created_by_user_id=user_id,
    )


def charge_entries(
    claim: Claim, *, posted_on: dt.date, key_prefix: str | None = None, memo: str | None = None
) -> list[LedgerEntry]:
    """Build (not add) the payer-side charge entry of each line of a flushed claim. Idempotency keys are
    ``{key_prefix}:{line number}`` (default prefix ``charge:{claim id}``), so a claim is charged once."""
    prefix = key_prefix or f"charge:{claim.id}"
    return [
        new_entry(
            claim=claim,
            kind=LedgerKind.CHARGE,
            responsibility=Responsibility.PAYER,
            amount=line.charge,
            posted_on=posted_on,
            idempotency_key=f"{prefix}:{line.line_number}",
            claim_line_id=line.id,
            memo=memo,
        )
        for line in claim.lines
    ]


def adjustment_entries(
    *,
    claim: Claim,
    group_code: str,
    reason_code: str,
    amount: Decimal,
    posted_on: dt.date,
    key: str,
    claim_line_id: int | None = None,
    remittance_claim_id: int | None = None,
) -> list[LedgerEntry]:
    """The entries one CAS adjustment makes (see `adjustment_legs`), as ORM objects."""
    return [
        _leg_entry(
            claim,
            leg,
            posted_on,
            claim_line_id=claim_line_id,
            group_code=group_code,
            reason_code=reason_code,
            remittance_claim_id=remittance_claim_id,
        )
        for leg in adjustment_legs(group_code, amount, key)
    ]


def payer_payment_entry(
    *,
    claim: Claim,
    amount: Decimal,
    posted_on: dt.date,
    key: str,
    claim_line_id: int | None = None,
    remittance_claim_id: int | None = None,
    payment_id: int | None = None,
) -> LedgerEntry:
    """The entry a payer's payment makes (see `payer_payment_leg`), as an ORM object."""
    return _leg_entry(
        claim,
        payer_payment_leg(amount, key),
        posted_on,
        claim_line_id=claim_line_id,
        payment_id=payment_id,
        remittance_claim_id=remittance_claim_id,
    )


def _leg_entry(claim: Claim, leg: Leg, posted_on: dt.date, **extra: Any) -> LedgerEntry:
    """A ledger rule's leg as an ORM entry (the columns a leg does not decide come in `extra`)."""
    return new_entry(
        claim=claim,
        kind=leg.kind,
        responsibility=leg.responsibility,
        amount=leg.amount,
        posted_on=posted_on,
        idempotency_key=leg.idempotency_key,
        **extra,
    )


class Leg(NamedTuple):
    """One ledger movement a posting rule makes: its kind, side, signed amount (cents) and key.

    A named tuple rather than a frozen dataclass: the bulk 835 poster makes ~80,000 of them for a
    10,000-claim remittance, and a frozen dataclass costs several times as much to build."""

    kind: LedgerKind
    responsibility: Responsibility
    amount: Decimal
    idempotency_key: str


def _cents(amount: Decimal) -> Decimal:
    """`money(amount)`, without its conversions when the amount is already a Decimal (the same result)."""
    # rounding passed by position: a keyword makes the C method parse its arguments, twice as slow
    return amount.quantize(CENT, ROUND_HALF_UP) if type(amount) is Decimal else money(amount)


def adjustment_legs(group_code: str, amount: Decimal, key: str) -> list[Leg]:
    """The ledger rule for one CAS adjustment, shared by the ORM path (`adjustment_entries`) and the bulk
    835 poster (`knowledge.x12.rows.adjustment_rows`): PR moves the amount from the payer side to the
    patient; CO/OA/PI write it off the payer side (a negative CAS amount, e.g. a reversal, raises the
    balance back)."""
    if group_code == "PR":
        return [
            Leg(LedgerKind.TRANSFER, Responsibility.PAYER, _cents(-amount), f"{key}:from-payer"),
            Leg(LedgerKind.TRANSFER, Responsibility.PATIENT, _cents(amount), f"{key}:to-patient"),
        ]
    return [Leg(LedgerKind.ADJUSTMENT, Responsibility.PAYER, _cents(-amount), key)]


def payer_payment_leg(amount: Decimal, key: str) -> Leg:
    """The ledger rule for a payer's payment on a claim or line: it lowers the payer-side balance."""
    return Leg(LedgerKind.PAYER_PAYMENT, Responsibility.PAYER, _cents(-amount), key)
