"""HCPCS Level II (fixed-width CMS file), modifiers, CARC, RARC, group codes and place of service."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from knowledge.codesets import CodeSets, lookup
from knowledge.codesets.hcpcs import find_hcpcs_file, parse_hcpcs_file
from knowledge.codesets.store import DEFAULT_DATA_DIR
from knowledge.codesets.x12codes import parse_code_csv, split_maintenance_text
from knowledge.errors import FileFormatError


def test_g0439_from_the_fixed_width_file(codesets: CodeSets) -> None:
    record = lookup(codesets, "G0439")
    assert record.system == "hcpcs"
    assert record.description == (
        "Annual wellness visit, includes a personalized prevention plan of service (pps), subsequent visit"
    )
    assert record.short_description == "Ppps, subseq visit"
    assert record.status == "active"
    assert record.dates["added"] == dt.date(2011, 1, 1)
    assert record.dates["terminated"] is None
    assert record.attributes["betos"] == "M5D"
    assert record.attributes["coverage"] == "C: carrier judgment"


def test_terminated_code_with_its_date(codesets: CodeSets) -> None:
    record = lookup(codesets, "C9742")
    assert record.dates["terminated"] == dt.date(2016, 12, 31)
    assert record.status == "terminated (last valid date 2016-12-31)"
    assert record.attributes["cross_references"] == ["31573", "31574"]


def test_counts_and_modifier_records() -> None:
    records = parse_hcpcs_file(find_hcpcs_file(DEFAULT_DATA_DIR / "hcpcs"))
    assert sum(1 for r in records if not r.is_modifier) == 8623
    assert sum(1 for r in records if r.is_modifier) == 383


def test_modifier_ga(codesets: CodeSets) -> None:
    record = lookup(codesets, "GA")
    assert record.system == "modifier"
    assert record.description == "Waiver of liability statement issued as required by payer policy, individual case"


def test_pos_11_carc_50_rarc_n115(codesets: CodeSets) -> None:
    pos = lookup(codesets, "POS 11")
    assert (pos.system, pos.description) == ("pos", "Office")
    carc = lookup(codesets, "50", "carc")
    assert carc.description is not None and carc.description.startswith(
        "These are non-covered services because this is not deemed a 'medical necessity' by the payer."
    )
    rarc = lookup(codesets, "N115")
    assert rarc.system == "rarc"
    assert rarc.description is not None and rarc.description.startswith(
        "This decision was based on a Local Coverage Determination (LCD)."
    )
    assert rarc.dates["start"] == dt.date(2002, 5, 30)
    assert rarc.dates["last_modified"] == dt.date(2010, 7, 1)
    m33 = lookup(codesets, "M33", "rarc")  # M33 alone is the ICD-10-CM category (dermatopolymyositis)
    assert m33.dates["stop"] == dt.date(2004, 8, 1)
    assert "Remittance Advice Remark Code (RARC)" in lookup(codesets, "M33").also_in
    assert lookup(codesets, "CO", "group").description == "Contractual Obligation"


def test_maintenance_text_is_parsed() -> None:
    code = split_maintenance_text(
        "M35", "Missing photos.Start: 01/01/1997 | Stop: 02/05/2005Notes: Consider using N178"
    )
    assert (code.description, code.start, code.stop, code.notes) == (
        "Missing photos.",
        dt.date(1997, 1, 1),
        dt.date(2005, 2, 5),
        "Consider using N178",
    )
    # "Stop" without a colon is part of the text (CARC 25: "Your Stop loss deductible...").
    assert split_maintenance_text("25", "Your Stop loss deductible has not been met.").stop is None


def test_bad_code_list_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "carc.csv"
    bad.write_text("Number,Text\n1,Deductible\n")
    with pytest.raises(FileFormatError, match="Code and Description"):
        parse_code_csv(bad, what="CARC")
