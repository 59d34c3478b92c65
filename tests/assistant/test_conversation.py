"""The conversation engine through the real agent service: repair answers, follow-ups resolved against
the thread's dialogue state, multi-part requests, and no answer rather than a wrong one."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.service import AgentService
from knowledge.practice.models import Claim, Patient, Role
from tests.assistant.conftest import Practice
from tests.assistant.test_agent import _owing_claim


def _names(reply) -> list[str]:  # type: ignore[no-untyped-def]
    return [call.name for call in reply.tool_calls]


def test_a_greeting_gets_what_the_assistant_can_do(practice: Practice, full_service: AgentService) -> None:
    reply = full_service.ask("hi, what can you do?", requester=practice.requester(Role.FRONT_DESK))
    assert reply.tool_calls == [] and reply.citations == []
    assert "I can help with" in reply.answer and "Try:" in reply.answer


def test_what_no_tool_does_is_said_plainly(practice: Practice, full_service: AgentService) -> None:
    biller = practice.requester(Role.BILLER)
    unsupported = (
        "set up a payment plan for the pt on 1042",
        "submit a prior auth for an mri",
        "check eligibility for pt",
    )
    for text in unsupported:
        reply = full_service.ask(text, requester=biller)
        assert reply.tool_calls == [], text
        assert "can't do that yet" in reply.answer, text
        assert "I can help with" in reply.answer


def test_aging_and_filing_risk_are_their_own_reports(practice: Practice, full_service: AgentService) -> None:
    biller = practice.requester(Role.BILLER)
    aging = full_service.ask("show me AR over 90 days", requester=biller)
    assert _names(aging) == ["ar_aging"] and aging.tool_calls[0].arguments["older_than_days"] == 90
    risk = full_service.ask("which claims are about to pass timely filing?", requester=biller)
    assert _names(risk) == ["timely_filing_risk"]
    policy = full_service.ask("aetna timely filing limit", requester=biller)
    assert _names(policy) == ["search_knowledge"]  # the payer's rule, not the practice's claims


def test_draft_the_appeal_means_the_denial_just_explained(practice: Practice, full_service: AgentService) -> None:
    biller = practice.requester(Role.BILLER)
    first = full_service.ask("1042 bounced back from uhc, now what", requester=biller)
    assert _names(first) == ["explain_denial"]
    second = full_service.ask("ok draft the appeal", requester=biller, thread_id=first.thread_id)
    assert _names(second) == ["draft_appeal"]
    assert second.tool_calls[0].arguments["claim_number"] == "1042"
    assert "appeal for claim 1042" in second.answer and "CO-50" in second.answer


def test_it_means_the_claim_the_thread_is_about(practice: Practice, full_service: AgentService) -> None:
    biller = practice.requester(Role.BILLER)
    first = full_service.ask("status of claim 1042", requester=biller)
    assert _names(first) == ["get_claim"]
    second = full_service.ask("why was it denied?", requester=biller, thread_id=first.thread_id)
    assert _names(second) == ["explain_denial"]
    assert second.tool_calls[0].arguments == {"claim_number": "1042"}
    assert "CO-50" in second.answer and "N115" in second.answer  # claim 1042's own codes
    third = full_service.ask("send a 276 for it", requester=biller, thread_id=first.thread_id)
    assert _names(third) == ["claim_status_request"]
    assert third.tool_calls[0].arguments == {"claim_numbers": ["1042"]}
    fourth = full_service.ask("same for 1050", requester=biller, thread_id=first.thread_id)
    assert fourth.tool_calls[0].arguments == {"claim_numbers": ["1050"]}


def test_is_it_billable_means_the_code_just_looked_up(practice: Practice, full_service: AgentService) -> None:
    coder = practice.requester(Role.CODER)
    first = full_service.ask("/code E11.65", requester=coder)
    assert _names(first) == ["lookup_code"]
    second = full_service.ask("is it billable?", requester=coder, thread_id=first.thread_id)
    assert _names(second) == ["lookup_code"] and second.tool_calls[0].arguments["code"] == "E11.65"
    assert "billable" in second.answer


def test_an_ambiguous_it_is_asked_about(practice: Practice, full_service: AgentService) -> None:
    with Session(practice.engine) as session:
        patient_id = session.scalars(
            select(Claim.patient_id).group_by(Claim.patient_id).having(func.count() >= 2).limit(1)
        ).one()
        patient = session.get(Patient, patient_id)
        assert patient is not None and patient.birth_date is not None
        numbers = set(session.scalars(select(Claim.claim_number).where(Claim.patient_id == patient_id)))
    biller = practice.requester(Role.BILLER)
    born = patient.birth_date.strftime("%m/%d/%Y")
    first = full_service.ask(f"claims for {patient.first_name} {patient.last_name} dob {born}", requester=biller)
    assert _names(first) == ["find_claims"]
    second = full_service.ask("why was it denied", requester=biller, thread_id=first.thread_id)
    assert second.tool_calls == []  # no silent pick
    assert "Which claim" in second.answer and any(number in second.answer for number in numbers)
    chosen = sorted(numbers)[0]
    third = full_service.ask(f"claim {chosen}", requester=biller, thread_id=first.thread_id)
    assert _names(third) == ["explain_denial"] and third.tool_calls[0].arguments == {"claim_number": chosen}


def test_a_message_that_asks_two_things_gets_both(practice: Practice, full_service: AgentService) -> None:
    biller = practice.requester(Role.BILLER)
    reply = full_service.ask("why was 1042 denied and whats uhc's appeal window", requester=biller)
    assert set(_names(reply)) == {"explain_denial", "search_knowledge"}
    assert "CO-50" in reply.answer and reply.citations
    # The denial and what the patient owes on the same claim: both are looked up (the claim's card shows the
    # balances), each for that claim.
    reply = full_service.ask("explain the denial on 1042 and what does the pt owe", requester=biller)
    assert sorted(_names(reply)) == ["explain_denial", "get_claim"]
    assert {c.arguments["claim_number"] for c in reply.tool_calls} == {"1042"}
    assert "CO-50" in reply.answer and "patient" in reply.answer.lower()


def test_their_in_a_second_part_is_the_payer_the_first_named(practice: Practice, full_service: AgentService) -> None:
    reply = full_service.ask(
        "open denials for aetna and whats their appeal window", requester=practice.requester(Role.BILLER)
    )
    assert set(_names(reply)) == {"denial_worklist", "search_knowledge"}
    search = next(c for c in reply.tool_calls if c.name == "search_knowledge")
    assert "Aetna" in str(search.arguments)


def test_a_list_then_the_denied_one_of_it(practice: Practice, full_service: AgentService) -> None:
    """ "list the claims and explain the denied one": the claims found, then each denied one explained."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from knowledge.practice.models import Claim, ClaimStatus

    with Session(practice.engine) as session:  # a patient with a denied claim among their claims
        claim = session.scalars(
            select(Claim).where(Claim.practice_id == practice.practice_id, Claim.status == ClaimStatus.DENIED)
        ).first()
        assert claim is not None
        patient = claim.patient
        who = f"pt {patient.first_name.lower()} {patient.last_name.lower()} dob {patient.birth_date:%m/%d/%Y}"
    reply = full_service.ask(
        f"{who} - list the claims and explain the denied one", requester=practice.requester(Role.BILLER)
    )
    names = _names(reply)
    assert names[0] == "find_claims" and "explain_denial" in names
    explained = [c.arguments["claim_number"] for c in reply.tool_calls if c.name == "explain_denial"]
    found = next(card.data for card in reply.cards if "claims" in card.data)
    denied = [c["claim_number"] for c in found["claims"] if c["status"] == "denied"]
    assert explained and explained == denied[: len(explained)]


def test_codes_asked_about_in_parts_are_all_looked_up_and_checked_together(
    practice: Practice, full_service: AgentService
) -> None:
    reply = full_service.ask(
        "what is E11.9, what is I10, and check them together w 99213", requester=practice.requester(Role.CODER)
    )
    looked_up = sorted(c.arguments["code"] for c in reply.tool_calls if c.name == "lookup_code")
    assert looked_up == ["E11.9", "I10"]
    check = next(c for c in reply.tool_calls if c.name == "check_claim_codes")
    assert set(check.arguments["diagnoses"]) == {"E11.9", "I10"}


def test_a_year_is_not_read_as_a_claim(practice: Practice, full_service: AgentService) -> None:
    reply = full_service.ask("what is aetna's timely filing limit for 2026?", requester=practice.requester(Role.BILLER))
    assert _names(reply) == ["search_knowledge"] and reply.citations


def test_no_passage_is_cited_when_none_answers(practice: Practice, full_service: AgentService) -> None:
    reply = full_service.ask(
        "policy on parking validation for visitors to the office", requester=practice.requester(Role.BILLER)
    )
    assert reply.citations == []
    if _names(reply) == ["search_knowledge"]:
        assert "No policy or guideline passage" in reply.answer
    else:
        assert reply.tool_calls == [] and ("can't" in reply.answer or "not sure" in reply.answer)


def test_a_missing_value_is_asked_for_and_the_answer_completes_the_request(
    practice: Practice, full_service: AgentService
) -> None:
    claim = _owing_claim(practice)
    front_desk = practice.requester(Role.FRONT_DESK)
    first = full_service.ask("pt paid a $5 copay by card", requester=front_desk)
    assert first.tool_calls == [] and "Which claim" in first.answer
    second = full_service.ask(f"claim {claim.claim_number}", requester=front_desk, thread_id=first.thread_id)
    assert _names(second) == ["post_patient_payment"] and second.pending_action is not None
    assert second.tool_calls[0].arguments["amount"] == "5" and second.tool_calls[0].arguments["method"] == "card"
    full_service.cancel(second.pending_action.id, requester=front_desk)


def test_a_worklist_is_narrowed_and_its_claims_are_the_ones_a_276_goes_for(
    practice: Practice, full_service: AgentService
) -> None:
    biller = practice.requester(Role.BILLER)
    first = full_service.ask("open denials", requester=biller)
    assert _names(first) == ["denial_worklist"]
    items = [item["claim_number"] for item in first.cards[0].data["items"]]
    assert len(items) >= 2
    thread = first.thread_id
    narrowed = full_service.ask("only the timely filing ones", requester=biller, thread_id=thread)
    assert _names(narrowed) == ["denial_worklist"] and narrowed.tool_calls[0].arguments.get("reason") == "29"
    again = full_service.ask("open denials", requester=biller, thread_id=thread)
    shown = [item["claim_number"] for item in again.cards[0].data["items"]]
    status = full_service.ask("send 276s for those", requester=biller, thread_id=thread)
    assert _names(status) == ["claim_status_request"]
    assert status.tool_calls[0].arguments["claim_numbers"] == shown[:10]  # every claim listed, as listed


def test_the_month_one_of_two_asks_which_and_the_answer_goes_to_the_request(
    practice: Practice, full_service: AgentService
) -> None:
    with Session(practice.engine) as session:
        claims = session.scalars(select(Claim).where(Claim.practice_id == practice.practice_id)).all()
        by_month: dict[tuple[int, int], int] = {}
        for claim in claims:
            key = (claim.patient_id, claim.service_date_from.month)
            by_month[key] = by_month.get(key, 0) + 1
        patient_id, month = next(key for key, count in by_month.items() if count == 2)
        patient = session.get(Patient, patient_id)
        assert patient is not None
        name, born = f"{patient.first_name} {patient.last_name}", patient.birth_date
    front_desk = practice.requester(Role.FRONT_DESK)
    listed = full_service.ask(f"claims for {name} dob {born:%m/%d/%Y}", requester=front_desk)
    assert _names(listed) == ["find_claims"]
    month_name = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
                  "october", "november", "december"][int(month) - 1]  # fmt: skip
    asked = full_service.ask(f"post $40 to the {month_name} one", requester=front_desk, thread_id=listed.thread_id)
    assert asked.tool_calls == [] and "Which claim do you mean" in asked.answer
    number = asked.answer.split("Which claim do you mean: ")[1].split(" ")[0]
    answered = full_service.ask(f"claim {number}", requester=front_desk, thread_id=listed.thread_id)
    assert _names(answered) == ["post_patient_payment"]
    assert answered.tool_calls[0].arguments["claim_number"] == number


def test_a_place_in_the_list_just_shown_picks_that_claim(practice: Practice, full_service: AgentService) -> None:
    """ "the 4th one", "#2", "the last one": the claim at that place in the list as it was shown."""
    with Session(practice.engine) as session:  # a patient with several claims
        patient_id = session.scalar(
            select(Claim.patient_id)
            .where(Claim.practice_id == practice.practice_id)
            .group_by(Claim.patient_id)
            .having(func.count() >= 4)
        )
        patient = session.get(Patient, patient_id)
        assert patient is not None
        who = f"{patient.first_name.lower()} {patient.last_name.lower()} {patient.birth_date:%m/%d/%Y} claims"
    biller = practice.requester(Role.BILLER)
    listed = full_service.ask(who, requester=biller)
    shown = [c["claim_number"] for card in listed.cards if "claims" in card.data for c in card.data["claims"]]
    assert len(shown) >= 4
    for message, expected in (("status of the 4th one", shown[3]), ("and #2?", shown[1]), ("the last one", shown[-1])):
        reply = full_service.ask(message, requester=biller, thread_id=listed.thread_id)
        asked = [c.arguments.get("claim_number") for c in reply.tool_calls]
        assert asked == [expected], (message, asked, shown)


def test_a_place_in_a_code_list_and_the_closest_of_two_alike(practice: Practice, full_service: AgentService) -> None:
    coder = practice.requester(Role.CODER)
    found = full_service.ask("codes for low back pain", requester=coder)
    hits = [h["code"] for card in found.cards if "hits" in card.data for h in card.data["hits"]]
    second = full_service.ask("look up the second one", requester=coder, thread_id=found.thread_id)
    assert [c.arguments["code"] for c in second.tool_calls] == [hits[1]]
    # Two listed codes say "unspecified" (M54.50 and M54.9 Dorsalgia): the one closest to the list's subject.
    unspecified = full_service.ask("the unspecified one billable?", requester=coder, thread_id=found.thread_id)
    assert [c.arguments["code"] for c in unspecified.tool_calls] == ["M54.50"]


def test_what_a_claim_shows_is_asked_of_the_claim_the_thread_is_about(
    practice: Practice, full_service: AgentService
) -> None:
    """A policy question in between does not lose the claim: "and the balance?" is that claim's."""
    biller = practice.requester(Role.BILLER)
    first = full_service.ask("status of claim 1042", requester=biller)
    full_service.ask("cigna corrected claim rules", requester=biller, thread_id=first.thread_id)
    reply = full_service.ask("and the balance?", requester=biller, thread_id=first.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in reply.tool_calls] == [("get_claim", "1042")]


def test_a_reopened_answer_keeps_its_cards_and_citations(practice: Practice, full_service: AgentService) -> None:
    biller = practice.requester(Role.BILLER)
    reply = full_service.ask("why was claim 1042 denied?", requester=biller)
    assert reply.citations and reply.cards
    (_, answer) = full_service.thread_messages(reply.thread_id, requester=biller)
    assert [c["passage_id"] for c in answer["citations"]] == [c.passage_id for c in reply.citations]
    assert [c["kind"] for c in answer["cards"]] == [c.kind for c in reply.cards]


def test_an_index_path_is_a_code_search_and_a_side_answers_its_question(
    practice: Practice, full_service: AgentService
) -> None:
    coder = practice.requester(Role.CODER)
    first = full_service.ask("Pain, joint, knee", requester=coder)
    assert _names(first) == ["search_codes"]
    assert "M25.569" in first.answer and "Which side?" in first.answer  # asked, not guessed
    second = full_service.ask("left", requester=coder, thread_id=first.thread_id)
    assert _names(second) == ["search_codes"], second.answer
    assert second.tool_calls[0].arguments["query"] == "Pain, joint, knee, left"  # the same search, narrowed
    assert "M25.562" in second.answer


def test_the_search_keeps_the_side_and_lay_words(practice: Practice, full_service: AgentService) -> None:
    coder = practice.requester(Role.CODER)
    right = full_service.ask("icd10 for right shoulder pain", requester=coder)
    assert "right" in right.tool_calls[0].arguments["query"]  # not read as "the right code"
    assert "M25.511" in right.answer
    afib = full_service.ask("pt has a fib, what do i code", requester=coder)
    assert afib.tool_calls[0].arguments["query"] == "a fib" and "I48.91" in afib.answer


def test_an_index_path_the_router_is_unsure_of_is_searched_but_a_name_is_not(
    practice: Practice, full_service: AgentService
) -> None:
    coder = practice.requester(Role.CODER)
    path = full_service.ask("Lice, pubic", requester=coder)  # the router leans to code search, short of sure
    assert _names(path) == ["search_codes"] and "B85.3" in path.answer
    name = full_service.ask("Lee, Anna", requester=coder)  # "Last, First" has the same shape
    assert name.tool_calls == [] and "I can help with" in name.answer  # no code search on a name


def _owing_claims(practice: Practice, count: int) -> list[Claim]:
    with Session(practice.engine) as session:
        found = [
            claim
            for claim in session.scalars(select(Claim).order_by(Claim.id))
            if claim.patient_responsibility - claim.patient_paid >= 5
        ][:count]
        for claim in found:
            session.expunge(claim)
    assert len(found) == count, "the demo practice has too few claims with a patient balance"
    return found


def test_same_for_another_claim_proposes_the_same_payment_there(practice: Practice, full_service: AgentService) -> None:
    """ "same for 1112 but 25 on a card" after a payment: that payment on the other claim, with the new
    amount and method, still only a proposal."""
    first, second = _owing_claims(practice, 2)
    desk = practice.requester(Role.FRONT_DESK)
    status = full_service.ask(f"status of {first.claim_number}", requester=desk)
    paid = full_service.ask("pt came in and paid 5 cash on it", requester=desk, thread_id=status.thread_id)
    # "pt came in" is not a request of its own: one proposal, nothing searched.
    assert _names(paid) == ["post_patient_payment"] and paid.pending_action is not None
    assert paid.pending_action.arguments["claim_number"] == first.claim_number
    again = full_service.ask(
        f"same for {second.claim_number} but 3 on a card", requester=desk, thread_id=status.thread_id
    )
    assert again.pending_action is not None and again.pending_action.tool == "post_patient_payment"
    arguments = again.pending_action.arguments
    assert arguments["claim_number"] == second.claim_number
    assert str(arguments["amount"]) in {"3", "3.00"} and arguments["method"] == "card"
    assert "$3.00" in again.pending_action.summary


def test_a_plus_joins_two_questions_and_two_claims_are_one_request(
    practice: Practice, full_service: AgentService
) -> None:
    biller = practice.requester(Role.BILLER)
    reply = full_service.ask("explain 1042 denial + aetna corrected claim rules", requester=biller)
    assert set(_names(reply)) == {"explain_denial", "search_knowledge"}
    other = _owing_claims(practice, 1)[0].claim_number
    reply = full_service.ask(f"status inquiry to uhc for 1042 and {other} pls, both pending forever", requester=biller)
    assert [(c.name, c.arguments.get("claim_numbers")) for c in reply.tool_calls] == [
        ("claim_status_request", ["1042", other])
    ]


def test_dates_of_service_filter_the_claims_and_pick_the_tool_that_takes_them(
    practice: Practice, full_service: AgentService
) -> None:
    """ "any denials with dos X": the denied claims of that day (the worklist cannot filter by date)."""
    with Session(practice.engine) as session:
        denied = session.scalars(select(Claim).where(Claim.status == "denied").order_by(Claim.id)).first()
        assert denied is not None
        day = denied.service_date_from
    biller = practice.requester(Role.BILLER)
    reply = full_service.ask(f"any denials with dos {day.isoformat()}", requester=biller)
    assert _names(reply) == ["find_claims"]
    arguments = reply.tool_calls[0].arguments
    assert (arguments["status"], arguments["service_from"], arguments["service_to"]) == (
        "denied",
        day.isoformat(),
        day.isoformat(),
    )
    assert denied.claim_number in reply.answer


def _denied(practice: Practice, count: int) -> list[Claim]:
    with Session(practice.engine) as session:
        found = list(session.scalars(select(Claim).where(Claim.status == "denied").order_by(Claim.id).limit(count)))
        for claim in found:
            session.expunge(claim)
    assert len(found) == count
    return found


def test_claims_named_together_are_the_threads_candidates(practice: Practice, full_service: AgentService) -> None:
    """ "1160 and 1375, start w the first", "now the second one", "go back to the one before it and draft the
    appeal": the claims the message named, in its order, and the question asked of each."""
    first, second = (c.claim_number for c in _denied(practice, 2))
    biller = practice.requester(Role.BILLER)
    opened = full_service.ask(f"got two denials on my desk, {first} and {second}. start w the first", requester=biller)
    assert first in {c.arguments.get("claim_number") for c in opened.tool_calls}
    then = full_service.ask("ok now the second one", requester=biller, thread_id=opened.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in then.tool_calls] == [("explain_denial", second)]
    back = full_service.ask(
        "no wait go back to the one before it and draft the appeal", requester=biller, thread_id=opened.thread_id
    )
    assert [(c.name, c.arguments.get("claim_number")) for c in back.tool_calls] == [("draft_appeal", first)]


def test_a_reports_filters_and_a_decoded_reason_carry_into_the_next_question(
    practice: Practice, full_service: AgentService
) -> None:
    biller = practice.requester(Role.BILLER)
    aging = full_service.ask("ar over 90 days", requester=biller)
    narrowed = full_service.ask("just uhc", requester=biller, thread_id=aging.thread_id)
    assert _names(narrowed) == ["ar_aging"]
    assert narrowed.tool_calls[0].arguments["older_than_days"] == 90
    assert narrowed.tool_calls[0].arguments["payer"] == "UnitedHealthcare"
    decoded = full_service.ask("co-4 w n519 what does that combo mean", requester=biller)
    listed = full_service.ask("do we have any cigna denials w that", requester=biller, thread_id=decoded.thread_id)
    assert [(c.name, c.arguments.get("payer"), c.arguments.get("reason")) for c in listed.tool_calls] == [
        ("denial_worklist", "Cigna", "CO-4")
    ]


def test_this_guy_is_the_patient_of_the_claim_the_thread_is_about(
    practice: Practice, full_service: AgentService
) -> None:
    claim = _denied(practice, 1)[0]
    with Session(practice.engine) as session:
        patient = session.get(Patient, claim.patient_id)
        assert patient is not None
        others = {c.claim_number for c in session.scalars(select(Claim).where(Claim.patient_id == patient.id))}
    biller = practice.requester(Role.BILLER)
    first = full_service.ask(f"clm {claim.claim_number} came back denied, whats the deal w it", requester=biller)
    reply = full_service.ask("what else does this guy have open w us", requester=biller, thread_id=first.thread_id)
    assert _names(reply) == ["find_claims"]
    shown = set(re.findall(r"Claim (\d+)", reply.answer))
    assert shown and shown <= others  # only that patient's claims


def test_a_refund_is_never_proposed_as_a_payment(practice: Practice, full_service: AgentService) -> None:
    claim = _owing_claims(practice, 1)[0]
    desk = practice.requester(Role.FRONT_DESK)
    reply = full_service.ask(
        f"pt overpaid on {claim.claim_number}, refund him the 12.50 back to his card", requester=desk
    )
    assert reply.tool_calls == [] and reply.pending_action is None
    assert "can't do that yet" in reply.answer and "refund" in reply.answer


def test_a_story_then_a_request_is_understood_by_its_last_sentence(
    practice: Practice, full_service: AgentService
) -> None:
    denied = _denied(practice, 1)[0].claim_number
    biller = practice.requester(Role.BILLER)
    first = full_service.ask(f"why was {denied} denied", requester=biller)
    reply = full_service.ask(
        "ugh its a preventive visit by itself, theres nothing to bundle it into. write up a recon",
        requester=biller,
        thread_id=first.thread_id,
    )
    assert [(c.name, c.arguments.get("claim_number"), c.arguments.get("kind")) for c in reply.tool_calls] == [
        ("draft_appeal", denied, "reconsideration")
    ]


def test_a_claim_of_a_list_is_picked_by_its_denial_reason_or_its_age(
    practice: Practice, full_service: AgentService
) -> None:
    """ "the tfl one" is the listed claim denied CO-29; "the oldest one" the earliest date of service."""
    with Session(practice.engine) as session:
        patients = session.scalars(select(Patient).order_by(Patient.id)).all()
        listing = None
        for patient in patients:
            claims = sorted(
                session.scalars(select(Claim).where(Claim.patient_id == patient.id)), key=lambda c: c.service_date_from
            )
            if len(claims) >= 2:
                listing = (patient, claims)
                break
        assert listing is not None
        patient, claims = listing
        name, born = f"{patient.first_name} {patient.last_name}", patient.birth_date
    biller = practice.requester(Role.BILLER)
    found = full_service.ask(f"claims for {name} dob {born:%m/%d/%Y}", requester=biller)
    assert _names(found) == ["find_claims"]
    oldest = full_service.ask("whats owed on the oldest one", requester=biller, thread_id=found.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in oldest.tool_calls] == [
        ("get_claim", claims[0].claim_number)
    ]


def test_a_claim_and_its_patients_other_claims_in_one_message(practice: Practice, full_service: AgentService) -> None:
    """ "1161 denial + does this pt owe anything on other visits": the denial, then that patient's claims."""
    claim = _denied(practice, 1)[0]
    with Session(practice.engine) as session:
        theirs = {c.claim_number for c in session.scalars(select(Claim).where(Claim.patient_id == claim.patient_id))}
    reply = full_service.ask(
        f"{claim.claim_number} denial + does this pt owe anything on other visits",
        requester=practice.requester(Role.BILLER),
    )
    assert _names(reply) == ["explain_denial", "find_claims"]
    listed = set(re.findall(r"Claim (\d+):", reply.answer))
    assert listed and listed <= theirs


def test_a_claim_named_after_a_list_is_asked_about_not_the_list_again(
    practice: Practice, full_service: AgentService
) -> None:
    denied = _denied(practice, 1)[0].claim_number
    biller = practice.requester(Role.BILLER)
    listed = full_service.ask("open denials", requester=biller)
    assert _names(listed) == ["denial_worklist"]
    reply = full_service.ask(f"deadline on {denied}", requester=biller, thread_id=listed.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in reply.tool_calls] == [("explain_denial", denied)]


def test_it_is_the_threads_claim_not_a_list_of_the_payers_claims(
    practice: Practice, full_service: AgentService
) -> None:
    """ "denial reason pls, medicare sent it back" names a payer, but "it" is the claim the thread is about and
    nothing asks for a list; "remind me $ still open on that claim" is that claim too."""
    denied = _denied(practice, 1)[0].claim_number
    biller = practice.requester(Role.BILLER)
    first = full_service.ask(f"clm {denied} whats the deal w it", requester=biller)
    reason = full_service.ask("denial reason pls, medicare sent it back", requester=biller, thread_id=first.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in reason.tool_calls] == [("explain_denial", denied)]
    owed = full_service.ask("remind me $ still open on that claim", requester=biller, thread_id=first.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in owed.tool_calls] == [("get_claim", denied)]
    listed = full_service.ask("any other medicare denials like it", requester=biller, thread_id=first.thread_id)
    assert _names(listed) == ["denial_worklist"]  # asked for a list: the list


def test_a_misspelt_patient_name_finds_the_closest_patient_and_says_so(
    practice: Practice, full_service: AgentService
) -> None:
    with Session(practice.engine) as session:
        patient = session.scalars(
            select(Patient).join(Claim, Claim.patient_id == Patient.id).order_by(Patient.id)
        ).first()
        assert patient is not None
        theirs = {c.claim_number for c in session.scalars(select(Claim).where(Claim.patient_id == patient.id))}
        first, last, born = patient.first_name, patient.last_name, patient.birth_date
    typo = f"{first.lower()} {last.lower()[:-2]}{last.lower()[-1]}"  # one letter dropped: "dummyfeld"
    assert born is not None
    reply = full_service.ask(f"{typo} dob {born:%m/%d/%Y} claims", requester=practice.requester(Role.FRONT_DESK))
    assert _names(reply) == ["find_claims"]
    assert f"the closest is {first} {last}" in reply.answer
    shown = set(re.findall(r"Claim (\d+)", reply.answer))
    assert shown and shown <= theirs
    nobody = full_service.ask("zxqv wwkpl dob 01/01/1901 claims", requester=practice.requester(Role.FRONT_DESK))
    assert "No claims match" in nobody.answer and "closest" not in nobody.answer


def test_a_check_number_in_a_payment_is_its_reference_not_a_claim(
    practice: Practice, full_service: AgentService
) -> None:
    claim = _owing_claims(practice, 1)[0]
    desk = practice.requester(Role.FRONT_DESK)
    reply = full_service.ask(f"post 10.00 check 4471 on {claim.claim_number}", requester=desk)
    assert [(c.name, c.arguments.get("claim_number"), c.arguments.get("reference")) for c in reply.tool_calls] == [
        ("post_patient_payment", claim.claim_number, "4471")
    ]
    assert reply.pending_action is not None
    full_service.cancel(reply.pending_action.id, requester=desk)


def test_a_write_off_with_no_amount_is_the_open_balance_shown_for_confirmation(
    practice: Practice, full_service: AgentService
) -> None:
    claim = _owing_claims(practice, 1)[0]
    biller = practice.requester(Role.BILLER)
    reply = full_service.ask(f"clm {claim.claim_number} small bal, adj it off", requester=biller)
    assert [(c.name, c.arguments.get("amount"), c.arguments.get("side")) for c in reply.tool_calls] == [
        ("post_adjustment", None, "patient")
    ]
    assert reply.pending_action is not None and "-> $0.00" in reply.answer
    full_service.cancel(reply.pending_action.id, requester=biller)


def test_the_ending_of_a_code_under_the_one_looked_up_picks_it(practice: Practice, full_service: AgentService) -> None:
    coder = practice.requester(Role.CODER)
    header = full_service.ask("/code M54.5", requester=coder)
    picked = full_service.ask("so the .50 one is billable right", requester=coder, thread_id=header.thread_id)
    assert [(c.name, c.arguments.get("code")) for c in picked.tool_calls] == [("lookup_code", "M54.50")]


def test_a_reports_own_filter_narrows_it_and_a_policy_answer_is_asked_about(
    practice: Practice, full_service: AgentService
) -> None:
    admin = practice.requester(Role.ADMIN)
    aging = full_service.ask("aging all payers pls", requester=admin)
    patients = full_service.ask("now just whats on patients", requester=admin, thread_id=aging.thread_id)
    assert [(c.name, c.arguments.get("responsibility")) for c in patients.tool_calls] == [("ar_aging", "patient")]
    policy = full_service.ask("aetna filing limit", requester=admin)
    again = full_service.ask("was it always 90 or did that change", requester=admin, thread_id=policy.thread_id)
    assert [(c.name, c.arguments.get("payer")) for c in again.tool_calls] == [("search_knowledge", "Aetna")]
    assert "aetna filing limit" in again.tool_calls[0].arguments["question"]


def test_what_a_claim_shows_and_what_a_code_means_whatever_else_is_named(
    practice: Practice, full_service: AgentService
) -> None:
    claim = _denied(practice, 1)[0].claim_number
    biller = practice.requester(Role.BILLER)
    shown = full_service.ask(f"clm {claim}", requester=biller)
    line = full_service.ask("what modifier was on the line", requester=biller, thread_id=shown.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in line.tool_calls] == [("get_claim", claim)]
    decoded = full_service.ask("pt says medicare shoulda paid more, whats PR-2", requester=biller)
    assert _names(decoded) == ["explain_adjustment_codes"]
    rule = full_service.ask("whats aetna's corrected claim rule for co-16", requester=biller)
    assert _names(rule) == ["search_knowledge"]


def test_same_thing_for_another_claim_repeats_the_last_claim_tool(
    practice: Practice, full_service: AgentService
) -> None:
    """ "do the letter" after a denial is the appeal draft for that claim; "same thing for N" is the same tool
    for N; and a year-shaped claim number after "for" is a claim there, not a year."""
    first, second = (claim.claim_number for claim in _denied(practice, 2))
    biller = practice.requester(Role.BILLER)
    denial = full_service.ask(f"{first} got kicked back whats up", requester=biller)
    assert _names(denial) == ["explain_denial"]
    letter = full_service.ask("do the letter", requester=biller, thread_id=denial.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in letter.tool_calls] == [("draft_appeal", first)]
    again = full_service.ask(f"same thing for {second}", requester=biller, thread_id=denial.thread_id)
    assert [(c.name, c.arguments.get("claim_number")) for c in again.tool_calls] == [("draft_appeal", second)]
    status = full_service.ask(f"send a 276 for {first}", requester=biller)
    assert _names(status) == ["claim_status_request"]
    year_shaped = full_service.ask("do one for 2009 too", requester=biller, thread_id=status.thread_id)
    assert [(c.name, c.arguments.get("claim_numbers")) for c in year_shaped.tool_calls] == [
        ("claim_status_request", ["2009"])
    ]


def test_money_after_a_claim_view_is_a_payment_and_paying_in_full_is_the_balance(
    practice: Practice, full_service: AgentService
) -> None:
    first, second = _owing_claims(practice, 2)
    desk = practice.requester(Role.FRONT_DESK)
    shown = full_service.ask(f"pt for {first.claim_number} at the window, what do they owe", requester=desk)
    assert _names(shown) == ["get_claim"]
    whole = full_service.ask("shes paying the whole thing on a card", requester=desk, thread_id=shown.thread_id)
    assert whole.pending_action is not None and whole.pending_action.tool == "post_patient_payment"
    owed = first.patient_responsibility - first.patient_paid
    assert whole.pending_action.arguments["claim_number"] == first.claim_number
    assert float(whole.pending_action.arguments["amount"]) == float(owed)
    full_service.cancel(whole.pending_action.id, requester=desk)
    # "and N too, 5 cash": the same posting on another claim (not the first claim's view again).
    too = full_service.ask(f"and {second.claim_number} too, 5 cash", requester=desk, thread_id=shown.thread_id)
    assert too.pending_action is not None and too.pending_action.tool == "post_patient_payment"
    assert too.pending_action.arguments["claim_number"] == second.claim_number
    assert too.pending_action.arguments["method"] == "cash"


def test_a_code_search_asked_again_with_another_qualifier(practice: Practice, full_service: AgentService) -> None:
    coder = practice.requester(Role.CODER)
    without = full_service.ask("gerd no esophagitis dx", requester=coder)
    assert "K21.9" in without.answer
    again = full_service.ask("and w/ esophagitis", requester=coder, thread_id=without.thread_id)
    assert _names(again) == ["search_codes"]
    assert again.tool_calls[0].arguments["query"].startswith("gerd ")
    first_listed = re.search(r"\*\*(K21\.\w+)\*\*", again.answer)
    assert first_listed is not None and first_listed.group(1).startswith("K21.0")


def test_a_trailing_only_narrows_the_report_and_keeps_its_payer(practice: Practice, full_service: AgentService) -> None:
    biller = practice.requester(Role.BILLER)
    aging = full_service.ask("how old is our uhc ar", requester=biller)
    assert [(c.name, c.arguments.get("payer")) for c in aging.tool_calls] == [("ar_aging", "UnitedHealthcare")]
    older = full_service.ask("over 120 only", requester=biller, thread_id=aging.thread_id)
    assert [(c.name, c.arguments.get("payer"), c.arguments.get("older_than_days")) for c in older.tool_calls] == [
        ("ar_aging", "UnitedHealthcare", 120)
    ]


def test_a_correction_repeats_the_request_for_the_claim_meant(practice: Practice, full_service: AgentService) -> None:
    first, second = (claim.claim_number for claim in _denied(practice, 2))
    biller = practice.requester(Role.BILLER)
    letter = full_service.ask(f"recon letter for {first}", requester=biller)
    assert [(c.name, c.arguments.get("claim_number")) for c in letter.tool_calls] == [("draft_appeal", first)]
    kind = letter.tool_calls[0].arguments.get("kind")
    fixed = full_service.ask(f"no wait, {second} not {first}", requester=biller, thread_id=letter.thread_id)
    assert [(c.name, c.arguments.get("claim_number"), c.arguments.get("kind")) for c in fixed.tool_calls] == [
        ("draft_appeal", second, kind)
    ]


def test_they_are_the_threads_payer_and_an_elliptic_policy_question_keeps_it(
    practice: Practice, full_service: AgentService
) -> None:
    claim = _denied(practice, 1)[0]
    biller = practice.requester(Role.BILLER)
    shown = full_service.ask(f"{claim.claim_number} status", requester=biller)
    payer = next(c for c in shown.cards if c.data.get("payer")).data["payer"]
    limit = full_service.ask("whats their tf limit", requester=biller, thread_id=shown.thread_id)
    assert [(c.name, c.arguments.get("payer")) for c in limit.tool_calls] == [("search_knowledge", payer)]
    window = full_service.ask("and corrected claim window", requester=biller, thread_id=shown.thread_id)
    assert [(c.name, c.arguments.get("payer")) for c in window.tool_calls] == [("search_knowledge", payer)]


def test_short_questions_the_claim_answers_show_the_claim(practice: Practice, full_service: AgentService) -> None:
    """ "whos the pt", "dx?", "whats the 40.00 for" in a thread about a claim: the claim's record, not a
    code search, a payment or "I can't do that"."""
    claim = _owing_claims(practice, 1)[0]
    owed = claim.patient_responsibility - claim.patient_paid
    desk = practice.requester(Role.FRONT_DESK)
    shown = full_service.ask(f"whats the copay sitch on {claim.claim_number}", requester=desk)
    for question in ("whos the pt", "dx?", "whats on it cpt and dx", f"whats the {owed:.2f} for"):
        reply = full_service.ask(question, requester=desk, thread_id=shown.thread_id)
        assert [(c.name, c.arguments.get("claim_number")) for c in reply.tool_calls] == [
            ("get_claim", claim.claim_number)
        ], question
        assert reply.pending_action is None
    # Asked to change what the claim shows: no tool does that, and showing the claim would not be an answer.
    change = full_service.ask("change the provider on it", requester=desk, thread_id=shown.thread_id)
    assert change.tool_calls == [] and "can't" in change.answer


def test_two_descriptions_are_two_searches_and_first_one_is_the_first_searchs_code(
    practice: Practice, full_service: AgentService
) -> None:
    coder = practice.requester(Role.CODER)
    both = full_service.ask("code for uti and code for flu shot admin", requester=coder)
    assert [(c.name, c.arguments["query"]) for c in both.tool_calls] == [
        ("search_codes", "uti"),
        ("search_codes", "flu shot admin"),
    ]
    first = full_service.ask("first one billable?", requester=coder, thread_id=both.thread_id)
    # A plain "uti" is N39.0: the neonatal (P39.3) and puerperal (O86.2-) codes need a newborn or pregnancy.
    assert [(c.name, c.arguments.get("code")) for c in first.tool_calls] == [("lookup_code", "N39.0")]


def test_a_claim_with_its_denial_codes_is_its_denial_and_all_payers_drops_the_payer(
    practice: Practice, full_service: AgentService
) -> None:
    claim = _denied(practice, 1)[0].claim_number
    biller = practice.requester(Role.BILLER)
    quoted = full_service.ask(f"{claim} eob co-97 m15 ugh", requester=biller)
    assert [(c.name, c.arguments.get("claim_number")) for c in quoted.tool_calls] == [("explain_denial", claim)]
    aging = full_service.ask("how old is our uhc ar", requester=biller)
    everyone = full_service.ask("ok now pt resp only, all payers", requester=biller, thread_id=aging.thread_id)
    assert [(c.name, c.arguments.get("payer"), c.arguments.get("responsibility")) for c in everyone.tool_calls] == [
        ("ar_aging", None, "patient")
    ]


def test_a_name_with_its_birth_date_is_read_whatever_comes_before_it(
    practice: Practice, full_service: AgentService
) -> None:
    with Session(practice.engine) as session:
        patient = session.scalars(select(Patient).where(Patient.birth_date.is_not(None)).order_by(Patient.id)).first()
        assert patient is not None and patient.birth_date is not None
        who = f"{patient.first_name.lower()} {patient.last_name.lower()} dob {patient.birth_date:%-m/%-d/%Y}"
        theirs = set(session.scalars(select(Claim.claim_number).where(Claim.patient_id == patient.id)))
    reply = full_service.ask(f"pull up {who}", requester=practice.requester(Role.FRONT_DESK))
    assert _names(reply) == ["find_claims"]  # the arguments are hidden in replies: the claims found tell
    found = {c["claim_number"] for card in reply.cards for c in card.data.get("claims") or []}
    assert found and found <= theirs


def test_a_corrected_payment_replaces_the_proposal_it_corrects(practice: Practice, full_service: AgentService) -> None:
    from knowledge.practice.models import AuditRecord, PendingAction

    claim = _owing_claim(practice)
    front_desk = practice.requester(Role.FRONT_DESK)
    first = full_service.ask(f"pt paid $5 on {claim.claim_number} by card", requester=front_desk)
    assert first.pending_action is not None and first.pending_action.arguments["method"] == "card"
    fixed = full_service.ask("wait it was cash not card", requester=front_desk, thread_id=first.thread_id)
    assert fixed.pending_action is not None and fixed.pending_action.id != first.pending_action.id
    assert fixed.pending_action.arguments["method"] == "cash" and fixed.pending_action.arguments["amount"] == "5"
    assert "earlier proposal in this conversation is cancelled" in fixed.answer
    with Session(practice.engine) as session:
        assert session.get(PendingAction, first.pending_action.id).status == "cancelled"  # type: ignore[union-attr]
        outcomes = session.scalars(
            select(AuditRecord.outcome).where(AuditRecord.entity_id == first.pending_action.id)
        ).all()
    assert "superseded" in outcomes
    # Another payment in the same thread is a second proposal, not a correction: both stay.
    other = full_service.ask(
        f"and $5 more on {claim.claim_number} cash", requester=front_desk, thread_id=first.thread_id
    )
    assert other.pending_action is not None and "earlier proposal" not in other.answer
    for action in (fixed.pending_action, other.pending_action):
        full_service.cancel(action.id, requester=front_desk)


def test_a_correction_of_a_posted_payment_warns_before_a_second_one(
    practice: Practice, full_service: AgentService
) -> None:
    claim = _owing_claim(practice)
    front_desk = practice.requester(Role.FRONT_DESK)
    first = full_service.ask(f"pt paid $1 on {claim.claim_number} by card", requester=front_desk)
    assert first.pending_action is not None
    full_service.confirm(first.pending_action.id, requester=front_desk)
    fixed = full_service.ask("wait it was cash not card", requester=front_desk, thread_id=first.thread_id)
    assert fixed.pending_action is not None and fixed.pending_action.arguments["method"] == "cash"
    assert "already posted" in fixed.answer and "earlier proposal" not in fixed.answer
    full_service.cancel(fixed.pending_action.id, requester=front_desk)
