"""`billing-assistant mcp`: the real server in a subprocess, driven by the MCP SDK's own clients.

Over stdio (`mcp.client.stdio` + `ClientSession`), as a desktop client starts it: the tool list is the
registry's with no server-bound parameter, a read tool answers from the demo practice, a write is only
proposed (nothing posted, a pending action and its audit row stored), bad arguments and a user removed
while the server runs give error results, and `ask` runs the conversation engine. Over streamable HTTP
(one server for every practice, `httpx2` sending the bearer token as a real client does): each request runs
as its MCP token's user (two practices at once, checked in the audit rows), a missing, unknown or revoked
token is answered 401 with no tool run (a revoked one audited as denied), and a session opened with one
token cannot be continued with another. The refusal of a role without claim access runs the same server
in-process (the CLI always binds a practice user, and every practice role may read claims). Cheap HOME: the
built code sets and the fitted router are copied in, no vectors are built.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import mcp.types as types
import pytest
from mcp.client import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_HANDSHAKE_VERSION
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assistant.registry import default_tool_specs
from assistant.service import build_agent_service
from assistant.settings import load_settings
from assistant.types import Channel, Requester
from integrations.mcp.server import McpAdapter, build_server
from knowledge.codesets import CodeSets
from knowledge.practice.accounts import add_user, disable_user, issue_token, resolve_token
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.ledger import claim_totals
from knowledge.practice.models import AuditRecord, Claim, PendingAction, Practice, Role, User

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "integrations.cli.main"]
CLAIM = "1042"
BILLER = "biller@demo.example"
SERVER_BOUND = {"session", "practice_id", "user_id", "idempotency_key", "codesets", "knowledge_base"}


@pytest.fixture(scope="module")
def mcp_home(
    tmp_path_factory: pytest.TempPathFactory, shared_cache_dir: Path, codesets_cache_dir: Path, codesets: CodeSets
) -> Path:
    """A HOME with a migrated database, a small demo practice, the built code sets and the fitted router."""
    home = tmp_path_factory.mktemp("mcp") / "home"
    cache = home / "cache"
    cache.mkdir(parents=True)
    for pickle_file in [*codesets_cache_dir.glob("codesets-*"), *(shared_cache_dir / "router").glob("*.pickle")]:
        shutil.copy2(pickle_file, cache / pickle_file.name)
    engine = make_engine(f"sqlite:///{home / 'practice.db'}")
    upgrade(engine)
    with Session(engine) as session:
        seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=30, claims=120)
        session.commit()
    engine.dispose()
    return home


def _env(home: Path) -> dict[str, str]:
    return {
        "BILLING_ASSISTANT_HOME": str(home),
        "BILLING_ASSISTANT_DATABASE_URL": f"sqlite:///{home / 'practice.db'}",
        "BILLING_ASSISTANT_ENVIRONMENT": "test",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@asynccontextmanager
async def stdio_session(home: Path, *args: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "integrations.cli.main", "mcp", "--practice", "demo", *args],
        env=_env(home),
        cwd=REPO_ROOT,
    )
    async with stdio_client(params) as (read_stream, write_stream), ClientSession(read_stream, write_stream) as session:
        await session.initialize()
        yield session


@pytest.fixture(scope="module")
def payable_claim(mcp_home: Path) -> str:
    """A demo claim on which the patient owes more than $20 after the payer's decision: a patient payment
    there is proposed (one where the payer left the patient nothing, 1042 for one, is refused outright)."""
    with _db(mcp_home) as db:
        candidates = db.scalars(
            select(Claim).join(Practice).where(Practice.slug == "demo").order_by(Claim.claim_number)
        ).all()
        for claim in candidates:
            totals = claim_totals(db, claim_id=claim.id)
            if totals.patient_responsibility - totals.patient_paid > Decimal("20"):
                return claim.claim_number
    raise AssertionError("the demo practice has no claim with a patient balance")


def _text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def _db(home: Path) -> Session:
    return Session(make_engine(f"sqlite:///{home / 'practice.db'}"))


def test_tools_derive_from_the_registry_without_server_bound_parameters(mcp_home: Path) -> None:
    async def scenario() -> list[types.Tool]:
        async with stdio_session(mcp_home, "--user", BILLER) as session:
            return (await session.list_tools()).tools

    tools = anyio.run(scenario)
    by_name = {tool.name: tool for tool in tools}
    specs = default_tool_specs()
    assert set(by_name) == {spec.name for spec in specs} | {"ask"}
    for spec in specs:
        tool = by_name[spec.name]
        assert tool.description == spec.description
        properties = set(tool.input_schema.get("properties", {}))
        assert properties == set(spec.args_schema().model_fields)
        assert not properties & SERVER_BOUND, (spec.name, properties)
    assert by_name["post_patient_payment"].annotations is not None
    assert by_name["post_patient_payment"].annotations.read_only_hint is False
    assert by_name["get_claim"].annotations is not None and by_name["get_claim"].annotations.read_only_hint is True


def test_reads_writes_and_errors_over_stdio(mcp_home: Path, payable_claim: str) -> None:
    async def scenario() -> dict[str, types.CallToolResult]:
        async with stdio_session(mcp_home, "--user", BILLER) as session:
            return {
                "claim": await session.call_tool("get_claim", {"claim_number": CLAIM}),
                "missing": await session.call_tool("get_claim", {"claim_number": "999999"}),
                "payment": await session.call_tool(
                    "post_patient_payment", {"claim_number": payable_claim, "amount": "12.34"}
                ),
                "bad_amount": await session.call_tool(
                    "post_patient_payment", {"claim_number": CLAIM, "amount": "a lot"}
                ),
                "no_claim": await session.call_tool("get_claim", {}),
                "practice": await session.call_tool("get_claim", {"claim_number": CLAIM, "practice_id": 2}),
                "unknown": await session.call_tool("confirm_action", {"action_id": "x"}),
            }

    results = anyio.run(scenario)

    claim = results["claim"]
    assert not claim.is_error, _text(claim)
    assert isinstance(claim.structured_content, dict) and claim.structured_content["claim_number"] == CLAIM
    assert json.loads(_text(claim))["claim_number"] == CLAIM

    for name in ("missing", "bad_amount", "no_claim", "practice", "unknown"):
        result = results[name]
        assert result.is_error, name
        text = _text(result)
        assert len(text.splitlines()) == 1 and "Traceback" not in text, (name, text)
    assert results["missing"].structured_content == {"error": "not_found", "message": _text(results["missing"])}
    assert "practice_id" in _text(results["practice"])
    assert isinstance(results["bad_amount"].structured_content, dict)
    assert results["bad_amount"].structured_content["error"] == "invalid_input"

    payment = results["payment"]
    assert not payment.is_error, _text(payment)
    assert isinstance(payment.structured_content, dict)
    action_id = payment.structured_content["pending_action"]["id"]
    assert f"billing-assistant actions confirm {action_id}" in _text(payment)
    with _db(mcp_home) as db:
        action = db.get(PendingAction, action_id)
        assert action is not None and action.status == "pending" and action.tool == "post_patient_payment"
        practice_id = db.scalar(select(Practice.id).where(Practice.slug == "demo"))
        assert action.practice_id == practice_id
        biller = db.scalar(select(User).where(User.email == BILLER))
        assert biller is not None and action.requested_by_user_id == biller.id
        claim_row = db.scalar(select(Claim).where(Claim.claim_number == CLAIM, Claim.practice_id == practice_id))
        assert claim_row is not None
        assert not db.scalar(select(func.count()).select_from(PendingAction).where(PendingAction.status != "pending"))
        audit = db.execute(
            select(AuditRecord.action, AuditRecord.outcome, AuditRecord.details, AuditRecord.user_id)
            .where(AuditRecord.action.in_(["get_claim", "post_patient_payment"]))
            .order_by(AuditRecord.id)
        ).all()
    assert [(row.action, row.outcome) for row in audit] == [
        ("get_claim", "ok"),
        ("get_claim", "error"),
        ("post_patient_payment", "pending"),
    ]
    assert all(row.details["channel"] == "mcp" and row.user_id == biller.id for row in audit)
    assert "amount" in _text(results["bad_amount"])


def test_a_proposed_payment_posts_nothing(mcp_home: Path, payable_claim: str) -> None:
    def payments(db: Session) -> int:
        from knowledge.practice.models import Payment

        return int(db.scalar(select(func.count()).select_from(Payment)) or 0)

    with _db(mcp_home) as db:
        before = payments(db)

    async def scenario() -> types.CallToolResult:
        async with stdio_session(mcp_home, "--user", "frontdesk@demo.example") as session:
            return await session.call_tool("post_patient_payment", {"claim_number": payable_claim, "amount": "5.00"})

    result = anyio.run(scenario)
    assert not result.is_error, _text(result)
    assert "Proposed, not written" in _text(result) and "This client cannot confirm it" in _text(result)
    with _db(mcp_home) as db:
        assert payments(db) == before


def test_ask_answers_through_the_conversation_engine(mcp_home: Path) -> None:
    async def scenario() -> types.CallToolResult:
        async with stdio_session(mcp_home, "--user", BILLER) as session:
            return await session.call_tool("ask", {"message": f"status of claim {CLAIM}"})

    result = anyio.run(scenario)
    assert not result.is_error, _text(result)
    reply = result.structured_content
    assert isinstance(reply, dict)
    assert [call["name"] for call in reply["tool_calls"]] == ["get_claim"]
    assert CLAIM in reply["answer"] and reply["thread_id"] in _text(result)


def test_a_user_removed_while_serving_is_refused(mcp_home: Path) -> None:
    email = "coder@demo.example"

    async def scenario() -> tuple[types.CallToolResult, types.CallToolResult]:
        async with stdio_session(mcp_home, "--user", email) as session:
            first = await session.call_tool("get_claim", {"claim_number": CLAIM})
            with _db(mcp_home) as db:
                db.execute(update(User).where(User.email == email).values(active=False))
                db.commit()
            try:
                second = await session.call_tool("get_claim", {"claim_number": CLAIM})
            finally:
                with _db(mcp_home) as db:
                    db.execute(update(User).where(User.email == email).values(active=True))
                    db.commit()
            return first, second

    first, second = anyio.run(scenario)
    assert not first.is_error
    assert second.is_error and "No active user" in _text(second)


def test_an_unknown_user_fails_to_start_in_one_line(mcp_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "integrations.cli.main", "mcp", "--user", "nobody@demo.example"],
        env={**os.environ, **_env(mcp_home)},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: No active user")


def test_a_role_without_claim_access_is_refused(mcp_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same server in-process, bound to a requester the practice has not mapped (role None)."""
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(mcp_home))
    monkeypatch.setenv("BILLING_ASSISTANT_DATABASE_URL", f"sqlite:///{mcp_home / 'practice.db'}")
    service = build_agent_service(load_settings())
    with service.read_sessions() as db:
        practice_id = db.scalar(select(Practice.id).where(Practice.slug == "demo"))
    assert practice_id is not None

    def unmapped() -> Requester:
        return Requester(practice_id=practice_id, user_id=None, role=None, channel=Channel.MCP, request_id="r-mcp")

    server = build_server(McpAdapter(service, unmapped, practice_slug="demo"))

    async def scenario() -> tuple[list[str], types.CallToolResult, types.CallToolResult]:
        async with Client(server) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            claim = await client.call_tool("get_claim", {"claim_number": CLAIM})
            payment = await client.call_tool("post_patient_payment", {"claim_number": CLAIM, "amount": "1.00"})
            return names, claim, payment

    try:
        names, claim, payment = anyio.run(scenario)
    finally:
        service.close()
    assert "get_claim" not in names and "post_patient_payment" not in names and "lookup_code" in names
    assert claim.is_error and claim.structured_content == {"error": "permission_denied", "message": _text(claim)}
    assert payment.is_error and isinstance(payment.structured_content, dict)
    assert payment.structured_content["error"] == "permission_denied"
    with _db(mcp_home) as db:
        denied = db.scalars(
            select(AuditRecord.action).where(AuditRecord.outcome == "denied", AuditRecord.request_id == "r-mcp")
        ).all()
    assert sorted(denied) == ["get_claim", "post_patient_payment"]


# -- streamable HTTP: every request carries an MCP token, which names its user ------------------------------
OTHER_ADMIN = "admin@other.example"
MCP_PATH = "/mcp"


@pytest.fixture(scope="module")
def other_practice(mcp_home: Path) -> int:
    """A second practice in the same database, with one admin and none of the demo's claims."""
    with _db(mcp_home) as db:
        other = Practice(slug="other", name="Another practice", npi="1234567893")
        db.add(other)
        db.flush()
        add_user(db, practice_id=other.id, email=OTHER_ADMIN, name="Other admin", role=Role.ADMIN, password=None)
        db.commit()
        return other.id


def _cli_json(home: Path, *args: str) -> Any:
    result = subprocess.run(
        [*CLI, *args, "--json"],
        env={**os.environ, **_env(home)},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _issue(home: Path, *, practice_id: int, email: str, name: str = "test client") -> str:
    with _db(home) as db:
        user = db.scalar(select(User).where(User.practice_id == practice_id, User.email == email))
        assert user is not None
        secret = issue_token(db, user=user, kind="mcp", name=name).secret
        db.commit()
    return secret


@pytest.fixture(scope="module")
def mcp_url(mcp_home: Path, other_practice: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`billing-assistant mcp --transport http` on a free loopback port, serving every practice."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = tmp_path_factory.mktemp("mcp-http") / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*CLI, "mcp", "--transport", "http", "--port", str(port)],
            env={**os.environ, **_env(mcp_home)},
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}{MCP_PATH}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                httpx.get(url, timeout=1)  # any answer (401 without a token) means it is up
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the MCP HTTP server did not start"
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@asynccontextmanager
async def http_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    """The SDK's streamable HTTP client, sending the token on every request as a real client would."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http,
        streamable_http_client(url, http_client=http) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        await session.initialize()
        yield session


def _initialize_body() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": LATEST_HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "0"},
        },
    }


_CALL_CLAIM = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "get_claim", "arguments": {"claim_number": CLAIM}},
}
_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _claim_calls(home: Path) -> int:
    with _db(home) as db:
        return int(
            db.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "get_claim")) or 0
        )


def test_http_runs_each_call_as_its_tokens_user(mcp_home: Path, mcp_url: str, other_practice: int) -> None:
    """Two users of two practices, each with their own token, on one server at once: each sees its own
    practice, and what is stored (the audit rows) names the token's practice and user."""
    with _db(mcp_home) as db:
        demo_id = db.scalar(select(Practice.id).where(Practice.slug == "demo"))
        biller = db.scalar(select(User).where(User.email == BILLER))
        other_admin = db.scalar(select(User).where(User.email == OTHER_ADMIN))
    assert demo_id is not None and biller is not None and other_admin is not None
    created = _cli_json(mcp_home, "users", "mcp-token", "create", BILLER, "--practice", "demo", "--name", "ide")
    assert created["token"].startswith("ba_mcp_") and created["email"] == BILLER and created["role"] == "biller"
    demo_token = created["token"]
    other_token = _issue(mcp_home, practice_id=other_practice, email=OTHER_ADMIN)

    async def as_user(token: str) -> tuple[list[str], types.CallToolResult]:
        async with http_session(mcp_url, token) as session:
            names = [tool.name for tool in (await session.list_tools()).tools]
            return names, await session.call_tool("get_claim", {"claim_number": CLAIM})

    async def both() -> list[tuple[list[str], types.CallToolResult]]:
        results: dict[str, tuple[list[str], types.CallToolResult]] = {}

        async def run(key: str, token: str) -> None:
            results[key] = await as_user(token)

        async with anyio.create_task_group() as group:
            group.start_soon(run, "demo", demo_token)
            group.start_soon(run, "other", other_token)
        return [results["demo"], results["other"]]

    before = _claim_calls(mcp_home)
    (demo_names, demo_claim), (other_names, other_claim) = anyio.run(both)

    assert "get_claim" in demo_names and "ask" in demo_names and "get_claim" in other_names
    assert not demo_claim.is_error, _text(demo_claim)
    assert isinstance(demo_claim.structured_content, dict)
    assert demo_claim.structured_content["claim_number"] == CLAIM
    # The demo's claim does not exist for the other practice: answered like a missing one.
    assert other_claim.is_error and isinstance(other_claim.structured_content, dict)
    assert other_claim.structured_content["error"] == "not_found"
    with _db(mcp_home) as db:
        rows = db.execute(
            select(AuditRecord.practice_id, AuditRecord.user_id, AuditRecord.outcome, AuditRecord.details)
            .where(AuditRecord.action == "get_claim")
            .order_by(AuditRecord.id)
            .offset(before)
        ).all()
    listed = _cli_json(mcp_home, "users", "mcp-token", "list", BILLER, "--practice", "demo")
    assert sorted((row.practice_id, row.user_id, row.outcome) for row in rows) == sorted(
        [(demo_id, biller.id, "ok"), (other_practice, other_admin.id, "error")]
    )
    assert all(row.details["channel"] == "mcp" for row in rows)
    mine = [row for row in listed if row["token_id"] == created["token_id"]]
    assert mine and mine[0]["last_used_at"] is not None and "token" not in mine[0]
    assert all(row["email"] == BILLER for row in listed)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer ba_mcp_not-a-token", "Basic Zm9vOmJhcg==", "Bearer"],
    ids=["missing", "unknown", "not-bearer", "empty"],
)
def test_http_without_a_valid_token_is_refused_before_any_tool_runs(
    mcp_home: Path, mcp_url: str, authorization: str | None
) -> None:
    headers = dict(_ACCEPT)
    if authorization is not None:
        headers["Authorization"] = authorization
    before = _claim_calls(mcp_home)
    initialize = httpx.post(mcp_url, json=_initialize_body(), headers=headers, timeout=30)
    call = httpx.post(mcp_url, json=_CALL_CLAIM, headers=headers, timeout=30)
    assert initialize.status_code == 401 and call.status_code == 401
    assert call.headers["www-authenticate"].startswith("Bearer ")
    assert call.json()["error"] == "invalid_token"
    assert _claim_calls(mcp_home) == before


def test_a_revoked_token_is_refused_and_the_refusal_audited(mcp_home: Path, mcp_url: str) -> None:
    """Revoking one of a user's two tokens ends that client's access at its next request; the other client
    of the same user goes on."""
    email = "coder@demo.example"
    created = _cli_json(mcp_home, "users", "mcp-token", "create", email, "--practice", "demo")
    kept = _cli_json(mcp_home, "users", "mcp-token", "create", email, "--practice", "demo", "--name", "laptop")

    async def calls_until_revoked() -> tuple[types.CallToolResult, BaseException | None]:
        async with http_session(mcp_url, created["token"]) as session:
            first = await session.call_tool("get_claim", {"claim_number": CLAIM})
            revoked = _cli_json(
                mcp_home, "users", "mcp-token", "revoke", str(created["token_id"]), "--practice", "demo"
            )
            assert revoked["revoked"] is True
            try:
                await session.call_tool("get_claim", {"claim_number": CLAIM})
            except Exception as exc:  # the SDK client raises on the 401
                return first, exc
            return first, None

    before = _claim_calls(mcp_home)
    first, refused = anyio.run(calls_until_revoked)
    assert not first.is_error, _text(first)
    assert refused is not None, "a revoked token was accepted"
    assert _claim_calls(mcp_home) == before + 1  # the first call only
    fresh = httpx.post(
        mcp_url, json=_initialize_body(), headers={**_ACCEPT, "Authorization": f"Bearer {created['token']}"}, timeout=30
    )
    assert fresh.status_code == 401

    async def other_client() -> types.CallToolResult:
        async with http_session(mcp_url, kept["token"]) as session:
            return await session.call_tool("get_claim", {"claim_number": CLAIM})

    assert not anyio.run(other_client).is_error
    listed = {row["token_id"]: row["revoked"] for row in _cli_json(mcp_home, "users", "mcp-token", "list", email)}
    assert listed[created["token_id"]] is True and listed[kept["token_id"]] is False
    with _db(mcp_home) as db:
        coder = db.scalar(select(User).where(User.email == email))
        denied = db.execute(
            select(AuditRecord.user_id, AuditRecord.action, AuditRecord.details).where(
                AuditRecord.outcome == "denied",
                AuditRecord.entity == "mcp_token",
                AuditRecord.entity_id == str(created["token_id"]),
            )
        ).all()
    assert coder is not None and len(denied) >= 2  # the refused call and the fresh attempt
    assert all(row.user_id == coder.id and row.details["channel"] == "mcp" for row in denied)


def test_a_session_cannot_be_continued_with_another_users_token(
    mcp_home: Path, mcp_url: str, other_practice: int
) -> None:
    """The SDK binds an MCP session to the token that opened it: another valid token gets 404 for it."""
    demo_id = _practice_id(mcp_home, "demo")
    opener = _issue(mcp_home, practice_id=demo_id, email=BILLER)
    intruder = _issue(mcp_home, practice_id=other_practice, email=OTHER_ADMIN)
    opened = httpx.post(
        mcp_url, json=_initialize_body(), headers={**_ACCEPT, "Authorization": f"Bearer {opener}"}, timeout=30
    )
    assert opened.status_code == 200, opened.text
    session_id = opened.headers["mcp-session-id"]
    before = _claim_calls(mcp_home)
    taken = httpx.post(
        mcp_url,
        json=_CALL_CLAIM,
        headers={**_ACCEPT, "Authorization": f"Bearer {intruder}", "mcp-session-id": session_id},
        timeout=30,
    )
    assert taken.status_code == 404
    assert _claim_calls(mcp_home) == before


def test_a_disabled_users_tokens_are_revoked(mcp_home: Path, other_practice: int) -> None:
    with _db(mcp_home) as db:
        user = add_user(
            db, practice_id=other_practice, email="leaver@other.example", name="Leaver", role=Role.BILLER, password=None
        )
        secret = issue_token(db, user=user, kind="mcp", name="laptop").secret
        db.commit()
        assert resolve_token(db, secret=secret, kind="mcp") is not None
        assert resolve_token(db, secret=secret, kind="api") is None  # one kind never resolves as another
        disable_user(db, practice_id=other_practice, email="leaver@other.example")
        db.commit()
        assert resolve_token(db, secret=secret, kind="mcp") is None


def test_http_takes_no_user_and_stdio_needs_one(mcp_home: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "mcp", *args],
            env={**os.environ, **_env(mcp_home)},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    http_user = run("--transport", "http", "--user", BILLER)
    stdio_alone = run()
    for result in (http_user, stdio_alone):
        assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "mcp-token create" in http_user.stderr
    assert "--user EMAIL is required" in stdio_alone.stderr


def _practice_id(home: Path, slug: str) -> int:
    with _db(home) as db:
        found = db.scalar(select(Practice.id).where(Practice.slug == slug))
    assert found is not None
    return int(found)
