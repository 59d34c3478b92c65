"""The values a message names, read by the slot extractors (what it asks is the router's job)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from knowledge.codesets.text import query_tokens
from tools.slots import find_denial_reason, read_slots

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


def test_a_year_after_for_is_a_claim_only_for_a_tool_that_needs_one() -> None:
    from tools.claim_status_request import plan

    slots = read_slots("claim status request (276) for 2017 to medicare", today=TODAY)
    assert slots.claim_number is None and slots.claims_named == ["2017"]
    assert plan(slots) == [{"claim_numbers": ["2017"]}]
    assert read_slots("aetna timely filing since 2017", today=TODAY).claims_named == []


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


@pytest.mark.parametrize("text", ["where does the auth number go on the 1500 form", "cms-1500 box 24j", "hcfa 1500?"])
def test_a_claim_form_is_not_a_claim(text: str) -> None:
    slots = read_slots(text, today=TODAY)
    assert slots.claim_numbers == [] and slots.maybe_claims == []


def test_a_date_beside_a_name_the_caller_found_is_a_birth_date() -> None:
    from tools.slots import find_birth_date

    text = "looking for marlowe fakely 04/08/1938"
    assert read_slots(text, today=TODAY).birth_date is None  # no capital letters: no name the slots see
    assert find_birth_date(text, today=TODAY, named=True) == dt.date(1938, 4, 8)
    assert find_birth_date("marlowe fakely 10/20/2026", today=TODAY, named=True) is None  # a date of service


@pytest.mark.parametrize(
    ("text", "reason"),
    [("aetna timely filing denials", "29"), ("auth denials for cigna", "197"), ("dupes from uhc", "18")],
)
def test_denial_reasons_in_words_name_their_carc(text: str, reason: str) -> None:
    assert read_slots(text, today=TODAY).extras.get("reason_words") == reason


def test_a_group_and_code_wins_over_words() -> None:
    slots = read_slots("CO-16 denials, missing info", today=TODAY)
    assert "reason_words" not in slots.extras and slots.extras["reason_code"] == "16"


def test_rejections_and_denials_are_statuses() -> None:
    assert read_slots("medicare rejections list", today=TODAY).status == "rejected"
    assert read_slots("open denials", today=TODAY).status == "denied"


def test_chat_shorthand_is_written_out_for_the_router_only() -> None:
    from assistant.router import value_kinds

    # The payer is a value too: which payer is named does not change what is asked.
    assert value_kinds("pmt on clm 1042 w/ mcr") == "payment on claim number with payer"
    assert value_kinds("cigna timely filing") == value_kinds("bcbs's timely filing")
    assert read_slots("pmt on clm 1042 w/ mcr", today=TODAY).claim_number == "1042"  # values as typed


def test_a_group_code_alone_is_a_code() -> None:
    slots = read_slots("group code PI", today=TODAY)
    assert slots.codes == [("group", "PI")]
    assert slots.adjustment_codes == ["PI"] and slots.medical_codes == []
    # With a reason code it is one adjustment code, not two.
    assert read_slots("what is group CO-45", today=TODAY).codes == [("carc", "CO-45")]
    # The lookup asks for the group code, not the HCPCS modifier PI.
    from tools.lookup_code import plan

    assert plan(slots) == [{"code": "PI", "system": "group"}]
    # A place of service named as one is looked up in that set ("10" alone is also a CARC).
    assert plan(read_slots("pos 10 means what", today=TODAY)) == [{"code": "10", "system": "pos"}]


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("write off the rest of the pt balance on 1046", True),
        ("w/o whatever's left on 1127", True),
        ("adjust off the full ins balance on 1110", True),
        ("w/o 1094 in full", True),
        ("write off $5 small balance on 1500", False),
        ("small bal writeoff $10 on 1167", False),
    ],
)
def test_a_write_off_of_everything_open_is_told_from_one_with_an_amount(text: str, whole: bool) -> None:
    slots = read_slots(text, today=TODAY)
    assert bool(slots.extras.get("whole_balance")) is whole


def test_bad_debt_is_the_patient_side() -> None:
    assert read_slots("write off the balance on 1005 as bad debt", today=TODAY).extras["side"] == "patient"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("import the folder nov-remits", "nov-remits"),
        ("load the dec-remits folder", "dec-remits"),
        ("import era-2026-11-20.835", "era-2026-11-20.835"),
        ("file it in the appeals folder", None),
    ],
)
def test_a_folder_of_the_inbox_is_a_file_name(text: str, name: str | None) -> None:
    assert read_slots(text, today=TODAY).file_name == name


def test_b12_is_the_vitamin_not_a_code() -> None:
    assert read_slots("vit b12 deficiency dx code", today=TODAY).codes == []
    assert read_slots("B12.0", today=TODAY).codes == [("icd10cm", "B12.0")]


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("Find claims with dates of service between 10/01/2026 and 10/31/2026", "2026-10-01", "2026-10-31"),
        ("mcr clms dos 2026-10-01 to 2026-10-15", "2026-10-01", "2026-10-15"),
        ("uhc claims dos 9/1-9/30", "2026-09-01", "2026-09-30"),
        ("any denials with dos 2026-11-02", "2026-11-02", "2026-11-02"),  # one day named as the date of service
        ("claims for date of service 11/02/2026", "2026-11-02", "2026-11-02"),
    ],
)
def test_dates_of_service_are_read_as_a_span(text: str, first: str, last: str) -> None:
    slots = read_slots(text, today=TODAY)
    assert (str(slots.service_from), str(slots.service_to)) == (first, last)


def test_a_day_without_a_year_is_the_latest_one_not_after_today() -> None:
    assert read_slots("pt paid 20 on 10/12 for 1042", today=TODAY).on_date == dt.date(TODAY.year, 10, 12)
    # A day still to come this year (TODAY is 2026-11-22) is last year's.
    assert read_slots("paid 12/31 on 1042", today=TODAY).on_date == dt.date(2025, 12, 31)
    # Neither a date of birth nor a payment date is a date of service.
    assert read_slots("jane sample dob 01/02/1980 and 03/04/1990", today=TODAY).service_from is None
    assert read_slots("post 40 on 1042 paid 11/20", today=TODAY).service_from is None


def test_a_year_shaped_number_listed_with_a_claim_is_a_claim() -> None:
    assert read_slots("explain 1706 and 2031, same kid both medicaid", today=TODAY).claim_numbers == ["1706", "2031"]
    assert read_slots("aetna limit for 2026", today=TODAY).claim_numbers == []
    assert read_slots("1042 in 2026", today=TODAY).claim_numbers == ["1042"]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("GA modifier desc", [("modifier", "MOD GA")]),  # the code before the word, as typed
        ("mod ga", [("modifier", "MOD GA")]),
        ("no modifier on the line", []),  # "on" is a word, not modifier ON
        ("is there a modifier for bilateral", []),
        ("show me the aetna co-97s", [("carc", "CO-97")]),  # a reason code in the plural
    ],
)
def test_modifiers_and_plural_reason_codes_are_read_as_typed(text: str, codes: list[tuple[str, str]]) -> None:
    assert read_slots(text, today=TODAY).codes == codes


@pytest.mark.parametrize(
    ("text", "claims", "reference"),
    [
        ("ok post the 10.00 mom paid on the 4/25 visit, check 4471", [], "4471"),
        ("post 40 check 4471 on 1042", ["1042"], "4471"),
        ("ck# 2231 for 1042 $40", ["1042"], "2231"),
        ("Jane Sample dropped off a check for $75 for claim 1734, ref 1029", ["1734"], "1029"),
        ("check 1042", ["1042"], None),  # no payment asked: "check" is the verb and 1042 the claim
    ],
)
def test_a_checks_number_in_a_payment_is_not_a_claim(text: str, claims: list[str], reference: str | None) -> None:
    slots = read_slots(text, today=TODAY)
    assert slots.claim_numbers == claims and slots.extras.get("reference") == reference


def test_plain_words_name_the_credentialing_and_frequency_reasons() -> None:
    assert find_denial_reason("uhc credentialing denials list") == "B7"
    assert find_denial_reason("denials for the provider not enrolled w cigna") == "B7"
    assert find_denial_reason("frequency denials on the 97110s") == "151"


@pytest.mark.parametrize(
    ("text", "payers"),
    [
        ("timely filing aetna vs bcbs", ["Aetna", "Blue Cross Blue Shield"]),
        ("uhc or cigna appeal window", ["UnitedHealthcare", "Cigna"]),
        ("aetna's tfl, and aetna for non par", ["Aetna"]),
        ("tfl for uhc?", ["UnitedHealthcare"]),
    ],
)
def test_every_payer_a_message_names_is_read_in_order(text: str, payers: list[str]) -> None:
    assert read_slots(text, today=dt.date(2026, 11, 22)).payers == payers
