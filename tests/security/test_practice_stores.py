"""Issue 14: the clearinghouse folders and the knowledge base are per practice; nothing crosses.

Findings reproduced: a second practice's admin imported the demo practice's ERA from the shared
`HOME/inbox` in chat; a document added with `knowledge add` was served to another practice. Each test
builds two practices in one database and uses the production wiring (`default_providers`, the real
knowledge base on embedded Chroma, the CLI), asserting what was stored or found.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from assistant.registry import default_tool_specs
from assistant.resources import default_providers
from assistant.service import AgentService
from assistant.settings import Settings, load_settings
from assistant.types import Channel, Requester
from integrations.cli import knowledge as knowledge_cli
from knowledge.documents import KnowledgeBase
from knowledge.errors import InvalidInput, NotFound, PermissionDenied
from knowledge.practice.accounts import add_user
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import Practice, Remittance, Role, User
from knowledge.x12.generator import seed_claims_for_835
from tools.claim_status_request import claim_status_request
from tools.search_knowledge import search_knowledge

REPO = Path(__file__).resolve().parents[2]
ERA = REPO / "tests/fixtures/x12/linuxforhealth/835_005010X221A1__managed-care.835"
OTHER_ADMIN = "owner@other.example"

POLICY = """---
title: Northside refund policy
payer: Acme Health
---
# Northside refund policy

## Credit balances

Credit balances over 25 dollars are refunded to the patient within 30 days by the Northside office.
"""


@dataclass
class TwoPractices:
    engine: Engine
    settings: Settings
    demo_id: int
    other_id: int

    def requester(self, practice_id: int, role: Role = Role.ADMIN) -> Requester:
        with Session(self.engine) as session:
            user = session.scalars(
                select(User).where(User.practice_id == practice_id, User.role == role).order_by(User.id)
            ).first()
            assert user is not None
            return Requester(practice_id, user.id, user.role, Channel.WEB, "store-test")


@pytest.fixture
def two_practices(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwoPractices]:
    url = f"sqlite:///{isolated_environment.parent / 'stores.db'}"
    monkeypatch.setenv("BILLING_ASSISTANT_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        report = seed_demo_practice(session, as_of=dt.date(2026, 11, 22), patients=30, claims=120)
        other = Practice(slug="other", name="Another practice", npi="1234567893")
        session.add(other)
        session.flush()
        add_user(session, practice_id=other.id, email=OTHER_ADMIN, name="Other", role=Role.ADMIN, password=None)
        session.commit()
        other_id = other.id
    yield TwoPractices(engine, load_settings(), report.practice_id, other_id)
    engine.dispose()


# --- the clearinghouse folders ---------------------------------------------------------------------------


def test_an_era_in_one_practice_inbox_cannot_be_imported_by_another(two_practices: TwoPractices) -> None:
    """The finding: practice B's admin asked to import an ERA "from the inbox" and posted practice A's."""
    world = two_practices
    providers = default_providers(world.settings)
    demo_inbox = providers["inbox_dir"]().for_practice(world.demo_id)
    assert demo_inbox == world.settings.resolved_home / "practices" / str(world.demo_id) / "inbox"
    shutil.copy(ERA, demo_inbox / "era.835")
    with Session(world.engine) as session:
        assert seed_claims_for_835(session, practice_id=world.demo_id, path=demo_inbox / "era.835") >= 1
        session.commit()
    specs = [spec for spec in default_tool_specs() if spec.name == "import_remittance"]
    service = AgentService(world.settings, engine=world.engine, tool_specs=specs, providers=providers)
    try:
        outsider = service.ask("import remittance file era.835", requester=world.requester(world.other_id))
        assert outsider.pending_action is None
        [call] = [c for c in outsider.tool_calls if c.name == "import_remittance"]
        assert call.outcome == "error"
        # Nothing about the other practice's file, let alone its claims, came back.
        assert not (world.settings.resolved_home / "practices" / str(world.other_id) / "inbox" / "era.835").exists()

        owner = service.ask("import remittance file era.835", requester=world.requester(world.demo_id, Role.BILLER))
        assert owner.pending_action is not None and owner.pending_action.tool == "import_remittance"
        with pytest.raises((NotFound, PermissionDenied)):  # the outsider cannot confirm the owner's import
            service.confirm(owner.pending_action.id, requester=world.requester(world.other_id))
        done = service.confirm(owner.pending_action.id, requester=world.requester(world.demo_id))
        assert done.status == "confirmed", done.message
    finally:
        service.close()
    with Session(world.engine) as session:
        posted = {
            practice_id: count
            for practice_id, count in session.execute(
                select(Remittance.practice_id, func.count()).group_by(Remittance.practice_id)
            )
        }
    assert posted.get(world.other_id, 0) == 0
    assert posted[world.demo_id] >= 1


def test_a_legacy_shared_inbox_is_read_by_nobody(two_practices: TwoPractices) -> None:
    world = two_practices
    legacy = world.settings.resolved_home / "inbox"
    legacy.mkdir(parents=True)
    shutil.copy(ERA, legacy / "era.835")
    from tools.import_remittance import import_remittance

    folders = default_providers(world.settings)["inbox_dir"]()
    with Session(world.engine) as session:
        for practice_id in (world.demo_id, world.other_id):
            with pytest.raises(NotFound):
                import_remittance("era.835", True, session=session, practice_id=practice_id, inbox_dir=folders)
            with pytest.raises(InvalidInput):  # and no way out of the practice's folder
                import_remittance(
                    "../../../inbox/era.835", True, session=session, practice_id=practice_id, inbox_dir=folders
                )


def test_a_status_request_goes_to_the_requesters_outbox(two_practices: TwoPractices) -> None:
    world = two_practices
    outboxes = default_providers(world.settings)["out_dir"]()
    with Session(world.engine) as session:
        result = claim_status_request(["1042"], session=session, practice_id=world.demo_id, out_dir=outboxes)
        with pytest.raises(NotFound):  # the other practice has no claim 1042 and writes nothing
            claim_status_request(["1042"], session=session, practice_id=world.other_id, out_dir=outboxes)
    home = world.settings.resolved_home
    assert Path(result.path).parent == home / "practices" / str(world.demo_id) / "outbox"
    assert not any((home / "practices" / str(world.other_id) / "outbox").glob("*.x12"))


# --- documents --------------------------------------------------------------------------------------------


def test_a_practice_document_is_served_to_its_practice_only(tmp_path: Path) -> None:
    path = tmp_path / "refunds.md"
    path.write_text(POLICY, encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "kb-home")
    shared = tmp_path / "shared.md"
    shared.write_text("# Office hours\n\n## Hours\n\nThe billing office answers the phone from 8 to 5.\n")
    assert kb.add([shared]).added == ["practice/shared"]  # no practice: every practice reads it
    assert kb.add([path], practice_id=1).added == ["practice/refunds"]
    question = "how fast are credit balances refunded"

    mine = kb.search_results(question, practice_id=1)
    assert [p.doc_id for p in mine.passages][:1] == ["practice/refunds"]
    assert kb.search_results(question, payer="Acme Health", practice_id=1).payer == "Acme Health"
    for reader in (2, None):
        theirs = kb.search_results(question, practice_id=reader)
        assert "practice/refunds" not in {p.doc_id for p in theirs.passages}
        assert kb.search_results(question, payer="Acme Health", practice_id=reader).payer is None
        assert "practice/refunds" not in {d.doc_id for d in kb.list(practice_id=reader)}
        with pytest.raises(NotFound):
            kb.get_passage(mine.passages[0].passage_id, practice_id=reader)
        with pytest.raises(NotFound):
            kb.remove(["practice/refunds"], practice_id=reader)
        with pytest.raises(NotFound):
            kb.remove([str(path)], practice_id=reader)
        office = kb.search_results("when does the billing office answer the phone", practice_id=reader)
        assert office.passages and office.passages[0].doc_id == "practice/shared"
    assert kb.get_passage(mine.passages[0].passage_id, practice_id=1).doc_id == "practice/refunds"

    # The tool binds the requester's practice; the same question from practice 2 gets nothing of practice 1.
    assert search_knowledge(question, knowledge_base=kb, practice_id=1).passages[0].doc_id == "practice/refunds"
    assert "practice/refunds" not in {
        p.doc_id for p in search_knowledge(question, knowledge_base=kb, practice_id=2).passages
    }

    # Practice 2 adding the same file gets a document of its own; practice 1's is untouched.
    theirs_added = kb.add([path], practice_id=2).added
    assert len(theirs_added) == 1 and theirs_added != ["practice/refunds"]
    assert kb.add([path], practice_id=1).unchanged == ["practice/refunds"]
    assert kb.remove(theirs_added, practice_id=2).removed == theirs_added
    assert [p.doc_id for p in kb.search_results(question, practice_id=1).passages][:1] == ["practice/refunds"]

    # A front-matter doc_id cannot take over another practice's document.
    hijack = tmp_path / "hijack.md"
    hijack.write_text("---\ndoc_id: practice/refunds\n---\n# Refunds\n\n## Credit balances\n\nNever refund.\n")
    with pytest.raises(InvalidInput, match="doc_id"):
        kb.add([hijack], practice_id=2)
    assert KnowledgeBase(kb.home).list(practice_id=1)  # a new instance reads the scoped manifest
    assert {d.doc_id: d.practice_id for d in KnowledgeBase(kb.home).list(practice_id=1)}["practice/refunds"] == 1


def test_knowledge_add_on_the_command_line_is_scoped_to_the_practice(
    two_practices: TwoPractices, tmp_path: Path
) -> None:
    world = two_practices
    path = tmp_path / "northside.md"
    path.write_text(POLICY, encoding="utf-8")
    runner = CliRunner()
    added = runner.invoke(knowledge_cli.app, ["add", str(path), "--practice", "other", "--json"])
    assert added.exit_code == 0, added.output
    [doc_id] = json.loads(added.stdout)["added"]

    question = "how fast are credit balances refunded"
    theirs = json.loads(runner.invoke(knowledge_cli.app, ["search", question, "--practice", "other", "--json"]).stdout)
    assert theirs["passages"][0]["doc_id"] == doc_id
    demo = json.loads(runner.invoke(knowledge_cli.app, ["search", question, "--json"]).stdout)  # default: demo
    assert doc_id not in {p["doc_id"] for p in demo["passages"]}
    listed = json.loads(runner.invoke(knowledge_cli.app, ["list", "--json"]).stdout)
    assert doc_id not in {d["doc_id"] for d in listed}
    refused = runner.invoke(knowledge_cli.app, ["remove", doc_id, "--json"])
    assert refused.exit_code != 0 and isinstance(refused.exception, NotFound)

    # The chat tool of each practice, with the production providers.
    kb = default_providers(world.settings)["knowledge_base"]()
    assert search_knowledge(question, knowledge_base=kb, practice_id=world.other_id).passages[0].doc_id == doc_id
    assert doc_id not in {
        p.doc_id for p in search_knowledge(question, knowledge_base=kb, practice_id=world.demo_id).passages
    }
