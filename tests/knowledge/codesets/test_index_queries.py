"""Code search as coders walk the Alphabetic Index ("Main term, subterm, subterm"), lay words, and the
reasons and questions a hit carries (issue 18). Lexical search over the real shipped code sets."""

from __future__ import annotations

import pytest

from knowledge.codesets import CodeSets, search_codes
from knowledge.codesets.search import _default_over_unasked_detail
from knowledge.codesets.text import query_words, rewrite


def top(codesets: CodeSets, query: str) -> str:
    return search_codes(codesets, query, semantic=False).hits[0].code


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The subterm "joint" is only in the parent M25.5 "Pain in joint": the hierarchy answers it.
        ("Pain, joint, knee, left", "M25.562"),
        # The inclusion term "Graves' disease" sits on the header E05.0; the billable code is E05.00.
        ("Disease, Graves'", "E05.00"),
        # Screening of the lung is Z12.2 "... of respiratory organs" (organ -> system).
        ("Screening, neoplasm, lung", "Z12.2"),
        ("Long-term, drug therapy, anticoagulants", "Z79.01"),
        # A screening the Z codes do not name is filed under the condition's body system (its chapter).
        ("Screening, glaucoma", "Z13.5"),
        # "senile" is "age-related" in the Tabular; the header H25 is not billable.
        ("Cataract, senile", "H25.9"),
        # No "with" subterm given: the "without" code is the default, as the Index has it.
        ("Diabetes, type 2", "E11.9"),
        ("Diabetes, type 2, with, hyperglycemia", "E11.65"),
    ],
)
def test_index_paths_find_the_billable_code(codesets: CodeSets, query: str, expected: str) -> None:
    assert top(codesets, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # An eponym after its main term, as the Index lists it, and not used by the Tabular.
        ("Disease, Plummer's", "E05.20"),
        ("Ulcer, Curling's", "K27.3"),
        # Typed without the accent the Tabular writes ("Guillain-Barré").
        ("Syndrome, Guillain-Barre", "G61.0"),
        # A lay name the Tabular itself uses stays as typed.
        ("Swimmer's ear, right", "H60.331"),
    ],
)
def test_eponyms_accents_and_names_the_tabular_uses(codesets: CodeSets, query: str, expected: str) -> None:
    assert top(codesets, query) == expected


def test_a_header_ranks_below_its_billable_code(codesets: CodeSets) -> None:
    hits = search_codes(codesets, "Syndrome, Down", semantic=False).hits
    codes = [hit.code for hit in hits]
    assert codes[0] == "Q90.9"
    assert codes.index("Q90") > 0
    header = hits[codes.index("Q90")]
    assert header.billable is False and "header" in header.reason


def test_no_side_given_asks_for_it_and_does_not_guess(codesets: CodeSets) -> None:
    result = search_codes(codesets, "Pain, joint, knee", semantic=False)
    assert result.hits[0].code == "M25.569"  # the code for "side not documented"
    assert result.ask and "M25.561" in result.ask[0] and "M25.562" in result.ask[0]
    sided = search_codes(codesets, "Pain, joint, knee, right", semantic=False)
    assert sided.hits[0].code == "M25.561" and sided.ask == []


def test_no_encounter_given_asks_for_the_seventh_character(codesets: CodeSets) -> None:
    result = search_codes(codesets, "Fracture, femur, neck", semantic=False)
    best = result.hits[0]
    assert len(best.code) < 8 and not best.code.endswith("A")  # no 7th character guessed
    assert any("7th character" in ask and f"{best.code}A" in ask for ask in result.ask)
    chosen = search_codes(codesets, "Fracture, femur, neck, right, initial encounter", semantic=False)
    assert chosen.hits[0].code.endswith("A") and len(chosen.hits[0].code) == 8


def test_reasons_are_words_a_coder_reads(codesets: CodeSets) -> None:
    hits = search_codes(codesets, "Pain, joint, knee, left", semantic=False).hits
    assert "M25.5 Pain in joint" in hits[0].reason  # the parents, by code
    assert "knee" in hits[0].reason and "kne," not in hits[0].reason  # the typed word, not its stem
    unspecified = next(hit for hit in hits if hit.code == "M25.569")
    assert "“left”" in unspecified.reason  # what the code does not answer


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hives", "L50.9"),  # not an HIV code, though the stem of "hives" is "hiv"
        ("a fib", "I48.91"),
        ("bmi 42", "Z68.41"),  # 40.0-44.9
        ("sugar diabetes", "E11.9"),
        ("pink eye left", None),  # some conjunctivitis code of the left eye
    ],
)
def test_lay_words(codesets: CodeSets, query: str, expected: str | None) -> None:
    hit = search_codes(codesets, query, semantic=False).hits[0]
    if expected is None:
        assert hit.code.startswith("H10.") and "left" in hit.description
    else:
        assert hit.code == expected


def test_a_lay_phrase_keeps_its_words_for_other_code_sets(codesets: CodeSets) -> None:
    # "flu shot" is Z23 for a diagnosis and the HCPCS influenza vaccine codes for the service.
    assert "immunization" in rewrite("flu shot")
    assert any(hit.system == "hcpcs" for hit in search_codes(codesets, "flu shot admin", semantic=False).hits)


def test_index_segments_and_soft_words() -> None:
    words, segments = query_words("Disease, Crohn's, small intestine")
    assert segments == 3
    assert [w.term for w in words if w.soft] == ["diseas"]  # a generic main term does not have to match
    assert "s" not in [w.term for w in words]  # the possessive is not a word
    words, _ = query_words("Hypertension (essential), with heart failure")
    assert {w.term for w in words if w.soft} == {"essential"}  # parentheses: nonessential modifiers


def _scores(codesets: CodeSets, scores: dict[str, float]) -> dict[int, float]:
    index = codesets.index
    return {index.target_of[index.key("icd10cm", code)]: value for code, value in scores.items()}


def _first(codesets: CodeSets, score: dict[int, float]) -> str:
    target = min(score, key=lambda t: (-score[t], codesets.index.targets[t].code))
    return codesets.index.targets[target].code


def test_the_default_code_goes_first_when_the_query_names_no_detail(codesets: CodeSets) -> None:
    # Scores as the semantic search gave them for "hives": "Allergic urticaria" edged out the default.
    score = _scores(codesets, {"L50.0": 0.937, "L50.8": 0.931, "L50.9": 0.904, "L50.1": 0.815})
    _default_over_unasked_detail(codesets.index, score, {"urticaria"})
    assert _first(codesets, score) == "L50.9"  # "Urticaria, unspecified", the Index's default
    assert len(score) == 4  # the specific codes stay among the hits


def test_a_query_that_names_the_detail_keeps_the_specific_code(codesets: CodeSets) -> None:
    score = _scores(codesets, {"L50.0": 0.937, "L50.8": 0.931, "L50.9": 0.904})
    _default_over_unasked_detail(codesets.index, score, {"urticaria", "allerg"})
    assert _first(codesets, score) == "L50.0"


def test_a_default_far_below_the_best_does_not_jump_it(codesets: CodeSets) -> None:
    score = _scores(codesets, {"L50.0": 0.937, "L50.9": 0.937 * 0.7})
    _default_over_unasked_detail(codesets.index, score, {"urticaria"})
    assert _first(codesets, score) == "L50.0"
