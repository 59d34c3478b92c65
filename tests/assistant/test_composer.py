from __future__ import annotations

from assistant.composer import money


def test_money_is_formatted_from_the_exact_amount() -> None:
    assert money("1234567.89") == "$1,234,567.89"
    assert money("12345678901234567.89") == "$12,345,678,901,234,567.89"  # a float would lose the cents
    assert money("-0.30") == "$-0.30"
    assert money("n/a") == "n/a"
