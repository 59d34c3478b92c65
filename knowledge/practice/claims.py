"""Reading claims: keyword-only data functions, every one scoped to a practice."""

from __future__ import annotations

import datetime as dt
import difflib
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from knowledge.errors import InvalidInput, NotFound
from knowledge.practice.models import (
    Adjustment,
    Claim,
    ClaimStatus,
    Patient,
    Payer,
    RemarkCode,
    Remittance,
    RemittanceClaim,
)


def parse_status(value: str) -> ClaimStatus:
    """A claim status from what people type ("denied", "Partially paid", "partially-paid")."""
    normalised = value.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return ClaimStatus(normalised)
    except ValueError:
        known = ", ".join(status.value for status in ClaimStatus)
        raise InvalidInput(f"Unknown claim status {value!r}; expected one of: {known}") from None


def get_claim(session: Session, *, practice_id: int, claim_number: str) -> Claim:
    """One claim by its number (patient control number) or the payer's claim number."""
    number = claim_number.strip().lstrip("#")
    if not number:
        raise InvalidInput("A claim number is required.")
    claim = session.scalar(
        select(Claim)
        .where(
            Claim.practice_id == practice_id,
            or_(Claim.claim_number == number, Claim.payer_claim_number == number),
        )
        .options(
            # One row each: joined into the claim's own query. Collections: one query each.
            joinedload(Claim.payer),
            joinedload(Claim.provider),
            joinedload(Claim.patient).selectinload(Patient.coverages),
            selectinload(Claim.lines),
            selectinload(Claim.diagnoses),
            selectinload(Claim.status_history),
        )
        .order_by(Claim.claim_number == number)
        .limit(1)
    )
    if claim is None:
        raise NotFound(f"No claim {number!r} in this practice.")
    return claim


def find_claims(
    session: Session,
    *,
    practice_id: int,
    claim_number: str | None = None,
    patient_name: str | None = None,
    birth_date: dt.date | None = None,
    patient_id: int | None = None,
    payer: str | None = None,
    status: ClaimStatus | None = None,
    service_from: dt.date | None = None,
    service_to: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Claim], int]:
    """Claims matching every given filter, newest service date first; also the total number matching."""
    query: Select[Claim] = select(Claim).where(Claim.practice_id == practice_id)
    if patient_id is not None:
        query = query.where(Claim.patient_id == patient_id)
    if claim_number:
        number = claim_number.strip().lstrip("#")
        query = query.where(or_(Claim.claim_number == number, Claim.payer_claim_number == number))
    if patient_name or birth_date:
        query = query.join(Patient, Patient.id == Claim.patient_id)
        if patient_name:
            for part in patient_name.replace(",", " ").split():
                pattern = f"%{part.lower()}%"
                query = query.where(
                    or_(
                        func.lower(Patient.first_name).like(pattern),
                        func.lower(Patient.last_name).like(pattern),
                    )
                )
        if birth_date:
            query = query.where(Patient.birth_date == birth_date)
    if payer:
        wanted = payer.strip().lower()
        query = query.join(Payer, Payer.id == Claim.payer_id).where(
            or_(
                func.lower(Payer.name).like(f"%{wanted}%"),
                func.lower(Payer.payer_id) == wanted,
                func.lower(Payer.kind) == wanted,
            )
        )
    if status:
        query = query.where(Claim.status == status)
    if service_from:
        query = query.where(Claim.service_date_from >= service_from)
    if service_to:
        query = query.where(Claim.service_date_from <= service_to)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.options(selectinload(Claim.patient), selectinload(Claim.payer))
        .order_by(Claim.service_date_from.desc(), Claim.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def closest_patient(
    session: Session, *, practice_id: int, name: str, birth_date: dt.date | None = None
) -> Patient | None:
    """The patient a misspelt name means ("skylar demoson" for Skyler Demoson, "alex dumyfield" for Alex
    Dummyfield), when no patient has the name as typed: among the patients born that day (with a birth date)
    or those whose first or last name starts as a typed word does (without), the one whose name is closest in
    spelling, if it is close and clearly closer than the next. None when that is not one person.

    difflib's ratio is enough here: it compares a typed name with a handful of candidates, not an index.
    """
    typed = " ".join(name.lower().replace(",", " ").split())
    words = [w for w in typed.split() if len(w) >= 2]
    if not words:
        return None
    query = select(Patient).where(Patient.practice_id == practice_id)
    if birth_date is not None:
        query = query.where(Patient.birth_date == birth_date)
    else:
        starts = [f"{w[:2]}%" for w in words]
        query = query.where(
            or_(
                *(func.lower(Patient.last_name).like(p) for p in starts),
                *(func.lower(Patient.first_name).like(p) for p in starts),
            )
        )
    scored: list[tuple[float, Patient]] = []
    for patient in session.scalars(query.limit(5000)):
        first, last = patient.first_name.lower(), patient.last_name.lower()
        ratio = max(
            difflib.SequenceMatcher(None, typed, f"{first} {last}").ratio(),
            difflib.SequenceMatcher(None, typed, f"{last} {first}").ratio(),
        )
        scored.append((ratio, patient))
    scored.sort(key=lambda item: -item[0])
    floor = 0.8 if birth_date is not None else 0.88  # without a birth date, a near name is less sure
    if not scored or scored[0][0] < floor:
        return None
    if len(scored) > 1 and scored[1][0] > scored[0][0] - 0.05:
        return None  # two names as close: not one person
    return scored[0][1]


def remittance_claims_for(session: Session, *, claim_ids: Sequence[int]) -> dict[int, list[RemittanceClaim]]:
    """The 835 claim records for each claim, oldest first, with adjustments, remarks and lines loaded."""
    if not claim_ids:
        return {}
    rows = session.scalars(
        select(RemittanceClaim)
        .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
        .where(RemittanceClaim.claim_id.in_(claim_ids))
        .options(
            contains_eager(RemittanceClaim.remittance),  # the join above, not another query
            selectinload(RemittanceClaim.adjustments),
            selectinload(RemittanceClaim.remarks),
            selectinload(RemittanceClaim.service_lines),
        )
        .order_by(Remittance.payment_date, RemittanceClaim.id)
    )
    grouped: dict[int, list[RemittanceClaim]] = defaultdict(list)
    for row in rows:
        if row.claim_id is not None:
            grouped[row.claim_id].append(row)
    return grouped


def adjustment_codes_for(session: Session, *, claim_ids: Sequence[int]) -> dict[int, tuple[list[str], list[str]]]:
    """For each claim, its CARCs as `GROUP-CARC` and its RARCs, from its latest remittance."""
    if not claim_ids:
        return {}
    latest = (
        select(RemittanceClaim.claim_id, func.max(RemittanceClaim.id).label("rc_id"))
        .where(RemittanceClaim.claim_id.in_(claim_ids))
        .group_by(RemittanceClaim.claim_id)
        .subquery()
    )
    result: dict[int, tuple[list[str], list[str]]] = {}
    for claim_id, group, reason in session.execute(
        select(latest.c.claim_id, Adjustment.group_code, Adjustment.reason_code)
        .join(Adjustment, Adjustment.remittance_claim_id == latest.c.rc_id)
        .order_by(Adjustment.id)
    ):
        carcs, _ = result.setdefault(int(str(claim_id)), ([], []))
        adjustment = f"{group}-{reason}"
        if adjustment not in carcs:
            carcs.append(adjustment)
    for claim_id, remark in session.execute(
        select(latest.c.claim_id, RemarkCode.code)
        .join(RemarkCode, RemarkCode.remittance_claim_id == latest.c.rc_id)
        .order_by(RemarkCode.id)
    ):
        _, rarcs = result.setdefault(int(str(claim_id)), ([], []))
        if str(remark) not in rarcs:
            rarcs.append(str(remark))
    return result
