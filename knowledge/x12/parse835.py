"""The 835 (health care claim payment/advice, 005010X221A1) as a stream of plain records.

`read_835` walks one ST..SE and yields the header once, then each claim (CLP loop with its service
lines) and each provider-level adjustment as soon as it is complete, so a 10,000-claim remittance is
never held whole. Codes the posting depends on are checked here and refused with their position.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from knowledge.x12.segments import Segment
from knowledge.x12.values import ZERO, SegmentError, amount, date8, quantity

GROUP_CODES = {"CO", "OA", "PI", "PR", "CR"}
CLAIM_STATUS_CODES = {"1", "2", "3", "4", "5", "19", "20", "21", "22", "23", "25"}
PLB_REASONS = {
    "50",
    "51",
    "72",
    "90",
    "AH",
    "AM",
    "AP",
    "B2",
    "B3",
    "BD",
    "BN",
    "C5",
    "CR",
    "CS",
    "CT",
    "CV",
    "CW",
    "DM",
    "E3",
    "FB",
    "FC",
    "GO",
    "HM",
    "IP",
    "IR",
    "IS",
    "J1",
    "L3",
    "L6",
    "LE",
    "LS",
    "OA",
    "OB",
    "OC",
    "PI",
    "PL",
    "RA",
    "RE",
    "SL",
    "TL",
    "WO",
    "WU",
}


@dataclass
class CasItem:
    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None
    segment_number: int


@dataclass
class ServicePayment:
    qualifier: str
    procedure_code: str
    modifiers: list[str]
    billed: Decimal
    paid: Decimal
    units: Decimal | None
    revenue_code: str | None
    service_date: dt.date | None = None
    line_control: str | None = None
    adjustments: list[CasItem] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    segment_number: int = 0

    def balance_gap(self) -> Decimal:
        """billed - paid - adjustments: zero when the line balances."""
        return self.billed - self.paid - sum((a.amount for a in self.adjustments), ZERO)


@dataclass
class ClaimPayment:
    sequence: int
    patient_control_number: str
    status_code: str
    billed: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    filing_indicator: str
    payer_claim_number: str | None
    facility_code: str
    segment_number: int
    segment_text: str
    patient_last: str = ""
    patient_first: str = ""
    patient_member_id: str = ""
    service_from: dt.date | None = None
    service_to: dt.date | None = None
    adjustments: list[CasItem] = field(default_factory=list)
    remarks: list[tuple[str, str]] = field(default_factory=list)
    lines: list[ServicePayment] = field(default_factory=list)

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"

    def all_adjustments(self) -> Iterator[CasItem]:
        yield from self.adjustments
        for line in self.lines:
            yield from line.adjustments

    def adjustment_total(self) -> Decimal:
        return sum((a.amount for a in self.all_adjustments()), ZERO)

    def balance_problem(self) -> str | None:
        """The biller-readable reason this claim does not balance, or None."""
        expected = self.billed - self.paid
        adjusted = self.adjustment_total()
        if expected == adjusted:
            return None
        return (
            f"CLP {self.patient_control_number!r} billed {self.billed} - paid {self.paid} = {expected} "
            f"but adjustments sum to {adjusted} (segment {self.segment_number}: {self.segment_text})"
        )


@dataclass
class ProviderAdjustmentItem:
    provider_identifier: str
    fiscal_period: dt.date | None
    reason: str
    reference: str | None
    amount: Decimal
    segment_number: int


@dataclass
class RemittanceHeader:
    total_paid: Decimal
    credit_debit: str
    payment_method: str
    payment_date: dt.date | None
    trace_number: str
    payer_identifier: str
    payer_name: str = ""
    payer_id_code: str = ""
    payee_name: str = ""
    payee_id: str = ""
    production_date: dt.date | None = None
    bpr_segment: Segment | None = None
    notes: list[str] = field(default_factory=list)


RemittanceItem = RemittanceHeader | ClaimPayment | ProviderAdjustmentItem


def read_835(segments: Iterable[Segment]) -> Iterator[RemittanceItem]:
    """Yield the header, then claims and provider adjustments in file order (see the module docstring)."""
    header: RemittanceHeader | None = None
    header_sent = False
    claim: ClaimPayment | None = None
    line: ServicePayment | None = None
    sequence = 0
    entity = ""

    def flush_header() -> Iterator[RemittanceItem]:
        nonlocal header_sent
        if not header_sent:
            if header is None:
                raise SegmentError("the 835 has no BPR/TRN header before its claims", current)
            if header.payment_date is None:
                assert header.bpr_segment is not None
                if header.production_date is None:
                    raise SegmentError(
                        f"BPR16 (the payment date) {_bpr16(header.bpr_segment)!r} is not a CCYYMMDD date and "
                        "there is no DTM*405 production date: nothing of this remittance was posted",
                        header.bpr_segment,
                    )
                # Never today's date: the payer's own production date, said in the report as a warning.
                header.payment_date = header.production_date
                header.notes.append(
                    f"{header.bpr_segment.position}: BPR16 {_bpr16(header.bpr_segment)!r} is not a CCYYMMDD "
                    f"date: the payment is dated with the production date (DTM*405) {header.payment_date}"
                )
            header_sent = True
            yield header

    current: Segment
    for current in segments:
        tag = current.elements[0]
        if tag == "CAS":  # first: the most common segment (no other branch reads a CAS)
            if claim is None:
                raise SegmentError("CAS outside a claim (CLP) loop", current)
            target = line.adjustments if line is not None else claim.adjustments
            target.extend(_cas_items(current))
        elif tag == "BPR":
            header = RemittanceHeader(
                total_paid=amount(current, 2),
                credit_debit=current[3],
                payment_method=current[4],
                payment_date=_payment_date(current),
                trace_number="",
                payer_identifier="",
                bpr_segment=current,
            )
        elif tag == "TRN" and header is not None and claim is None:
            header.trace_number = current[2]
            header.payer_identifier = current[3]
        elif tag == "DTM" and claim is None and current[1] == "405" and header is not None:
            header.production_date = date8(current, 2)
        elif tag == "N1" and claim is None:
            entity = current[1]
            if header is not None and entity == "PR":
                header.payer_name = current[2]
                header.payer_id_code = current[4]
            elif header is not None and entity == "PE":
                header.payee_name = current[2]
                header.payee_id = current[4]
        elif tag == "REF" and claim is None and entity == "PR" and current[1] == "2U" and header is not None:
            header.payer_id_code = header.payer_id_code or current[2]
        elif tag == "LX":
            yield from flush_header()
            if claim is not None:
                yield claim
                claim, line = None, None
        elif tag == "CLP":
            yield from flush_header()
            if claim is not None:
                yield claim
            line = None
            sequence += 1
            status = current[2]
            if status not in CLAIM_STATUS_CODES:
                raise SegmentError(f"CLP02 claim status code {status!r} is not a known code", current)
            claim = ClaimPayment(
                sequence=sequence,
                patient_control_number=current[1],
                status_code=status,
                billed=amount(current, 3),
                paid=amount(current, 4),
                patient_responsibility=amount(current, 5, required=False),
                filing_indicator=current[6],
                payer_claim_number=current[7] or None,
                facility_code=current[8],
                segment_number=current.number,
                segment_text=current.text,
            )
        elif tag == "NM1" and claim is not None and line is None:
            if current[1] == "QC" or (current[1] == "IL" and not claim.patient_last):
                claim.patient_last = current[3]
                claim.patient_first = current[4]
                claim.patient_member_id = current[9]
        elif tag == "DTM" and claim is not None:
            qualifier = current[1]
            if line is not None and qualifier in ("472", "150"):
                line.service_date = date8(current, 2)
            elif line is None and qualifier == "232":
                claim.service_from = date8(current, 2)
            elif line is None and qualifier == "233":
                claim.service_to = date8(current, 2)
        elif tag == "MOA" and claim is not None:
            claim.remarks.extend(("MOA", code) for code in current.elements[3:8] if code)
        elif tag == "MIA" and claim is not None:
            for index in (5, 20, 21, 22, 23):
                if current[index]:
                    claim.remarks.append(("MIA", current[index]))
        elif tag == "SVC":
            if claim is None:
                raise SegmentError("SVC outside a claim (CLP) loop", current)
            line = _service(current)
            claim.lines.append(line)
        elif tag == "LQ" and line is not None:
            if current[1] == "HE":
                line.remarks.append(current[2])
        elif tag == "REF" and line is not None and current[1] == "6R":
            line.line_control = current[2]
        elif tag == "PLB":
            yield from flush_header()
            if claim is not None:
                yield claim
                claim, line = None, None
            yield from _plb_items(current)
        elif tag == "SE":
            yield from flush_header()
            if claim is not None:
                yield claim
                claim = None
    if not header_sent:
        raise SegmentError("the 835 has no BPR header", current)


def _bpr16(segment: Segment) -> str:
    text = segment[16]
    if not text and len(segment) > 12 and len(segment.elements[-1]) == 8 and segment.elements[-1].isdigit():
        # Some senders (and TR3-derived samples) drop one empty element before the date.
        text = segment.elements[-1]
    return text


def _payment_date(segment: Segment) -> dt.date | None:
    """BPR16, the date the money is paid (the ledger's posting date), or None when it is not a date."""
    try:
        return date8(segment, 16, _bpr16(segment))
    except SegmentError:
        return None


def _cas_items(segment: Segment) -> list[CasItem]:
    elements = segment.elements  # read directly: most segments of an 835 are CAS
    count = len(elements)
    group = elements[1] if count > 1 else ""
    if group not in GROUP_CODES:
        raise SegmentError(f"CAS01 claim adjustment group code {group!r} is not CO, OA, PI, PR or CR", segment)
    items = []
    for index in range(2, min(count, 20), 3):  # CAS02, 05, ... 17; an element past the end is empty
        reason = elements[index]
        if not reason:
            continue
        if len(reason) > 5 or not reason.isalnum():
            raise SegmentError(f"CAS{index:02d} {reason!r} is not a claim adjustment reason code", segment)
        # group, reason, amount, quantity, segment number: by position (80,000 items in a large 835, read twice)
        items.append(CasItem(group, reason, amount(segment, index + 1), quantity(segment, index + 2), segment.number))
    return items


def _service(segment: Segment) -> ServicePayment:
    parts = segment.components(1)
    qualifier = parts[0]
    code = parts[1] if len(parts) > 1 else ""
    revenue = segment[4] or None
    if not code and revenue:
        code = revenue
    return ServicePayment(
        qualifier=qualifier,
        procedure_code=code[:10],
        modifiers=[m for m in parts[2:6] if m],
        billed=amount(segment, 2),
        paid=amount(segment, 3),
        revenue_code=revenue[:4] if revenue and qualifier != "NU" else (code[:4] if qualifier == "NU" else None),
        units=quantity(segment, 5) or quantity(segment, 7),
        segment_number=segment.number,
    )


def _plb_items(segment: Segment) -> Iterator[ProviderAdjustmentItem]:
    fiscal = date8(segment, 2) if segment[2] else None
    for index in range(3, 15, 2):
        if not segment[index]:
            continue
        reason = segment.component(index, 0)
        if reason not in PLB_REASONS:
            raise SegmentError(f"PLB{index:02d} adjustment reason {reason!r} is not a known PLB code", segment)
        yield ProviderAdjustmentItem(
            provider_identifier=segment[1],
            fiscal_period=fiscal,
            reason=reason,
            reference=segment.component(index, 1) or None,
            amount=amount(segment, index + 1),
            segment_number=segment.number,
        )
