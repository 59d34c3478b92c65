"""The Slack app through the real `/slack/events` route: signed requests in, recorded Web API calls out."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from assistant.settings import load_settings
from integrations.slack.http import mount_slack
from knowledge.practice.models import (
    ConversationThread,
    Feedback,
    LedgerEntry,
    Payment,
    PaymentKind,
    PendingAction,
    Role,
    User,
)
from tests.fixtures.slack_api import Call
from tests.integrations.slack.conftest import (
    DM_CHANNEL,
    OPEN_CHANNEL,
    PHI_CHANNEL,
    WEB,
    SlackHarness,
    sign,
)


def _payments(engine: Engine) -> int:
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(Payment).where(Payment.kind == PaymentKind.PATIENT))
        return int(count or 0)


def _buttons(call: Call) -> dict[str, str]:
    """action_id -> value of every button in a recorded message."""
    return {
        element["action_id"]: element.get("value", "")
        for block in call.body.get("blocks", [])
        if block.get("type") == "actions"
        for element in block["elements"]
    }


def _confirm_id(call: Call) -> str:
    return next(action_id for action_id in _buttons(call) if action_id.startswith("confirm:"))


def _has_buttons(call: Call) -> bool:
    return any(action_id.startswith("confirm:") for action_id in _buttons(call))


def _wait_buttons(slack: SlackHarness) -> Call:
    """The message with the Confirm / Cancel buttons, once it was sent."""
    calls = slack.api.wait_for(lambda calls: any(_has_buttons(c) for c in calls), what="the confirmation buttons")
    return next(c for c in calls if _has_buttons(c))


def _in(channel: str, calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.body.get("channel") == channel]


# -- conversations ------------------------------------------------------------------------------------------
def test_mention_is_answered_in_its_thread_without_patient_fields(slack: SlackHarness) -> None:
    response = slack.mention(f"status of claim {slack.facts.claim_number}")
    assert response.status_code == 200
    answer = slack.wait_answer(OPEN_CHANNEL)
    slack.settle()
    posted = slack.api.named("chat.postMessage")
    assert [c.body["text"] for c in posted] == ["Working on it…"]
    assert posted[0].body["thread_ts"]  # in the mention's thread
    assert answer.body["ts"] == "1800000000.000001"  # the "Working on it…" message, replaced
    assert slack.facts.claim_number in answer.text()
    for call in _in(OPEN_CHANNEL, slack.api.calls):
        for value in slack.facts.phi:
            assert value not in call.text(), value
    with Session(slack.engine) as session:  # Slack's ids name it; the id is the server's, owned by the biller
        thread = session.scalars(
            select(ConversationThread).where(
                ConversationThread.external_id == f"slack:T0DEMO:{OPEN_CHANNEL}:{posted[0].body['thread_ts']}:U0BILLER"
            )
        ).one()
        thread_id = thread.id
        assert thread.user_id == slack.facts.users[Role.BILLER] and thread.channel == "slack_channel"
    assert f"{WEB}/#thread/{quote(thread_id, safe='')}|" in answer.text()  # details in the web chat
    assert json.loads(_buttons(answer)["feedback:up"])["t"] == thread_id
    with Session(slack.engine) as session:  # found by verified email, and remembered
        assert (
            session.scalars(select(User.email).where(User.slack_user_id == "U0BILLER")).one() == "biller@demo.example"
        )


def test_direct_message_shows_patient_fields(slack: SlackHarness) -> None:
    slack.direct_message(f"status of claim {slack.facts.claim_number}")
    answer = slack.wait_answer(DM_CHANNEL)
    assert slack.facts.claim_number in answer.text()
    for value in slack.facts.phi:  # name, birth date, member id: all shown in a DM
        assert value in answer.text(), value
    assert "#thread/" not in answer.text()  # nothing hidden: no detour to the web chat
    posted = slack.api.named("chat.postMessage")
    assert "thread_ts" not in posted[0].body  # DMs are answered in the conversation itself


@pytest.mark.parametrize(
    ("channel", "slack_settings", "shown"),
    [
        (PHI_CHANNEL, {"slack_phi_policy": "strict"}, True),
        (PHI_CHANNEL, {"slack_phi_policy": "dm-only"}, False),
        (OPEN_CHANNEL, {"slack_phi_policy": "strict"}, False),
    ],
)
def test_patient_fields_follow_the_channel_policy(slack: SlackHarness, channel: str, shown: bool) -> None:
    slack.mention(f"status of claim {slack.facts.claim_number}", channel=channel)
    answer = slack.wait_answer(channel)
    assert slack.facts.claim_number in answer.text()
    assert all(value in answer.text() for value in slack.facts.phi) is shown
    if not shown:
        for call in _in(channel, slack.api.calls):
            assert not any(value in call.text() for value in slack.facts.phi)


def test_each_event_is_answered_once_even_when_slack_retries(slack: SlackHarness) -> None:
    first = slack.mention("what is E11.65", event_id="Ev0RETRY01")
    again = slack.mention("what is E11.65", event_id="Ev0RETRY01", retry=1)
    assert first.status_code == again.status_code == 200
    slack.wait_answer(OPEN_CHANNEL)
    slack.settle()
    assert len(slack.api.named("chat.postMessage")) == 1
    assert len(slack.api.named("chat.update")) == 1


def test_requests_without_a_valid_signature_are_refused(slack: SlackHarness) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "Ev0X", "event": {"type": "app_mention"}})
    assert slack.post(body, "application/json").status_code == 401
    stale = sign(body, timestamp=int(time.time()) - 10 * 60)
    assert slack.post(body, "application/json", stale).status_code == 401
    forged = sign(body, secret="not-the-secret")
    assert slack.post(body, "application/json", forged).status_code == 401
    assert slack.api.calls == []
    challenge = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"})
    assert slack.post_signed(challenge, "application/json").json() == {"challenge": "abc123"}


def test_errors_are_said_in_slack(slack: SlackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    slack.mention("")  # nothing but the mention: a domain error, said politely
    empty = slack.wait_answer(OPEN_CHANNEL)
    assert "The message is empty." in empty.text()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(slack.agent, "ask", broken)
    slack.direct_message("what is E11.65")
    failed = slack.wait_answer(DM_CHANNEL)
    assert "something went wrong" in failed.text() and "Reference" in failed.text()
    assert "on fire" not in failed.text()


def test_an_answer_slack_refuses_still_gets_a_reply(slack: SlackHarness) -> None:
    slack.api.fail_next("chat.update", "invalid_blocks")
    slack.direct_message("what is E11.65")
    calls = slack.api.wait_for(
        lambda calls: len([c for c in calls if c.method == "chat.update"]) == 2, what="2 updates"
    )
    apology = [c for c in calls if c.method == "chat.update"][1]
    assert "something went wrong" in apology.text() and "Reference" in apology.text()


# -- slash commands -----------------------------------------------------------------------------------------
def test_claim_command_answers_privately(slack: SlackHarness) -> None:
    response, url = slack.command("/claim", slack.facts.claim_number)
    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": "Working on it…"}
    [answer] = slack.wait_response(url)
    assert answer.body["response_type"] == "ephemeral" and answer.body["replace_original"] is True
    assert slack.facts.claim_number in answer.text()
    assert not any(value in answer.text() for value in slack.facts.phi)  # asked in a channel
    assert "#thread/" in answer.text()
    assert slack.api.named("chat.postMessage") == []  # nothing public


def test_claim_command_without_a_number_shows_the_usage(slack: SlackHarness) -> None:
    response, url = slack.command("/claim", "")
    assert "Usage: `/claim NUMBER`" in response.json()["text"]
    slack.settle()
    assert slack.at(url)(slack.api.calls) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("E11.65", "Type 2 diabetes mellitus with hyperglycemia"), ("CO-45", "Charge exceeds fee schedule")],
)
def test_code_command_decodes_codes(slack: SlackHarness, text: str, expected: str) -> None:
    _, url = slack.command("/code", text, user="U0STRANGER")  # codes need no practice account
    [answer] = slack.wait_response(url)
    blocks = answer.body["blocks"]
    assert expected in blocks[0]["text"]["text"]
    assert any(b.get("text", {}).get("text", "").startswith("*Codes*") for b in blocks)


def test_denials_command_lists_the_worklist(slack: SlackHarness) -> None:
    _, url = slack.command("/denials", "", channel=DM_CHANNEL)
    [answer] = slack.wait_response(url)
    assert slack.facts.claim_number in answer.text()


def test_unmapped_users_get_no_claim_data(slack: SlackHarness) -> None:
    _, url = slack.command("/claim", slack.facts.claim_number, user="U0STRANGER", channel=DM_CHANNEL)
    [answer] = slack.wait_response(url)
    assert "isn't linked" in answer.text()
    assert not any(value in answer.text() for value in slack.facts.phi)
    with Session(slack.engine) as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.slack_user_id == "U0STRANGER")) == 0


# -- confirmations and feedback ---------------------------------------------------------------------------
def test_payment_is_posted_once_after_confirmation(slack: SlackHarness) -> None:
    before = _payments(slack.engine)
    slack.direct_message(f"post $5 copay to claim {slack.facts.owing_claim} paid today by card", user="U0FRONT")
    buttons = _wait_buttons(slack)
    action = _confirm_id(buttons)
    assert buttons.body["channel"] == DM_CHANNEL and "$5.00" in buttons.text()
    assert _payments(slack.engine) == before  # nothing written before the click

    _, url = slack.click(action, _buttons(buttons)[action], user="U0FRONT")
    [done] = slack.wait_response(url)
    assert done.body["replace_original"] is True and "Done" in done.text()
    assert _payments(slack.engine) == before + 1

    _, again = slack.click(action, _buttons(buttons)[action], user="U0FRONT")
    [second] = slack.wait_response(again)
    assert second.body["replace_original"] is False and "already" in second.text()
    assert _payments(slack.engine) == before + 1


def test_front_desk_may_not_confirm_an_adjustment(slack: SlackHarness) -> None:
    slack.mention(f"write off $1 small balance on claim {slack.facts.owing_claim}", user="U0FRONT")
    calls = slack.api.wait_for(lambda calls: any(c.method == "chat.postEphemeral" for c in calls), what="buttons")
    [buttons] = [c for c in calls if c.method == "chat.postEphemeral"]
    assert buttons.body["user"] == "U0FRONT" and buttons.body["channel"] == OPEN_CHANNEL  # only the asker sees them
    assert not any(
        k.startswith("confirm:") for c in slack.api.named("chat.postMessage", "chat.update") for k in _buttons(c)
    )
    action = _confirm_id(buttons)

    _, url = slack.click(action, _buttons(buttons)[action], user="U0FRONT", channel=OPEN_CHANNEL)
    [refusal] = slack.wait_response(url)
    assert refusal.body["response_type"] == "ephemeral" and refusal.body["replace_original"] is False
    assert "may not confirm" in refusal.text()
    with Session(slack.engine) as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "write_off")) == 0
        pending = session.get(PendingAction, _buttons(buttons)[action])
        assert pending is not None and pending.status == "pending"


def test_cancel_replaces_the_buttons_and_writes_nothing(slack: SlackHarness) -> None:
    before = _payments(slack.engine)
    slack.direct_message(f"post $3 copay to claim {slack.facts.owing_claim}", user="U0FRONT")
    buttons = _wait_buttons(slack)
    cancel = next(k for k in _buttons(buttons) if k.startswith("cancel:"))
    _, url = slack.click(cancel, _buttons(buttons)[cancel], user="U0FRONT")
    [cancelled] = slack.wait_response(url)
    assert cancelled.body["replace_original"] is True and "nothing was written" in cancelled.text()
    assert _payments(slack.engine) == before


def test_feedback_is_stored_with_the_thread(slack: SlackHarness) -> None:
    slack.direct_message("what is E11.65", user="U0ADMIN")  # linked already: no users.info call
    answer = slack.wait_answer(DM_CHANNEL)
    assert slack.api.named("users.info") == []
    value = _buttons(answer)["feedback:down"]
    _, url = slack.click("feedback:down", value, user="U0ADMIN")
    [thanks] = slack.wait_response(url)
    assert thanks.body["response_type"] == "ephemeral" and "Thanks" in thanks.text()
    with Session(slack.engine) as session:
        feedback = session.scalars(select(Feedback)).one()
        assert feedback.value == -1 and feedback.thread_id == json.loads(value)["t"]
        assert feedback.message_id == json.loads(value)["m"] and feedback.user_id == slack.facts.users[Role.ADMIN]


def test_feedback_on_someone_elses_answer_is_refused(slack: SlackHarness) -> None:
    slack.mention("what is E11.65")  # the biller asks in an open channel, where anyone sees the buttons
    answer = slack.wait_answer(OPEN_CHANNEL)
    value = _buttons(answer)["feedback:down"]
    _, url = slack.click("feedback:down", value, user="U0ADMIN", channel=OPEN_CHANNEL)
    [refused] = slack.wait_response(url)
    assert refused.body["response_type"] == "ephemeral" and "No conversation" in refused.text()
    with Session(slack.engine) as session:
        assert session.scalars(select(Feedback)).all() == []


# -- wiring -------------------------------------------------------------------------------------------------
def test_nothing_is_mounted_without_slack_settings(practice_engine: Engine) -> None:
    from assistant.service import AgentService

    settings = load_settings(database_url=practice_engine.url.render_as_string(hide_password=False))
    agent = AgentService(settings, engine=practice_engine, tool_specs=[])
    app = FastAPI()
    mount_slack(app, settings=settings, agent=agent)
    assert TestClient(app).post("/slack/events", content="{}").status_code == 404
    assert not hasattr(app.state, "slack_app")


def test_on_postgresql_users_are_linked_and_a_double_click_posts_once(slack_on_postgresql: SlackHarness) -> None:
    slack = slack_on_postgresql
    before = _payments(slack.engine)
    slack.direct_message(f"post $5 copay to claim {slack.facts.owing_claim} paid today by card", user="U0BILLER")
    buttons = _wait_buttons(slack)
    action = _confirm_id(buttons)
    urls = [slack.click(action, _buttons(buttons)[action], user="U0BILLER")[1] for _ in range(2)]
    answers = [slack.wait_response(url)[0] for url in urls]
    assert sorted(a.body["replace_original"] for a in answers) == [False, True]  # one "Done", one "already"
    assert _payments(slack.engine) == before + 1
    with Session(slack.engine) as session:
        assert (
            session.scalars(select(User.email).where(User.slack_user_id == "U0BILLER")).one() == "biller@demo.example"
        )
