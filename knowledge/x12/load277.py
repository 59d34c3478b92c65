"""Claim acknowledgements (277CA, 005010X214) and claim status responses (277, 005010X212).

Each claim-level STC (after a TRN*2 in loop 2200D/E) becomes a status history row with its category
code, status code, entity, date and amounts, and moves the claim's current status. A claim is found by
its patient control number (TRN02 in a 277CA, REF*EJ in a 277) and then by payer claim number (REF*1K).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.practice.models import Claim, ClaimStatus, ClaimStatusEvent
from knowledge.x12.segments import Segment
from knowledge.x12.values import SegmentError, date8, date_or_range, optional_amount

# STC01-1 claim status category codes, by their first letter, and what they do to the claim.
CATEGORY_STATUS = {
    "A1": ClaimStatus.ACCEPTED,
    "A2": ClaimStatus.ACCEPTED,
    "A5": ClaimStatus.ACCEPTED,
    "A3": ClaimStatus.REJECTED,
    "A4": ClaimStatus.REJECTED,
    "A6": ClaimStatus.REJECTED,
    "A7": ClaimStatus.REJECTED,
    "A8": ClaimStatus.REJECTED,
    "P0": ClaimStatus.PENDING,
    "P1": ClaimStatus.PENDING,
    "P2": ClaimStatus.PENDING,
    "P3": ClaimStatus.PENDING,
    "P4": ClaimStatus.PENDING,
    "P5": ClaimStatus.PENDING,
    "F1": ClaimStatus.PAID,
    "F2": ClaimStatus.DENIED,
    "F3": ClaimStatus.PAID,
    "F3F": ClaimStatus.PAID,
    "F3N": ClaimStatus.DENIED,
    "F4": ClaimStatus.PENDING,
}
KNOWN_PREFIXES = ("A", "D", "E", "F", "P", "R")
# An 835 is the word on money: a later 277 saying "pending" does not undo a posted payment or denial.
SETTLED = {ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED, ClaimStatus.REVERSED, ClaimStatus.CLOSED}


@dataclass
class StatusItem:
    category: str
    code: str
    entity: str
    effective: dt.date
    charge: Decimal | None
    paid: Decimal | None
    segment: Segment
    message: str = ""  # STC12: the payer's or clearinghouse's free-form text, e.g. a rejection's reason


@dataclass
class ClaimStatusReport:
    trace: str
    patient_control_number: str | None
    payer_claim_number: str | None
    patient_last: str
    service_from: dt.date | None = None
    statuses: list[StatusItem] = field(default_factory=list)
    segment: Segment | None = None


def read_277(segments: Iterable[Segment]) -> Iterator[ClaimStatusReport]:
    """Yield each claim-level status report of one 277/277CA transaction."""
    current: ClaimStatusReport | None = None
    name = ""
    in_service = False
    for segment in segments:
        tag = segment.tag
        if tag in ("HL", "SE"):
            if current is not None:
                yield current
                current = None
            in_service = False
        elif tag == "NM1" and segment[1] in ("QC", "IL"):
            name = segment[3]
        elif tag == "TRN":
            if current is not None:
                yield current
                current = None
            in_service = False
            if segment[1] == "2":
                current = ClaimStatusReport(
                    trace=segment[2],
                    patient_control_number=None,
                    payer_claim_number=None,
                    patient_last=name,
                    segment=segment,
                )
        elif current is None:
            continue
        elif tag == "SVC":
            in_service = True
        elif tag == "STC" and not in_service:
            current.statuses.append(_status(segment))
        elif tag == "REF" and not in_service:
            if segment[1] == "1K":
                current.payer_claim_number = segment[2]
            elif segment[1] == "EJ" and not current.patient_control_number:
                current.patient_control_number = segment[2]
        elif tag == "DTP" and segment[1] == "472" and not in_service:
            current.service_from = date_or_range(segment, 2, 3)[0]


def _status(segment: Segment) -> StatusItem:
    parts = segment.components(1)
    category = parts[0]
    if not category or not category.startswith(KNOWN_PREFIXES) or len(category) > 4:
        raise SegmentError(f"STC01-1 claim status category code {category!r} is not a known category", segment)
    code = parts[1] if len(parts) > 1 else ""
    if code and not code.isalnum():
        raise SegmentError(f"STC01-2 claim status code {code!r} is not a known code", segment)
    return StatusItem(
        category=category,
        code=code,
        entity=parts[2] if len(parts) > 2 else "",
        effective=date8(segment, 2) if segment[2] else dt.date.today(),
        charge=optional_amount(segment, 4),
        paid=optional_amount(segment, 5),
        segment=segment,
        message=" ".join(segment[12].split()),
    )


def find_claim(session: Session, *, practice_id: int, report: ClaimStatusReport, is_277ca: bool) -> Claim | None:
    numbers = [n for n in (report.patient_control_number, report.trace if is_277ca else None) if n]
    for number in numbers:
        claim = session.scalar(select(Claim).where(Claim.practice_id == practice_id, Claim.claim_number == number[:38]))
        if claim is not None:
            return claim
    if report.payer_claim_number:
        found = session.scalars(
            select(Claim).where(Claim.practice_id == practice_id, Claim.payer_claim_number == report.payer_claim_number)
        ).all()
        if len(found) == 1:
            return found[0]
    if not is_277ca:
        claim = session.scalar(
            select(Claim).where(Claim.practice_id == practice_id, Claim.claim_number == report.trace[:38])
        )
        if claim is not None:
            return claim
    return None


def apply_statuses(session: Session, *, claim: Claim, report: ClaimStatusReport, source: str) -> int:
    """Append the report's statuses to the claim's history and update its current status."""
    first = True
    for item in report.statuses:
        mapped = CATEGORY_STATUS.get(item.category)
        status = mapped or claim.status
        if first and mapped is not None and (claim.status not in SETTLED or item.category.startswith("F")):
            claim.status = mapped
            status = mapped
        first = False
        if report.payer_claim_number and not claim.payer_claim_number:
            claim.payer_claim_number = report.payer_claim_number[:50]
        session.add(
            ClaimStatusEvent(
                claim_id=claim.id,
                status=status,
                category_code=item.category[:4],
                status_code=item.code[:6] or None,
                entity_code=item.entity[:3] or None,
                effective_date=item.effective,
                amount=item.paid if item.paid is not None else item.charge,
                source=source,
                # The amount column holds the charge; the note keeps what the sender said (a rejection's
                # reason, shown as the claim's state), never patient fields beyond what STC12 carries.
                note=item.message[:300] or None,
            )
        )
    return len(report.statuses)
