"""The conversation history of the web chat (issue 16): dated threads, renamed, deleted and searched by their
owner only, on the real app and the demo practice. Each test signs in as a user of its own, so the history it
reads holds only what it made."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.service import AgentService
from integrations.web.app import create_app
from knowledge.practice.accounts import add_user
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.models import (
    AuditRecord,
    ConversationThread,
    Feedback,
    Payment,
    PendingAction,
    Practice,
    Role,
    User,
)
from tests.fixtures.databases import PostgresCluster
from tests.integrations.web.conftest import OTHER_EMAIL, WebPractice, web_settings

_emails = (f"history{n}@demo.example" for n in itertools.count(1))


def new_user(web: WebPractice, role: Role = Role.BILLER) -> tuple[TestClient, int]:
    """A user of the demo practice with no conversations yet, signed in; and their id."""
    email, password = next(_emails), "history-test-password"
    with Session(web.engine) as session:
        user = add_user(
            session, practice_id=web.practice_id, email=email, name="History tester", role=role, password=password
        )
        session.commit()
        user_id = user.id
    web.credentials[email] = password
    return web.sign_in(email), user_id


def ask(client: TestClient, message: str, thread_id: str | None = None) -> dict[str, Any]:
    response = client.post("/api/chat", json={"message": message, "thread_id": thread_id})
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def stored_thread(web: WebPractice, thread_id: str) -> ConversationThread | None:
    with Session(web.engine) as session:
        return session.get(ConversationThread, thread_id)


def audit(web: WebPractice, *criteria: Any) -> list[AuditRecord]:
    with Session(web.engine) as session:
        return list(session.scalars(select(AuditRecord).where(*criteria).order_by(AuditRecord.id)))


def rows(web: WebPractice, model: type, *criteria: Any) -> int:
    with Session(web.engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)


# -- the list --------------------------------------------------------------------------------------------
def test_threads_are_listed_newest_activity_first_with_a_dated_time(web_practice: WebPractice) -> None:
    client, _user = new_user(web_practice)
    first = ask(client, "what is E11.65?")
    second = ask(client, "what is E11.65?")  # the same question: the same title, told apart by its time
    listed = client.get("/api/threads").json()
    assert [t["id"] for t in listed] == [second["thread_id"], first["thread_id"]]
    assert listed[0]["title"] == listed[1]["title"] == "what is E11.65?"
    when = [dt.datetime.fromisoformat(t["updated_at"]) for t in listed]
    assert all(w.utcoffset() == dt.timedelta(0) for w in when)  # UTC said so: a browser reads it right
    assert when[0] >= when[1] and abs(dt.datetime.now(dt.UTC) - when[0]) < dt.timedelta(minutes=5)

    ask(client, "and M25.562?", thread_id=first["thread_id"])  # activity brings a thread to the top
    assert [t["id"] for t in client.get("/api/threads").json()] == [first["thread_id"], second["thread_id"]]


# -- rename ----------------------------------------------------------------------------------------------
def test_the_owner_renames_a_thread_which_keeps_its_place_and_date(web_practice: WebPractice) -> None:
    client, user_id = new_user(web_practice)
    older = ask(client, "what is E11.65?")["thread_id"]
    newer = ask(client, "what is M25.562?")["thread_id"]
    before = {t["id"]: t for t in client.get("/api/threads").json()}

    response = client.patch(f"/api/threads/{older}", json={"title": "  Diabetes\n  code   for Mrs Example  "})
    assert response.status_code == 200, response.text
    renamed = response.json()
    assert renamed["title"] == "Diabetes code for Mrs Example" and renamed["id"] == older
    listed = client.get("/api/threads").json()
    assert [t["id"] for t in listed] == [newer, older]  # renaming is not activity
    assert listed[1]["title"] == "Diabetes code for Mrs Example"
    assert listed[1]["updated_at"] == before[older]["updated_at"] == renamed["updated_at"]

    records = audit(web_practice, AuditRecord.action == "rename_thread", AuditRecord.user_id == user_id)
    assert [(r.outcome, r.entity, r.entity_id, r.thread_id) for r in records] == [("ok", "thread", older, older)]
    assert "Example" not in json.dumps(records[0].details) and "Diabetes" not in json.dumps(records[0].details)


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "cannot be empty"),
        (" \n\t ", "cannot be empty"),
        ("x" * 121, "at most 120 characters; this one is 121"),
        ("x" * 1001, "at most 1000 characters"),
        ("\x00 null", "control characters"),
        (None, "title"),
        (120, "title"),
    ],
)
def test_a_blank_or_too_long_title_is_refused_with_the_reason(
    web_practice: WebPractice, title: Any, message: str
) -> None:
    client, _user = new_user(web_practice)
    thread_id = ask(client, "what is E11.65?")["thread_id"]
    response = client.patch(f"/api/threads/{thread_id}", json={"title": title})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input" and message in response.json()["message"]
    stored = stored_thread(web_practice, thread_id)
    assert stored is not None and stored.title == "what is E11.65?"
    assert client.patch(f"/api/threads/{thread_id}", json={"title": "y" * 120}).json()["title"] == "y" * 120
    assert client.patch(f"/api/threads/{thread_id}", json={}).status_code == 422


# -- delete ----------------------------------------------------------------------------------------------
def test_deleting_a_thread_removes_its_messages_and_cancels_its_pending_action(web_practice: WebPractice) -> None:
    client, user_id = new_user(web_practice)
    claim = web_practice.owing_claim()
    question = f"post $3.25 copay to claim {claim.claim_number} paid today by card"
    reply = ask(client, question)
    thread_id, action_id = reply["thread_id"], reply["pending_action"]["id"]
    assert client.post(f"/api/threads/{thread_id}/feedback", json={"value": 1}).status_code == 200
    kept = ask(client, "what is E11.65?")["thread_id"]
    payments = rows(web_practice, Payment)

    response = client.delete(f"/api/threads/{thread_id}")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": thread_id, "cancelled_actions": [action_id]}

    # Gone for its owner, as for everyone: read, renamed, deleted again, listed, searched.
    assert client.get(f"/api/threads/{thread_id}").status_code == 404
    assert client.patch(f"/api/threads/{thread_id}", json={"title": "back"}).status_code == 404
    assert client.delete(f"/api/threads/{thread_id}").status_code == 404
    assert client.post(f"/api/threads/{thread_id}/feedback", json={"value": 1}).status_code == 404
    assert [t["id"] for t in client.get("/api/threads").json()] == [kept]
    assert client.get("/api/threads", params={"q": "copay"}).json() == []
    assert stored_thread(web_practice, thread_id) is None
    assert web_practice.agent.checkpointer.get_tuple({"configurable": {"thread_id": thread_id}}) is None
    assert rows(web_practice, Feedback, Feedback.thread_id == thread_id) == 0

    # Its pending payment was cancelled: confirming it now writes nothing.
    confirmed = client.post(f"/api/actions/{action_id}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "already_decided"
    assert rows(web_practice, Payment) == payments
    with Session(web_practice.engine) as session:
        action = session.get(PendingAction, action_id)
        assert action is not None and action.status == "cancelled" and action.decided_by_user_id == user_id

    # Audited: who deleted which thread and cancelled which action; never what it said.
    deleted = audit(web_practice, AuditRecord.action == "delete_thread", AuditRecord.user_id == user_id)
    # (and the second DELETE, refused like any request for a thread that is not there)
    assert [(r.outcome, r.entity_id, r.thread_id) for r in deleted] == [
        ("ok", thread_id, thread_id),
        ("denied", thread_id, None),
    ]
    assert deleted[0].details["cancelled_actions"] == [action_id]
    cancelled = audit(web_practice, AuditRecord.entity_id == action_id, AuditRecord.outcome == "cancelled")
    assert len(cancelled) == 1 and cancelled[0].thread_id == thread_id
    for record in deleted + cancelled:
        assert "copay" not in json.dumps(record.details) and "by card" not in json.dumps(record.details)
    assert stored_thread(web_practice, kept) is not None  # the other conversation is untouched


def test_a_turn_naming_a_deleted_thread_starts_a_new_one(web_practice: WebPractice) -> None:
    client, _user = new_user(web_practice)
    thread_id = ask(client, "what is E11.65?")["thread_id"]
    assert client.delete(f"/api/threads/{thread_id}").status_code == 200
    again = ask(client, "and M25.562?", thread_id=thread_id)
    assert again["thread_id"] != thread_id
    messages = client.get(f"/api/threads/{again['thread_id']}").json()["messages"]
    assert [m["text"] for m in messages if m["role"] == "user"] == ["and M25.562?"]  # no memory of the old one


# -- only the owner --------------------------------------------------------------------------------------
def test_only_the_owner_renames_or_deletes_a_thread(web_practice: WebPractice) -> None:
    owner, _owner_id = new_user(web_practice)
    colleague, colleague_id = new_user(web_practice, Role.ADMIN)  # an admin of the same practice, too
    outsider = web_practice.sign_in(OTHER_EMAIL)
    thread_id = ask(owner, "what is E11.65?")["thread_id"]

    for client in (colleague, outsider):
        renamed = client.patch(f"/api/threads/{thread_id}", json={"title": "mine now"})
        assert renamed.status_code == 404 and renamed.json()["error"] == "not_found"
        assert client.delete(f"/api/threads/{thread_id}").status_code == 404
        assert thread_id not in [t["id"] for t in client.get("/api/threads", params={"q": "E11.65"}).json()]
    stored = stored_thread(web_practice, thread_id)
    assert stored is not None and stored.title == "what is E11.65?"
    assert [m["role"] for m in owner.get(f"/api/threads/{thread_id}").json()["messages"]] == ["user", "assistant"]

    refused = audit(web_practice, AuditRecord.user_id == colleague_id, AuditRecord.entity_id == thread_id)
    assert [(r.action, r.outcome) for r in refused] == [("rename_thread", "denied"), ("delete_thread", "denied")]
    assert all(r.thread_id is None for r in refused)  # the id is kept only as what was asked for
    with Session(web_practice.engine) as session:
        other_ids = set(session.scalars(select(User.id).where(User.practice_id == web_practice.other_practice_id)))
    assert audit(web_practice, AuditRecord.user_id.in_(other_ids), AuditRecord.entity_id == thread_id)


def test_a_missing_thread_is_404(web_practice: WebPractice) -> None:
    client, _user = new_user(web_practice)
    assert client.patch("/api/threads/no-such-thread", json={"title": "x"}).status_code == 404
    assert client.delete("/api/threads/no-such-thread").status_code == 404


# -- search ----------------------------------------------------------------------------------------------
def test_search_finds_the_owners_threads_by_title_and_message_text(web_practice: WebPractice) -> None:
    client, _user = new_user(web_practice)
    diabetes = ask(client, "what is E11.65?")["thread_id"]
    knee = ask(client, "what is M25.562?")["thread_id"]
    both = ask(client, "what is E11.9?")["thread_id"]
    ask(client, "and M25.561?", thread_id=both)
    assert client.patch(f"/api/threads/{knee}", json={"title": "Quokka follow-up"}).status_code == 200
    colleague, _colleague_id = new_user(web_practice)
    theirs = ask(colleague, "what is E11.65?")["thread_id"]

    def found(q: str) -> list[str]:
        response = client.get("/api/threads", params={"q": q})
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()]

    assert found("QUOKKA") == [knee]  # the title, whatever the case
    assert found("e11.65") == [diabetes]  # the person's own words
    assert found("hyperglycemia") == [diabetes]  # the assistant's answer
    assert found("pain knee") == [both, knee]  # every word, anywhere in the thread; newest first
    assert found("quokka knee") == [knee]  # a word of the title and one of the messages
    assert found("quokka diabetes") == []
    assert theirs not in found("E11.65")
    assert found("   ") == found("") == [both, knee, diabetes]  # no words: the whole list
    assert client.get("/api/threads", params={"q": "x" * 201}).status_code == 422


# -- PostgreSQL ------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_rename_search_and_delete_on_postgresql(postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    """The same on PostgreSQL, whose checkpointer is another saver and whose foreign keys act on the delete."""
    url = postgres_cluster.create_database()
    engine = make_engine(url)
    upgrade(engine)
    email, password = "history@pg.example", "postgres-history-password"
    with Session(engine) as session:
        practice = Practice(slug="pg-history", name="PostgreSQL practice")
        session.add(practice)
        session.flush()
        user = add_user(
            session, practice_id=practice.id, email=email, name="Biller", role=Role.BILLER, password=password
        )
        session.commit()
        practice_id, user_id = practice.id, user.id
    settings = web_settings(tmp_path / "home", url)
    agent = AgentService(settings, engine=engine, tool_specs=[], providers={})
    try:
        client = TestClient(create_app(settings, agent=agent))
        login = client.post("/api/login", json={"email": email, "password": password})
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        first = ask(client, "hello, a question about the Quokka clinic")["thread_id"]
        second = ask(client, "and another one")["thread_id"]
        listed = client.get("/api/threads").json()
        assert [t["id"] for t in listed] == [second, first]
        assert dt.datetime.fromisoformat(listed[0]["updated_at"]).utcoffset() == dt.timedelta(0)
        assert client.patch(f"/api/threads/{second}", json={"title": " Renamed "}).json()["title"] == "Renamed"
        assert client.get("/api/threads").json()[0]["updated_at"] == listed[0]["updated_at"]
        assert [t["id"] for t in client.get("/api/threads", params={"q": "quokka CLINIC"}).json()] == [first]
        with Session(engine) as session:
            session.add(
                PendingAction(
                    id="pg-pending-1",
                    practice_id=practice_id,
                    thread_id=first,
                    requested_by_user_id=user_id,
                    tool="post_patient_payment",
                    arguments={"claim_number": "1001", "amount": "5.00"},
                    summary="Post $5.00 to claim 1001",
                )
            )
            session.commit()
        deleted = client.delete(f"/api/threads/{first}")
        assert deleted.status_code == 200 and deleted.json()["cancelled_actions"] == ["pg-pending-1"]
        assert client.get(f"/api/threads/{first}").status_code == 404
        assert agent.checkpointer.get_tuple({"configurable": {"thread_id": first}}) is None
        with Session(engine) as session:
            action = session.get(PendingAction, "pg-pending-1")
            assert action is not None and action.status == "cancelled" and action.thread_id is None
            assert session.get(ConversationThread, first) is None
            records = session.scalars(select(AuditRecord.action).where(AuditRecord.thread_id == first)).all()
            assert sorted(records) == ["delete_thread", "post_patient_payment"]
    finally:
        agent.close()
        engine.dispose()
