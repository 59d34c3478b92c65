"""The Slack app end to end: signed requests through the real `/slack/events` route of a FastAPI app,
the real agent service on a seeded practice database, and the Slack Web API played by a local server.

The demo practice is seeded once per session into a SQLite file (about 4 s) and copied for each test;
the PostgreSQL run seeds its own (see `test_http.py`).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from assistant.registry import default_tool_specs
from assistant.service import AgentService
from assistant.settings import load_settings
from integrations.slack.http import mount_slack
from knowledge.codesets import CodeSets
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import Claim, ClaimStatus, Coverage, Patient, Role, User
from tests.codeset_fixtures import codesets, codesets_cache_dir
from tests.fixtures.databases import PostgresCluster
from tests.fixtures.slack_api import BOT_USER_ID, TEAM_ID, SlackApiStandIn, slack_api

__all__ = ["codesets", "codesets_cache_dir", "slack_api"]

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
WEB = "https://chat.example.test"
PHI_CHANNEL = "C0PHI"
OPEN_CHANNEL = "C0OPEN"
DM_CHANNEL = "D0DM"
TOOLS = {
    "get_claim",
    "find_claims",
    "denial_worklist",
    "post_patient_payment",
    "post_adjustment",
    "lookup_code",
    "search_codes",
    "explain_adjustment_codes",
}
# Slack users: two found by their verified email, one linked already, one stranger.
SLACK_USERS = {
    "U0BILLER": "biller@demo.example",
    "U0FRONT": "frontdesk@demo.example",
    "U0STRANGER": "someone@elsewhere.example",
}
LINKED_ADMIN = "U0ADMIN"


@dataclass(frozen=True)
class DemoFacts:
    """What the tests need to know about the seeded practice."""

    practice_id: int
    users: dict[Role, int]
    claim_number: str  # a denied claim
    phi: tuple[str, ...]  # its patient's first and last name, birth date, member id
    owing_claim: str  # a claim with a patient balance of at least $5


def demo_facts(engine: Engine) -> DemoFacts:
    with Session(engine) as session:
        users = {user.role: user.id for user in session.scalars(select(User))}
        practice_id = session.scalars(select(User.practice_id)).first()
        assert practice_id is not None
        claim = session.scalars(select(Claim).where(Claim.status == ClaimStatus.DENIED).order_by(Claim.id)).first()
        assert claim is not None
        patient = session.get(Patient, claim.patient_id)
        assert patient is not None and patient.birth_date is not None
        member = session.scalars(select(Coverage.member_id).where(Coverage.patient_id == patient.id)).first()
        assert member is not None
        owing = next(
            c.claim_number
            for c in session.scalars(select(Claim).where(Claim.status == ClaimStatus.PARTIALLY_PAID).order_by(Claim.id))
            if c.patient_responsibility - c.patient_paid >= Decimal("5.00")
        )
        return DemoFacts(
            practice_id,
            users,
            claim.claim_number,
            (patient.first_name, patient.last_name, patient.birth_date.isoformat(), member),
            owing,
        )


def seed(engine: Engine) -> None:
    with Session(engine) as session:
        seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=30, claims=120)
        session.execute(update(User).where(User.role == Role.ADMIN).values(slack_user_id=LINKED_ADMIN))
        session.commit()


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file: the template every test copies."""
    path = tmp_path_factory.mktemp("slack-template") / "practice.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    seed(engine)
    engine.dispose()
    return path


@pytest.fixture
def practice_engine(seeded_sqlite: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "practice.db"
    shutil.copy(seeded_sqlite, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack sends: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


@dataclass
class SlackHarness:
    """Sends what Slack would send to `/slack/events` and reads what the app sent back to Slack."""

    http: TestClient
    api: SlackApiStandIn
    agent: AgentService
    facts: DemoFacts
    engine: Engine
    app: FastAPI
    sent: list[str] = field(default_factory=list)

    # -- requests ---------------------------------------------------------------------------------------
    def post(self, body: str, content_type: str, headers: dict[str, str] | None = None) -> Any:
        return self.http.post("/slack/events", content=body, headers={"Content-Type": content_type, **(headers or {})})

    def post_signed(self, body: str, content_type: str, **extra: str) -> Any:
        return self.post(body, content_type, {**sign(body), **extra})

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None) -> Any:
        envelope = {
            "token": "unused",
            "team_id": TEAM_ID,
            "api_app_id": "A0APP",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return self.post_signed(json.dumps(envelope), "application/json", **extra)

    def mention(self, text: str, *, user: str = "U0BILLER", channel: str = OPEN_CHANNEL, **extra: Any) -> Any:
        ts = f"{time.time():.6f}"
        return self.event(
            {
                "type": "app_mention",
                "user": user,
                "text": f"<@{BOT_USER_ID}> {text}",
                "ts": ts,
                "channel": channel,
                "team": TEAM_ID,
                "event_ts": ts,
            },
            **extra,
        )

    def direct_message(self, text: str, *, user: str = "U0BILLER") -> Any:
        ts = f"{time.time():.6f}"
        return self.event(
            {
                "type": "message",
                "channel_type": "im",
                "user": user,
                "text": text,
                "ts": ts,
                "channel": DM_CHANNEL,
                "team": TEAM_ID,
                "event_ts": ts,
            }
        )

    def command(
        self, command: str, text: str, *, user: str = "U0BILLER", channel: str = OPEN_CHANNEL
    ) -> tuple[Any, str]:
        response_url = self.api.response_url()
        form = {
            "token": "unused",
            "team_id": TEAM_ID,
            "team_domain": "demo",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "billing",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0APP",
            "response_url": response_url,
            "trigger_id": f"{uuid.uuid4().int % 10**12}.1.abc",
        }
        return self.post_signed(urlencode(form), "application/x-www-form-urlencoded"), response_url

    def click(
        self, action_id: str, value: str, *, user: str = "U0BILLER", channel: str = DM_CHANNEL
    ) -> tuple[Any, str]:
        response_url = self.api.response_url()
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "demo"},
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": "A0APP",
            "token": "unused",
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": True},
            "trigger_id": "1.2.abc",
            "channel": {"id": channel, "name": "billing"},
            "response_url": response_url,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.post_signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"), (
            response_url
        )

    # -- what came back ---------------------------------------------------------------------------------
    def at(self, url: str) -> Callable[[list[Any]], list[Any]]:
        path = url.removeprefix(self.api.base_url)
        return lambda calls: [c for c in calls if c.method == "response_url" and c.path == path]

    def wait_response(self, url: str, count: int = 1) -> list[Any]:
        select_calls = self.at(url)
        calls = self.api.wait_for(lambda calls: len(select_calls(calls)) >= count, what=f"{count} posts to {url}")
        return select_calls(calls)

    def wait_answer(self, channel: str) -> Any:
        """The chat.update that replaced "Working on it…" in this channel."""
        calls = self.api.wait_for(
            lambda calls: any(c.method == "chat.update" and c.body.get("channel") == channel for c in calls),
            # Returns as soon as the answer is there; the bound is for a slow first turn on a busy CI machine.
            timeout=60.0,
            what=f"the answer in {channel}",
        )
        return next(c for c in calls if c.method == "chat.update" and c.body.get("channel") == channel)

    def settle(self) -> None:
        """Wait until every background listener has finished."""
        executor = self.app.state.slack_app.listener_runner.listener_executor
        executor.shutdown(wait=True)


def build_harness(
    engine: Engine,
    api: SlackApiStandIn,
    codesets: CodeSets,
    monkeypatch: pytest.MonkeyPatch,
    **settings: Any,
) -> Iterator[SlackHarness]:
    monkeypatch.setenv("BILLING_ASSISTANT_SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("BILLING_ASSISTANT_SLACK_SIGNING_SECRET", SIGNING_SECRET)
    for slack_id, email in SLACK_USERS.items():
        api.add_user(slack_id, email)
    api.add_user(LINKED_ADMIN, "admin@demo.example")
    config = load_settings(
        database_url=engine.url.render_as_string(hide_password=False),
        web_base_url=WEB,
        slack_phi_channels=[PHI_CHANNEL],
        **settings,
    )
    agent = AgentService(
        config,
        engine=engine,
        tool_specs=[spec for spec in default_tool_specs() if spec.name in TOOLS],
        providers={"codesets": lambda: codesets},
    )
    app = FastAPI()
    mount_slack(app, settings=config, agent=agent, client=WebClient(token=BOT_TOKEN, base_url=api.api_url))
    harness = SlackHarness(TestClient(app), api, agent, demo_facts(engine), engine, app)
    yield harness
    harness.settle()
    agent.close()


@pytest.fixture
def slack_settings() -> dict[str, Any]:
    """Extra settings for the `slack` fixture; a test overrides it with `parametrize("slack_settings", ...)`."""
    return {}


@pytest.fixture
def slack(
    practice_engine: Engine,
    slack_api: SlackApiStandIn,
    codesets: CodeSets,
    monkeypatch: pytest.MonkeyPatch,
    slack_settings: dict[str, Any],
) -> Iterator[SlackHarness]:
    yield from build_harness(practice_engine, slack_api, codesets, monkeypatch, **slack_settings)


@pytest.fixture
def postgres_engine(postgres_cluster: PostgresCluster) -> Iterator[Engine]:
    engine = make_engine(postgres_cluster.create_database())
    upgrade(engine)
    seed(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def slack_on_postgresql(
    postgres_engine: Engine, slack_api: SlackApiStandIn, codesets: CodeSets, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SlackHarness]:
    yield from build_harness(postgres_engine, slack_api, codesets, monkeypatch)
