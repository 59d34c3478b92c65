"""Claim checks: 7th characters, non-billable codes, terminated HCPCS, Excludes1, NCCI PTP and MUE."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from knowledge.codesets import CodeSets, check_claim, import_ncci, parse_line
from knowledge.codesets.check import excludes1_references
from knowledge.codesets.store import load_ncci
from knowledge.errors import FileFormatError, InvalidInput
from tests.codeset_fixtures import MUE_SAMPLE, PTP_SAMPLE

DOS = dt.date(2026, 3, 1)


def kinds(result: object) -> list[tuple[str, list[str]]]:
    return [(i.kind, i.codes) for i in result.issues]  # type: ignore[attr-defined]


def test_clean_claim(codesets: CodeSets) -> None:
    result = check_claim(
        codesets,
        diagnoses=["E11.65", "I10"],
        lines=[parse_line("99214:25:1"), parse_line("G0439::1")],
        date_of_service=DOS,
    )
    assert result.issues == []
    assert result.ok
    assert result.lines[0].modifiers == ["25"]


def test_problems_are_reported(codesets: CodeSets) -> None:
    result = check_claim(
        codesets,
        diagnoses=["E11.65", "E10.9", "S72.001", "E11", "S00.00A", "Z99.999"],
        lines=[parse_line("C9742"), parse_line("G0439:ZZ")],
        date_of_service=DOS,
    )
    found = kinds(result)
    assert ("excludes1", ["E11.65", "E10.9"]) in found
    assert ("excludes1", ["E10.9", "E11.65"]) in found
    assert ("seventh_character", ["S72.001"]) in found
    assert ("seventh_character", ["S00.00A"]) in found
    assert ("not_billable", ["E11"]) in found
    assert ("invalid_code", ["Z99.999"]) in found
    assert ("terminated", ["C9742"]) in found
    assert ("invalid_modifier", ["G0439", "ZZ"]) in found
    assert not result.ok


def test_excludes1_reference_parsing() -> None:
    assert excludes1_references("type 1 diabetes mellitus (E10.-)") == [("E10", "E10")]
    assert excludes1_references("pregnancy (O10-O11, O13-O16)") == [("O10", "O11"), ("O13", "O16")]
    assert excludes1_references("stage (N18.1-N18.6)") == [("N181", "N186")]


def test_ncci_ptp_and_mue(codesets_with_ncci: CodeSets) -> None:
    day = dt.date(2022, 6, 1)
    result = check_claim(
        codesets_with_ncci,
        diagnoses=[],
        lines=[parse_line("0001A"), parse_line("36591"), parse_line("0591T:59"), parse_line("0009U::3")],
        date_of_service=day,
    )
    ptp = {tuple(i.codes): i for i in result.issues if i.kind == "ncci_ptp"}
    assert ptp[("0001A", "36591")].severity == "error"  # modifier indicator 0
    assert "no modifier bypasses" in ptp[("0001A", "36591")].message
    assert ptp[("0001A", "0591T")].severity == "warning"  # indicator 1, and 59 is on the line
    mue = [i for i in result.issues if i.kind == "mue"]
    assert mue[0].codes == ["0009U"] and "MUE of 2" in mue[0].message
    assert result.ncci_ptp_loaded and result.mue_loaded
    # The edit was deleted at the end of 2023.
    later = check_claim(
        codesets_with_ncci, diagnoses=[], lines=[parse_line("0001A"), parse_line("36591")], date_of_service=DOS
    )
    assert not [i for i in later.issues if i.kind == "ncci_ptp"]


def test_import_ncci_into_a_cache(tmp_path: Path) -> None:
    assert import_ncci(tmp_path, PTP_SAMPLE) == {"ptp_edits": 14, "mue_values": 0}
    assert import_ncci(tmp_path, MUE_SAMPLE) == {"ptp_edits": 0, "mue_values": 30}
    edits = load_ncci(tmp_path)
    assert edits.mue["0009U"].units == 2
    assert edits.ptp["0001U"][0].deleted is None
    bad = tmp_path / "bad.txt"
    bad.write_text("hello\n")
    with pytest.raises(FileFormatError, match="not an NCCI file"):
        import_ncci(tmp_path, bad)


def test_bad_lines(codesets: CodeSets) -> None:
    with pytest.raises(InvalidInput):
        parse_line("99214:25:x")
    with pytest.raises(InvalidInput):
        parse_line(":25")
    with pytest.raises(InvalidInput):
        check_claim(codesets, diagnoses=[], lines=[])
