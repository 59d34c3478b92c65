"""The offline planner's reading of a message against the thread's state: which claim or code of those
just shown is meant, corrections of a code check, names typed in lower case, money without a dollar sign."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from assistant.planner import OfflinePlanner, lowercase_name
from assistant.registry import default_tool_specs
from tools.slots import read_slots

TODAY = dt.date(2026, 11, 22)
SHOWN = [
    {"claim_number": "1466", "service_date": "2026-10-03", "status": "denied", "payer": "Aetna"},
    {"claim_number": "1643", "service_date": "2026-07-20", "status": "paid", "payer": "Cigna"},
]


@pytest.fixture(scope="module")
def planner() -> OfflinePlanner:
    return OfflinePlanner(tool_names=frozenset(spec.name for spec in default_tool_specs()), today=lambda: TODAY)


def _calls(planner: OfflinePlanner, text: str, state: dict) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    understanding = planner.understand(text, state, "biller")
    return [(part.route, call) for part in understanding.parts for call in part.calls]


@pytest.mark.parametrize(
    ("text", "claim"), [("why was the october one denied", "1466"), ("the 7/20 one", "1643"), ("the cigna one", "1643")]
)
def test_one_of_the_claims_just_shown_is_picked_by_what_tells_it_apart(
    planner: OfflinePlanner, text: str, claim: str
) -> None:
    state = {"claim_candidates": SHOWN, "last_calls": [{"name": "find_claims", "args": {}}]}
    calls = _calls(planner, text, state)
    assert calls and all(call.get("claim_number") == claim for _, call in calls), calls


def test_with_nothing_to_tell_them_apart_it_asks(planner: OfflinePlanner) -> None:
    both_denied = [{**claim, "status": "denied"} for claim in SHOWN]
    state = {"claim_candidates": both_denied, "last_calls": [{"name": "find_claims", "args": {}}]}
    understanding = planner.understand("why was it denied", state, "biller")
    assert [part.calls for part in understanding.parts] == [[]]
    assert "1466" in (understanding.parts[0].question or "") and "1643" in (understanding.parts[0].question or "")


def test_the_code_of_a_search_is_picked_by_its_description(planner: OfflinePlanner) -> None:
    state = {
        "code_candidates": [
            {"code": "M54.50", "description": "Low back pain, unspecified"},
            {"code": "M54.51", "description": "Vertebrogenic low back pain"},
        ],
        "code": "M54.50",
        "last_calls": [{"name": "search_codes", "args": {"query": "low back pain"}}],
    }
    assert ("lookup_code", {"code": "M54.51"}) in _calls(planner, "is the vertebrogenic one billable", state)


@pytest.mark.parametrize(
    ("text", "diagnoses"),
    [("drop the R73.03", ["E11.9"]), ("what if its E11.65 instead of the E11.9", ["R73.03", "E11.65"])],
)
def test_a_correction_changes_the_last_check(planner: OfflinePlanner, text: str, diagnoses: list[str]) -> None:
    last = {"name": "check_claim_codes", "args": {"diagnoses": ["R73.03", "E11.9"], "lines": ["99213::1"]}}
    calls = _calls(planner, text, {"last_calls": [last], "code": "E11.9"})
    assert [name for name, _ in calls] == ["check_claim_codes"]
    assert calls[0][1]["diagnoses"] == diagnoses and calls[0][1]["lines"] == ["99213::1"]


def test_the_rest_is_the_patient_balance_of_the_claim(planner: OfflinePlanner) -> None:
    state = {"claim": "1500", "patient_balances": {"1500": "44.55"}, "last_calls": [{"name": "get_claim", "args": {}}]}
    calls = _calls(planner, "pt paid the rest by card, post it", state)
    assert calls == [("post_patient_payment", {"claim_number": "1500", "amount": "44.55", "method": "card"})]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("pt jamie mockingham dob 3/28/61 any claims", "Jamie Mockingham"),
        ("kendall examplar bcbs claims", "Kendall Examplar"),
        ("chronic kidney disease stage 3", None),
        ("gerd w/o esophagitis", None),
        ("pull up rowan modelsen dob 4/18/93", "Rowan Modelsen"),  # after a look-up verb, before a birth date
        ("morning! finley mockridge 3/28/2016", "Finley Mockridge"),  # a sentence's start
        ("is morgan draftley 10/8/1988 still active", None),  # an eligibility question: left to the router
    ],
)
def test_names_typed_in_lower_case(planner: OfflinePlanner, text: str, name: str | None) -> None:
    assert lowercase_name(text, planner.vocabulary()) == name


@pytest.mark.parametrize(
    ("text", "amount", "claim"),
    [
        ("pt dropped off 67.56 for 1043, cash", Decimal("67.56"), "1043"),
        ("log pt pmt 30 cash 1402", Decimal("30"), "1402"),
        ("write off 1040 as timely filing, 135", Decimal("135"), "1040"),
        ("paid on 1042", None, "1042"),  # a claim number is never the amount
    ],
)
def test_money_without_a_dollar_sign(text: str, amount: Decimal | None, claim: str) -> None:
    slots = read_slots(text, today=TODAY)
    assert (slots.amount, slots.claim_number) == (amount, claim)


def test_an_amount_picks_the_claim_the_list_showed_it_on(planner: OfflinePlanner) -> None:
    shown = [
        {**SHOWN[0], "amounts": ["135.00", "91.80"]},
        {**SHOWN[1], "amounts": ["210.00"]},
    ]
    state = {"claim_candidates": shown, "last_calls": [{"name": "find_claims", "args": {}}]}
    calls = _calls(planner, "whats the 91.80 for", state)
    assert calls and all(call.get("claim_number") == "1466" for _, call in calls), calls
    assert not any(name == "post_patient_payment" for name, _ in calls)  # a question about money, not a payment


@pytest.mark.parametrize("text", ["ok resubmit it w the right npi", "can u fax it to them"])
def test_a_request_to_act_after_a_policy_answer_is_not_a_question_about_the_policy(
    planner: OfflinePlanner, text: str
) -> None:
    state = {"last_calls": [{"name": "search_knowledge", "args": {"question": "aetna timely filing"}}]}
    routes = [name for name, _ in _calls(planner, text, state)]
    assert "search_knowledge" not in routes, routes


def test_a_comparison_of_two_payers_searches_each_payers_policy(planner: OfflinePlanner) -> None:
    calls = _calls(planner, "timely filing aetna vs bcbs", {})
    assert [(name, call.get("payer")) for name, call in calls] == [
        ("search_knowledge", "Aetna"),
        ("search_knowledge", "Blue Cross Blue Shield"),
    ]


def test_an_amount_in_dollars_picks_the_claim_the_worklist_showed_it_on(planner: OfflinePlanner) -> None:
    shown = [
        {**SHOWN[0], "status": "denied", "amounts": ["72.00"]},
        {**SHOWN[1], "status": "denied", "amounts": ["195.00"]},
    ]
    state = {"claim_candidates": shown, "last_calls": [{"name": "denial_worklist", "args": {"payer": "Aetna"}}]}
    assert _calls(planner, "why was the $72 one denied", state) == [("explain_denial", {"claim_number": "1466"})]


def test_code_also_is_a_note_not_a_second_request(planner: OfflinePlanner) -> None:
    state = {"code": "J44.1", "last_calls": [{"name": "search_codes", "args": {"query": "copd w acute exacerbation"}}]}
    assert [name for name, _ in _calls(planner, "any code also / excludes notes on that one", state)] == ["lookup_code"]


def test_they_after_a_policy_answer_is_the_payer_not_a_payment(planner: OfflinePlanner) -> None:
    state = {
        "last_calls": [
            {"name": "search_knowledge", "args": {"question": "uhc modifier 25", "payer": "UnitedHealthcare"}}
        ]
    }
    calls = _calls(planner, "and do they still take 59 or want the X mods", state)
    assert [(name, call.get("payer")) for name, call in calls] == [("search_knowledge", "UnitedHealthcare")]


def test_a_denial_and_the_balance_of_the_same_claim_are_both_looked_up(planner: OfflinePlanner) -> None:
    calls = _calls(planner, "why was 1300 denied + what does the pt owe on it", {})
    assert sorted(name for name, _ in calls) == ["explain_denial", "get_claim"]


@pytest.mark.parametrize(
    ("text", "route", "call"),
    [
        ("carc 197", "lookup_code", {"code": "197"}),
        ("group code PI", "lookup_code", {"code": "PI", "system": "group"}),
        ("whats co-97", "explain_adjustment_codes", {"codes": ["CO-97"]}),
        ("co-16 m51 meaning", "explain_adjustment_codes", {"codes": ["CO-16", "M51"]}),
        ("reason code CO-50 meaning", "explain_adjustment_codes", {"codes": ["CO-50"]}),  # a group + code pair
    ],
)
def test_one_code_named_with_its_code_set_is_looked_up_a_remittance_pair_decoded(
    planner: OfflinePlanner, text: str, route: str, call: dict
) -> None:  # type: ignore[type-arg]
    assert _calls(planner, text, {}) == [(route, call)]


@pytest.mark.parametrize(
    ("text", "contact"),
    [
        ("text the pt on 1070 that she has a balance due", True),
        ("pls call the patient on 1042", True),
        ("send her a text that 1290 has a balance", True),
        ("pt called about 1042, whats the bal", False),
        ("send a 276 for 1042", False),
    ],
)
def test_a_request_to_reach_the_patient_is_what_no_tool_does(text: str, contact: bool) -> None:
    from assistant import repair

    assert bool(repair.CONTACT_PATIENT.search(text)) is contact


@pytest.mark.parametrize(
    ("text", "change"),
    [
        ("wait it was cash not card", {"method": "cash"}),
        ("sorry make it 20", {"amount": "20"}),
        ("actually 12.50", {"amount": "12.50"}),
        ("wait 2 min, sorry", None),  # not a $2 payment
        ("no", None),
    ],
)
def test_a_correction_right_after_a_proposed_payment_changes_only_what_it_names(
    planner: OfflinePlanner,
    text: str,
    change: dict | None,  # type: ignore[type-arg]
) -> None:
    proposed = {"claim_number": "1402", "amount": "25", "method": "card"}
    understanding = planner.understand(
        text, {"last_calls": [{"name": "post_patient_payment", "args": proposed}]}, "front_desk"
    )
    calls = [(part.route, call) for part in understanding.parts for call in part.calls]
    if change is None:
        assert not understanding.replaces and not any(name == "post_patient_payment" for name, _ in calls)
    else:
        assert understanding.replaces and calls == [("post_patient_payment", {**proposed, **change})]


@pytest.mark.parametrize(
    ("text", "correction"),
    [
        ("sorry make it 25", True),
        ("no wait, 1727 not 1902", True),
        ("it was cash not card", True),
        ("actually $1000", True),
        ("sorry 1802", True),
        ("no, post another $5 on 1402", False),  # a new request on another claim
        ("and $5 more on 1050", False),
        ("post $20 cash on 1050", False),
    ],
)
def test_what_reads_as_a_correction_of_the_last_request(text: str, correction: bool) -> None:
    """The rule the service applies to a model's turn (the offline planner decides with the thread's state)."""
    from assistant.planner import reads_as_correction

    assert reads_as_correction(text) is correction
