"""Fixtures of the web tests: one small demo practice (SQLite) served by the real app, shared by the session.

The practice, the agent service and the app are built once (seeding takes seconds); tests sign in as the
demo users with the passwords the seeding printed. The code sets come from the shared test cache (the
`codesets` fixture). The knowledge base is a shelf of two real-looking passages: the embedded index and
its embedding model take minutes to build and seconds to load, and the web tests are about showing and
opening citations, not about retrieval (which tests/knowledge/documents covers against the real index).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.registry import default_tool_specs
from assistant.resources import lazy
from assistant.service import AgentService
from assistant.settings import Settings, load_settings
from integrations.web.app import create_app
from integrations.web.ratelimit import LoginThrottle, TokenBucket
from knowledge.codesets import CodeSets
from knowledge.documents.models import Passage
from knowledge.errors import NotFound
from knowledge.practice.accounts import add_user
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import Claim, ClaimStatus, Practice, Role

AS_OF = dt.date(2026, 11, 22)
OTHER_EMAIL = "owner@other.example"
OTHER_PASSWORD = "other-practice-password"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"

PASSAGES = [
    Passage(
        passage_id="playbook-co-16-causes",
        doc_id="playbooks/carc-16",
        title="Denial playbook: CO-16 missing or invalid information",
        section_path=["CO-16", "Causes and fixes"],
        text="CO-16 means the claim lacked information needed for adjudication. Read the remark codes, "
        "correct the field they name and send a corrected claim (frequency code 7).",
        source="knowledge/data/playbooks/co-16.md",
    ),
    Passage(
        passage_id="policy-medicare-documentation",
        doc_id="policies/medicare-part-b-corrected-claims",
        title="Medicare claims processing: documentation",
        section_path=["Documentation"],
        text="Resubmit with the missing information within the timely filing window.",
        payer="Medicare",
        source="knowledge/data/policies/medicare.md",
        url="https://www.cms.gov/",
    ),
]


class PassageShelf:
    """The two methods of KnowledgeBase the denial tool and the citation view call, over fixed passages."""

    def search(self, question: str, *, limit: int = 5, payer: str | None = None, **_filters: Any) -> list[Passage]:
        return [p for p in PASSAGES if (p.payer is not None) == (payer is not None)][:limit]

    def get_passage(self, passage_id: str, *, practice_id: int | None = None) -> Passage:
        for passage in PASSAGES:  # shared passages: every practice reads them
            if passage.passage_id == passage_id:
                return passage
        raise NotFound(f"No passage {passage_id!r} in the knowledge base")


@dataclass
class WebPractice:
    engine: Engine
    settings: Settings
    agent: AgentService
    app: FastAPI
    practice_id: int
    other_practice_id: int
    credentials: dict[str, str]
    providers: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app)

    def sign_in(self, email: str, password: str | None = None) -> TestClient:
        client = self.client()
        response = client.post("/api/login", json={"email": email, "password": password or self.credentials[email]})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    def claim(self, *criteria: Any) -> Claim:
        with Session(self.engine) as session:
            query = select(Claim).where(Claim.practice_id == self.practice_id, *criteria).order_by(Claim.id)
            found = session.scalars(query).first()
            assert found is not None
            session.expunge(found)
            return found

    def owing_claim(self, skip: int = 0) -> Claim:
        """A partly paid claim whose patient still owes at least $10 (the `skip`-th one)."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(Claim)
                .where(Claim.practice_id == self.practice_id, Claim.status == ClaimStatus.PARTIALLY_PAID)
                .order_by(Claim.id)
            )
            owing = [c for c in rows if c.patient_responsibility - c.patient_paid >= 10]
            claim = owing[skip]
            session.expunge(claim)
            return claim


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web_settings(home: Path, database_url: str) -> Settings:
    return load_settings(home=home, database_url=database_url, environment="test", secret_key="web-tests-" + "k" * 32)


@pytest.fixture(scope="session")
def web_practice(tmp_path_factory: pytest.TempPathFactory, codesets: CodeSets) -> Iterator[WebPractice]:
    """The demo practice (30 patients, 120 claims) and a second practice, served by one app."""
    home = tmp_path_factory.mktemp("web") / "home"
    url = f"sqlite:///{home / 'practice.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        report = seed_demo_practice(session, as_of=AS_OF, patients=30, claims=120)
        other = Practice(slug="other", name="Another practice")
        session.add(other)
        session.flush()
        add_user(
            session,
            practice_id=other.id,
            email=OTHER_EMAIL,
            name="Other owner",
            role=Role.ADMIN,
            password=OTHER_PASSWORD,
        )
        session.commit()
        other_id = other.id
    settings = web_settings(home, url)
    shelf = PassageShelf()
    providers: dict[str, Callable[[], Any]] = {
        "codesets": lambda: codesets,
        "knowledge_base": lambda: shelf,
        "inbox_dir": lazy(lambda: home / "inbox"),
        "out_dir": lazy(lambda: home / "outbox"),
    }
    agent = AgentService(settings, engine=engine, tool_specs=default_tool_specs(), providers=providers)
    app = create_app(settings, agent=agent)
    app.state.login_limiter = LoginThrottle(client_burst=1000, client_per_second=100)  # the tests sign in often
    # One app serves every web and security test of the session and the same biller asks far more than a person
    # would: a loose bucket, or the 21st question of the run is refused. test_api.py tests the limit itself.
    app.state.chat_limiter = TokenBucket(capacity=10_000, per_second=100)
    yield WebPractice(
        engine=engine,
        settings=settings,
        agent=agent,
        app=app,
        practice_id=report.practice_id,
        other_practice_id=other_id,
        credentials={**report.credentials, OTHER_EMAIL: OTHER_PASSWORD},
        providers=providers,
    )
    agent.close()
    engine.dispose()


class LiveServer:
    """The app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(web_practice: WebPractice) -> Iterator[LiveServer]:
    with LiveServer(web_practice.app) as server:
        yield server
