"""`billing-assistant mcp`: the real server in a subprocess, driven by the MCP SDK's own clients.

Over stdio (`mcp.client.stdio` + `ClientSession`), as a desktop client starts it: the tool list is the
registry's with no server-bound parameter, a read tool answers from the demo practice, a write is only
proposed (nothing posted, a pending action and its audit row stored), bad arguments and a user removed
while the server runs give error results, and `ask` runs the conversation engine. Once over streamable
HTTP. The refusal of a role without claim access runs the same server in-process (the CLI always binds a
practice user, and every practice role may read claims). Cheap HOME: the built code sets and the fitted
router are copied in, no vectors are built.
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import mcp.types as types
import pytest
from mcp.client import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assistant.registry import default_tool_specs
from assistant.service import build_agent_service
from assistant.settings import load_settings
from assistant.types import Channel, Requester
from integrations.mcp.server import McpAdapter, build_server
from knowledge.codesets import CodeSets
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import AuditRecord, Claim, PendingAction, Practice, User

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
    for pickle_file in [*codesets_cache_dir.glob("codesets-*.pickle"), *(shared_cache_dir / "router").glob("*.pickle")]:
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


def test_reads_writes_and_errors_over_stdio(mcp_home: Path) -> None:
    async def scenario() -> dict[str, types.CallToolResult]:
        async with stdio_session(mcp_home, "--user", BILLER) as session:
            return {
                "claim": await session.call_tool("get_claim", {"claim_number": CLAIM}),
                "missing": await session.call_tool("get_claim", {"claim_number": "999999"}),
                "payment": await session.call_tool("post_patient_payment", {"claim_number": CLAIM, "amount": "12.34"}),
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


def test_a_proposed_payment_posts_nothing(mcp_home: Path) -> None:
    def payments(db: Session) -> int:
        from knowledge.practice.models import Payment

        return int(db.scalar(select(func.count()).select_from(Payment)) or 0)

    with _db(mcp_home) as db:
        before = payments(db)

    async def scenario() -> types.CallToolResult:
        async with stdio_session(mcp_home, "--user", "frontdesk@demo.example") as session:
            return await session.call_tool("post_patient_payment", {"claim_number": CLAIM, "amount": "5.00"})

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


def test_streamable_http_transport(mcp_home: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = tmp_path / "mcp-http.log"
    command = [sys.executable, "-m", "integrations.cli.main", "mcp", "--user", BILLER, "--practice", "demo"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*command, "--transport", "http", "--port", str(port)],
            env={**os.environ, **_env(mcp_home)},
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the MCP HTTP server did not start"
                time.sleep(0.3)

        async def scenario() -> tuple[list[str], types.CallToolResult]:
            async with Client(url) as client:
                names = [tool.name for tool in (await client.list_tools()).tools]
                return names, await client.call_tool("get_claim", {"claim_number": CLAIM})

        names, claim = anyio.run(scenario)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "get_claim" in names and "ask" in names
    assert not claim.is_error and isinstance(claim.structured_content, dict)
    assert claim.structured_content["claim_number"] == CLAIM


def test_http_refuses_a_non_loopback_host(mcp_home: Path) -> None:
    result = subprocess.run(
        [*CLI, "mcp", "--user", BILLER, "--transport", "http", "--host", "0.0.0.0"],
        env={**os.environ, **_env(mcp_home)},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1 and "loopback" in result.stderr and "Traceback" not in result.stderr
