"""ICD-10-CM facts pinned from the FY2026 tabular XML in simple-icd-10-cm."""

from __future__ import annotations

import pytest

from knowledge.codesets import CodeSets, lookup
from knowledge.codesets.icd10cm import normalize_icd, split_seventh
from knowledge.errors import InvalidInput, NotFound


def test_counts_match_the_fy2026_code_set(codesets: CodeSets) -> None:
    counts = codesets.counts()
    assert counts["icd10cm_billable"] == 74719  # the FY2026 (April 2026) count of valid codes
    assert len(codesets.icd.chapters) == 22


def test_e11_65_is_billable_with_inherited_notes(codesets: CodeSets) -> None:
    record = lookup(codesets, "E11.65")
    assert record.billable is True
    assert record.description == "Type 2 diabetes mellitus with hyperglycemia"
    assert [p.code for p in record.parents] == ["E11.6", "E11", "E08-E13", "Chapter 4"]
    notes = {(n.kind, n.text, n.level, n.source_code) for n in record.notes}
    assert ("use_additional_code", "insulin (Z79.4)", "category", "E11") in notes
    assert ("excludes1", "type 1 diabetes mellitus (E10.-)", "category", "E11") in notes
    assert ("includes", "diabetes NOS", "category", "E11") in notes
    assert any(n.level == "chapter" and n.source_code == "Chapter 4" for n in record.notes)


def test_dotless_lower_case_input_is_normalised(codesets: CodeSets) -> None:
    record = lookup(codesets, "e1165")
    assert (record.system, record.code, record.input) == ("icd10cm", "E11.65", "e1165")
    assert normalize_icd(" s72.001a ") == "S72.001A"


def test_e11_is_a_header_with_children(codesets: CodeSets) -> None:
    record = lookup(codesets, "E11")
    assert record.billable is False
    assert record.kind == "category"
    assert "E11.9" in [c.code for c in record.children]
    assert lookup(codesets, "E11.9").billable is True


def test_excludes1_of_category_i10(codesets: CodeSets) -> None:
    record = lookup(codesets, "I10")
    assert record.billable is True
    excludes1 = [n.text for n in record.notes if n.kind == "excludes1" and n.source_code == "I10"]
    assert excludes1 == [
        "hypertensive disease complicating pregnancy, childbirth and the puerperium (O10-O11, O13-O16)"
    ]


def test_seventh_character_and_placeholder(codesets: CodeSets) -> None:
    full = lookup(codesets, "S72.001A")
    assert full.billable is True
    assert full.description.endswith("initial encounter for closed fracture")  # type: ignore[union-attr]
    assert full.parents[0].code == "S72.001"
    base = lookup(codesets, "S72.001")
    assert base.billable is False
    assert "S72.001A" in [c.code for c in base.children]
    assert base.seventh_characters["S"] == "sequela"
    assert split_seventh(codesets.icd, "T51.3X1A") is not None  # placeholder inside the code
    with pytest.raises(NotFound, match=r"S00\.00XA"):
        lookup(codesets, "S00.00A")  # placeholder X missing
    with pytest.raises(NotFound, match="not valid"):
        lookup(codesets, "S72.001Z")


def test_s06_death_codes_take_only_initial_encounter(codesets: CodeSets) -> None:
    assert lookup(codesets, "S06.317A").billable is True
    with pytest.raises(NotFound):
        lookup(codesets, "S06.317D")


def test_bad_inputs_have_clear_answers(codesets: CodeSets) -> None:
    with pytest.raises(InvalidInput):
        lookup(codesets, "")
    with pytest.raises(InvalidInput, match="too long"):
        lookup(codesets, "E11.65" * 10)
    with pytest.raises(NotFound, match="nearest existing code is Z99"):
        lookup(codesets, "Z99.999")
    with pytest.raises(NotFound):
        lookup(codesets, "hello world")
    with pytest.raises(NotFound, match="ICD-10-CM"):
        lookup(codesets, "99214", "icd10cm")  # a CPT code asked as a diagnosis
    with pytest.raises(InvalidInput, match="Unknown code system"):
        lookup(codesets, "E11.9", "snomed")
