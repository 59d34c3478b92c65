"""CI's gate on the conversation set (evals/conversation/): the whole set through the real agent service on
the demo practice, every figure held to the committed ones in evals/thresholds.json (dev and held-out
parts alike; the held-out part was never used to tune the router or its examples)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from assistant.service import AgentService
from assistant.settings import load_settings
from evals.agent_eval import CONVERSATION_DATASET, load_dataset, run_agent_eval
from knowledge.codesets import CodeSets
from knowledge.documents import KnowledgeBase
from knowledge.practice.database import upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import User

THRESHOLDS: dict[str, Any] = json.loads((Path(__file__).resolve().parents[2] / "evals/thresholds.json").read_text())


@pytest.fixture(scope="module")
def demo_report(
    tmp_path_factory: pytest.TempPathFactory, codesets: CodeSets, shipped_home: Path
) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("conversation-home")
    url = f"sqlite:///{home / 'practice.db'}"
    engine = create_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        report = seed_demo_practice(session, as_of=dt.date(2026, 11, 22))
        session.commit()
        users = {
            u.role.value: u.id for u in session.scalars(select(User).where(User.practice_id == report.practice_id))
        }
    settings = load_settings(database_url=url, home=home)
    knowledge_base = KnowledgeBase(shipped_home)
    service = AgentService(
        settings,
        engine=engine,
        providers={
            "codesets": lambda: codesets,
            "knowledge_base": lambda: knowledge_base,
            "out_dir": lambda: home / "outbox",
            "inbox_dir": lambda: home / "inbox",
        },
    )
    try:
        yield run_agent_eval(
            service, practice_id=report.practice_id, users=users, cases=load_dataset(CONVERSATION_DATASET)
        )
    finally:
        service.close()


def test_the_set_is_what_the_issue_asks_for() -> None:
    # The first set (singles + chains); fresh.jsonl is a second set, all of it held out.
    cases = [c for c in load_dataset(CONVERSATION_DATASET) if c["set"] != "fresh"]
    categories = [c["category"] for c in cases]
    assert len(cases) >= 200
    assert len({c["thread"] for c in cases if c.get("thread")}) >= 25
    assert categories.count("out_of_scope") >= 20 and categories.count("multi_part") >= 15
    assert 0.25 <= sum(c["split"] == "holdout" for c in cases) / len(cases) <= 0.45


@pytest.mark.slow
def test_the_conversation_figures_hold(demo_report: dict[str, Any]) -> None:
    committed = THRESHOLDS["conversation"]
    margin = float(THRESHOLDS["margin"])
    assert demo_report["writes_posted"] == 0 and demo_report["phi_leaks"] == 0
    for split, figures in committed.items():
        got = demo_report["by_split"][split]
        for name, value in figures.items():
            assert got[name] >= value - margin, f"{split} {name} fell to {got[name]} (committed {value})"
    for category in ("single", "follow_up", "multi_part", "out_of_scope", "chitchat"):
        assert category in demo_report["by_category"]


def test_the_second_set_is_held_out_whole() -> None:
    fresh = [c for c in load_dataset(CONVERSATION_DATASET) if c["set"] == "fresh"]
    assert len(fresh) >= 150
    assert {c["split"] for c in fresh} == {"holdout"}
    assert {c["category"] for c in fresh} == {"single", "follow_up", "out_of_scope", "chitchat", "multi_part"}
