"""The values a message names, read by the slot extractors (what it asks is the router's job)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from knowledge.codesets.text import query_tokens
from tools.slots import read_slots

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    "text", ["what is aetna's timely filing limit for 2026?", "policy changes since 2024", "what was it before 2024"]
)
def test_a_year_is_not_a_claim_number(text: str) -> None:
    slots = read_slots(text, today=TODAY)
    assert slots.claim_numbers == [] and slots.maybe_claims == [] and slots.claim_number is None


def test_a_bare_year_shaped_number_is_kept_aside_for_a_claim_tool() -> None:
    slots = read_slots("2001 why denied", today=TODAY)
    assert slots.claim_numbers == [] and slots.maybe_claims == ["2001"]
    assert slots.claim_number == "2001"  # what a claim tool's plan uses


def test_a_named_claim_is_a_claim_even_when_it_looks_like_a_year() -> None:
    slots = read_slots("status of claim 2001", today=TODAY)
    assert slots.claim_numbers == ["2001"] and slots.named_claim


def test_payment_details_are_typed() -> None:
    slots = read_slots("patient just paid $15.50 by check for claim 1500 today", today=TODAY)
    assert slots.amount == Decimal("15.50") and isinstance(slots.amount, Decimal)
    assert (slots.method, slots.claim_number, slots.on_date) == ("check", "1500", TODAY)


def test_a_leading_name_with_an_old_date_is_a_patient_and_birth_date() -> None:
    slots = read_slots("Drew Fakely 07/24/1963 claims", today=TODAY)
    assert slots.patient_name == "Drew Fakely" and slots.birth_date == dt.date(1963, 7, 24)
    assert read_slots("Drew Fakely 11/02/2026 claims", today=TODAY).birth_date is None  # a date of service


def test_codes_of_each_system_and_the_check_arguments() -> None:
    slots = read_slots("check 99214-25 G0439 with E11.65, I10", today=TODAY)
    assert slots.medical_codes == ["G0439", "E11.65", "I10", "99214"]
    assert slots.check_arguments() == {"diagnoses": ["E11.65", "I10"], "lines": ["99214:25:1", "G0439::1"]}
    assert read_slots("what does CO 50 N115 mean", today=TODAY).adjustment_codes == ["CO-50", "N115"]


def test_a_five_digit_procedure_code_is_not_a_claim_number() -> None:
    slots = read_slots("is 99213 billable with Z00.00", today=TODAY)
    assert slots.claim_numbers == [] and "99213" in slots.medical_codes


@pytest.mark.parametrize(
    ("words", "meaning"),
    [("first visit", "initial encounter"), ("follow-up visit", "subsequent encounter"), ("late effect", "sequela")],
)
def test_encounter_words_mean_the_seventh_character_terms(words: str, meaning: str) -> None:
    assert query_tokens(f"sprain of right ankle, {words}") == query_tokens(f"sprain of right ankle, {meaning}")
