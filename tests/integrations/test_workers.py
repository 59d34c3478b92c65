"""Many workers, one behaviour (issue 17): two real server processes (`billing-assistant serve`) on one
PostgreSQL database act as one server.

- A confirmation sent to both workers at once runs exactly once: one payment, one ledger entry, one
  `confirmed` audit record; every other request is answered `already_decided`.
- Wrong passwords on worker A count on worker B (the sign-in throttle), and so do chat turns (the per-user
  rate limit).
- A Slack event retried to the other worker (same event id, `X-Slack-Retry-Num: 1`, properly signed) is
  answered once.

Each half of a count goes to a different worker, so with per-process counts none of these would trip.
Client addresses are varied with `X-Forwarded-For`, which uvicorn takes from a loopback peer.
The servers are started once for the module (about 20 s); the Slack Web API is the local stand-in.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import (
    AuditRecord,
    Claim,
    ClaimStatus,
    LedgerEntry,
    Payment,
    PaymentKind,
    SlackEvent,
)
from tests.fixtures.databases import PostgresCluster, _free_port
from tests.fixtures.slack_api import BOT_USER_ID, TEAM_ID, SlackApiStandIn, _handler
from tests.integrations.slack.conftest import BOT_TOKEN, DM_CHANNEL, SIGNING_SECRET, sign

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FRONT_DESK = "frontdesk@demo.example"
CODER = "coder@demo.example"
BILLER = "biller@demo.example"
SECRET_KEY = "worker-tests-" + "k" * 32  # the same on both workers, as in any fleet


@dataclass
class Worker:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Fleet:
    a: Worker
    b: Worker
    engine: Engine
    credentials: dict[str, str]
    slack: SlackApiStandIn

    def count(self, model: Any, *criteria: Any) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)

    def owing_claim(self) -> str:
        with Session(self.engine) as session:
            claims = session.scalars(select(Claim).where(Claim.status == ClaimStatus.PARTIALLY_PAID).order_by(Claim.id))
            return next(c.claim_number for c in claims if c.patient_responsibility - c.patient_paid >= 10)


def _start(home: Path, env: dict[str, str]) -> Worker:
    port = _free_port()
    log = home.parent / "server.log"
    command = [str(Path(sys.executable).with_name("billing-assistant")), "serve", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=home.parent, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Worker(f"http://127.0.0.1:{port}", process, log)


def _wait_ready(worker: Worker, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            pytest.fail(f"the server exited ({worker.process.returncode}):\n{worker.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{worker.url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the server did not answer within {timeout:.0f} s:\n{worker.log.read_text()[-3000:]}")


def _stop(worker: Worker) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait(timeout=10)


@pytest.fixture(scope="module")
def fleet(
    postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory, shared_cache_dir: Path
) -> Iterator[Fleet]:
    url = postgres_cluster.create_database()
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        report = seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=30, claims=120)
        session.commit()

    slack = SlackApiStandIn()
    slack_server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(slack))
    slack_server.daemon_threads = True
    slack.base_url = f"http://127.0.0.1:{slack_server.server_address[1]}"
    threading.Thread(target=slack_server.serve_forever, name="slack-api-standin", daemon=True).start()
    slack.add_user("U0BILLER", BILLER)

    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BILLING_ASSISTANT_", "SLACK_", "OPENAI_", "ANTHROPIC_"))
    }
    workers = []
    for name in ("a", "b"):
        home = tmp_path_factory.mktemp(f"worker-{name}") / "home"
        cache = home / "cache"
        cache.mkdir(parents=True)
        # The fitted router and the code-set cache of this checkout: what `init` would have built.
        for built in [*(shared_cache_dir / "router").glob("*.pickle"), *(shared_cache_dir / "codesets").glob("*")]:
            (cache / built.name).symlink_to(built)
        env = {
            **base,
            "BILLING_ASSISTANT_HOME": str(home),
            "BILLING_ASSISTANT_DATABASE_URL": url,
            "BILLING_ASSISTANT_ENVIRONMENT": "test",
            "BILLING_ASSISTANT_SECRET_KEY": SECRET_KEY,
            "BILLING_ASSISTANT_LOG_LEVEL": "WARNING",
            "BILLING_ASSISTANT_SLACK_BOT_TOKEN": BOT_TOKEN,
            "BILLING_ASSISTANT_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "BILLING_ASSISTANT_SLACK_API_URL": f"{slack.base_url}/api",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
        workers.append(_start(home, env))
    try:
        for worker in workers:
            _wait_ready(worker)
        yield Fleet(workers[0], workers[1], engine, report.credentials, slack)
    finally:
        for worker in workers:
            _stop(worker)
        slack_server.shutdown()
        slack_server.server_close()
        engine.dispose()


def _sign_in(http: httpx.Client, worker: Worker, email: str, password: str, client: str) -> httpx.Response:
    return http.post(
        f"{worker.url}/api/login", json={"email": email, "password": password}, headers={"X-Forwarded-For": client}
    )


def _race(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Send every request from its own thread, released together."""
    gate = threading.Barrier(len(calls))
    responses: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        gate.wait()
        try:
            responses[index] = calls[index]()
        except BaseException as exc:
            responses[index] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, httpx.Response) for r in responses), responses
    return [r for r in responses if isinstance(r, httpx.Response)]


def test_one_confirmation_sent_to_both_workers_runs_once(fleet: Fleet) -> None:
    with httpx.Client(timeout=60) as http:
        signed_in = _sign_in(http, fleet.a, FRONT_DESK, fleet.credentials[FRONT_DESK], "198.51.100.10")
        assert signed_in.status_code == 200, signed_in.text
        http.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]  # the session works on either worker
        claim = fleet.owing_claim()
        reply = http.post(
            f"{fleet.a.url}/api/chat", json={"message": f"post $7.50 copay to claim {claim} paid today by card"}
        )
        assert reply.status_code == 200, reply.text
        action = reply.json()["pending_action"]
        assert action["tool"] == "post_patient_payment"
        payments = fleet.count(Payment, Payment.kind == PaymentKind.PATIENT)
        ledger = fleet.count(LedgerEntry)

        confirm = f"/api/actions/{action['id']}/confirm"
        answers = _race([partial(http.post, f"{worker.url}{confirm}") for worker in [fleet.a, fleet.b] * 3])

    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    statuses = sorted(r.json()["status"] for r in answers)
    assert statuses == ["already_decided"] * 5 + ["confirmed"]
    key = f"action:{action['id']}"
    assert fleet.count(Payment, Payment.kind == PaymentKind.PATIENT) == payments + 1
    assert fleet.count(Payment, Payment.idempotency_key == key) == 1
    assert fleet.count(LedgerEntry) == ledger + 1 and fleet.count(LedgerEntry, LedgerEntry.idempotency_key == key) == 1
    with Session(fleet.engine) as session:
        outcomes = sorted(
            session.scalars(
                select(AuditRecord.outcome).where(
                    AuditRecord.entity == "pending_action", AuditRecord.entity_id == action["id"]
                )
            )
        )
        amount = session.scalar(select(Payment.amount).where(Payment.idempotency_key == key))
    assert outcomes.count("confirmed") == 1 and outcomes.count("already_decided") == 5
    assert amount == Decimal("7.50")


def test_wrong_passwords_on_one_worker_count_on_the_other(fleet: Fleet) -> None:
    attacker = "203.0.113.7"
    with httpx.Client(timeout=60) as http:
        workers = [fleet.a, fleet.b, fleet.a, fleet.b, fleet.a]  # five in a row: three on A, two on B
        statuses = [_sign_in(http, w, CODER, f"wrong-{n}", attacker).status_code for n, w in enumerate(workers)]
        assert statuses == [401] * 5
        held = _sign_in(http, fleet.b, CODER, fleet.credentials[CODER], attacker)
        assert held.status_code == 429 and 1 <= int(held.headers["Retry-After"]) <= 900
        assert _sign_in(http, fleet.a, CODER, fleet.credentials[CODER], attacker).status_code == 429
        # the real user, at another address, is not held up on either worker
        assert _sign_in(http, fleet.b, CODER, fleet.credentials[CODER], "198.51.100.2").status_code == 200


def test_the_per_user_chat_limit_is_shared(fleet: Fleet) -> None:
    burst, per_second = 20, 30 / 60  # integrations.web.app.CHAT_BURST and CHAT_PER_MINUTE
    with httpx.Client(timeout=60) as http:
        signed_in = _sign_in(http, fleet.b, BILLER, fleet.credentials[BILLER], "198.51.100.20")
        assert signed_in.status_code == 200, signed_in.text
        http.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]
        started = time.monotonic()
        statuses = []
        for n in range(2 * burst):  # alternating: each worker alone would allow `burst` of its own
            worker = (fleet.a, fleet.b)[n % 2]
            statuses.append(http.post(f"{worker.url}/api/chat", json={"message": "hello"}).status_code)
            if statuses[-1] == 429:
                break
        elapsed = time.monotonic() - started
        assert set(statuses[:burst]) == {200}, statuses
        refilled = int(elapsed * per_second) + 1  # tokens that came back while the turns ran
        assert statuses[-1] == 429 and len(statuses) <= burst + refilled + 1, (statuses, elapsed)
        other = (fleet.a, fleet.b)[len(statuses) % 2]  # the worker that did not just refuse
        refused = http.post(f"{other.url}/api/chat", json={"message": "hello"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def _dm_event(event_id: str, text: str) -> str:
    ts = f"{time.time():.6f}"
    return json.dumps(
        {
            "token": "unused",
            "team_id": TEAM_ID,
            "api_app_id": "A0APP",
            "event": {
                "type": "message",
                "channel_type": "im",
                "user": "U0BILLER",
                "text": text,
                "ts": ts,
                "channel": DM_CHANNEL,
                "team": TEAM_ID,
                "event_ts": ts,
            },
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )


def _post_event(worker: Worker, body: str, **headers: str) -> httpx.Response:
    headers = {"Content-Type": "application/json", **sign(body), **headers}
    return httpx.post(f"{worker.url}/slack/events", content=body, headers=headers, timeout=30)


def test_a_slack_event_retried_to_the_other_worker_is_answered_once(fleet: Fleet) -> None:
    retried = f"Ev{uuid.uuid4().hex[:10].upper()}"
    body = _dm_event(retried, "hello")
    assert _post_event(fleet.a, body).status_code == 200
    retry = _post_event(fleet.b, body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200
    # A new event to B afterwards: once it is answered, B has had every chance to answer the retry too.
    assert _post_event(fleet.b, _dm_event(f"Ev{uuid.uuid4().hex[:10].upper()}", "thanks")).status_code == 200
    fleet.slack.wait_for(
        lambda calls: len([c for c in calls if c.method == "chat.update"]) >= 2, timeout=90, what="both answers"
    )
    working = [c for c in fleet.slack.named("chat.postMessage") if c.body.get("text") == "Working on it…"]
    assert len(working) == 2 and len(fleet.slack.named("chat.update")) == 2
    assert fleet.count(SlackEvent, SlackEvent.event_id == retried) == 1
