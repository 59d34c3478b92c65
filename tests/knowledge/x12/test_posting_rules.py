"""Posting rules on small hand-written 835s: balancing, matching, denials, reversals, PLB, atomicity."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from knowledge.practice.database import make_session_factory, session_scope
from knowledge.practice.ledger import adjustment_entries, charge_entries, claim_totals, new_entry
from knowledge.practice.models import (
    Adjustment,
    Claim,
    ClaimLine,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    Patient,
    Payer,
    PayerKind,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
    Responsibility,
    WorkException,
)
from knowledge.x12.importer import import_x12
from knowledge.x12.posting import adjustment_rows, payment_row
from knowledge.x12.rows import insert_rows
from tests.knowledge.x12.helpers import new_practice

ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*PRACTICE       *260301*1200*^*00501*{ctl}*0*T*:~\n"


def interchange(*transactions: str, ctl: str = "000000001") -> str:
    """An ISA/GS/IEA around transaction bodies (each the segments between ST and SE, without them)."""
    parts = [ISA.format(ctl=ctl), "GS*HP*PAYER*PRACTICE*20260301*1200*1*X*005010X221A1~\n"]
    for number, body in enumerate(transactions, start=1):
        segments = [s for s in body.strip().split("~") if s.strip()]
        control = f"{number:04d}"
        parts.append(f"ST*835*{control}~\n" + "".join(s.strip() + "~\n" for s in segments))
        parts.append(f"SE*{len(segments) + 2}*{control}~\n")
    parts.append(f"GE*{len(transactions)}*1~\nIEA*1*{ctl}~\n")
    return "".join(parts)


def header(total: str, trace: str = "TRACE1") -> str:
    return f"BPR*I*{total}*C*ACH************20260301~TRN*1*{trace}*1999999999~N1*PR*ACME HEALTH~LX*1~"


def make_claim(session: Session, practice_id: int, number: str, charges: list[tuple[str, str]]) -> int:
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
        service_date_from=dt.date(2026, 2, 1),
        service_date_to=dt.date(2026, 2, 1),
        status=ClaimStatus.SUBMITTED,
    )
    for index, (code, charge) in enumerate(charges, start=1):
        claim.lines.append(ClaimLine(line_number=index, procedure_code=code, charge=Decimal(charge)))
    session.add(claim)
    session.flush()
    session.add_all(charge_entries(claim, posted_on=dt.date(2026, 2, 1)))
    session.flush()
    return claim.id


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def practice_id(sessions: sessionmaker[Session]) -> int:
    with session_scope(sessions) as session:
        practice = new_practice(session)
        make_claim(session, practice, "ABC123", [("99213", "60.00"), ("80053", "40.00")])
        return practice


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="latin-1")
    return path


def exceptions(sessions: sessionmaker[Session], practice_id: int) -> list[WorkException]:
    with session_scope(sessions) as session:
        return list(session.scalars(select(WorkException).where(WorkException.practice_id == practice_id)))


def test_unbalanced_claim_goes_to_the_queue_with_an_actionable_reason(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    path = write(tmp_path, "bad.835", interchange(header("80") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*15~"))
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    (transaction,) = report.files[0].transactions
    assert transaction.claims_posted == 0 and transaction.exceptions == 1
    (item,) = exceptions(sessions, practice_id)
    assert item.kind == "unbalanced_claim"
    assert item.reason == (
        "CLP 'ABC123' billed 100.00 - paid 80.00 = 20.00 but adjustments sum to 15.00 "
        "(segment 8: CLP*ABC123*1*100*80**12*ICN1~)"
    )
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.kind != LedgerKind.CHARGE)) == 0


def test_payment_with_lines_adjustments_and_patient_share(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    body = header("62") + (
        "CLP*ABC123*1*100*62*18*12*ICN1~NM1*QC*1*LEE*ANN~"
        "SVC*HC:99213*60*38~CAS*CO*45*10~CAS*PR*2*12~LQ*HE*N130~"
        "SVC*HC:80053*40*24~CAS*CO*45*10~CAS*PR*1*6~"
    )
    report = import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "ok.835", interchange(body))])
    assert report.files[0].transactions[0].claims_posted == 1
    with session_scope(sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == "ABC123")).one()
        totals = claim_totals(session, claim_id=claim.id)
        assert (totals.payer_paid, totals.adjusted, totals.patient_responsibility) == (
            Decimal("62.00"),
            Decimal("20.00"),
            Decimal("18.00"),
        )
        assert totals.balanced() and totals.insurance_balance == 0 and totals.patient_balance == Decimal("18.00")
        assert claim.status is ClaimStatus.PAID and claim.payer_claim_number == "ICN1"
        assert claim.paid_amount == Decimal("62.00") and claim.patient_responsibility == Decimal("18.00")
        by_line = session.execute(
            select(ClaimLine.procedure_code, func.sum(LedgerEntry.amount))
            .join(ClaimLine, ClaimLine.id == LedgerEntry.claim_line_id)
            .where(LedgerEntry.kind == LedgerKind.PAYER_PAYMENT)
            .group_by(ClaimLine.procedure_code)
        ).all()
        assert dict(by_line) == {"99213": Decimal("-38.00"), "80053": Decimal("-24.00")}
        event = claim.status_history[-1]
        assert event.source == "835" and event.status_code == "1" and "CO-45 10.00" in (event.note or "")
        assert "N130" in (event.note or "")


def test_denial_moves_the_claim_to_denied_with_its_codes(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    body = header("0").replace("ACH", "NON") + "CLP*ABC123*4*100*0**12*ICN1~CAS*CO*50*100~MOA***N115~"
    import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "deny.835", interchange(body))])
    with session_scope(sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == "ABC123")).one()
        assert claim.status is ClaimStatus.DENIED
        # recorded with its codes, not written off: the $100 stays open for an appeal or a corrected claim
        assert claim.adjusted_amount == 0 and claim.paid_amount == 0 and claim.billed_amount == Decimal("100.00")
        assert claim_totals(session, claim_id=claim.id).insurance_balance == Decimal("100.00")
        codes = session.execute(
            select(Adjustment.group_code, Adjustment.reason_code, Adjustment.amount)
            .join(RemittanceClaim, RemittanceClaim.id == Adjustment.remittance_claim_id)
            .where(RemittanceClaim.claim_id == claim.id)
        ).all()
        assert codes == [("CO", "50", Decimal("100.00"))]
        note = claim.status_history[-1].note or ""
        assert "CO-50 100.00" in note and "N115" in note


def test_reversal_and_correction(sessions: sessionmaker[Session], practice_id: int, tmp_path: Path) -> None:
    first = header("80", "T1") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "one.835", interchange(first))])
    # the payer takes the payment back and pays it again at 70 (CLP02 22, then the corrected claim)
    second = header("-10", "T2") + (
        "CLP*ABC123*22*-100*-80**12*ICN1~CAS*CO*45*-20~CLP*ABC123*1*100*70**12*ICN2~CAS*CO*45*30~"
    )
    report = import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "two.835", interchange(second))])
    assert report.files[0].transactions[0].claims_posted == 2, report
    with session_scope(sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == "ABC123")).one()
        totals = claim_totals(session, claim_id=claim.id)
        assert totals.balanced() and totals.payer_paid == Decimal("70.00") and totals.adjusted == Decimal("30.00")
        reversals = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.REVERSAL)).all()
        assert len(reversals) == 2 and all(r.reverses_entry_id for r in reversals)
        assert [e.status for e in claim.status_history][-2:] == [ClaimStatus.REVERSED, ClaimStatus.PAID]
    # a reversal with nothing to take back waits for a person
    third = header("-75", "T3") + "CLP*ABC123*22*-100*-75**12*ICN2~CAS*CO*45*-25~"
    import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "three.835", interchange(third))])
    (item,) = exceptions(sessions, practice_id)
    assert item.kind == "unmatched_reversal" and "no posted payment of 75.00" in item.reason


def test_unmatched_and_already_posted_claims(sessions: sessionmaker[Session], practice_id: int, tmp_path: Path) -> None:
    body = header("160") + (
        "CLP*NOPE1*1*50*40**12*ICNX~NM1*QC*1*DOE*JOHN~CAS*CO*45*10~CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
        "CLP*ABC123*1*100*40**12*ICN1~CAS*CO*45*60~"
    )
    path = write(tmp_path, "mixed.835", interchange(body))
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    transaction = report.files[0].transactions[0]
    assert (transaction.claims_posted, transaction.exceptions) == (1, 2)
    kinds = sorted(e.kind for e in exceptions(sessions, practice_id))
    assert kinds == ["already_posted", "unmatched_claim"]
    unmatched = next(e for e in exceptions(sessions, practice_id) if e.kind == "unmatched_claim")
    assert "'NOPE1' (CLP01)" in unmatched.reason and "DOE, JOHN" in unmatched.reason
    with session_scope(sessions) as session:
        assert session.scalars(select(Remittance)).one().status == "partial"


def test_provider_adjustments_and_transaction_balance(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    # paid 80, interest +2.50 (negative PLB), recoupment of 10 (positive PLB): BPR = 80 - (10 - 2.50) = 72.50
    body = header("72.5") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~PLB*1234567893*20261231*L6*-2.5*WO:OLD1*10~"
    import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "plb.835", interchange(body))])
    with session_scope(sessions) as session:
        rows = session.scalars(select(ProviderAdjustment).order_by(ProviderAdjustment.id)).all()
        assert [(r.reason_code, r.reference, r.amount) for r in rows] == [
            ("L6", None, Decimal("-2.50")),
            ("WO", "OLD1", Decimal("10.00")),
        ]
    # the same remittance with a BPR that does not add up posts nothing
    bad = header("99", "T9") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    report = import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "nobal.835", interchange(bad))])
    assert report.files[0].transactions[0].claims_posted == 0
    item = next(e for e in exceptions(sessions, practice_id) if e.kind == "unbalanced_transaction")
    assert "BPR02 total paid 99.00" in item.reason and "80.00" in item.reason


def test_failure_in_one_transaction_leaves_the_others(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    good = header("80", "T1") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    bad = header("80", "T2") + "CLP*ABC123*1*100*80**12*ICN1~CAS*XX*45*20~"
    path = write(tmp_path, "two.835", interchange(good, bad))
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    first, second = report.files[0].transactions
    assert first.status == "imported" and second.status == "error"
    assert "segment 17: CAS*XX*45*20~" in second.messages[0] and "CAS01" in second.messages[0]
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Remittance.id))) == 1
    assert any(e.kind == "bad_transaction" for e in exceptions(sessions, practice_id))
    again = import_x12(sessions, practice_id=practice_id, paths=[path])
    assert [t.status for t in again.files[0].transactions] == ["already_imported", "error"]
    assert sum(1 for e in exceptions(sessions, practice_id) if e.kind == "bad_transaction") == 1


def test_truncated_file_posts_nothing(sessions: sessionmaker[Session], practice_id: int, tmp_path: Path) -> None:
    text = interchange(header("80") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~")
    path = write(tmp_path, "cut.835", text[: text.index("SE*")])
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    assert report.files[0].error and "truncated" in report.files[0].error
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Remittance.id))) == 0


def test_dry_run_saves_nothing(sessions: sessionmaker[Session], practice_id: int, tmp_path: Path) -> None:
    path = write(tmp_path, "ok.835", interchange(header("80") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"))
    report = import_x12(sessions, practice_id=practice_id, paths=[path], dry_run=True)
    assert report.dry_run and report.files[0].transactions[0].claims_posted == 1
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Remittance.id))) == 0
    real = import_x12(sessions, practice_id=practice_id, paths=[path])
    assert real.files[0].transactions[0].status == "imported"


def test_caller_session_gets_a_savepoint_per_transaction(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    good = header("80", "T1") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    bad = header("80", "T2") + "CLP*ABC123*7*100*80**12*ICN1~CAS*CO*45*20~"
    path = write(tmp_path, "two.835", interchange(good, bad))
    with session_scope(sessions) as session:
        report = import_x12(session, practice_id=practice_id, paths=[path])
    assert [t.status for t in report.files[0].transactions] == ["imported", "error"]
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Remittance.id))) == 1


def test_bulk_rows_store_what_an_insert_through_sqlalchemy_stores(
    sessions: sessionmaker[Session], practice_id: int
) -> None:
    """The bulk writer converts values itself (money to cents, enums, dates; a column NULL in every row is
    left out): what it stores is what SQLAlchemy's own INSERT of the same rows stores."""
    columns = ("claim_id", "kind", "responsibility", "amount", "group_code", "memo", "idempotency_key")
    amounts: list[object] = [Decimal("12.345"), Decimal("-0.005"), Decimal("7"), Decimal("-19.99"), 3, "4.5"]
    with session_scope(sessions) as session:
        claim_id = session.scalar(select(Claim.id).where(Claim.practice_id == practice_id))
        rows = [
            (claim_id, LedgerKind.ADJUSTMENT, Responsibility.PAYER, amount, "CO" if n % 2 else None, None, f"k{n}")
            for n, amount in enumerate(amounts)
        ]
        shared = {"practice_id": practice_id, "posted_on": dt.date(2026, 3, 1), "created_by_user_id": None}
        insert_rows(session, LedgerEntry, columns, rows, shared)
        session.execute(
            insert(LedgerEntry),
            [{**dict(zip(columns, row, strict=True)), **shared, "idempotency_key": f"orm-{row[-1]}"} for row in rows],
        )
    with session_scope(sessions) as session:
        stored = session.execute(
            select(
                LedgerEntry.idempotency_key,
                LedgerEntry.claim_id,
                LedgerEntry.claim_line_id,
                LedgerEntry.kind,
                LedgerEntry.responsibility,
                LedgerEntry.amount,
                LedgerEntry.group_code,
                LedgerEntry.memo,
                LedgerEntry.posted_on,
                LedgerEntry.created_by_user_id,
            ).where(LedgerEntry.practice_id == practice_id, LedgerEntry.kind == LedgerKind.ADJUSTMENT)
        ).all()
    bulk = {key: tuple(rest) for key, *rest in stored if not key.startswith("orm-")}
    orm = {key.removeprefix("orm-"): tuple(rest) for key, *rest in stored if key.startswith("orm-")}
    assert bulk == orm and len(bulk) == len(amounts)
    assert [bulk[f"k{n}"][4] for n in range(len(amounts))] == [
        Decimal(v) for v in ("12.35", "-0.01", "7.00", "-19.99", "3.00", "4.50")
    ]


def test_rows_match_the_ledger_builders() -> None:
    claim = Claim(id=7, practice_id=3)
    day = dt.date(2026, 3, 1)
    for group in ("PR", "CO"):
        built = adjustment_entries(
            claim=claim,
            group_code=group,
            reason_code="2",
            amount=Decimal("12.5"),
            posted_on=day,
            key="k",
            claim_line_id=5,
        )
        rows = adjustment_rows(7, group, "2", Decimal("12.5"), "k", 5)
        assert [(e.kind, e.responsibility, e.amount, e.idempotency_key, e.claim_line_id) for e in built] == [
            (r.kind, r.responsibility, r.amount, r.idempotency_key, r.claim_line_id) for r in rows
        ]
    built_payment = new_entry(
        claim=claim,
        kind=LedgerKind.PAYER_PAYMENT,
        responsibility=Responsibility.PAYER,
        amount=Decimal("-30"),
        posted_on=day,
        idempotency_key="p",
    )
    row = payment_row(7, Decimal("30"), "p", None, None)
    assert (row.kind, row.responsibility, row.amount) == (
        built_payment.kind,
        built_payment.responsibility,
        built_payment.amount,
    )


def test_import_reports_progress_file_by_file(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    paid = [header("80", f"P{n}") + f"CLP*ABC123*1*100*80**12*ICNP{n}~CAS*CO*45*20~" for n in range(3)]
    paths = [write(tmp_path, f"{n}.835", interchange(body)) for n, body in enumerate(paid)]
    reports: list[tuple[str, int, int]] = []
    import_x12(sessions, practice_id=practice_id, paths=paths, progress=lambda *step: reports.append(step))
    assert [done for _, done, _ in reports] == [0, 1, 2, 3]
    assert {(what, total) for what, _, total in reports} == {("Importing X12 files", 3)}
