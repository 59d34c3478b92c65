"""999 acknowledgments in: a rejected 837 shows as its claims' state, with the reason in words; accepted
ones record nothing; one that names no imported 837 is queued. And the handler seam they come in by."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import pyx12
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from knowledge.practice.database import make_session_factory, session_scope
from knowledge.practice.models import (
    Claim,
    ClaimStatus,
    ClaimStatusEvent,
    WorkException,
    X12File,
    X12ImportClaim,
)
from knowledge.x12 import ack_codes
from knowledge.x12.envelope import scan_file
from knowledge.x12.handlers import ClaimHandler, HandlerRegistry, RemittanceHandler, TransactionContext
from knowledge.x12.importer import default_handlers, import_x12
from knowledge.x12.load999 import read_999
from knowledge.x12.reports import TransactionReport
from knowledge.x12.segments import Segment, iter_segments
from tests.knowledge.x12.helpers import FIXTURES, new_practice
from tools.get_claim import get_claim
from tools.import_remittance import summarise

DEMO_837 = FIXTURES / "linuxforhealth" / "837_005010X222A2__demo.example1.837"  # GS06 1, ST02 0021, CLM 26463774
TWO_CLAIMS_837I = FIXTURES / "linuxforhealth" / "837_005010X223A3__two-claims-single-provider.837i"  # ST02 987654
PUBLIC_999S = [
    FIXTURES / "imsweb" / "x12_999_rejected.txt",
    FIXTURES / "imsweb" / "x12_999_accepted.txt",
    FIXTURES / "imsweb" / "x12_999_accepted_ta1.txt",
    FIXTURES / "staedi" / "simple999.edi",
]
#: The sentence the brief asks for, for the 999 `_ack` builds against DEMO_837 by default.
NM109_REJECTION = (
    "999 rejected the 837 transaction 0021: segment NM1 at position 8 (loop 2010AA): element 9 (NM109) "
    "invalid character in data element"
)


def _ack(
    body: list[str],
    *,
    group: str = "1",
    sender: str = "54321",  # the demo 837 went to GS03 54321: its 999 comes from there
    receiver: str = "000000005",
    date: str = "20131101",
) -> str:
    """A 999 interchange around `body` (AK1..AK9), the way a clearinghouse answers an 837."""
    segments = ["ST*999*0001*005010X231A1", f"AK1*HC*{group}*005010X222A2", *body]
    return (
        f"ISA*00*          *00*          *30*{sender:<15}*30*{receiver:<15}*131101*0900*^*00501*000000911*0*T*:~"
        f"GS*FA*{sender}*{receiver}*{date}*0900*911*X*005010X231A1~"
        + "".join(s + "~" for s in segments)
        + f"SE*{len(segments) + 1}*0001~GE*1*911~IEA*1*000000911~"
    )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="latin-1")
    return path


REJECT_NM109 = ["AK2*837*0021*005010X222A2", "IK3*NM1*8*2010AA*8", "IK4*9*67*6*19123@1953", "IK5*R*5", "AK9*R*1*1*0"]


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def practice_id(sessions: sessionmaker[Session]) -> int:
    with session_scope(sessions) as session:
        return new_practice(session)


def _claim(
    sessions: sessionmaker[Session], practice_id: int, number: str
) -> tuple[ClaimStatus, list[ClaimStatusEvent]]:
    with session_scope(sessions) as session:
        claim = session.scalars(
            select(Claim).where(Claim.practice_id == practice_id, Claim.claim_number == number)
        ).one()
        history = list(claim.status_history)
        session.expunge_all()
        return claim.status, history


def _exceptions(sessions: sessionmaker[Session], practice_id: int) -> list[WorkException]:
    with session_scope(sessions) as session:
        found = list(session.scalars(select(WorkException).where(WorkException.practice_id == practice_id)))
        session.expunge_all()
        return found


# -- the end-to-end case: import an 837, then a 999 that rejects it --------------------------------------


def test_a_999_rejecting_an_imported_837_becomes_its_claims_state(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    claims_in = import_x12(sessions, practice_id=practice_id, paths=[DEMO_837])
    assert claims_in.files[0].transactions[0].claims_created == 1
    with session_scope(sessions) as session:  # the link a 999 finds the claims by
        sent = session.scalars(select(X12File).where(X12File.practice_id == practice_id)).one()
        assert (sent.control_number, sent.group_control_number, sent.receiver_id) == ("0021", "1", "54321")
        linked = session.scalars(select(X12ImportClaim.claim_id).where(X12ImportClaim.x12_import_id == sent.id)).all()
        claim_id = session.scalars(select(Claim.id).where(Claim.claim_number == "26463774")).one()
        assert linked == [claim_id]

    # the 999 is told by its content: the name says nothing about what it is
    path = _write(tmp_path, "clearinghouse-response.edi", _ack(REJECT_NM109))
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    (transaction,) = report.files[0].transactions
    assert (transaction.transaction_type, transaction.status) == ("999", "imported"), transaction
    assert (transaction.status_events, transaction.exceptions) == (1, 0)
    assert transaction.messages == [f"{NM109_REJECTION} ({DEMO_837.name}): claims 26463774 marked rejected"]
    # what the chat says of the import
    assert "1 transaction(s) (999), 1 claim(s) marked rejected by a 999, 0 to the exceptions queue" in summarise(report)

    status, history = _claim(sessions, practice_id, "26463774")
    assert status is ClaimStatus.REJECTED
    event = history[-1]
    assert (event.source, event.status, event.status_code, event.category_code) == (
        "999",
        ClaimStatus.REJECTED,
        "R",
        None,
    )
    assert event.note == NM109_REJECTION  # IK404's copy of the bad value is not kept
    assert event.effective_date == dt.date(2013, 11, 1)  # the 999's GS04
    assert _exceptions(sessions, practice_id) == []

    # the claim view shows the rejection as the claim's state, as it does a 277CA's
    with session_scope(sessions) as session:
        view = get_claim("26463774", session=session, practice_id=practice_id, today=dt.date(2013, 11, 2))
    assert view.status == "rejected"
    assert view.rejection is not None
    assert (view.rejection.source, view.rejection.reason) == ("999", NM109_REJECTION)
    assert view.rejection.rejected_on == dt.date(2013, 11, 1)
    assert view.rejection.decoded == "IK501 R (rejected)"  # the 999's own code, decoded (not "not shipped")

    again = import_x12(sessions, practice_id=practice_id, paths=[path])
    assert again.files[0].transactions[0].status == "already_imported"
    assert len(_claim(sessions, practice_id, "26463774")[1]) == len(history)


def test_every_claim_of_a_rejected_transaction_is_rejected_and_the_claim_in_error_is_named(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    import_x12(sessions, practice_id=practice_id, paths=[TWO_CLAIMS_837I])
    body = [
        "AK2*837*987654*005010X223A3",
        "IK3*CLM*23*2300*8",
        "CTX*CLM01:756049Q",
        "IK4*5:1*1331*I6",
        "IK3*ZZZ*30**1",
        "IK5*R*5",
        "AK9*R*1*1*0",
    ]
    text = _ack(body, sender="54321").replace("AK1*HC*1*005010X222A2", "AK1*HC*1*005010X223A3")
    report = import_x12(sessions, practice_id=practice_id, paths=[_write(tmp_path, "ack.999", text)])
    (transaction,) = report.files[0].transactions
    assert transaction.status_events == 2
    expected = (
        "999 rejected the 837 transaction 987654: segment CLM at position 23 (loop 2300) of claim 756049Q: "
        "element 5-1 (CLM05-1) code value not used in implementation; segment ZZZ at position 30: "
        "unrecognized segment ID"
    )
    for number in ("756048Q", "756049Q"):  # the whole transaction set was rejected, not only the claim named
        status, history = _claim(sessions, practice_id, number)
        assert status is ClaimStatus.REJECTED and history[-1].note == expected


def test_a_rejection_too_long_for_the_status_note_is_cut_at_a_whole_error(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    import_x12(sessions, practice_id=practice_id, paths=[DEMO_837])
    errors = [f"IK3*DTP*{n}*2400*3" for n in range(10, 30)]
    path = _write(tmp_path, "long.999", _ack(["AK2*837*0021", *errors, "IK5*R*5", "AK9*R*1*1*0"]))
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    note = _claim(sessions, practice_id, "26463774")[1][-1].note
    assert note is not None and len(note) <= 300
    assert note.endswith("more errors") and "segment DTP at position 10 (loop 2400): required segment missing" in note
    assert "position 29" in report.files[0].transactions[0].messages[0]  # the report keeps every error


def test_a_whole_group_rejected_without_an_ak2_rejects_every_837_of_the_group(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    import_x12(sessions, practice_id=practice_id, paths=[DEMO_837])
    path = _write(tmp_path, "group.999", _ack(["AK9*R*1*0*0*2"]))
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    assert report.files[0].transactions[0].status_events == 1
    status, history = _claim(sessions, practice_id, "26463774")
    assert status is ClaimStatus.REJECTED
    assert history[-1].note == "999 rejected the functional group 1: functional group version not supported"


# -- accepted: nothing on the claims ------------------------------------------------------------------------


def test_accepted_and_accepted_with_errors_record_nothing_on_the_claims(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    import_x12(sessions, practice_id=practice_id, paths=[DEMO_837])
    before = _claim(sessions, practice_id, "26463774")
    accepted = _write(tmp_path, "a.999", _ack(["AK2*837*0021*005010X222A2", "IK5*A", "AK9*A*1*1*1"]))
    report = import_x12(sessions, practice_id=practice_id, paths=[accepted])
    (transaction,) = report.files[0].transactions
    assert (transaction.status, transaction.status_events, transaction.exceptions) == ("imported", 0, 0)
    assert transaction.messages == [
        f"999 accepted the 837 transaction 0021 ({DEMO_837.name}): nothing recorded on its claims"
    ]
    assert not report.warnings

    noted = ["AK2*837*0021*005010X222A2", "IK3*PER*4*1000A*8", "IK4*4*93*5", "IK5*E", "AK9*E*1*1*1"]
    report = import_x12(
        sessions, practice_id=practice_id, paths=[_write(tmp_path, "e.999", _ack(noted, date="20131102"))]
    )
    (transaction,) = report.files[0].transactions
    assert transaction.status_events == 0
    (warning,) = transaction.warnings
    assert warning.endswith(
        "999 accepted the 837 transaction 0021 with errors noted: segment PER at position 4 (loop 1000A): "
        "element 4 (PER04) data element too long"
    )
    assert warning.startswith("segment 5: AK2*837*0021")
    after = _claim(sessions, practice_id, "26463774")
    assert after[0] is before[0] is ClaimStatus.SUBMITTED and len(after[1]) == len(before[1])
    assert _exceptions(sessions, practice_id) == []


# -- unmatched: the exceptions queue -----------------------------------------------------------------------


def test_public_999s_whose_837s_were_never_imported_are_queued_with_the_reason(
    sessions: sessionmaker[Session], practice_id: int
) -> None:
    report = import_x12(sessions, practice_id=practice_id, paths=PUBLIC_999S)
    assert [t.transaction_type for f in report.files for t in f.transactions] == ["999"] * 4
    assert not report.errors, report.errors
    queued = sorted(e.reason for e in _exceptions(sessions, practice_id))
    assert {e.kind for e in _exceptions(sessions, practice_id)} == {"unmatched_status"}
    assert len(queued) == 6 and report.exceptions == 6
    expected = [
        "999 accepted the 837 transaction 0001 (group 17456, segment 5: AK2*837*0001*005010X223A2~)",  # imsweb
        "999 accepted the 837 transaction 0001 (group 17456, segment 5: AK2*837*0001~)",  # staedi
        "999 rejected the 837 transaction 0002: segment CLM at position 22 of claim 123456789: element 2 (CLM02) "
        "required data element missing (group 17456, segment 7: AK2*837*0002~)",
        "999 rejected the 837 transaction 0003: segment REF at position 57 of claim 987654321: required segment "
        "missing (group 17456, segment 12: AK2*837*0003~)",
        "999 rejected the 837 transaction 0028: segment NM at position 17: unrecognized segment ID "
        "(group 28, segment 5: AK2*837*0028~)",
        "999 rejected the 837 transaction 101: segment CLM at position 289 (loop 2010): segment not in defined "
        "transaction set; segment CLM at position 381 (loop 2010): segment not in defined transaction set "
        "(group 101, segment 6: AK2*837*101*005010X222A1~)",
    ]
    suffix = ": matches no 837 the practice imported (import the 837 first, then this 999 again)"
    assert queued == sorted(e + suffix for e in expected)
    # staedi's group was partly accepted: the report says so
    staedi = report.files[3].transactions[0]
    assert "AK9: the functional group 17456 was partially accepted, at least one transaction set was rejected " in (
        " ".join(staedi.messages)
    )


def test_an_ack_of_another_practices_837_is_not_applied(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    with session_scope(sessions) as session:
        other = new_practice(session, "Other practice")
    import_x12(sessions, practice_id=other, paths=[DEMO_837])
    report = import_x12(sessions, practice_id=practice_id, paths=[_write(tmp_path, "r.999", _ack(REJECT_NM109))])
    assert report.exceptions == 1 and report.files[0].transactions[0].status_events == 0
    assert _claim(sessions, other, "26463774")[0] is ClaimStatus.SUBMITTED


# -- repeated control numbers, re-sent claims, settled claims ------------------------------------------------


def test_repeated_control_numbers_take_the_837_sent_to_the_999s_sender(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    source = DEMO_837.read_text(encoding="latin-1")
    # two files of one claim each, both GS06 1 / ST02 0021 (software that numbers every file from 1),
    # sent to two clearinghouses
    first = _write(tmp_path, "to-54321.837", source.replace("CLM*26463774*", "CLM*FIRST01*"))
    second = _write(
        tmp_path, "to-77777.837", source.replace("CLM*26463774*", "CLM*SECOND02*").replace("*54321*", "*77777*")
    )
    import_x12(sessions, practice_id=practice_id, paths=[first, second])
    report = import_x12(sessions, practice_id=practice_id, paths=[_write(tmp_path, "r.999", _ack(REJECT_NM109))])
    (transaction,) = report.files[0].transactions
    assert transaction.status_events == 1
    (warning,) = transaction.warnings
    assert "2 imported 837s carry group 1 and transaction set 0021" in warning and "to-54321.837" in warning
    assert _claim(sessions, practice_id, "FIRST01")[0] is ClaimStatus.REJECTED
    assert _claim(sessions, practice_id, "SECOND02")[0] is ClaimStatus.SUBMITTED


def test_a_claim_re_sent_since_keeps_its_status_but_the_rejection_is_in_its_history(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    import_x12(sessions, practice_id=practice_id, paths=[DEMO_837])
    resent = DEMO_837.read_text(encoding="latin-1").replace("ST*837*0021*", "ST*837*0022*")
    resent = resent.replace("*0021~", "*0022~")  # SE02 follows ST02
    import_x12(sessions, practice_id=practice_id, paths=[_write(tmp_path, "resent.837", resent)])
    report = import_x12(sessions, practice_id=practice_id, paths=[_write(tmp_path, "r.999", _ack(REJECT_NM109))])
    (message,) = report.files[0].transactions[0].messages
    assert "the status of 26463774 is kept: settled by an 835, or re-sent since" in message
    status, history = _claim(sessions, practice_id, "26463774")
    assert status is ClaimStatus.SUBMITTED
    assert (history[-1].source, history[-1].status, history[-1].note) == ("999", ClaimStatus.REJECTED, NM109_REJECTION)


# -- refused, misnamed, dry run ------------------------------------------------------------------------------


def test_a_999_that_cannot_be_read_is_refused_with_its_position(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    path = _write(tmp_path, "bad.999", _ack(["AK2*837*0021", "IK5*Z", "AK9*R*1*1*0"]))
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    (transaction,) = report.files[0].transactions
    assert transaction.status == "error"
    assert transaction.messages == [
        "segment 6: IK5*Z~: IK501 transaction set acknowledgment code 'Z' is not a known code"
    ]
    assert [e.kind for e in _exceptions(sessions, practice_id)] == ["bad_transaction"]


def test_a_999_named_as_a_remittance_is_refused_with_the_right_suffix(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    report = import_x12(sessions, practice_id=practice_id, paths=[_write(tmp_path, "era.835", _ack(REJECT_NM109))])
    (message,) = report.files[0].transactions[0].messages
    assert "holds a 999 implementation acknowledgment (005010X231A1)" in message and "Rename it to .999" in message


def test_a_dry_run_of_a_999_says_what_it_would_do_and_writes_nothing(
    sessions: sessionmaker[Session], practice_id: int, tmp_path: Path
) -> None:
    import_x12(sessions, practice_id=practice_id, paths=[DEMO_837])
    path = _write(tmp_path, "r.999", _ack(REJECT_NM109))
    report = import_x12(sessions, practice_id=practice_id, paths=[path], dry_run=True)
    assert report.files[0].transactions[0].status_events == 1
    assert _claim(sessions, practice_id, "26463774")[0] is ClaimStatus.SUBMITTED
    assert import_x12(sessions, practice_id=practice_id, paths=[path]).files[0].transactions[0].status == "imported"


# -- the code lists -----------------------------------------------------------------------------------------


def test_the_code_lists_hold_the_codes_pyx12s_999_map_allows() -> None:
    """Our words (from stupidedi, BSD) cover exactly the codes pyx12's 005010X231A1 map (BSD) allows,
    except IK403 11, which no list we found names."""
    tree = ET.parse(Path(pyx12.__file__).parent / "map" / "999.5010X231.A1.xml")
    allowed = {el.get("xid"): {code.text for code in el.iter("code")} for el in tree.iter("element") if el.get("xid")}
    assert set(ack_codes.TRANSACTION_ACK) == allowed["IK501"]
    assert set(ack_codes.TRANSACTION_ERRORS) == allowed["IK502"]
    assert set(ack_codes.SEGMENT_ERRORS) == allowed["IK304"]
    assert set(ack_codes.ELEMENT_ERRORS) == allowed["IK403"] - {"11"}
    assert set(ack_codes.GROUP_ACK) == allowed["AK901"]
    assert set(ack_codes.GROUP_ERRORS) == allowed["AK905"]
    assert sorted(ack_codes.REJECTED) == ["M", "R", "W", "X"]
    assert ack_codes.decode(ack_codes.ELEMENT_ERRORS, "11", "IK403") == "IK403 code 11 (not in the code list)"


def test_the_public_999s_read_as_their_segments_say() -> None:
    path = FIXTURES / "staedi" / "simple999.edi"
    (info,) = scan_file(path)
    ack = read_999(iter_segments(path, start=info.start, end=info.end, delimiters=info.delimiters))
    assert (ack.group_control_number, ack.group_code, ack.sets_accepted) == ("17456", "P", "1")
    assert [(t.control_number, t.code) for t in ack.transactions] == [("0001", "A"), ("0002", "R"), ("0003", "R")]
    (element,) = ack.transactions[1].notes[0].elements
    assert (element.element, element.reference, element.code) == ("2", "782", "1")


# -- the seam -----------------------------------------------------------------------------------------------


class _SegmentCounter:
    """A handler for a kind the importer does not know (276), written the way a 270/271 one would be."""

    kinds: ClassVar[dict[str, str]] = {"276": "a 276 claim status request"}
    suffix: ClassVar[str] = ".276"

    def apply(
        self, session: Session, segments: Iterator[Segment], item: TransactionReport, context: TransactionContext
    ) -> None:
        tags = [segment.tag for segment in segments]
        item.messages.append(f"{len(tags)} segments, {tags.count('TRN')} TRN, practice {context.practice_id}")


def test_a_new_kind_is_one_handler_in_the_registry(sessions: sessionmaker[Session], practice_id: int) -> None:
    path = FIXTURES / "linuxforhealth" / "276_005010X212__claim-level-status.276"
    skipped = import_x12(sessions, practice_id=practice_id, paths=[path])
    assert skipped.files[0].transactions[0].status == "skipped"
    registry = HandlerRegistry([*default_handlers().handlers, _SegmentCounter()])
    report = import_x12(sessions, practice_id=practice_id, paths=[path], handlers=registry)
    (transaction,) = report.files[0].transactions
    assert transaction.status == "imported"
    trns = sum(1 for segment in iter_segments(path) if segment.tag == "TRN")
    assert transaction.messages == [f"{transaction.segments} segments, {trns} TRN, practice {practice_id}"]
    with session_scope(sessions) as session:  # the importer's share: the X12File row, so a second import skips
        assert session.scalars(select(X12File.transaction_type).where(X12File.practice_id == practice_id)).all() == [
            "276"
        ]
    assert import_x12(sessions, practice_id=practice_id, paths=[path], handlers=registry).count("already_imported") == 1


def test_the_registry_takes_each_kind_once_and_the_defaults_cover_what_is_imported() -> None:
    with pytest.raises(ValueError, match="two handlers import 835"):
        HandlerRegistry([RemittanceHandler(), RemittanceHandler()])
    assert default_handlers().kinds == {"835", "837P", "837I", "277", "277CA", "999"}
    assert isinstance(default_handlers().for_kind("837P"), ClaimHandler)
    assert default_handlers().for_kind("270") is None
