"""837 claims in, 277/277CA statuses in, 276 requests out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from knowledge.errors import NotFound
from knowledge.practice.database import make_session_factory, session_scope
from knowledge.practice.ledger import claim_totals
from knowledge.practice.models import Claim, ClaimStatus, ClaimStatusEvent, Patient, WorkException
from knowledge.x12.envelope import scan_file
from knowledge.x12.importer import import_x12
from knowledge.x12.segments import iter_segments
from knowledge.x12.writer276 import build_276, write_276
from tests.knowledge.x12.helpers import FIXTURES, fixture_files, new_practice


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _clm_charges(path: Path) -> dict[str, Decimal]:
    return {seg[1]: Decimal(seg[2]) for seg in iter_segments(path) if seg.tag == "CLM"}


def test_every_837_imports_its_claims(sessions: sessionmaker[Session]) -> None:
    files = fixture_files(kind="837")
    assert len(files) == 36
    for path in files:
        with session_scope(sessions) as session:
            practice_id = new_practice(session, path.stem)
        report = import_x12(sessions, practice_id=practice_id, paths=[path])
        (transaction,) = report.files[0].transactions
        assert transaction.status == "imported", (path.name, transaction.messages)
        expected = _clm_charges(path)
        assert transaction.claims_created == len(expected)
        with session_scope(sessions) as session:
            for number, charge in expected.items():
                claim = session.scalars(
                    select(Claim).where(Claim.practice_id == practice_id, Claim.claim_number == number)
                ).one()
                assert claim.billed_amount == charge and claim_totals(session, claim_id=claim.id).billed == charge
                assert claim.lines and claim.status is ClaimStatus.SUBMITTED
                assert claim.claim_type == transaction.transaction_type[-1]
        again = import_x12(sessions, practice_id=practice_id, paths=[path])
        assert again.files[0].transactions[0].status == "already_imported"


def test_837_details(sessions: sessionmaker[Session]) -> None:
    path = FIXTURES / "linuxforhealth" / "837_005010X222A2__demo.example1.837"
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
    import_x12(sessions, practice_id=practice_id, paths=[path])
    with session_scope(sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == "26463774")).one()
        assert (claim.patient.last_name, claim.patient.first_name) == ("SMITH", "TED")
        assert claim.patient.birth_date == dt.date(1973, 5, 1)
        assert claim.payer.payer_id == "999996666" and claim.place_of_service == "11"
        assert [(d.qualifier, d.code) for d in claim.diagnoses] == [("ABK", "034.0"), ("ABF", "V73.89")]
        assert [(line.procedure_code, line.charge) for line in claim.lines][:2] == [
            ("99213", Decimal("40.00")),
            ("87070", Decimal("15.00")),
        ]
        assert claim.provider is not None and claim.provider.npi == "1912301953"
        assert claim.service_date_from == dt.date(2006, 10, 3)


def test_277_statuses_update_claims(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = FIXTURES / "linuxforhealth" / "277_005010X212__claim-level-status.277"
    claim_837 = (FIXTURES / "linuxforhealth" / "837_005010X222A2__demo.example1.837").read_text()
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
    # two claims the 277 reports on (REF*EJ patient control numbers), built from a real 837
    for number in ("SM123456", "MA345678"):
        copy = tmp_path / f"{number}.837"
        copy.write_text(claim_837.replace("CLM*26463774*", f"CLM*{number}*"))
        import_x12(sessions, practice_id=practice_id, paths=[copy])
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    transaction = report.files[0].transactions[0]
    assert (transaction.status_events, transaction.exceptions) == (2, 1)
    with session_scope(sessions) as session:
        pending = session.scalars(select(Claim).where(Claim.claim_number == "SM123456")).one()
        assert pending.status is ClaimStatus.PENDING and pending.payer_claim_number == "05347006051"
        event = session.scalars(
            select(ClaimStatusEvent).where(ClaimStatusEvent.claim_id == pending.id, ClaimStatusEvent.source == "277")
        ).one()
        assert (event.category_code, event.status_code, event.effective_date, event.amount) == (
            "P3",
            "317",
            dt.date(2005, 9, 13),
            Decimal("8513.88"),
        )
        denied = session.scalars(select(Claim).where(Claim.claim_number == "MA345678")).one()
        assert denied.status is ClaimStatus.DENIED
        (item,) = session.scalars(select(WorkException).where(WorkException.practice_id == practice_id)).all()
        assert item.kind == "unmatched_status" and "J0234567" in item.reason


def test_unknown_status_category_is_refused_with_its_position(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    source = (FIXTURES / "linuxforhealth" / "277_005010X212__claim-level-status-ncpdp.277").read_text()
    path = tmp_path / "bad.277"
    path.write_text(source.replace("STC*F2:80::RX", "STC*Z9:80::RX"))
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    (transaction,) = report.files[0].transactions
    assert transaction.status == "error" and "segment 14: STC*Z9:80::RX" in transaction.messages[0]


def test_276_for_imported_claims(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
    paths = [
        FIXTURES / "linuxforhealth" / n
        for n in ("837_005010X222A2__demo.example1.837", "837_005010X223A3__two-claims-single-provider.837i")
    ]
    import_x12(sessions, practice_id=practice_id, paths=paths)
    with session_scope(sessions) as session:
        numbers = sorted(session.scalars(select(Claim.claim_number).where(Claim.practice_id == practice_id)))
        out = tmp_path / "out" / "status.276"
        request = write_276(session, practice_id=practice_id, claim_numbers=numbers, out=out, control_number=42)
        with pytest.raises(NotFound, match="NOPE"):
            build_276(session, practice_id=practice_id, claim_numbers=["NOPE"])
    assert request.payers == 2 and sorted(request.claim_numbers) == numbers
    (info,) = scan_file(out)
    assert (info.kind, info.version, info.functional_id) == ("276", "005010X212", "HR")
    segments = list(iter_segments(out))
    hl_levels = [s[3] for s in segments if s.tag == "HL"]
    # each payer: 20 (source) -> 21 (receiver) -> 19 (provider) -> 22 per claim
    assert hl_levels.count("20") == 2 and hl_levels.count("22") == len(numbers)
    assert set(hl_levels) == {"20", "21", "19", "22"} and hl_levels[:3] == ["20", "21", "19"]
    reference = [s.tag for s in iter_segments(FIXTURES / "linuxforhealth" / "276_005010X212__claim-level-status.276")]
    ours = [s.tag for s in segments]
    # the claim loop follows the X212 order of the reference file: NM1*IL, TRN, REF, AMT, DTP
    for tag in ("BHT", "HL", "NM1", "TRN", "REF", "AMT", "DTP"):
        assert tag in reference and tag in ours
    for index, tag in enumerate(ours):
        if tag == "TRN":
            rest = ours[index + 1 :]
            loop = rest[: next(i for i, t in enumerate(rest) if t in ("HL", "SE"))]
            assert ours[index - 1] == "NM1" and loop[-2:] == ["AMT", "DTP"] and set(loop[:-2]) == {"REF"}
    trns = [s[2] for s in segments if s.tag == "TRN"]
    assert sorted(trns) == numbers


def test_patients_are_not_duplicated(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
    path = FIXTURES / "linuxforhealth" / "837_005010X223A3__two-claims-single-provider.837i"
    import_x12(sessions, practice_id=practice_id, paths=[path])
    with session_scope(sessions) as session:
        count = session.scalar(select(func.count(Patient.id)).where(Patient.practice_id == practice_id))
        assert count == len({seg[3] + seg[4] for seg in iter_segments(path) if seg.tag == "NM1" and seg[1] == "IL"})


def test_277ca_acknowledgement(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
    import_x12(
        sessions, practice_id=practice_id, paths=[FIXTURES / "linuxforhealth" / "837_005010X222A2__demo.example1.837"]
    )
    body = [
        "BHT*0085*08*CA1*20260302*1200*TH", "HL*1**20*1", "NM1*AY*2*CLEARINGHOUSE*****46*CH1", "TRN*1*BATCH1",
        "DTP*050*D8*20260302", "DTP*009*D8*20260302", "HL*2*1*21*1", "NM1*41*2*PREMIER BILLING*****46*TGJ23",
        "TRN*2*BATCH1", "STC*A1:19:PR*20260302*WQ*100", "QTY*90*1", "AMT*YU*100", "HL*3*2*19*1",
        "NM1*85*2*BEN KILDARE SERVICE*****XX*1912301953", "HL*4*3*PT", "NM1*QC*1*SMITH*TED",
        "TRN*2*26463774", "STC*A7:21*20260302*U*100", "REF*1K*PAYER123", "DTP*472*D8*20061003",
    ]  # fmt: skip
    segments = ["ST*277*0001*005010X214", *body]
    text = (
        "ISA*00*          *00*          *ZZ*CH1            *ZZ*PRACTICE       *260302*1200*^*00501*000000003*0*T*:~"
        "GS*HN*CH1*PRACTICE*20260302*1200*3*X*005010X214~"
        + "".join(s + "~" for s in segments)
        + f"SE*{len(segments) + 1}*0001~GE*1*3~IEA*1*000000003~"
    )
    path = tmp_path / "ack.277"
    path.write_text(text)
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    (transaction,) = report.files[0].transactions
    assert transaction.transaction_type == "277CA" and transaction.status_events == 1, transaction
    with session_scope(sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == "26463774")).one()
        assert claim.status is ClaimStatus.REJECTED and claim.payer_claim_number == "PAYER123"
        event = claim.status_history[-1]
        assert (event.source, event.category_code, event.status_code) == ("277CA", "A7", "21")
