"""The four code tools, called the way the agent calls them (code sets bound as a keyword)."""

from __future__ import annotations

import inspect

import pytest

from knowledge.codesets import CodeSets
from knowledge.errors import InvalidInput, NotFound
from tools.check_claim_codes import check_claim_codes
from tools.explain_adjustment_codes import explain_adjustment_codes
from tools.lookup_code import lookup_code
from tools.search_codes import search_codes

TOOLS = [lookup_code, search_codes, check_claim_codes, explain_adjustment_codes]


@pytest.mark.parametrize("tool", TOOLS)
def test_tool_shape(tool: object) -> None:
    signature = inspect.signature(tool)  # type: ignore[arg-type]
    assert (tool.__doc__ or "").strip()
    assert signature.parameters["codesets"].kind is inspect.Parameter.KEYWORD_ONLY
    assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values())


def test_lookup_code(codesets: CodeSets) -> None:
    record = lookup_code("e1165", codesets=codesets)
    assert (record.code, record.billable) == ("E11.65", True)
    assert lookup_code("11", "pos", codesets=codesets).description == "Office"
    with pytest.raises(NotFound):
        lookup_code("XYZ123", codesets=codesets)


def test_search_codes(codesets: CodeSets) -> None:
    result = search_codes("type 2 diabetes with hyperglycemia", limit=3, codesets=codesets)
    assert result.hits[0].code == "E11.65"
    assert len(result.hits) == 3


def test_check_claim_codes(codesets: CodeSets) -> None:
    result = check_claim_codes(["E11.65", "E10.9"], ["99214:25:1"], "2026-03-01", codesets=codesets)
    assert [i.kind for i in result.issues] == ["excludes1", "excludes1"]
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        check_claim_codes(["E11.65"], [], "03/01/2026", codesets=codesets)


def test_explain_adjustment_codes(codesets: CodeSets) -> None:
    result = explain_adjustment_codes(["CO-45", "PR 1", "N115", "MA130", "bogus"], "2026-03-01", codesets=codesets)
    decoded = [(item.kind, item.code) for item in result.items]
    assert decoded == [
        ("group", "CO"),
        ("carc", "45"),
        ("group", "PR"),
        ("carc", "1"),
        ("rarc", "N115"),
        ("rarc", "MA130"),
    ]
    assert result.items[0].description == "Contractual Obligation"
    assert result.items[3].description == "Deductible Amount"
    assert result.unknown == ["bogus"]
    # A pair is shown as the remittance shows it: one line for PR-1, with its group's meaning.
    assert [item.as_shown for item in result.items[:4]] == ["CO-45", "CO-45", "PR-1", "PR-1"]
    from tools.explain_adjustment_codes import render

    shown = render(result.model_dump(mode="json"), {})
    assert "**PR-1** (Patient Responsibility; CARC 1): Deductible Amount" in shown
    assert "**N115** (RARC)" in shown and "**PR** (group code)" not in shown
    m33 = explain_adjustment_codes(["M33"], "2026-03-01", codesets=codesets).items[0]
    assert (m33.kind, m33.active) == ("rarc", False)  # stopped 08/01/2004
    with pytest.raises(InvalidInput):
        explain_adjustment_codes([], codesets=codesets)


def test_the_text_answer_says_how_many_notes_it_leaves_out(codesets: CodeSets) -> None:
    """E11.65 inherits more Excludes1 notes from E11 than the answer quotes: it says how many more."""
    from tools.lookup_code import NOTES_SHOWN, render

    record = lookup_code("E11.65", codesets=codesets).model_dump(mode="json")
    excludes1 = [n for n in record["notes"] if n["kind"] == "excludes1"]
    assert len(excludes1) > NOTES_SHOWN
    text = render(record, {})
    assert f"and {len(excludes1) - NOTES_SHOWN} more" in text
    assert all(n["text"][:30] in text for n in excludes1[:NOTES_SHOWN])
    assert excludes1[-1]["text"][:30] not in text


def test_a_code_whose_kind_is_its_code_set_names_the_set_once(codesets: CodeSets) -> None:
    from tools.lookup_code import render

    text = render(lookup_code("197", "carc", codesets=codesets).model_dump(mode="json"), {})
    assert text.startswith("**197** (Claim Adjustment Reason Code (CARC)):"), text
    icd = render(lookup_code("E11.65", codesets=codesets).model_dump(mode="json"), {})
    assert icd.startswith("**E11.65** (ICD-10-CM, billable):"), icd
