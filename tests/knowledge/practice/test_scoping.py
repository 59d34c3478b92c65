"""Nobody reads another practice's claims: every data function and tool is scoped to one practice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from knowledge.errors import InvalidInput, NotFound
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import Claim, ClaimLine, Coverage, Patient, Payer, PayerKind, Practice
from tools.find_claims import find_claims
from tools.get_claim import get_claim


def _other_practice(session: Session) -> int:
    other = Practice(slug="other", name="Other Clinic")
    session.add(other)
    session.flush()
    payer = Payer(
        practice_id=other.id,
        payer_id="99999",
        name="Other Payer",
        kind=PayerKind.COMMERCIAL,
        timely_filing_days=90,
        appeal_days=60,
    )
    patient = Patient(
        practice_id=other.id,
        account_number="X1",
        first_name="Only",
        last_name="Elsewhere",
        birth_date=dt.date(1970, 1, 1),
    )
    session.add_all([payer, patient])
    session.flush()
    coverage = Coverage(practice_id=other.id, patient_id=patient.id, payer_id=payer.id, member_id="OTHER1")
    session.add(coverage)
    session.flush()
    claim = Claim(
        practice_id=other.id,
        claim_number="1042",
        patient_id=patient.id,
        payer_id=payer.id,
        coverage_id=coverage.id,
        service_date_from=dt.date(2026, 5, 1),
        service_date_to=dt.date(2026, 5, 1),
    )
    claim.lines.append(ClaimLine(line_number=1, procedure_code="99213", charge=Decimal("99.00")))
    session.add(claim)
    session.flush()
    return other.id


def test_claims_are_seen_only_in_their_own_practice(engine: Engine) -> None:
    with Session(engine) as session:
        demo_id = seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=20, claims=60).practice_id
        other_id = _other_practice(session)
        session.commit()

        # The same claim number exists in both practices: each sees its own.
        assert get_claim("1042", session=session, practice_id=demo_id).payer != "Other Payer"
        assert get_claim("1042", session=session, practice_id=other_id).patient.name == "Only Elsewhere"

        assert find_claims(patient_name="Elsewhere", session=session, practice_id=demo_id).total == 0
        assert find_claims(patient_name="Elsewhere", session=session, practice_id=other_id).total == 1
        assert find_claims(payer="Other Payer", session=session, practice_id=demo_id).total == 0
        demo_total = find_claims(session=session, practice_id=demo_id).total
        assert demo_total == 60
        with pytest.raises(NotFound):
            get_claim("1043", session=session, practice_id=other_id)


def test_find_claims_filters(engine: Engine) -> None:
    with Session(engine) as session:
        demo_id = seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=20, claims=120).practice_id
        session.commit()
        denied = find_claims(status="Denied", limit=200, session=session, practice_id=demo_id)
        assert denied.total > 0
        assert all(c.status == "denied" and c.adjustment_codes for c in denied.claims)
        medicare = find_claims(payer="medicare", limit=200, session=session, practice_id=demo_id)
        assert medicare.total > 0 and all(c.payer == "Medicare Part B" for c in medicare.claims)
        some = medicare.claims[0]
        by_patient = find_claims(
            patient_name=some.patient.name,
            birth_date=some.patient.birth_date,
            limit=200,
            session=session,
            practice_id=demo_id,
        )
        assert some.claim_number in {c.claim_number for c in by_patient.claims}
        window = find_claims(
            service_from=dt.date(2026, 10, 1),
            service_to=dt.date(2026, 10, 31),
            limit=200,
            session=session,
            practice_id=demo_id,
        )
        assert all(dt.date(2026, 10, 1) <= c.service_date <= dt.date(2026, 10, 31) for c in window.claims)
        with pytest.raises(InvalidInput, match="Unknown claim status"):
            find_claims(status="lost", session=session, practice_id=demo_id)
