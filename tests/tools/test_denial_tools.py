"""explain_denial and denial_worklist on the demo practice, with the real code sets and knowledge index."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.registry import default_tool_specs
from assistant.service import AgentService
from assistant.settings import load_settings
from assistant.types import Channel, Requester
from knowledge.codesets import CodeSets
from knowledge.documents import KnowledgeBase
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import Claim, Role, User
from tools.denial_worklist import denial_worklist
from tools.denial_worklist import render as denial_worklist_render
from tools.explain_denial import explain_denial

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def demo(engine: Engine) -> int:
    with Session(engine) as session:
        practice_id = seed_demo_practice(session, as_of=TODAY, patients=40, claims=160).practice_id
        session.commit()
    return practice_id


def test_explain_denial_decodes_cites_and_dates(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    with Session(engine) as session:
        result = explain_denial(
            "1042", session=session, practice_id=demo, codesets=codesets, knowledge_base=shipped_kb, today=TODAY
        )
        claim = session.scalars(select(Claim).where(Claim.claim_number == "1042")).one()
        payer_name, appeal_days = claim.payer.name, claim.payer.appeal_days
    assert result.denied and result.status == "denied"
    decoded = {(item.kind, item.code): item.description for item in result.decoded}
    assert "medical necessity" in decoded[("carc", "50")].lower()
    assert "Local Coverage Determination" in decoded[("rarc", "N115")]
    assert ("group", "CO") in decoded
    assert result.amount_at_stake == claim.billed_amount > Decimal("0")  # left open to appeal
    assert result.action == "appeal" and "medical necessity" in result.next_step
    assert result.deadline is not None and result.deadline.kind == "appeal"
    assert result.remittance_date is not None
    assert result.deadline.date == result.remittance_date + dt.timedelta(days=appeal_days)  # the payer's window
    assert result.deadline.days_left == (result.deadline.date - TODAY).days
    assert result.playbook and all(p.doc_id.startswith("playbooks/") for p in result.playbook)
    assert result.playbook[0].doc_id == "playbooks/carc-50"
    assert result.policy and all(p.payer == payer_name for p in result.policy)


def test_denial_worklist_totals_filters_and_order(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        everything = denial_worklist(limit=200, session=session, practice_id=demo, today=TODAY)
        assert everything.total_claims == len(everything.items) > 5
        assert everything.total_amount == sum(item.amount for item in everything.items)
        assert sum(group.claims for group in everything.by_payer) == everything.total_claims
        dated = [item for item in everything.items if item.denied_on is not None]
        months = {item.denied_on.strftime("%Y-%m") for item in dated if item.denied_on}
        assert [g.key for g in everything.by_month] == sorted(months) and len(months) > 1
        assert sum(g.claims for g in everything.by_month) == len(dated)
        assert sum(g.amount for g in everything.by_month) == sum(i.amount for i in dated)
        upcoming = [item.days_left for item in everything.items if item.days_left is not None and item.days_left >= 0]
        assert upcoming == sorted(upcoming)
        payer = everything.items[0].payer
        only = denial_worklist(payer=payer, limit=200, session=session, practice_id=demo, today=TODAY)
        assert only.items and {item.payer for item in only.items} == {payer}
        reason = everything.items[0].reason
        by_reason = denial_worklist(
            reason=reason.split("-")[1], limit=200, session=session, practice_id=demo, today=TODAY
        )
        assert by_reason.items and {item.reason for item in by_reason.items} == {reason}


def test_the_offline_agent_answers_why_a_claim_was_denied(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    settings = load_settings(database_url=engine.url.render_as_string(hide_password=False))
    providers = {"codesets": lambda: codesets, "knowledge_base": lambda: shipped_kb}
    service = AgentService(settings, engine=engine, tool_specs=default_tool_specs(), providers=providers)
    with Session(engine) as session:
        biller = session.scalars(select(User).where(User.role == Role.BILLER)).one()
    try:
        reply = service.ask(
            "why was claim 1042 denied?",
            requester=Requester(practice_id=demo, user_id=biller.id, role=Role.BILLER, channel=Channel.WEB),
        )
    finally:
        service.close()
    assert [call.name for call in reply.tool_calls] == ["explain_denial"]
    for fact in ("Claim 1042", "CO-50", "N115", "Next step", "Deadline", "appeal"):
        assert fact in reply.answer, fact
    assert reply.citations and reply.citations[0].passage_id
    assert f"[{reply.citations[0].number}]" in reply.answer
    assert reply.removed_codes == []


def test_a_policy_heading_names_its_payer_once() -> None:
    from tools.search_knowledge import render

    passages = [
        {"passage_id": "p1", "payer": "Aetna", "title": "Aetna: Timely filing", "text": "File within 90 days."},
        {"passage_id": "p2", "payer": "Aetna", "title": "Corrected claims", "text": "Use frequency code 7."},
    ]
    text = render({"passages": passages}, {"p1": 1, "p2": 2})
    assert "**Aetna: Timely filing**" in text and "Aetna: Aetna" not in text
    assert "**Aetna: Corrected claims**" in text  # a title without the payer gets it in front


def test_a_playbook_checklist_keeps_one_item_a_line() -> None:
    from pathlib import Path

    from tools.render import passage_line

    playbook = Path(__file__).resolve().parents[2] / "knowledge" / "data" / "playbooks" / "carc-50.md"
    items = [line for line in playbook.read_text(encoding="utf-8").splitlines() if line.startswith("- ")][:3]
    text = passage_line({"passage_id": "p", "text": "Remark codes seen with it:\n" + "\n".join(items)}, {"p": 4})
    lines = text.splitlines()
    assert lines[0] == "> Remark codes seen with it:" and all(line.startswith("> - ") for line in lines[1:])
    assert len(lines) >= 3 and lines[-1].endswith("[4]")  # items one a line, cut to the quote's length


def test_the_worklist_answer_adds_up_to_its_totals() -> None:
    """Every reason is counted in the answer (as many as fit are named, the rest summed), and the list of
    claims says how many of the total it shows."""
    reasons = [{"key": f"CO-{n}", "claims": 2, "amount": Decimal("100.00")} for n in range(1, 18)]
    data = {
        "total_claims": 34,
        "total_amount": Decimal("1700.00"),
        "by_payer": [{"key": "Aetna", "claims": 34, "amount": Decimal("1700.00")}],
        "by_reason": reasons,
        "items": [],
    }
    text = denial_worklist_render(data, {})
    named = re.findall(r"CO-\d+ (\d+) \(", text)
    more = re.search(r"and (\d+) more reasons: (\d+) claims \((\$[\d,.]+)\)", text)
    assert more is not None, text
    assert len(named) + int(more.group(1)) == 17
    assert sum(map(int, named)) + int(more.group(2)) == 34
    assert more.group(3) == "$200.00"
    data["by_reason"] = reasons[:3]
    assert "more reasons" not in denial_worklist_render(data, {})
    assert "(0 of 34;" in denial_worklist_render(data, {})
