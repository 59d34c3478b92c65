"""Thread ids are the server's, bound to their owner and channel (issue 14: "a user can read a colleague's
Slack DM" by posting `thread_id = "slack:<team>:<dm channel>:<today>"`)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.types import Channel
from knowledge.errors import NotFound, PermissionDenied
from knowledge.practice.models import AuditRecord, ConversationThread
from tests.integrations.web.conftest import WebPractice
from tests.security.conftest import BILLER, FRONT_DESK, denied_claim, patient_of, requester, user_id

SLACK_DM_KEY = "slack:T0DEMO:D0BILLER:2026-11-22:U0BILLER"


def _texts(web: WebPractice, thread_id: str, email: str) -> list[str]:
    return [m["text"] for m in web.agent.thread_messages(thread_id, requester=requester(web, email))]


def test_a_slack_dm_cannot_be_joined_or_read_from_the_web(
    web_practice: WebPractice, biller: TestClient, front_desk: TestClient
) -> None:
    claim = denied_claim(web_practice)
    slack_biller = requester(web_practice, BILLER, Channel.SLACK_DM)
    dm = web_practice.agent.ask(f"status of claim {claim.claim_number}", requester=slack_biller, thread_id=SLACK_DM_KEY)
    before = _texts(web_practice, dm.thread_id, BILLER)

    for thread_id in (SLACK_DM_KEY, dm.thread_id):
        posted = front_desk.post("/api/chat", json={"message": "and the one before it?", "thread_id": thread_id})
        assert posted.status_code in (200, 404), posted.text
        if posted.status_code == 200:
            assert posted.json()["thread_id"] not in (SLACK_DM_KEY, dm.thread_id)
        assert front_desk.get(f"/api/threads/{thread_id}").status_code == 404
    assert _texts(web_practice, dm.thread_id, BILLER) == before  # nothing joined the biller's DM
    names = {t["id"] for t in front_desk.get("/api/threads").json()}
    assert dm.thread_id not in names and SLACK_DM_KEY not in names
    # the owner reads it on the web: the Slack reply links there for the details
    shown = biller.get(f"/api/threads/{dm.thread_id}")
    assert shown.status_code == 200 and shown.json()["messages"][0]["text"] == f"status of claim {claim.claim_number}"


def test_a_slack_key_taken_first_on_the_web_does_not_capture_the_later_dm(
    web_practice: WebPractice, front_desk: TestClient
) -> None:
    key = "slack:T0DEMO:D0BILLER:2026-11-23:U0BILLER"
    early = front_desk.post("/api/chat", json={"message": "what is E11.65?", "thread_id": key})
    assert early.status_code in (200, 404)
    slack_biller = requester(web_practice, BILLER, Channel.SLACK_DM)
    claim = denied_claim(web_practice)
    dm = web_practice.agent.ask(f"status of claim {claim.claim_number}", requester=slack_biller, thread_id=key)
    biller_id = user_id(web_practice, BILLER)
    with Session(web_practice.engine) as session:
        thread = session.get(ConversationThread, dm.thread_id)
        assert thread is not None and thread.user_id == biller_id
        assert thread.channel == "slack_dm"
    if early.status_code == 200:
        assert early.json()["thread_id"] != dm.thread_id
    assert _texts(web_practice, dm.thread_id, BILLER) == [f"status of claim {claim.claim_number}", dm.answer]
    patient = patient_of(web_practice, claim.claim_number)
    messages = (
        front_desk.get(f"/api/threads/{early.json()['thread_id']}").json()["messages"] if early.is_success else []
    )
    assert not any(value in m["text"] for m in messages for value in patient)


def test_an_unknown_web_thread_id_is_not_adopted(web_practice: WebPractice, biller: TestClient) -> None:
    first = biller.post("/api/chat", json={"message": "what is E11.65?", "thread_id": "my-own-name-for-it"})
    assert first.status_code == 200
    issued = first.json()["thread_id"]
    assert issued != "my-own-name-for-it"
    biller_id = user_id(web_practice, BILLER)
    with Session(web_practice.engine) as session:
        assert session.get(ConversationThread, "my-own-name-for-it") is None
        thread = session.get(ConversationThread, issued)
        assert thread is not None and thread.user_id == biller_id and thread.channel == "web"
    again = biller.post("/api/chat", json={"message": "is it billable?", "thread_id": issued})
    assert again.json()["thread_id"] == issued


def test_a_colleagues_thread_is_refused_and_the_refusal_audited(
    web_practice: WebPractice, biller: TestClient, front_desk: TestClient
) -> None:
    mine = biller.post("/api/chat", json={"message": "what is E11.65?"}).json()["thread_id"]
    refused = front_desk.post("/api/chat", json={"message": "what is E11.9?", "thread_id": mine})
    assert refused.status_code == 404
    front_desk_id = user_id(web_practice, FRONT_DESK)
    with Session(web_practice.engine) as session:
        rows = session.scalars(
            select(AuditRecord).where(AuditRecord.entity == "thread", AuditRecord.entity_id == mine)
        ).all()
        assert [(r.outcome, r.user_id) for r in rows] == [("denied", front_desk_id)]
    assert len(_texts(web_practice, mine, BILLER)) == 2


def test_a_thread_is_continued_only_on_its_own_channel(web_practice: WebPractice, biller: TestClient) -> None:
    slack_biller = requester(web_practice, BILLER, Channel.SLACK_CHANNEL)
    in_channel = web_practice.agent.ask(
        "what is E11.65?", requester=slack_biller, thread_id="slack:T0DEMO:C0OPEN:1.2:U0B"
    )
    # its owner may read it on the web, but not write into it there (a web answer would show patient fields
    # to a Slack channel's memory)
    assert biller.get(f"/api/threads/{in_channel.thread_id}").status_code == 200
    posted = biller.post("/api/chat", json={"message": "is it billable?", "thread_id": in_channel.thread_id})
    assert posted.status_code == 403
    web = web_practice.agent.ask("what is E11.65?", requester=requester(web_practice, BILLER))
    with pytest.raises(PermissionDenied):
        web_practice.agent.ask("is it billable?", requester=slack_biller, thread_id=web.thread_id)


def test_slack_threads_belong_to_the_slack_user_who_asked(web_practice: WebPractice) -> None:
    """Two people asking in one Slack channel thread each get their own conversation."""
    key = "slack:T0DEMO:C0OPEN:1700000000.000100"
    biller = web_practice.agent.ask(
        "what is E11.65?", requester=requester(web_practice, BILLER, Channel.SLACK_CHANNEL), thread_id=key
    )
    front = web_practice.agent.ask(
        "what is E11.9?", requester=requester(web_practice, FRONT_DESK, Channel.SLACK_CHANNEL), thread_id=key
    )
    assert biller.thread_id != front.thread_id
    with pytest.raises(NotFound):
        web_practice.agent.thread_messages(biller.thread_id, requester=requester(web_practice, FRONT_DESK))
