"""X12 as it arrives from the wild (issue 15): liberal in reading, strict in posting, posted once.

Each test reproduces one finding on a real public file (or a copy of one re-saved the way real senders
save them: a byte-order mark, other separators, no envelope, wrong counts), then checks what was stored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from knowledge.practice.database import make_session_factory, session_scope
from knowledge.practice.models import (
    Claim,
    LedgerEntry,
    LedgerKind,
    Payment,
    Remittance,
    RemittanceClaim,
    WorkException,
)
from knowledge.x12.envelope import scan_file
from knowledge.x12.generator import seed_claims_for_835
from knowledge.x12.importer import ImportReport, import_x12
from knowledge.x12.segments import iter_segments
from tests.knowledge.x12.helpers import FIXTURES, fixture_files, new_practice, totals_by_pyx12
from tests.knowledge.x12.test_posting_rules import header, interchange, make_claim
from tools.import_remittance import describe, import_remittance

BASE_835 = FIXTURES / "alshival" / "X221-multiple-claims-single-check.edi"
DEMO_837 = FIXTURES / "linuxforhealth" / "837_005010X222A2__demo.example1.837"
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> int:
    """A practice holding the claims BASE_835 pays."""
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
        seed_claims_for_835(session, practice_id=practice_id, path=BASE_835)
        return practice_id


@pytest.fixture
def practice_id(sessions: sessionmaker[Session]) -> int:
    """A practice with claim ABC123 (99213 $60, 80053 $40), for the hand-written 835s."""
    with session_scope(sessions) as session:
        practice = new_practice(session)
        make_claim(session, practice, "ABC123", [("99213", "60.00"), ("80053", "40.00")])
        return practice


def resave(
    source: Path,
    *,
    element: str = "*",
    component: str = ":",
    terminator: str = "~",
    repetition: str = "^",
    between: str = "",
    version: tuple[str, str] | None = None,
) -> str:
    """The file's segments written again with other delimiters (and optionally another version)."""
    out: list[str] = []
    for segment in iter_segments(source):
        elements = [e.replace(segment.delimiters.component, component) for e in segment.elements]
        if segment.tag == "ISA":
            elements = list(segment.elements)
            elements[16] = component
            if version:
                elements[12] = version[0]
            elements[11] = repetition if elements[12] >= "00402" else "U"
        elif segment.tag == "GS" and version:
            elements[8] = version[1]
        elif segment.tag == "ST" and version and len(elements) > 3:
            elements = elements[:3]
        out.append(element.join(elements) + terminator + between)
    return "".join(out)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="latin-1")
    return path


def only_transaction(report: ImportReport) -> tuple[str, int, list[str]]:
    (file,) = report.files
    assert file.error is None, file.error
    (transaction,) = file.transactions
    return transaction.status, transaction.claims_posted, transaction.messages


def count(sessions: sessionmaker[Session], column: InstrumentedAttribute[int], *where: ColumnElement[bool]) -> int:
    with session_scope(sessions) as session:
        return int(session.scalar(select(func.count(column)).where(*where)) or 0)


def paid_in_ledger(sessions: sessionmaker[Session], practice_id: int) -> Decimal:
    with session_scope(sessions) as session:
        total = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.practice_id == practice_id, LedgerEntry.kind == LedgerKind.PAYER_PAYMENT
            )
        )
        return -Decimal(total or 0)


# -- liberal in reading ----------------------------------------------------------------------------------


def test_byte_order_mark_before_isa_is_read(sessions: sessionmaker[Session], seeded: int, tmp_path: Path) -> None:
    path = write(tmp_path, "windows.835", BOM + BASE_835.read_bytes())
    assert [t.set_id for t in scan_file(path)] == ["835"]
    status, posted, _ = only_transaction(import_x12(sessions, practice_id=seeded, paths=[path]))
    assert (status, posted) == ("imported", totals_by_pyx12(BASE_835).claims)
    assert paid_in_ledger(sessions, seeded) == totals_by_pyx12(BASE_835).clp_paid


def test_bare_transaction_without_envelope_is_imported_with_a_warning(
    sessions: sessionmaker[Session], seeded: int, tmp_path: Path
) -> None:
    text = BASE_835.read_text(encoding="latin-1")
    bare = text[text.index("ST*835") : text.index("GE*")]
    path = write(tmp_path, "portal-download.835", BOM.decode("latin-1") + bare)
    report = import_x12(sessions, practice_id=seeded, paths=[path])
    status, posted, _ = only_transaction(report)
    assert (status, posted) == ("imported", 9)
    assert any("no ISA/GS envelope" in w for w in report.files[0].warnings), report.files[0].warnings
    assert paid_in_ledger(sessions, seeded) == Decimal("810.80")


def test_functional_group_without_isa_is_read(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    # imsweb's x12_no_isa_line.txt starts at GS (and its SE01 is wrong)
    path = FIXTURES / "imsweb" / "x12_no_isa_line.txt"
    with session_scope(sessions) as session:
        practice = new_practice(session)
    report = import_x12(sessions, practice_id=practice, paths=[path])
    (file,) = report.files
    assert file.error is None
    assert file.warnings == [
        "segment 1: GS*HC*SENDER CODE*RECEIVER CODE*19991231*0802*1*X*005010X222A1~: GS without an ISA "
        "interchange header: read as if inside one (envelope synthesised)"
    ]
    (transaction,) = file.transactions
    assert transaction.warnings == [
        "segment 42: SE*25*987654~: SE01 says the transaction has 25 segments but ST..SE holds 41"
    ]
    # read, then refused for what it says (the sample's claim total is not its lines' sum), not its envelope
    assert transaction.status == "error"
    assert transaction.messages[0].startswith("segment 21: CLM*A37YH556*500") and "CLM02" in transaction.messages[0]


DELIMITER_SETS = [
    pytest.param("*", ":", "^", "{", id="caret-terminator"),
    pytest.param("*", "|", "~", "^", id="pipe-component"),
    pytest.param("|", ">", "\n", "^", id="pipe-element-newline"),
    pytest.param("~", "^", "_", "U", id="tilde-element"),
    pytest.param("\x1d", "\x1f", "\x1c", "\x1e", id="control-characters"),
]


@pytest.mark.parametrize(("element", "component", "terminator", "repetition"), DELIMITER_SETS)
def test_any_legal_separators(
    sessions: sessionmaker[Session],
    seeded: int,
    tmp_path: Path,
    element: str,
    component: str,
    terminator: str,
    repetition: str,
) -> None:
    text = resave(BASE_835, element=element, component=component, terminator=terminator, repetition=repetition)
    path = write(tmp_path, "resaved.835", text)
    (info,) = scan_file(path)
    assert (info.delimiters.element, info.delimiters.component, info.delimiters.segment) == (
        element,
        component,
        terminator,
    )
    svc = [s for s in iter_segments(path) if s.tag == "SVC"]
    assert svc[0].components(1) == ["AD", "D0120"]
    status, posted, _ = only_transaction(import_x12(sessions, practice_id=seeded, paths=[path]))
    assert (status, posted) == ("imported", 9)
    assert paid_in_ledger(sessions, seeded) == Decimal("810.80")


def test_crlf_and_indented_lines(sessions: sessionmaker[Session], seeded: int, tmp_path: Path) -> None:
    path = write(tmp_path, "pretty.835", "  \r\n" + resave(BASE_835, component="|", between="\r\n    "))
    status, posted, _ = only_transaction(import_x12(sessions, practice_id=seeded, paths=[path]))
    assert (status, posted) == ("imported", 9)


def test_crlf_as_the_segment_terminator(sessions: sessionmaker[Session], seeded: int, tmp_path: Path) -> None:
    path = write(tmp_path, "lines.835", resave(BASE_835, component="|", terminator="\r", between="\n\t"))
    status, posted, _ = only_transaction(import_x12(sessions, practice_id=seeded, paths=[path]))
    assert (status, posted) == ("imported", 9)


def test_4010_remittance(sessions: sessionmaker[Session], seeded: int, tmp_path: Path) -> None:
    text = resave(BASE_835, component="|", version=("00401", "004010X091A1"))
    path = write(tmp_path, "old.835", text)
    (info,) = scan_file(path)
    assert info.version == "004010X091A1" and info.kind == "835"
    status, posted, _ = only_transaction(import_x12(sessions, practice_id=seeded, paths=[path]))
    assert (status, posted) == ("imported", 9)


def test_count_mismatches_are_warnings_not_refusals(
    sessions: sessionmaker[Session], seeded: int, tmp_path: Path
) -> None:
    text = BASE_835.read_text(encoding="latin-1")
    se = text[text.index("~SE*") + 1 :].split("~")[0]
    wrong = text.replace(se, "SE*7*35681").replace("GE*1*1~", "GE*3*1~").replace("IEA*1*000000905", "IEA*2*000000999")
    path = write(tmp_path, "hand-edited.835", wrong)
    report = import_x12(sessions, practice_id=seeded, paths=[path])
    status, posted, _ = only_transaction(report)
    assert (status, posted) == ("imported", 9)
    joined = " | ".join(report.warnings)
    assert "SE01 says the transaction has 7 segments" in joined
    assert "GE01 says 3 transaction sets" in joined
    assert "IEA01 says 2 functional groups" in joined and "IEA02 '000000999'" in joined
    assert all("segment " in w for w in report.warnings)


def test_several_interchanges_groups_and_transactions(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    # an 835 re-saved with `|`, `>` and newlines, then an 837 with `*`, `:` and `~`, in one file
    claims = DEMO_837.read_text(encoding="latin-1")
    path = write(tmp_path, "batch.x12", resave(BASE_835, element="|", component=">", terminator="\n") + claims)
    found = scan_file(path)
    assert [t.kind for t in found] == ["835", "837P"]
    with session_scope(sessions) as session:
        practice = new_practice(session)
        seed_claims_for_835(session, practice_id=practice, path=BASE_835)
    report = import_x12(sessions, practice_id=practice, paths=[path])
    assert [(t.transaction_type, t.status) for t in report.files[0].transactions] == [
        ("835", "imported"),
        ("837P", "imported"),
    ]


def test_every_public_file_imports_or_is_refused_with_its_segment(engine: Engine) -> None:
    """Every real file we hold: each imports, or each refusal names the segment and the reason."""
    sessions = make_session_factory(engine)
    files = fixture_files(wild=True)
    assert len(files) >= 83
    for path in files:
        with session_scope(sessions) as session:
            practice = new_practice(session, path.stem)
            seed_claims_for_835(session, practice_id=practice, path=path)
        report = import_x12(sessions, practice_id=practice, paths=[path])
        (file,) = report.files
        assert file.error is None, (path.name, file.error)
        for transaction in file.transactions:
            if transaction.status == "error":
                assert all("segment " in m for m in transaction.messages), (path.name, transaction.messages)
            else:
                assert transaction.status in ("imported", "skipped"), (path.name, transaction.status)
        if all(t.transaction_type == "835" and t.status == "imported" for t in file.transactions):
            # where the file's own figures are known, the import reports the same totals
            expected = totals_by_pyx12(path)
            assert sum(t.claims_posted for t in file.transactions) == expected.claims, path.name
            assert paid_in_ledger(sessions, practice) == expected.clp_paid, path.name


# -- strict in posting -----------------------------------------------------------------------------------


def test_unbalanced_transaction_posts_nothing_and_writes_no_payment(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    body = header("99", "TB") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    text = interchange(body).replace("SE*7*", "SE*70*")  # a wrong count as well: balancing still decides
    report = import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "nobal.835", text)])
    status, posted, _ = only_transaction(report)
    assert (status, posted) == ("imported", 0)
    (item,) = [e for e in exceptions(sessions, practice_id) if e.kind == "unbalanced_transaction"]
    assert "BPR02 total paid 99.00" in item.reason and "80.00" in item.reason and "difference 19.00" in item.reason
    assert count(sessions, Payment.id) == 0
    assert count(sessions, LedgerEntry.id, LedgerEntry.kind != LedgerKind.CHARGE) == 0


def test_claim_file_named_835_is_not_offered_or_posted_as_a_remittance(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "era-nov.835").write_bytes(DEMO_837.read_bytes())
    with session_scope(sessions) as session:
        summary = describe("era-nov.835", session=session, practice_id=practice_id, inbox_dir=inbox)
    assert "837P" in summary and "not a remittance" in summary and "would post" not in summary
    with session_scope(sessions) as session:
        report = import_remittance("era-nov.835", session=session, practice_id=practice_id, inbox_dir=inbox)
    (transaction,) = report.files[0].transactions
    assert transaction.status == "error" and transaction.claims_created == 0
    assert "ST01" in transaction.messages[0] and "segment 3: ST*837" in transaction.messages[0]
    assert count(sessions, Claim.id) == 1  # only ABC123 of the fixture
    # the same content under a name that does not claim another type imports as the claims it is
    (inbox / "claims-nov.837").write_bytes(DEMO_837.read_bytes())
    with session_scope(sessions) as session:
        summary = describe("claims-nov.837", session=session, practice_id=practice_id, inbox_dir=inbox)
    assert "1 claim(s) would be created" in summary


# -- once --------------------------------------------------------------------------------------------------


def exceptions(sessions: sessionmaker[Session], practice_id: int) -> list[WorkException]:
    with session_scope(sessions) as session:
        return list(session.scalars(select(WorkException).where(WorkException.practice_id == practice_id)))


@pytest.mark.parametrize("change", ["control-number", "trace-number", "both"])
def test_resent_era_posts_nothing_and_writes_no_second_payment(
    sessions: sessionmaker[Session], seeded: int, tmp_path: Path, change: str
) -> None:
    first = write(tmp_path, "era.835", BASE_835.read_text(encoding="latin-1"))
    assert only_transaction(import_x12(sessions, practice_id=seeded, paths=[first]))[:2] == ("imported", 9)
    text = first.read_text(encoding="latin-1")
    if change in ("control-number", "both"):
        text = text.replace("ST*835*35681", "ST*835*35999").replace("SE*", "SE*", 1).replace("*35681~", "*35999~")
    if change in ("trace-number", "both"):
        text = text.replace("TRN*1*12345*", "TRN*1*RESENT99*")
    again = write(tmp_path, "era-resent.835", text)
    status, posted, messages = only_transaction(import_x12(sessions, practice_id=seeded, paths=[again]))
    assert (status, posted) == ("already_imported", 0), messages
    assert "same 9 claim payments" in messages[0] and "era.835" in messages[0]
    assert count(sessions, Payment.id) == 1
    assert count(sessions, Remittance.id) == 1
    assert paid_in_ledger(sessions, seeded) == Decimal("810.80")
    assert not [e for e in exceptions(sessions, seeded) if e.kind != "bad_file"]


def test_payment_row_only_when_a_claim_posts(sessions: sessionmaker[Session], practice_id: int, tmp_path: Path) -> None:
    body = header("40", "TU") + "CLP*NOPE1*1*50*40**12*ICNX~NM1*QC*1*DOE*JOHN~CAS*CO*45*10~"
    status, posted, _ = only_transaction(
        import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "unmatched.835", interchange(body))])
    )
    assert (status, posted) == ("imported", 0)
    assert count(sessions, Payment.id) == 0
    assert [e.kind for e in exceptions(sessions, practice_id)] == ["unmatched_claim"]
    # once a claim of a remittance posts, its payment is written (and linked to the ledger rows)
    body = header("80", "TP") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "paid.835", interchange(body))])
    with session_scope(sessions) as session:
        (payment,) = session.scalars(select(Payment)).all()
        assert payment.amount == Decimal("80.00")
        linked = session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.payment_id == payment.id))
        assert linked == 1


@pytest.mark.parametrize(
    ("claim", "element"),
    [
        ("CLP*ABC123*1*100*99999999999999999999.99**12*ICN1~CAS*CO*45*-99999999999999999899.99~", "CLP04"),
        ("CLP*ABC123*1*99999999999999999999.99*80**12*ICN1~CAS*CO*45*99999999999999999919.99~", "CLP03"),
    ],
)
def test_overflowing_amount_is_a_positioned_error(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path, claim: str, element: str
) -> None:
    body = header("80", "TO") + claim
    report = import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "huge.835", interchange(body))])
    problems = " | ".join(report.errors)
    assert f"{element} 99999999999999999999.99" in problems and "at most 18 digits" in problems
    assert "segment 8: CLP*ABC123" in problems
    assert count(sessions, Remittance.id) == 0 and count(sessions, Payment.id) == 0
    assert count(sessions, RemittanceClaim.id) == 0
    assert count(sessions, LedgerEntry.id, LedgerEntry.kind != LedgerKind.CHARGE) == 0


def test_payment_date_that_is_not_a_date_is_a_positioned_error(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    body = (
        "BPR*I*80*C*ACH************20261399~TRN*1*TD*1999999999~"
        "N1*PR*ACME HEALTH~LX*1~CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    )
    report = import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "date.835", interchange(body))])
    status, posted, messages = only_transaction(report)
    assert (status, posted) == ("error", 0)
    assert messages[0].startswith("segment 4: BPR*I*80*C*ACH")
    assert "BPR16 (the payment date) '20261399' is not a CCYYMMDD date" in messages[0]
    assert count(sessions, Remittance.id) == 0 and count(sessions, Payment.id) == 0
    (item,) = exceptions(sessions, practice_id)
    assert item.kind == "bad_transaction" and item.position and item.position.startswith("segment 4: BPR")


def test_payment_date_falls_back_only_to_the_payers_production_date_with_a_warning(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    body = (
        "BPR*I*80*C*ACH************20261399~TRN*1*TD*1999999999~DTM*405*20260302~"
        "N1*PR*ACME HEALTH~LX*1~CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    )
    report = import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "date.835", interchange(body))])
    assert only_transaction(report)[:2] == ("imported", 1)
    (warning,) = report.files[0].transactions[0].warnings
    assert warning.startswith("segment 4: BPR") and "'20261399'" in warning and "2026-03-02" in warning
    with session_scope(sessions) as session:
        assert session.scalars(select(Payment.received_on)).one() == dt.date(2026, 3, 2)
        assert set(session.scalars(select(LedgerEntry.posted_on).where(LedgerEntry.kind != LedgerKind.CHARGE))) == {
            dt.date(2026, 3, 2)
        }


@pytest.mark.parametrize(
    "bad",
    [
        "DTM*405*20261399~",  # the production date
        "DTM*232*20261399~",  # a claim's service date
    ],
)
def test_other_dates_that_are_not_dates_are_positioned_errors(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path, bad: str
) -> None:
    body = header("80", "TX") + "CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~"
    if bad.startswith("DTM*405"):
        body = body.replace("N1*PR", bad + "N1*PR")
    else:
        body += bad
    report = import_x12(sessions, practice_id=practice_id, paths=[write(tmp_path, "dates.835", interchange(body))])
    status, posted, messages = only_transaction(report)
    assert (status, posted) == ("error", 0)
    assert f": {bad[:-1]}~: DTM02 is not a CCYYMMDD date: '20261399'" in messages[0]
    assert count(sessions, Remittance.id) == 0 and count(sessions, Payment.id) == 0
