"""The JSON API of the real app on a seeded demo practice: sign-in, CSRF, tokens, chat (JSON and SSE),
confirmations, roles, practice isolation, rate limits and the error mapping."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.web.auth import SESSION_COOKIE
from integrations.web.errors import status_for
from integrations.web.ratelimit import LoginThrottle, TokenBucket
from knowledge import errors
from knowledge.practice.accounts import IssuedToken, disable_user, issue_token, token_hash
from knowledge.practice.models import (
    AuthToken,
    Claim,
    ClaimStatus,
    ConversationThread,
    Feedback,
    LedgerEntry,
    Payment,
    PaymentKind,
    Role,
    User,
)
from tests.integrations.web.conftest import OTHER_EMAIL, WebPractice

BILLER = "biller@demo.example"
FRONT_DESK = "frontdesk@demo.example"
CODER = "coder@demo.example"


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def count(web: WebPractice, model: type, *criteria: Any) -> int:
    with Session(web.engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)


@pytest.fixture(scope="module")
def biller(web_practice: WebPractice) -> TestClient:
    return web_practice.sign_in(BILLER)


# -- sign-in ---------------------------------------------------------------------------------------------
def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_the_session(web_practice: WebPractice) -> None:
    client = web_practice.client()
    assert client.post("/api/login", json={"email": BILLER, "password": "wrong password"}).status_code == 401
    response = client.post("/api/login", json={"email": BILLER, "password": web_practice.credentials[BILLER]})
    assert response.status_code == 200
    me = response.json()
    assert me["email"] == BILLER and me["role"] == "biller" and me["practice"] == "demo" and me["csrf_token"]
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in a test environment; https or production adds it
    secret = client.cookies[SESSION_COOKIE]
    with Session(web_practice.engine) as session:  # only the hash is stored
        stored = session.scalars(select(AuthToken).where(AuthToken.token_hash == token_hash(secret))).one()
        assert stored.kind == "session" and secret not in stored.token_hash

    assert client.get("/api/me").json()["user_id"] == me["user_id"]
    assert client.post("/api/logout", headers={"X-CSRF-Token": me["csrf_token"]}).status_code == 200
    replay = web_practice.client()
    replay.cookies.set(SESSION_COOKIE, secret)  # a copy of the old cookie no longer works
    assert replay.get("/api/me").status_code == 401


def test_cookie_is_secure_over_https(web_practice: WebPractice) -> None:
    client = TestClient(web_practice.app, base_url="https://testserver")
    response = client.post("/api/login", json={"email": CODER, "password": web_practice.credentials[CODER]})
    assert "Secure" in response.headers["set-cookie"]


PROTECTED = [
    ("GET", "/api/me"),
    ("POST", "/api/logout"),
    ("POST", "/api/chat"),
    ("GET", "/api/threads"),
    ("GET", "/api/threads/x"),
    ("POST", "/api/threads/x/feedback"),
    ("POST", "/api/actions/x/confirm"),
    ("POST", "/api/actions/x/cancel"),
    ("GET", "/api/codes/E11.65"),
    ("GET", "/api/codes/search?q=diabetes"),
    ("GET", "/api/claims/1001"),
    ("GET", "/api/passages/x"),
    ("GET", "/api/jobs"),
    ("GET", "/api/jobs/1"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_endpoint_needs_a_signed_in_user(web_practice: WebPractice, method: str, path: str) -> None:
    response = web_practice.client().request(method, path, json={"message": "hi", "value": 1})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_state_changes_with_a_cookie_need_the_csrf_token(web_practice: WebPractice) -> None:
    client = web_practice.sign_in(CODER)
    token = client.headers.pop("X-CSRF-Token")
    threads_before = count(web_practice, ConversationThread)
    for headers in ({}, {"X-CSRF-Token": "0" * 64}):
        response = client.post("/api/chat", json={"message": "status of claim 1001"}, headers=headers)
        assert response.status_code == 403 and "CSRF" in response.json()["message"]
    assert count(web_practice, ConversationThread) == threads_before  # nothing ran
    assert client.get("/api/threads").status_code == 200  # reads need no token
    assert client.post(
        "/api/chat", json={"message": "status of claim 1001"}, headers={"X-CSRF-Token": token}
    ).is_success


def _api_token(web_practice: WebPractice, email: str, name: str) -> IssuedToken:
    with Session(web_practice.engine) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        issued = issue_token(session, user=user, kind="api", name=name)
        session.commit()
    return issued


def test_api_tokens_for_scripts(web_practice: WebPractice) -> None:
    issued = _api_token(web_practice, CODER, "test script")
    client = web_practice.client()
    bearer = {"Authorization": f"Bearer {issued.secret}"}
    me = client.get("/api/me", headers=bearer).json()
    assert me["email"] == CODER and me["via"] == "token" and me["csrf_token"] is None
    reply = client.post("/api/chat", json={"message": "status of claim 1002"}, headers=bearer)  # no CSRF needed
    assert reply.status_code == 200 and reply.json()["tool_calls"][0]["name"] == "get_claim"
    assert client.get("/api/me", headers={"Authorization": "Bearer ba_not-a-token"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Basic abc"}).status_code == 401
    with Session(web_practice.engine) as session:
        assert session.scalars(select(AuthToken).where(AuthToken.id == issued.token_id)).one().token_hash == token_hash(
            issued.secret
        )


def test_token_use_is_recorded_at_most_every_few_minutes(web_practice: WebPractice) -> None:
    """`last_used_at` shows when a token was last used, without turning every request into a write."""
    import datetime as dt

    issued = _api_token(web_practice, CODER, "touch test")
    client = web_practice.client()
    bearer = {"Authorization": f"Bearer {issued.secret}"}

    def last_used() -> dt.datetime | None:
        with Session(web_practice.engine) as session:
            return session.get(AuthToken, issued.token_id).last_used_at  # type: ignore[union-attr]

    assert last_used() is None
    assert client.get("/api/me", headers=bearer).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/api/threads", headers=bearer).status_code == 200
    assert last_used() == first  # used again within minutes: not rewritten
    an_hour_ago = first - dt.timedelta(hours=1)
    with Session(web_practice.engine) as session:
        session.get(AuthToken, issued.token_id).last_used_at = an_hour_ago  # type: ignore[union-attr]
        session.commit()
    assert client.get("/api/me", headers=bearer).status_code == 200
    latest = last_used()
    assert latest is not None and latest > an_hour_ago


def test_disabled_users_lose_sessions_and_tokens(web_practice: WebPractice) -> None:
    from knowledge.practice.accounts import add_user

    with Session(web_practice.engine) as session:
        user = add_user(
            session,
            practice_id=web_practice.practice_id,
            email="temp@demo.example",
            name="Temp",
            role=Role.CODER,
            password="temporary-password",
        )
        issued = issue_token(session, user=user, kind="api")
        session.commit()
    client = web_practice.sign_in("temp@demo.example", "temporary-password")
    assert client.get("/api/me").status_code == 200
    with Session(web_practice.engine) as session:
        disable_user(session, practice_id=web_practice.practice_id, email="temp@demo.example")
        session.commit()
    assert client.get("/api/me").status_code == 401
    assert web_practice.client().get("/api/me", headers={"Authorization": f"Bearer {issued.secret}"}).status_code == 401
    refused = web_practice.client().post(
        "/api/login", json={"email": "temp@demo.example", "password": "temporary-password"}
    )
    assert refused.status_code == 401


# -- chat ------------------------------------------------------------------------------------------------
def test_chat_answers_as_json(web_practice: WebPractice, biller: TestClient) -> None:
    claim = web_practice.claim(Claim.status == ClaimStatus.DENIED)
    response = biller.post("/api/chat", json={"message": f"what's the status of claim {claim.claim_number}?"})
    assert response.status_code == 200
    reply = response.json()
    assert [call["name"] for call in reply["tool_calls"]] == ["get_claim"]
    assert reply["cards"][0]["kind"] == "claim" and reply["cards"][0]["data"]["claim_number"] == claim.claim_number
    follow = biller.post("/api/chat", json={"message": "and the one before it?", "thread_id": reply["thread_id"]})
    assert follow.json()["thread_id"] == reply["thread_id"]
    messages = biller.get(f"/api/threads/{reply['thread_id']}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert reply["thread_id"] in [t["id"] for t in biller.get("/api/threads").json()]


@pytest.mark.parametrize("how", ["accept", "query"])
def test_chat_streams_steps_then_the_answer(web_practice: WebPractice, biller: TestClient, how: str) -> None:
    claim = web_practice.claim(Claim.status == ClaimStatus.DENIED)
    message = {"message": f"why was claim {claim.claim_number} denied?"}
    if how == "accept":
        response = biller.post("/api/chat", json=message, headers={"Accept": "text/event-stream"})
    else:
        response = biller.post("/api/chat?stream=1", json=message)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds == ["step", "answer"]
    assert events[0][1]["text"] == f"Explaining the denial of claim {claim.claim_number}…"
    reply = events[-1][1]
    assert reply["cards"][0]["kind"] == "denial"
    numbers = [c["number"] for c in reply["citations"]]
    assert numbers and numbers == list(range(1, len(numbers) + 1))
    passage_id = reply["citations"][0]["passage_id"]
    passage = biller.get(f"/api/passages/{passage_id}")
    assert passage.status_code == 200 and passage.json()["passage_id"] == passage_id
    assert biller.get("/api/passages/no-such-passage").status_code == 404


def test_streamed_errors_before_the_first_event_get_a_status_code(biller: TestClient) -> None:
    response = biller.post("/api/chat?stream=1", json={"message": "   "})
    assert response.status_code == 422 and response.json()["error"] == "invalid_input"


def test_confirming_a_patient_payment_posts_it_once(web_practice: WebPractice) -> None:
    front_desk = web_practice.sign_in(FRONT_DESK)
    claim = web_practice.owing_claim()
    before = front_desk.get(f"/api/claims/{claim.claim_number}").json()["balances"]
    payments = count(web_practice, Payment, Payment.kind == PaymentKind.PATIENT)
    reply = front_desk.post(
        "/api/chat", json={"message": f"post $7.50 copay to claim {claim.claim_number} paid today by card"}
    ).json()
    action = reply["pending_action"]
    assert action["tool"] == "post_patient_payment" and "front_desk" in action["required_roles"]
    assert count(web_practice, Payment, Payment.kind == PaymentKind.PATIENT) == payments  # nothing yet

    confirmed = front_desk.post(f"/api/actions/{action['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    again = front_desk.post(f"/api/actions/{action['id']}/confirm")
    assert again.status_code == 200 and again.json()["status"] == "already_decided"
    assert count(web_practice, Payment, Payment.kind == PaymentKind.PATIENT) == payments + 1
    after = front_desk.get(f"/api/claims/{claim.claim_number}").json()["balances"]
    assert Decimal(after["patient_paid"]) == Decimal(before["patient_paid"]) + Decimal("7.50")
    assert Decimal(after["patient_balance"]) == Decimal(before["patient_balance"]) - Decimal("7.50")


def test_front_desk_may_not_confirm_an_adjustment(web_practice: WebPractice) -> None:
    front_desk = web_practice.sign_in(FRONT_DESK)
    claim = web_practice.owing_claim(skip=1)
    reply = front_desk.post("/api/chat", json={"message": f"write off $1 small balance on claim {claim.claim_number}"})
    action = reply.json()["pending_action"]
    assert action["tool"] == "post_adjustment" and "front_desk" not in action["required_roles"]
    write_offs = count(web_practice, LedgerEntry, LedgerEntry.kind == "write_off")
    refused = front_desk.post(f"/api/actions/{action['id']}/confirm")
    assert refused.status_code == 403 and refused.json()["error"] == "permission_denied"
    assert count(web_practice, LedgerEntry, LedgerEntry.kind == "write_off") == write_offs
    cancelled = front_desk.post(f"/api/actions/{action['id']}/cancel")  # the person who asked may cancel
    assert cancelled.json()["status"] == "cancelled"


def test_nobody_sees_another_practices_data(web_practice: WebPractice, biller: TestClient) -> None:
    claim = web_practice.owing_claim(skip=2)
    reply = biller.post("/api/chat", json={"message": f"post $2 copay to claim {claim.claim_number}"}).json()
    outsider = web_practice.sign_in(OTHER_EMAIL)
    assert outsider.get(f"/api/claims/{claim.claim_number}").status_code == 404
    assert outsider.get(f"/api/threads/{reply['thread_id']}").status_code == 404
    assert reply["thread_id"] not in [t["id"] for t in outsider.get("/api/threads").json()]
    assert outsider.post(f"/api/threads/{reply['thread_id']}/feedback", json={"value": 1}).status_code == 404
    assert outsider.post(f"/api/actions/{reply['pending_action']['id']}/confirm").status_code == 404
    foreign_thread = outsider.post(
        "/api/chat", json={"message": "status of claim 1001", "thread_id": reply["thread_id"]}
    )
    assert foreign_thread.status_code == 404
    answer = outsider.post("/api/chat", json={"message": f"status of claim {claim.claim_number}"}).json()
    assert answer["cards"] == [] and answer["tool_calls"][0]["outcome"] == "error"  # not in their practice
    # and a colleague in the same practice does not see the biller's conversation either
    assert web_practice.sign_in(CODER).get(f"/api/threads/{reply['thread_id']}").status_code == 404


def test_feedback_is_stored(web_practice: WebPractice, biller: TestClient) -> None:
    reply = biller.post("/api/chat", json={"message": "status of claim 1005"}).json()
    response = biller.post(
        f"/api/threads/{reply['thread_id']}/feedback", json={"value": -1, "message_id": reply["message_id"]}
    )
    assert response.status_code == 200
    with Session(web_practice.engine) as session:
        stored = session.scalars(select(Feedback).where(Feedback.thread_id == reply["thread_id"])).one()
        assert stored.value == -1 and stored.message_id == reply["message_id"]
    assert biller.post(f"/api/threads/{reply['thread_id']}/feedback", json={"value": 5}).status_code == 422


def test_not_helpful_keeps_what_was_wrong_and_never_logs_it(
    web_practice: WebPractice, biller: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    reply = biller.post("/api/chat", json={"message": "status of claim 1006"}).json()
    path = f"/api/threads/{reply['thread_id']}/feedback"
    comment = "  Wrong payer: Jane Sample's claim went to Aetna, not Medicare.  "
    with caplog.at_level(logging.DEBUG):
        saved = biller.post(path, json={"value": -1, "message_id": reply["message_id"], "comment": comment})
    assert saved.status_code == 200, saved.text
    assert "/api/threads/{thread_id}/feedback 200" in caplog.text  # the request is logged, its comment is not
    assert "Jane Sample" not in caplog.text and "Wrong payer" not in caplog.text
    too_long = biller.post(path, json={"value": -1, "comment": "x" * 2001})
    assert too_long.status_code == 422
    assert too_long.json()["message"] == "body.comment: A comment is at most 2,000 characters; this one has 2,001."
    assert biller.post(path, json={"value": -1, "comment": "x" * 2000}).status_code == 200  # the limit itself
    assert biller.post(path, json={"value": 1, "comment": "   "}).status_code == 200  # blank is no comment
    outsider = web_practice.sign_in(OTHER_EMAIL)
    colleague = web_practice.sign_in(CODER)
    for stranger in (outsider, colleague):
        assert stranger.post(path, json={"value": -1, "comment": "not mine"}).status_code == 404
    with Session(web_practice.engine) as session:
        stored = session.scalars(select(Feedback).where(Feedback.thread_id == reply["thread_id"]).order_by(Feedback.id))
        assert [(f.value, f.comment) for f in stored] == [(-1, comment.strip()), (-1, "x" * 2000), (1, None)]
    schema = biller.get("/openapi.json").json()["components"]["schemas"]["FeedbackRequest"]
    assert schema["properties"]["comment"]["maxLength"] == 2000


# -- reads -----------------------------------------------------------------------------------------------
def test_code_lookup_and_search(biller: TestClient) -> None:
    record = biller.get("/api/codes/E11.65").json()
    assert record["code"] == "E11.65" and record["billable"] is True
    assert biller.get("/api/codes/E11").json()["billable"] is False
    hits = biller.get("/api/codes/search", params={"q": "type 2 diabetes", "limit": 5}).json()["hits"]
    assert 0 < len(hits) <= 5 and any(hit["code"].startswith("E11") for hit in hits)
    assert biller.get("/api/codes/search", params={"q": ""}).status_code == 422


def test_claim_reads_are_audited_without_patient_fields(web_practice: WebPractice, biller: TestClient) -> None:
    from knowledge.practice.models import AuditRecord

    claim = web_practice.claim(Claim.status == ClaimStatus.PAID)
    detail = biller.get(f"/api/claims/{claim.claim_number}").json()
    assert detail["claim_number"] == claim.claim_number and "balances" in detail
    with Session(web_practice.engine) as session:
        audit = session.scalars(
            select(AuditRecord).where(AuditRecord.entity == "claim", AuditRecord.entity_id == claim.claim_number)
        ).first()
        assert audit is not None and audit.details["via"] == "api"
        assert detail["patient"]["name"] not in json.dumps(audit.details)
    assert biller.get("/api/claims/NOPE-999").status_code == 404


# -- limits, errors, logs --------------------------------------------------------------------------------
@pytest.fixture
def tight_chat_limit(web_practice: WebPractice) -> Iterator[None]:
    saved = web_practice.app.state.chat_limiter
    web_practice.app.state.chat_limiter = TokenBucket(capacity=2, per_second=0.01)
    yield
    web_practice.app.state.chat_limiter = saved


@pytest.mark.usefixtures("tight_chat_limit")
def test_chat_is_rate_limited_per_user(web_practice: WebPractice) -> None:
    coder, other = web_practice.sign_in(CODER), web_practice.sign_in(OTHER_EMAIL)
    statuses = [coder.post("/api/chat", json={"message": "status of claim 1001"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = coder.post("/api/chat", json={"message": "status of claim 1001"})
    assert limited.json()["error"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    assert other.post("/api/chat", json={"message": "what is E11.65?"}).status_code == 200  # their own bucket


def test_sign_in_attempts_are_rate_limited(web_practice: WebPractice) -> None:
    saved = web_practice.app.state.login_limiter
    web_practice.app.state.login_limiter = LoginThrottle(client_burst=2, client_per_second=0.01)
    try:
        client = web_practice.client()
        attempts = [
            client.post("/api/login", json={"email": "Nobody@demo.example", "password": "x" * 12}).status_code
            for _ in range(3)
        ]
        assert attempts == [401, 401, 429]
    finally:
        web_practice.app.state.login_limiter = saved


def test_token_bucket_refills() -> None:
    now = [0.0]
    bucket = TokenBucket(capacity=2, per_second=0.5, clock=lambda: now[0])
    assert [bucket.retry_after("a"), bucket.retry_after("a"), bucket.retry_after("a")] == [0, 0, 2]
    now[0] = 2.0
    assert bucket.retry_after("a") == 0 and bucket.retry_after("b") == 0


def test_error_classes_map_to_status_codes() -> None:
    assert status_for(errors.InvalidInput("x")) == 422
    assert status_for(errors.FileFormatError("x")) == 422
    assert status_for(errors.NotFound("x")) == 404
    assert status_for(errors.PermissionDenied("x")) == 403
    assert status_for(errors.Conflict("x")) == 409
    assert status_for(errors.ServiceUnavailable("x")) == 503
    assert status_for(errors.DatabaseOutdated("x")) == 503


def test_a_dead_dependency_is_a_503_and_a_readable_chat_message(web_practice: WebPractice, biller: TestClient) -> None:
    def broken() -> Any:
        raise ConnectionError("vector store down")

    saved = web_practice.agent.providers["knowledge_base"]
    web_practice.agent.providers["knowledge_base"] = broken
    try:
        response = biller.get("/api/passages/playbook-co-16-causes")
        assert response.status_code == 503 and response.json()["error"] == "service_unavailable"
        claim = web_practice.claim(Claim.status == ClaimStatus.DENIED)
        reply = biller.post("/api/chat", json={"message": f"why was claim {claim.claim_number} denied?"})
        assert reply.status_code == 200
        call = reply.json()["tool_calls"][0]
        assert call["name"] == "explain_denial" and call["outcome"] == "error"
        assert "explain_denial tool failed" in reply.json()["answer"]
    finally:
        web_practice.agent.providers["knowledge_base"] = saved
    assert biller.get("/api/passages/playbook-co-16-causes").status_code == 200  # still serving


def test_request_ids_and_logs_without_message_text(biller: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    secret_words = "Zanzibar-quokka-1001"
    response = biller.post(
        "/api/chat", json={"message": f"status of claim 1001 {secret_words}"}, headers={"X-Request-ID": "req-abc.1"}
    )
    assert response.headers["X-Request-ID"] == "req-abc.1"
    generated = biller.get("/api/threads", headers={"X-Request-ID": "bad id\nwith newline"}).headers["X-Request-ID"]
    assert len(generated) == 32 and "\n" not in generated
    assert secret_words not in caplog.text
    access = [r for r in caplog.records if r.name == "billing_assistant.web.access"]
    assert any(getattr(r, "request_id", None) == "req-abc.1" and "/api/chat" in r.getMessage() for r in access)


def test_health_page_and_openapi(web_practice: WebPractice) -> None:
    client = web_practice.client()
    assert client.get("/api/health").json() == {"status": "ok", "database": "sqlite", "message": None}
    page = client.get("/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/chat",
        "/api/threads",
        "/api/threads/{thread_id}",
        "/api/threads/{thread_id}/feedback",
        "/api/actions/{action_id}/confirm",
        "/api/actions/{action_id}/cancel",
        "/api/codes/{code}",
        "/api/codes/search",
        "/api/claims/{claim_number}",
        "/api/passages/{passage_id}",
        "/api/health",
        "/api/login",
        "/api/logout",
        "/api/me",
    ):
        assert path in paths, path
    chat = paths["/api/chat"]["post"]["responses"]["200"]["content"]
    assert chat["application/json"]["schema"]["$ref"].endswith("/AgentReply") and "text/event-stream" in chat
    assert paths["/api/claims/{claim_number}"]["get"]["responses"]["404"]["content"]["application/json"]


def test_a_failure_mid_stream_becomes_a_readable_error_event(web_practice: WebPractice) -> None:
    from langchain_core.messages import AIMessage

    from assistant.service import AgentService
    from integrations.web.app import create_app
    from tests.fixtures.chat_models import ScriptedChatModel, tool_call

    # The model asks for a claim, then breaks (a bug, or a provider falling over) before answering.
    model = ScriptedChatModel().enqueue(AIMessage(content="", tool_calls=[tool_call("get_claim", claim_number="1001")]))
    agent = AgentService(
        web_practice.settings, engine=web_practice.engine, chat_model=model, tool_specs=web_practice.agent.specs
    )
    client = TestClient(create_app(web_practice.settings, agent=agent))
    login = client.post("/api/login", json={"email": CODER, "password": web_practice.credentials[CODER]})
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    response = client.post(
        "/api/chat?stream=1", json={"message": "status of claim 1001"}, headers={"X-Request-ID": "r-1"}
    )
    assert response.status_code == 200
    events = sse_events(response.text)
    assert [kind for kind, _ in events] == ["step", "error"]
    assert events[1][1]["error"] == "internal" and "r-1" in events[1][1]["message"]
    assert client.get("/api/health").status_code == 200  # and the server keeps serving
    agent.close()


def test_create_app_refuses_a_database_that_is_not_migrated(tmp_path: Any) -> None:
    from integrations.web.app import create_app
    from tests.integrations.web.conftest import web_settings

    with pytest.raises(errors.DatabaseOutdated):
        create_app(web_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'empty.db'}"))


def test_create_app_builds_its_own_agent(web_practice: WebPractice) -> None:
    from integrations.web.app import create_app

    app = create_app(web_practice.settings)  # default tools and providers, nothing built until used
    client = TestClient(app)
    assert client.get("/api/health").status_code == 200
    assert "/slack/events" not in [getattr(route, "path", "") for route in app.routes]  # Slack not configured
    app.state.agent.close()


def test_import_jobs_show_their_progress_to_their_own_practice_only(
    web_practice: WebPractice, biller: TestClient
) -> None:
    from knowledge.practice.database import make_session_factory, session_scope
    from knowledge.practice.models import ImportJob
    from knowledge.x12 import jobs

    sessions = make_session_factory(web_practice.engine)
    with session_scope(sessions) as session:
        job = jobs.submit(session, practice_id=web_practice.practice_id, paths=[Path(__file__)])
        job.progress_text, job.progress_done, job.progress_total, job.status = "Posting era.835", 500, 2000, "running"
        job_id = job.id
    shown = biller.get(f"/api/jobs/{job_id}")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["status"] == "running" and body["percent"] == 25 and body["step"] == "Posting era.835"
    assert [j["id"] for j in biller.get("/api/jobs").json()][:1] == [job_id]
    assert web_practice.sign_in(OTHER_EMAIL).get(f"/api/jobs/{job_id}").status_code == 404
    with session_scope(sessions) as session:  # leave nothing queued for other tests
        stored = session.get(ImportJob, job_id)
        assert stored is not None
        stored.status = "done"
