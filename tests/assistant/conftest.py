from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.registry import default_tool_specs
from assistant.service import AgentService
from assistant.settings import load_settings
from assistant.types import Channel, Requester
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import Role, User

CLAIM_TOOLS = {"get_claim", "find_claims", "denial_worklist", "post_patient_payment", "post_adjustment"}


@dataclass
class Practice:
    engine: Engine
    practice_id: int
    users: dict[Role, int]

    def requester(self, role: Role | None, channel: Channel = Channel.WEB) -> Requester:
        return Requester(
            practice_id=self.practice_id,
            user_id=self.users[role] if role else None,
            role=role,
            channel=channel,
            request_id="test",
        )


@pytest.fixture
def practice(engine: Engine) -> Practice:
    """A small demo practice in each kind of database."""
    with Session(engine) as session:
        report = seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=30, claims=120)
        users = {user.role: user.id for user in session.scalars(select(User))}
        session.commit()
    return Practice(engine, report.practice_id, users)


def claim_tool_specs() -> list:  # type: ignore[type-arg]
    return [spec for spec in default_tool_specs() if spec.name in CLAIM_TOOLS]


@pytest.fixture
def service_factory(practice: Practice, isolated_environment: Path) -> Iterator:  # type: ignore[type-arg]
    made: list[AgentService] = []

    def make(**overrides: object) -> AgentService:
        settings = load_settings(database_url=practice.engine.url.render_as_string(hide_password=False))
        overrides.setdefault("tool_specs", claim_tool_specs())
        service = AgentService(settings, engine=practice.engine, **overrides)  # type: ignore[arg-type]
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


@pytest.fixture
def full_service(practice: Practice, codesets, shipped_home: Path) -> Iterator[AgentService]:  # type: ignore[no-untyped-def]
    """Every tool, the shipped code sets and knowledge index, on the small seeded practice."""
    from knowledge.documents import KnowledgeBase

    settings = load_settings(database_url=practice.engine.url.render_as_string(hide_password=False))
    knowledge_base = KnowledgeBase(shipped_home)
    service = AgentService(
        settings,
        engine=practice.engine,
        providers={
            "codesets": lambda: codesets,
            "knowledge_base": lambda: knowledge_base,
            "out_dir": lambda: Path(settings.resolved_home) / "outbox",
            "inbox_dir": lambda: Path(settings.resolved_home) / "inbox",
        },
    )
    yield service
    service.close()
