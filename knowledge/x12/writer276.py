"""Outbound 276 claim status requests (005010X212), one file for one claim or a batch.

Structure written (the X212 hierarchy): HL 20 information source (the payer, NM1*PR), HL 21
information receiver (the practice, NM1*41), HL 19 service provider (NM1*1P), HL 22 subscriber with
DMG, NM1*IL, and the claim: TRN*1 (our trace: the claim number), REF*1K (payer claim number, when
known), REF*EJ (patient control number), AMT*T3 (billed), DTP*472 (service dates). The patient is sent
as the subscriber (loop 2000D) with the coverage's member id; dependents are not split into 2000E.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from knowledge.errors import InvalidInput, NotFound
from knowledge.practice.models import Claim, Coverage, Patient, Practice, Provider

_BAD_CHARACTERS = str.maketrans({"*": " ", "~": " ", ":": " ", "^": " "})


@dataclass(frozen=True)
class StatusRequestFile:
    text: str
    claim_numbers: list[str]
    payers: int
    control_number: str
    segments: int


def _clean(value: str | None, length: int | None = None) -> str:
    text = (value or "").translate(_BAD_CHARACTERS).strip().upper()
    return text[:length] if length else text


def build_276(
    session: Session,
    *,
    practice_id: int,
    claim_numbers: list[str],
    control_number: int = 1,
    now: dt.datetime | None = None,
) -> StatusRequestFile:
    """A 276 asking each claim's payer for the status of the given claims of the practice."""
    if not claim_numbers:
        raise InvalidInput("name at least one claim number for the status request")
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound(f"practice {practice_id} does not exist")
    claims = session.scalars(
        select(Claim)
        .where(Claim.practice_id == practice_id, Claim.claim_number.in_(claim_numbers))
        .options(selectinload(Claim.patient), selectinload(Claim.payer), selectinload(Claim.provider))
        .order_by(Claim.payer_id, Claim.provider_id, Claim.claim_number)
    ).all()
    missing = sorted(set(claim_numbers) - {c.claim_number for c in claims})
    if missing:
        raise NotFound(f"no claim {', '.join(missing)} in this practice")
    when = now or dt.datetime.now()
    control = f"{control_number:09d}"[-9:]
    segments: list[list[str]] = []

    def put(*elements: object) -> None:
        segments.append([str(e) for e in elements])

    put("ST", "276", "0001", "005010X212")
    put("BHT", "0010", "13", f"BA{control}", f"{when:%Y%m%d}", f"{when:%H%M}")
    hl = 0
    by_payer: dict[int, list[Claim]] = defaultdict(list)
    for claim in claims:
        by_payer[claim.payer_id].append(claim)
    submitter_id = _clean(practice.tax_id or practice.npi or practice.slug, 80)
    for payer_claims in by_payer.values():
        payer = payer_claims[0].payer
        hl += 1
        source_hl = hl
        put("HL", source_hl, "", "20", "1")
        put("NM1", "PR", "2", _clean(payer.name, 60), "", "", "", "", "PI", _clean(payer.payer_id, 80))
        hl += 1
        receiver_hl = hl
        put("HL", receiver_hl, source_hl, "21", "1")
        put("NM1", "41", "2", _clean(practice.name, 60), "", "", "", "", "46", submitter_id)
        by_provider: dict[int | None, list[Claim]] = defaultdict(list)
        for claim in payer_claims:
            by_provider[claim.provider_id].append(claim)
        for provider_claims in by_provider.values():
            provider = provider_claims[0].provider
            npi, name = _provider_identity(practice, provider, provider_claims[0])
            hl += 1
            provider_hl = hl
            put("HL", provider_hl, receiver_hl, "19", "1")
            put("NM1", "1P", "2", name, "", "", "", "", "XX", npi)
            for claim in provider_claims:
                hl += 1
                patient = claim.patient
                member_id = _member_id(session, claim, patient)
                put("HL", hl, provider_hl, "22", "0")
                if patient.birth_date:
                    put("DMG", "D8", f"{patient.birth_date:%Y%m%d}", _clean(patient.sex, 1) or "U")
                put(
                    "NM1",
                    "IL",
                    "1",
                    _clean(patient.last_name, 60),
                    _clean(patient.first_name, 35),
                    "",
                    "",
                    "",
                    "MI",
                    member_id,
                )
                put("TRN", "1", _clean(claim.claim_number, 50))
                if claim.payer_claim_number:
                    put("REF", "1K", _clean(claim.payer_claim_number, 50))
                put("REF", "EJ", _clean(claim.claim_number, 50))
                put("AMT", "T3", claim.billed_amount)
                start, end = claim.service_date_from, claim.service_date_to
                if start == end:
                    put("DTP", "472", "D8", f"{start:%Y%m%d}")
                else:
                    put("DTP", "472", "RD8", f"{start:%Y%m%d}-{end:%Y%m%d}")
    put("SE", len(segments) + 1, "0001")

    sender = _clean(practice.npi or practice.slug, 15).ljust(15)
    receiver = _clean(by_payer[next(iter(by_payer))][0].payer.payer_id, 15).ljust(15)
    isa = (
        f"ISA*00*          *00*          *ZZ*{sender}*ZZ*{receiver}*{when:%y%m%d}*{when:%H%M}*^*00501*{control}*0*P*:~"
    )
    gs = f"GS*HR*{sender.strip()}*{receiver.strip()}*{when:%Y%m%d}*{when:%H%M}*{control_number}*X*005010X212~"
    body = "".join("*".join(segment) + "~\n" for segment in segments)
    text = f"{isa}\n{gs}\n{body}GE*1*{control_number}~\nIEA*1*{control}~\n"
    return StatusRequestFile(
        text=text,
        claim_numbers=[c.claim_number for c in claims],
        payers=len(by_payer),
        control_number=control,
        segments=len(segments),
    )


def _provider_identity(practice: Practice, provider: Provider | None, claim: Claim) -> tuple[str, str]:
    if provider is not None:
        return _clean(provider.npi, 10), _clean(provider.name, 60)
    if practice.npi:
        return _clean(practice.npi, 10), _clean(practice.name, 60)
    raise InvalidInput(
        f"claim {claim.claim_number} has no provider and the practice has no NPI: a 276 needs the provider's NPI"
    )


def _member_id(session: Session, claim: Claim, patient: Patient) -> str:
    coverage = session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    if coverage is None:
        coverage = session.scalar(
            select(Coverage)
            .where(Coverage.patient_id == patient.id, Coverage.payer_id == claim.payer_id)
            .order_by(Coverage.priority)
        )
    if coverage is None or not coverage.member_id:
        raise InvalidInput(
            f"claim {claim.claim_number}: the patient has no coverage with {claim.payer.name}, "
            "so there is no member id to ask about"
        )
    return _clean(coverage.member_id, 80)


def write_276(
    session: Session,
    *,
    practice_id: int,
    claim_numbers: list[str],
    out: Path,
    control_number: int | None = None,
) -> StatusRequestFile:
    """Build the 276 and write it to `out` (folders created)."""
    number = control_number if control_number is not None else int(dt.datetime.now().timestamp()) % 1_000_000_000
    request = build_276(session, practice_id=practice_id, claim_numbers=claim_numbers, control_number=number)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(request.text, encoding="latin-1")
    return request
