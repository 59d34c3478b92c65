"""Finding the practice's claim and service lines for an 835's CLP and SVC loops.

A CLP is matched by patient control number (CLP01) whose patient agrees with NM1*QC, then by payer
claim number (CLP07) with patient and service dates, then by patient, service date and billed amount;
none or several is a reason for a person. Matching reads claims and writes nothing, so it lives apart
from the money rules (`knowledge.x12.balancing`), the rows written (`knowledge.x12.rows`) and the
orchestration (`knowledge.x12.posting`), and takes the session and practice explicitly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from knowledge.practice.ledger import ClaimTotals
from knowledge.practice.models import Claim, ClaimLine, ClaimStatus, Patient
from knowledge.x12.parse835 import ClaimPayment, ServicePayment


@dataclass(slots=True)
class _LineRef:
    id: int
    procedure_code: str
    modifiers: str
    revenue_code: str | None


@dataclass(slots=True)
class _ClaimRef:
    """What posting needs of a claim, read as plain rows (ORM objects cost too much at 10,000 claims)."""

    id: int
    claim_number: str
    payer_claim_number: str | None
    service_from: dt.date
    service_to: dt.date
    patient_last: str
    patient_first: str
    lines: list[_LineRef] = field(default_factory=list)
    status: ClaimStatus | None = None
    totals: ClaimTotals | None = None
    new_payer_claim_number: bool = False

    def update_row(self) -> dict[str, object]:
        """The claim's new status and cached totals (the columns `ledger.apply_totals` sets)."""
        assert self.totals is not None
        return {
            "b_id": self.id,
            "b_status": self.status,
            "b_billed": self.totals.billed,
            "b_paid": self.totals.payer_paid,
            "b_adjusted": self.totals.adjusted,
            "b_patient": self.totals.patient_responsibility,
            "b_patient_paid": self.totals.patient_paid,
            "b_icn": self.payer_claim_number if self.new_payer_claim_number else None,
            "b_now": dt.datetime.now(dt.UTC),
        }


class ClaimMatcher:
    """Finds the claims of one practice that a batch of CLPs pays (a new one per poster is enough)."""

    def __init__(self, session: Session, practice_id: int) -> None:
        self.session = session
        self.practice_id = practice_id

    def match_batch(self, batch: list[ClaimPayment]) -> list[tuple[ClaimPayment, _ClaimRef | None, str]]:
        """Each CLP of `batch`, in order, with its claim (or None and the reason none was chosen)."""
        numbers = {p.patient_control_number for p in batch}
        payer_numbers = {p.payer_claim_number for p in batch if p.payer_claim_number}
        conditions = [Claim.claim_number.in_(numbers)]
        if payer_numbers:
            conditions.append(Claim.payer_claim_number.in_(payer_numbers))
        candidates = self.load_claims(or_(*conditions))
        by_number: dict[str, list[_ClaimRef]] = defaultdict(list)
        by_payer_number: dict[str, list[_ClaimRef]] = defaultdict(list)
        for claim in candidates:
            by_number[claim.claim_number].append(claim)
            if claim.payer_claim_number:
                by_payer_number[claim.payer_claim_number].append(claim)
        return [(p, *self.match(p, by_number, by_payer_number)) for p in batch]

    def load_claims(self, condition: ColumnElement[bool]) -> list[_ClaimRef]:
        """The practice's claims that meet `condition`, with patient names and lines, as plain rows (read on
        the session's connection: plain columns need nothing of the ORM, whose row handling costs more)."""
        connection = self.session.connection()
        rows = connection.execute(
            select(
                Claim.id,
                Claim.claim_number,
                Claim.payer_claim_number,
                Claim.service_date_from,
                Claim.service_date_to,
                Patient.last_name,
                Patient.first_name,
            )
            .join(Patient, Patient.id == Claim.patient_id)
            .where(Claim.practice_id == self.practice_id, condition)
            .order_by(Claim.id)
            # PostgreSQL: lock the claims until this batch commits, so two workers posting remittances
            # that pay the same claim take turns (the second then sees the first's ledger entries). In id
            # order, so two batches never wait for each other's locks. SQLite's write lock already does this.
            .with_for_update(of=Claim)
        ).all()
        claims = {
            claim_id: _ClaimRef(claim_id, number, payer_number, service_from, service_to, last, first)
            for claim_id, number, payer_number, service_from, service_to, last, first in rows
        }
        if claims:
            lines = connection.execute(
                select(
                    ClaimLine.id,
                    ClaimLine.claim_id,
                    ClaimLine.procedure_code,
                    ClaimLine.modifiers,
                    ClaimLine.revenue_code,
                )
                .where(ClaimLine.claim_id.in_(claims))
                .order_by(ClaimLine.claim_id, ClaimLine.line_number)
            ).all()
            for line_id, claim_id, procedure_code, modifiers, revenue_code in lines:
                claims[claim_id].lines.append(_LineRef(line_id, procedure_code, modifiers, revenue_code))
        return list(claims.values())

    def match(
        self,
        payment: ClaimPayment,
        by_number: dict[str, list[_ClaimRef]],
        by_payer_number: dict[str, list[_ClaimRef]],
    ) -> tuple[_ClaimRef | None, str]:
        same_number = by_number.get(payment.patient_control_number, [])
        agreeing = [c for c in same_number if _names_agree(c, payment)]
        if len(agreeing) == 1:
            return agreeing[0], ""
        if payment.payer_claim_number:
            by_icn = [
                c
                for c in by_payer_number.get(payment.payer_claim_number, [])
                if _names_agree(c, payment) and _dates_agree(c, payment)
            ]
            if len(by_icn) == 1:
                return by_icn[0], ""
        service_from = payment.service_from or min(
            (line.service_date for line in payment.lines if line.service_date), default=None
        )
        named = _patient_label(payment)
        if payment.patient_last and service_from is not None and not agreeing:
            found = self.load_claims(
                and_(
                    func.upper(Patient.last_name) == payment.patient_last.upper(),
                    Claim.service_date_from == service_from,
                    Claim.billed_amount == payment.billed,
                )
            )
            found = [c for c in found if _names_agree(c, payment)]
            if len(found) == 1:
                return found[0], ""
            if len(found) > 1:
                return None, (
                    f"{len(found)} claims of {named} from {service_from} billed {payment.billed} could be "
                    f"CLP {payment.patient_control_number!r}: choose one by hand "
                    f"(segment {payment.segment_number}: {payment.segment_text})"
                )
        if same_number and not agreeing:
            other = same_number[0]
            return None, (
                f"claim {payment.patient_control_number} exists but is for {other.patient_last}, "
                f"{other.patient_first}, not {named} as the 835 says "
                f"(segment {payment.segment_number}: {payment.segment_text})"
            )
        if len(agreeing) > 1:
            return None, (
                f"{len(agreeing)} claims numbered {payment.patient_control_number!r} match {named}: choose one "
                f"by hand (segment {payment.segment_number}: {payment.segment_text})"
            )
        icn = f", payer claim number {payment.payer_claim_number!r} (CLP07)" if payment.payer_claim_number else ""
        return None, (
            f"no claim matches patient control number {payment.patient_control_number!r} (CLP01){icn} "
            f"or {named} on {service_from or 'an unknown date'} billed {payment.billed}: create the claim or "
            f"correct its number, then post by hand (segment {payment.segment_number}: {payment.segment_text})"
        )


def _patient_label(payment: ClaimPayment) -> str:
    if not payment.patient_last:
        return "the patient"
    return f"{payment.patient_last}, {payment.patient_first}".strip(", ")


def _names_agree(claim: _ClaimRef, payment: ClaimPayment) -> bool:
    if not payment.patient_last:
        return True
    if claim.patient_last.strip().upper() != payment.patient_last.strip().upper():
        return False
    first, theirs = claim.patient_first.strip().upper(), payment.patient_first.strip().upper()
    # payers shorten first names (ROB for ROBERT) but a different name is a different person
    return not first or not theirs or first.startswith(theirs) or theirs.startswith(first)


def _dates_agree(claim: _ClaimRef, payment: ClaimPayment) -> bool:
    start = payment.service_from or min((x.service_date for x in payment.lines if x.service_date), default=None)
    if start is None:
        return True
    end = payment.service_to or start
    return claim.service_from <= end and start <= claim.service_to


def _match_line(lines: list[_LineRef], line: ServicePayment, used: set[int]) -> _LineRef | None:
    modifiers = ",".join(line.modifiers)
    free = [c for c in lines if c.id not in used]
    for candidate in free:
        if candidate.procedure_code == line.procedure_code and candidate.modifiers == modifiers:
            return candidate
    for candidate in free:
        if candidate.procedure_code == line.procedure_code or (
            line.revenue_code and candidate.revenue_code == line.revenue_code
        ):
            return candidate
    return None
