"""Claims the practice sent (837P 005010X222A1/A2, 837I 005010X223A2/A3, and their 4010 forms).

`read_837` streams one ST..SE and yields a `SentClaim` per CLM loop, carrying the billing provider,
subscriber, payer and patient in force at that point of the HL hierarchy. `save_claim` creates or
updates the patient, payer, coverage, provider and claim (with lines, diagnoses and one charge ledger
entry per line). Loops 2320/2330 (other payers of a COB claim) are skipped: they describe other
coverage, not this claim's payer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from knowledge.practice.ledger import apply_totals, charge_entries, claim_entries, totals_from_entries
from knowledge.practice.models import (
    Claim,
    ClaimDiagnosis,
    ClaimLine,
    ClaimStatus,
    ClaimStatusEvent,
    Coverage,
    LedgerEntry,
    LedgerKind,
    Patient,
    Payer,
    PayerKind,
    Provider,
)
from knowledge.x12.segments import Segment
from knowledge.x12.values import ZERO, SegmentError, amount, date8, date_or_range, quantity

DIAGNOSIS_QUALIFIERS = {
    "ABK": "ABK",
    "BK": "ABK",
    "ABF": "ABF",
    "BF": "ABF",
    "ABJ": "ABJ",
    "BJ": "ABJ",
    "APR": "APR",
    "PR": "APR",
    "ABN": "ABN",
    "BN": "ABN",
}
FILING_KINDS = {"MA": PayerKind.MEDICARE, "MB": PayerKind.MEDICARE, "MC": PayerKind.MEDICAID}
# Payers created from an 837 get common defaults; the biller sets the payer's real limits later.
DEFAULT_LIMITS = {PayerKind.MEDICARE: (365, 120), PayerKind.MEDICAID: (365, 90)}
OTHER_LIMITS = (180, 180)


@dataclass
class Person:
    last: str = ""
    first: str = ""
    member_id: str = ""
    birth_date: dt.date | None = None
    sex: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


@dataclass
class SentLine:
    number: int
    procedure_code: str
    code_system: str
    modifiers: list[str]
    revenue_code: str | None
    charge: Decimal
    units: Decimal
    pointers: str
    service_from: dt.date | None = None
    service_to: dt.date | None = None


@dataclass
class SentClaim:
    claim_number: str
    total_charge: Decimal
    claim_type: str
    place_of_service: str | None
    frequency_code: str
    segment: Segment
    payer_name: str
    payer_id: str
    filing_indicator: str
    priority: int
    relationship_code: str
    group_number: str | None
    subscriber: Person
    patient: Person
    billing_npi: str | None
    billing_name: str
    billing_taxonomy: str | None
    rendering_npi: str | None = None
    rendering_name: str = ""
    submitted_on: dt.date | None = None
    statement_from: dt.date | None = None
    statement_to: dt.date | None = None
    payer_claim_number: str | None = None
    diagnoses: list[tuple[str, str]] = field(default_factory=list)
    lines: list[SentLine] = field(default_factory=list)


def read_837(segments: Iterable[Segment], *, claim_type: str) -> Iterator[SentClaim]:
    """Yield each claim of one 837 transaction (see the module docstring)."""
    submitted: dt.date | None = None
    billing = Person()
    billing_npi: str | None = None
    billing_taxonomy: str | None = None
    subscriber = Person()
    patient: Person | None = None
    payer_name = payer_id = filing = group = ""
    priority, relationship = 1, "18"
    claim: SentClaim | None = None
    line: SentLine | None = None
    entity: Person | None = None  # the person the next N3/N4/DMG describe
    in_other_payer = False
    for segment in segments:
        tag = segment.tag
        if tag == "LX":
            in_other_payer = False  # service lines follow the other-payer loops (2320/2330)
        if tag == "BHT" and segment[4]:
            submitted = date8(segment, 4)
        elif tag == "HL":
            if claim is not None:
                yield claim
                claim, line = None, None
            level = segment[3]
            in_other_payer = False
            if level == "20":
                billing, billing_npi, billing_taxonomy = Person(), None, None
            elif level == "22":
                subscriber, patient = Person(), None
                payer_name = payer_id = filing = group = ""
            elif level in ("23", "PT"):
                patient = Person()
            entity = None
        elif tag == "PRV" and claim is None and segment[1] in ("BI", "PT", "PE"):
            billing_taxonomy = segment[3][:10] or billing_taxonomy
        elif tag == "SBR":
            if claim is not None:
                in_other_payer = True
                continue
            priority = {"P": 1, "S": 2, "T": 3}.get(segment[1], 1)
            relationship = segment[2] or "18"
            group = segment[3]
            filing = segment[9]
        elif tag == "PAT" and claim is None:
            relationship = segment[1] or relationship
        elif tag == "NM1":
            qualifier = segment[1]
            entity = None
            if in_other_payer:
                continue
            if qualifier == "85" and claim is None:
                billing = Person(last=segment[3])
                billing_npi = segment[9] if segment[8] == "XX" else None
            elif qualifier == "IL" and claim is None:
                subscriber = Person(last=segment[3], first=segment[4], member_id=segment[9])
                entity = subscriber
            elif qualifier == "QC" and claim is None:
                patient = Person(last=segment[3], first=segment[4], member_id=segment[9])
                entity = patient
            elif qualifier == "PR" and claim is None:
                payer_name, payer_id = segment[3], segment[9]
            elif qualifier in ("82", "71") and claim is not None and line is None and segment[8] == "XX":
                claim.rendering_npi = segment[9]
                claim.rendering_name = " ".join(p for p in (segment[4], segment[3]) if p)
        elif tag == "N3" and entity is not None:
            entity.address = " ".join(p for p in (segment[1], segment[2]) if p)[:200]
        elif tag == "N4" and entity is not None:
            entity.city, entity.state, entity.postal_code = segment[1][:100], segment[2][:2], segment[3][:10]
        elif tag == "DMG" and entity is not None and segment[2]:
            entity.birth_date = date8(segment, 2)
            entity.sex = segment[3][:1] or None
        elif tag == "CLM":
            if claim is not None:
                yield claim
            line = None
            in_other_payer = False
            facility = segment.components(5)
            claim = SentClaim(
                claim_number=segment[1],
                total_charge=amount(segment, 2),
                claim_type=claim_type,
                place_of_service=facility[0][:2] if claim_type == "P" and facility[0] else None,
                frequency_code=(facility[2] if len(facility) > 2 and facility[2] else "1")[:1],
                segment=segment,
                payer_name=payer_name,
                payer_id=payer_id,
                filing_indicator=filing,
                priority=priority,
                relationship_code=relationship,
                group_number=group or None,
                subscriber=subscriber,
                patient=patient or subscriber,
                billing_npi=billing_npi,
                billing_name=billing.last,
                billing_taxonomy=billing_taxonomy,
                submitted_on=submitted,
            )
            if not claim.claim_number:
                raise SegmentError("CLM01 (the patient control number) is missing", segment)
        elif claim is None or in_other_payer:
            continue
        elif tag == "DTP" and segment[1] in ("434", "472") and line is None:
            claim.statement_from, claim.statement_to = date_or_range(segment, 2, 3)
        elif tag == "REF" and segment[1] == "F8" and line is None:
            claim.payer_claim_number = segment[2][:50]
        elif tag == "HI":
            for index in range(1, 13):
                parts = segment.components(index)
                dx_qualifier = DIAGNOSIS_QUALIFIERS.get(parts[0])
                if dx_qualifier and len(parts) > 1 and parts[1]:
                    claim.diagnoses.append((dx_qualifier, _with_dot(parts[1])))
        elif tag == "LX":
            line = None
        elif tag in ("SV1", "SV2"):
            line = _line(segment, len(claim.lines) + 1)
            claim.lines.append(line)
        elif tag == "DTP" and segment[1] == "472" and line is not None:
            line.service_from, line.service_to = date_or_range(segment, 2, 3)
    if claim is not None:
        yield claim


def _with_dot(code: str) -> str:
    code = code.strip().upper()
    if "." in code or len(code) <= 3:
        return code[:8]
    cut = 4 if code.startswith("E") and code[1:].isdigit() else 3  # ICD-9 E codes: E880.9
    return f"{code[:cut]}.{code[cut:]}"[:8]


def _line(segment: Segment, number: int) -> SentLine:
    if segment.tag == "SV1":
        parts = segment.components(1)
        charge, units_at, pointers = amount(segment, 2), 4, segment[7].replace(segment.delimiters.component, ",")
        revenue = None
    else:
        parts = segment.components(2)
        revenue = segment[1][:4] or None
        charge, units_at, pointers = amount(segment, 3), 5, ""
        if not parts[0] and revenue:
            parts = ["NU", revenue]
    return SentLine(
        number=number,
        code_system=(parts[0] or "HC")[:8],
        procedure_code=(parts[1] if len(parts) > 1 else "")[:10],
        modifiers=[m for m in parts[2:6] if m],
        revenue_code=revenue,
        charge=charge,
        units=quantity(segment, units_at) or Decimal("1"),
        pointers=(pointers or "1")[:20],
    )


@dataclass
class SaveResult:
    created: bool
    claim_id: int
    note: str | None = None


def save_claim(session: Session, *, practice_id: int, sent: SentClaim, source: str) -> SaveResult:
    """Create or update one claim from an 837 (an update keeps a claim that already has postings)."""
    if not sent.lines:
        raise SegmentError(f"claim {sent.claim_number!r} has no service lines (SV1/SV2)", sent.segment)
    lines_total = sum((line.charge for line in sent.lines), ZERO)
    if lines_total != sent.total_charge:
        raise SegmentError(
            f"CLM02 total charge {sent.total_charge} does not equal the sum of its lines' charges {lines_total}",
            sent.segment,
        )
    payer = _payer(session, practice_id=practice_id, sent=sent)
    patient = _patient(session, practice_id=practice_id, person=sent.patient, subscriber=sent.subscriber)
    coverage = _coverage(session, practice_id=practice_id, patient=patient, payer=payer, sent=sent)
    provider = _provider(session, practice_id=practice_id, sent=sent)
    dates = [d for line in sent.lines for d in (line.service_from, line.service_to) if d]
    if sent.statement_from:
        dates += [sent.statement_from, sent.statement_to or sent.statement_from]
    start = min(dates) if dates else (sent.submitted_on or dt.date.today())
    end = max(dates) if dates else start

    claim = session.scalar(
        select(Claim).where(Claim.practice_id == practice_id, Claim.claim_number == sent.claim_number[:38])
    )
    created = claim is None
    note = None
    if claim is None:
        claim = Claim(practice_id=practice_id, claim_number=sent.claim_number[:38], status=ClaimStatus.SUBMITTED)
        session.add(claim)
    else:
        postings = [e for e in claim_entries(session, claim_id=claim.id) if e.kind != LedgerKind.CHARGE]
        if postings:
            return SaveResult(
                created=False,
                claim_id=claim.id,
                note=f"claim {claim.claim_number} already has payments or adjustments: its lines were kept",
            )
        session.execute(
            delete(LedgerEntry).where(LedgerEntry.claim_id == claim.id, LedgerEntry.kind == LedgerKind.CHARGE)
        )
        claim.lines.clear()
        claim.diagnoses.clear()
        session.flush()
        note = f"claim {claim.claim_number} replaced (frequency {sent.frequency_code})"
    claim.patient_id = patient.id
    claim.payer_id = payer.id
    claim.provider_id = provider.id if provider else None
    claim.coverage_id = coverage.id
    claim.claim_type = sent.claim_type
    claim.service_date_from, claim.service_date_to = start, end
    claim.place_of_service = sent.place_of_service
    claim.frequency_code = sent.frequency_code
    claim.submitted_on = sent.submitted_on
    if sent.payer_claim_number:
        claim.payer_claim_number = sent.payer_claim_number
    for line in sent.lines:
        claim.lines.append(
            ClaimLine(
                line_number=line.number,
                procedure_code=line.procedure_code,
                code_system=line.code_system,
                modifiers=",".join(line.modifiers)[:20],
                revenue_code=line.revenue_code,
                units=line.units,
                charge=line.charge,
                diagnosis_pointers=line.pointers,
                service_date=line.service_from or start,
            )
        )
    for sequence, (qualifier, code) in enumerate(sent.diagnoses, start=1):
        claim.diagnoses.append(ClaimDiagnosis(sequence=sequence, code=code, qualifier=qualifier))
    session.flush()
    charges = charge_entries(claim, posted_on=sent.submitted_on or start, memo=f"837 {source}"[:200])
    session.add_all(charges)
    session.add(
        ClaimStatusEvent(
            claim_id=claim.id,
            status=claim.status,
            effective_date=sent.submitted_on or start,
            amount=sent.total_charge,
            source="837",
            note=(note or "claim sent")[:300],
        )
    )
    session.flush()
    apply_totals(claim, totals_from_entries(charges))
    return SaveResult(created=created, claim_id=claim.id, note=note)


def _payer(session: Session, *, practice_id: int, sent: SentClaim) -> Payer:
    identifier = (sent.payer_id or sent.payer_name or "UNKNOWN")[:80]
    payer = session.scalar(select(Payer).where(Payer.practice_id == practice_id, Payer.payer_id == identifier))
    if payer is None:
        kind = FILING_KINDS.get(
            sent.filing_indicator, PayerKind.COMMERCIAL if sent.filing_indicator else PayerKind.OTHER
        )
        timely, appeal = DEFAULT_LIMITS.get(kind, OTHER_LIMITS)
        payer = Payer(
            practice_id=practice_id,
            payer_id=identifier,
            name=(sent.payer_name or identifier)[:200],
            kind=kind,
            timely_filing_days=timely,
            appeal_days=appeal,
        )
        session.add(payer)
        session.flush()
    return payer


def _patient(session: Session, *, practice_id: int, person: Person, subscriber: Person) -> Patient:
    query = select(Patient).where(
        Patient.practice_id == practice_id,
        func.upper(Patient.last_name) == person.last.upper(),
        func.upper(Patient.first_name) == person.first.upper(),
    )
    if person.birth_date:
        query = query.where(Patient.birth_date == person.birth_date)
    patient = session.scalars(query).first()
    if patient is None:
        base = person.member_id or subscriber.member_id or f"{person.last}-{person.first}"
        if person is not subscriber and not person.member_id:
            base = f"{base}-{person.first}"
        account = base[:50]
        suffix = 1
        while session.scalar(
            select(Patient.id).where(Patient.practice_id == practice_id, Patient.account_number == account)
        ):
            suffix += 1
            account = f"{base[:45]}-{suffix}"
        patient = Patient(
            practice_id=practice_id, account_number=account, first_name=person.first[:100], last_name=person.last[:100]
        )
        session.add(patient)
    patient.birth_date = person.birth_date or patient.birth_date
    patient.sex = person.sex or patient.sex
    patient.address = person.address or patient.address
    patient.city = person.city or patient.city
    patient.state = person.state or patient.state
    patient.postal_code = person.postal_code or patient.postal_code
    session.flush()
    return patient


def _coverage(session: Session, *, practice_id: int, patient: Patient, payer: Payer, sent: SentClaim) -> Coverage:
    member = (sent.subscriber.member_id or patient.account_number)[:80]
    coverage = session.scalar(
        select(Coverage).where(
            Coverage.practice_id == practice_id,
            Coverage.patient_id == patient.id,
            Coverage.payer_id == payer.id,
            Coverage.member_id == member,
        )
    )
    if coverage is None:
        coverage = Coverage(
            practice_id=practice_id,
            patient_id=patient.id,
            payer_id=payer.id,
            member_id=member,
            group_number=(sent.group_number or "")[:50] or None,
            priority=sent.priority,
            relationship_code=sent.relationship_code[:2],
        )
        session.add(coverage)
        session.flush()
    return coverage


def _provider(session: Session, *, practice_id: int, sent: SentClaim) -> Provider | None:
    npi, name = sent.rendering_npi, sent.rendering_name
    if not npi:
        npi, name = sent.billing_npi, sent.billing_name
    if not npi:
        return None
    provider = session.scalar(select(Provider).where(Provider.practice_id == practice_id, Provider.npi == npi[:10]))
    if provider is None:
        provider = Provider(
            practice_id=practice_id, npi=npi[:10], name=(name or npi)[:200], taxonomy=sent.billing_taxonomy
        )
        session.add(provider)
        session.flush()
    return provider
