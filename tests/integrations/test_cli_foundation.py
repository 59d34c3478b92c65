"""The command line as a person runs it: the real console script in a fresh HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "integrations.cli.main"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=300, env=env or dict(os.environ), check=False
    )


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_ASSISTANT_")}
    env["BILLING_ASSISTANT_HOME"] = str(home)
    result = run("init", "--demo", "--as-of", "2026-11-22", "--no-code-vectors", "--no-knowledge", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["demo"]["created"] is True
    counts = report["demo"]["counts"]
    assert counts["patients"] >= 300 and counts["claims"] >= 2000 and counts["payers"] >= 6
    assert set(report["demo"]["credentials"]) == {
        "admin@demo.example",
        "biller@demo.example",
        "coder@demo.example",
        "frontdesk@demo.example",
    }
    return home


def test_init_demo_twice_reports_the_existing_practice(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(demo_home))
    result = run("init", "--demo", "--no-code-vectors", "--no-knowledge", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["demo"]["created"] is False
    assert "credentials" not in report["demo"]  # shown once only
    assert report["demo"]["counts"]["claims"] >= 2000


def test_claims_list_denied_shows_their_codes(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(demo_home))
    result = run("claims", "list", "--status", "denied", "--limit", "200", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["total"] >= 100
    assert all(claim["status"] == "denied" for claim in listing["claims"])
    codes = {code for claim in listing["claims"] for code in claim["adjustment_codes"]}
    remarks = {code for claim in listing["claims"] for code in claim["remark_codes"]}
    assert {"CO-16", "CO-50", "CO-97"} <= codes
    assert {"M51", "N115"} <= remarks


def test_claims_show_and_not_found(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(demo_home))
    shown = run("claims", "show", "1042", "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["status"] == "denied"
    assert detail["remittances"][0]["adjustments"][0]["reason_code"] == "50"
    assert detail["remittances"][0]["remark_codes"] == ["N115"]
    missing = run("claims", "show", "999999")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: No claim '999999' in this practice."
    as_json = run("claims", "show", "999999", "--json")
    assert json.loads(as_json.stdout) == {
        "error": "not_found",
        "message": "No claim '999999' in this practice.",
    }


def test_bad_input_is_one_line(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(demo_home))
    result = run("claims", "list", "--from", "last tuesday")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --from: expected a date as YYYY-MM-DD, got 'last tuesday'"


def test_a_bad_setting_stops_the_command_with_its_name() -> None:
    env = dict(os.environ, BILLING_ASSISTANT_LLM="chatgpt")
    result = run("claims", "list", env=env)
    assert result.returncode == 2
    assert "BILLING_ASSISTANT_LLM" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_commands_refuse_an_uninitialised_database() -> None:
    result = run("claims", "list")
    assert result.returncode == 1
    assert "Run `billing-assistant init" in result.stderr


def test_ask_proposes_and_actions_confirm_posts_once(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(demo_home))
    shown = json.loads(run("claims", "list", "--status", "partially_paid", "--limit", "200", "--json").stdout)
    owing = next(c for c in shown["claims"] if float(c["balance"]) >= 5)
    asked = run(
        "ask",
        f"post $5 copay to claim {owing['claim_number']} paid by card",
        "--user",
        "frontdesk@demo.example",
        "--json",
    )
    assert asked.returncode == 0, asked.stderr
    reply = json.loads(asked.stdout)
    action = reply["pending_action"]
    assert action["tool"] == "post_patient_payment" and reply["tool_calls"][0]["outcome"] == "pending"
    confirmed = run("actions", "confirm", action["id"], "--user", "frontdesk@demo.example", "--json")
    assert json.loads(confirmed.stdout)["status"] == "confirmed", confirmed.stderr
    again = run("actions", "confirm", action["id"], "--user", "frontdesk@demo.example", "--json")
    assert json.loads(again.stdout)["status"] == "already_decided"
    after = json.loads(run("claims", "show", owing["claim_number"], "--json").stdout)
    assert float(after["balances"]["patient_paid"]) >= 5
    unknown = run("ask", "status of claim 1042", "--user", "nobody@demo.example")
    assert unknown.returncode == 1 and "No active user" in unknown.stderr


def test_serve_answers_and_logs_request_ids_without_message_text(demo_home: Path, tmp_path: Path) -> None:
    """`serve` as the README runs it: the chat answers over HTTP, the built code sets are warmed up while
    it starts, and the log on stderr has one line per request with its id, never what was typed."""
    import socket
    import time

    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_ASSISTANT_")}
    env["BILLING_ASSISTANT_HOME"] = str(demo_home)
    issued = run("users", "token", "biller@demo.example", "--name", "serve test", "--json", env=env)
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)["token"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not answer /api/health"
            time.sleep(0.2)
        reply = httpx.post(
            f"{base}/api/chat",
            json={"message": "status of claim 1001 for Zebediah Quux"},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-serve-test-1"},
            timeout=60,
        )
        assert reply.status_code == 200 and "Claim 1001" in reply.json()["answer"]
        while "warmed up" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    logged = log_path.read_text()
    assert any("[req-serve-test-1]" in line and "POST /api/chat 200" in line for line in logged.splitlines()), logged
    assert "warmed up codesets" in logged
    assert "Zebediah" not in logged and "Quux" not in logged
