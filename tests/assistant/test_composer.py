from __future__ import annotations

from assistant.composer import money, paragraphs_after_lists


def test_money_is_formatted_from_the_exact_amount() -> None:
    assert money("1234567.89") == "$1,234,567.89"
    assert money("12345678901234567.89") == "$12,345,678,901,234,567.89"  # a float would lose the cents
    assert money("-0.30") == "$-0.30"
    assert money("n/a") == "n/a"


def test_a_line_after_a_list_is_its_own_paragraph() -> None:
    text = "Due soon:\n- Claim 1: $5\n  (continued)\n- Claim 2: $6\nDeadline passed on 3 claims:\n- Claim 9"
    assert paragraphs_after_lists(text) == (
        "Due soon:\n- Claim 1: $5\n  (continued)\n- Claim 2: $6\n\nDeadline passed on 3 claims:\n- Claim 9"
    )
    # Lists that follow one another, quotes and text already apart are left as they are.
    for kept in ("- a\n- b\n1. c", "- a\n> quoted", "Intro\n- a\n\nAfter"):
        assert paragraphs_after_lists(kept) == kept
