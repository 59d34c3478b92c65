"""The tokenizer and envelope checks: delimiters from ISA, several interchanges, bad input with positions."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyx12.x12file

from knowledge.errors import FileFormatError
from knowledge.x12.envelope import scan_file
from knowledge.x12.segments import iter_segments
from tests.knowledge.x12.helpers import fixture_files

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260301*1200*^*00501*000000001*0*T*:~"
SMALL_835 = (
    "GS*HP*S*R*20260301*1200*1*X*005010X221A1~ST*835*0001~BPR*I*80*C*CHK************20260301~TRN*1*T1*1999~"
    "N1*PR*PAYER~LX*1~CLP*ABC123*1*100*80**12*ICN1~CAS*CO*45*20~SE*8*0001~GE*1*1~IEA*1*000000001~"
)


def _with_delimiters(text: str, element: str, component: str, terminator: str) -> str:
    isa = ISA.replace("*", element).replace(":~", f"{component}{terminator}")
    body = text.replace("*", element).replace("~", terminator)
    return isa + body


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_every_fixture_reads_like_pyx12(path: Path) -> None:
    ours = [seg.text for seg in iter_segments(path)]
    with path.open(encoding="latin-1") as handle:
        theirs = [seg.format() for seg in pyx12.x12file.X12Reader(handle)]
    assert len(ours) == len(theirs)
    # pyx12 writes segments with its own delimiters; compare element by element
    assert [t.split(t[3])[0] for t in ours] == [t.split(t[3])[0] for t in theirs]
    assert scan_file(path)


def test_delimiters_come_from_each_isa(tmp_path: Path) -> None:
    first = _with_delimiters(SMALL_835, "|", ">", "\n")
    second = _with_delimiters(SMALL_835.replace("ABC123", "XYZ789").replace("T1", "T2"), "*", ":", "~")
    path = tmp_path / "two.835"
    path.write_text(first + "\r\n" + second, encoding="latin-1")
    found = scan_file(path)
    assert [t.control_number for t in found] == ["0001", "0001"]
    clps = [seg for seg in iter_segments(path) if seg.tag == "CLP"]
    assert [seg[1] for seg in clps] == ["ABC123", "XYZ789"]
    assert clps[0].delimiters.element == "|" and clps[1].delimiters.element == "*"
    # re-reading one transaction by its byte range gives the same segments
    again = list(iter_segments(path, start=found[1].start, end=found[1].end, delimiters=found[1].delimiters))
    assert again[0].tag == "ST" and again[-1].tag == "SE" and len(again) == 8


def test_truncated_file_names_the_position(tmp_path: Path) -> None:
    path = tmp_path / "cut.835"
    path.write_text(ISA + SMALL_835[: SMALL_835.index("CAS") + 6], encoding="latin-1")
    with pytest.raises(FileFormatError) as caught:
        scan_file(path)
    assert "truncated" in caught.value.message
    assert caught.value.position is not None and caught.value.position.startswith("segment 9: CAS")


def test_wrong_segment_count_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "count.835"
    path.write_text(ISA + SMALL_835.replace("SE*8*", "SE*9*"), encoding="latin-1")
    (info,) = scan_file(path)
    assert info.notes == ["segment 10: SE*9*0001~: SE01 says the transaction has 9 segments but ST..SE holds 8"]
    assert info.segment_count == 8


def test_not_x12_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Dear biller,\nplease post these.\n", encoding="utf-8")
    with pytest.raises(FileFormatError) as caught:
        scan_file(path)
    assert "not an X12 interchange" in caught.value.message
    empty = tmp_path / "empty.835"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError, match="empty"):
        scan_file(empty)


def test_transaction_kinds_and_835_totals() -> None:
    kinds = {scan_file(p)[0].kind for p in fixture_files()}
    assert {"835", "837P", "837I", "277", "276"} <= kinds
    for path in fixture_files(kind="835"):
        for info in scan_file(path):
            assert info.balance_problem() is None, path


def test_unpadded_isa_is_read(tmp_path: Path) -> None:
    isa = "ISA*00**00**ZZ*SENDER*ZZ*RECEIVER*260301*1200*^*00501*000000001*0*T*>!"
    path = tmp_path / "short-isa.835"
    path.write_text(isa + SMALL_835.replace("~", "!"), encoding="latin-1")
    (info,) = scan_file(path)
    assert info.delimiters.segment == "!" and info.delimiters.component == ">"
    assert [seg.tag for seg in iter_segments(path)][:3] == ["ISA", "GS", "ST"]
