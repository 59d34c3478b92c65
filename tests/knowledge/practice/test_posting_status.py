"""The 835 importer and a manual posting move a claim's status by the same rules (`ledger.derive_status`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from knowledge.practice import posting
from knowledge.practice.database import make_session_factory, session_scope
from knowledge.practice.ledger import charge_entries, claim_totals
from knowledge.practice.models import Claim, ClaimLine, ClaimStatus, Patient, Payer, PayerKind
from knowledge.x12.importer import import_x12
from knowledge.x12.parse835 import ClaimPayment, read_835
from knowledge.x12.posting import claim_status_after
from knowledge.x12.segments import iter_segments
from tests.knowledge.x12.helpers import new_practice

ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*PRACTICE       *260301*1200*^*00501*000000001*0*T*:~\n"
DAY = dt.date(2026, 2, 1)
# Line 1 paid with a copay (PR-2 10), line 2 denied CO-50 (written off: the claim was paid): the payer's
# word is "partially paid", and what is left is the patient's $10.
CLP = (
    "CLP*{number}*1*100*38*10*12*ICN{number}~NM1*QC*1*LEE*ANN~"
    "SVC*HC:99213*60*38~CAS*CO*45*12~CAS*PR*2*10~SVC*HC:80053*40*0~CAS*CO*50*40~"
)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _claim(session: Session, practice_id: int, number: str) -> None:
    payer = session.scalar(select(Payer).where(Payer.practice_id == practice_id))
    if payer is None:
        payer = Payer(
            practice_id=practice_id,
            payer_id="ACME",
            name="ACME HEALTH",
            kind=PayerKind.COMMERCIAL,
            timely_filing_days=180,
            appeal_days=180,
        )
        session.add(payer)
    patient = Patient(practice_id=practice_id, account_number=f"A-{number}", first_name="ANN", last_name="LEE")
    session.add(patient)
    session.flush()
    claim = Claim(
        practice_id=practice_id,
        claim_number=number,
        patient_id=patient.id,
        payer_id=payer.id,
        service_date_from=DAY,
        service_date_to=DAY,
        status=ClaimStatus.SUBMITTED,
    )
    claim.lines += [
        ClaimLine(line_number=1, procedure_code="99213", charge=Decimal("60")),
        ClaimLine(line_number=2, procedure_code="80053", charge=Decimal("40")),
    ]
    session.add(claim)
    session.flush()
    session.add_all(charge_entries(claim, posted_on=DAY))


def _835(tmp_path: Path, *numbers: str) -> Path:
    header = f"BPR*I*{38 * len(numbers)}*C*ACH************20260301~TRN*1*T1*1999999999~N1*PR*ACME HEALTH~LX*1~"
    body = header + "".join(CLP.format(number=n) for n in numbers)
    segments = [s for s in body.split("~") if s.strip()]
    text = (
        ISA
        + "GS*HP*PAYER*PRACTICE*20260301*1200*1*X*005010X221A1~\nST*835*0001~\n"
        + "".join(s + "~\n" for s in segments)
        + f"SE*{len(segments) + 2}*0001~\nGE*1*1~\nIEA*1*000000001~\n"
    )
    path = tmp_path / "era.835"
    path.write_text(text)
    return path


def _pay(session: Session, practice_id: int, number: str, key: str) -> None:
    posting.post_patient_payment(
        session,
        practice_id=practice_id,
        claim_number=number,
        amount=Decimal("10"),
        method="cash",
        received_on=DAY,
        idempotency_key=key,
        user_id=None,
    )


def test_the_importer_and_a_posting_agree_on_paid(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
        _claim(session, practice_id, "OWES")
        _claim(session, practice_id, "PREPAID")
        _pay(session, practice_id, "PREPAID", "copay-at-visit")  # before the payer answers: a credit for now
    path = _835(tmp_path, "OWES", "PREPAID")
    # what the payer said, before the ledger has its say
    payments = [item for item in read_835(iter_segments(path)) if isinstance(item, ClaimPayment)]
    assert [claim_status_after(p) for p in payments] == [ClaimStatus.PARTIALLY_PAID] * 2
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    assert report.files[0].transactions[0].claims_posted == 2, report
    with session_scope(sessions) as session:
        claims = {c.claim_number: c for c in session.scalars(select(Claim).where(Claim.practice_id == practice_id))}
        # the patient still owes $10: the payer's word stands
        assert claims["OWES"].status is ClaimStatus.PARTIALLY_PAID
        # the copay taken at the visit covers the patient's share: nothing open, so the import makes it paid
        assert claim_totals(session, claim_id=claims["PREPAID"].id).balance == 0
        assert claims["PREPAID"].status is ClaimStatus.PAID
        assert claims["PREPAID"].status_history[-1].status is ClaimStatus.PAID
        _pay(session, practice_id, "OWES", "copay-later")  # the same rule from the manual posting
    with session_scope(sessions) as session:
        owes = session.scalars(select(Claim).where(Claim.claim_number == "OWES")).one()
        assert owes.status is ClaimStatus.PAID
        assert (owes.status_history[-1].source, owes.status_history[-1].status) == ("posting", ClaimStatus.PAID)
