"""Patient identity stays out of the audit log and out of channels without PHI clearance, and replies say
truthfully when they hold it (issue 14: chat text with names and member ids in the audit log; "claim 1500
exists but is for <last>, <first>" in an open Slack channel; `contains_phi: false` beside a patient card)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from assistant.types import AgentReply, Channel
from knowledge.practice.models import AuditRecord, Claim, ClaimStatus, WorkException
from tests.integrations.web.conftest import WebPractice
from tests.security.conftest import BILLER, FRONT_DESK, denied_claim, patient_of, requester


def _shows(text: str, values: tuple[str, ...]) -> list[str]:
    return [v for v in values if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text, re.IGNORECASE)]


def _last_audit_id(web: WebPractice) -> int:
    with Session(web.engine) as session:
        return int(session.scalar(select(func.max(AuditRecord.id))) or 0)


def _audit_since(web: WebPractice, after: int) -> list[AuditRecord]:
    with Session(web.engine) as session:
        rows = list(session.scalars(select(AuditRecord).where(AuditRecord.id > after).order_by(AuditRecord.id)))
        session.expunge_all()
        return rows


# -- the audit log ----------------------------------------------------------------------------------------
def test_audit_rows_name_the_call_but_hold_no_chat_text(web_practice: WebPractice, biller: TestClient) -> None:
    claim = denied_claim(web_practice)
    first, last, birth, member = patient = patient_of(web_practice, claim.claim_number)
    start = _last_audit_id(web_practice)
    for message in (
        f"codes for diabetes {first} {last} {member}",
        f"claims for member {member}",
        f"what does the policy say about {last} born {birth}",
        f"status of claim {claim.claim_number}",
    ):
        assert biller.post("/api/chat", json={"message": message}).status_code == 200
    rows = _audit_since(web_practice, start)
    assert rows, "every tool call is audited"
    for row in rows:
        stored = json.dumps(row.details)
        assert not _shows(stored, patient), (row.action, stored)
        assert row.user_id is not None and row.outcome and row.action and row.created_at is not None
    by_claim = [r for r in rows if r.action == "get_claim"]
    assert by_claim and by_claim[-1].details["claims"] == [claim.claim_number]
    assert by_claim[-1].details["patient_ids"] == [claim.patient_id]
    searches = [r for r in rows if "query" in r.details["arguments"] or "question" in r.details["arguments"]]
    assert searches and all(
        str(value).startswith("sha256:")
        for r in searches
        for key, value in r.details["arguments"].items()
        if key in ("query", "question")
    )


def test_refused_and_stale_decisions_are_audited(web_practice: WebPractice) -> None:
    front_desk = web_practice.sign_in(FRONT_DESK)
    claim = web_practice.owing_claim(skip=4)
    reply = front_desk.post("/api/chat", json={"message": f"write off $1 small balance on claim {claim.claim_number}"})
    action = reply.json()["pending_action"]
    assert front_desk.post(f"/api/actions/{action['id']}/confirm").status_code == 403
    assert front_desk.post(f"/api/actions/{action['id']}/cancel").json()["status"] == "cancelled"
    assert front_desk.post(f"/api/actions/{action['id']}/confirm").json()["status"] == "already_decided"
    with Session(web_practice.engine) as session:
        outcomes = session.scalars(
            select(AuditRecord.outcome)
            .where(AuditRecord.entity == "pending_action", AuditRecord.entity_id == action["id"])
            .order_by(AuditRecord.id)
        ).all()
    assert outcomes == ["denied", "cancelled", "already_decided"]


# -- channel replies ----------------------------------------------------------------------------------------
@pytest.fixture
def named_exception(web_practice: WebPractice) -> Iterator[tuple[str, tuple[str, str, str, str]]]:
    """An open X12 exception whose reason names the patient, as the 835 matcher writes it."""
    claim = denied_claim(web_practice)
    patient = patient_of(web_practice, claim.claim_number)
    first, last, _birth, member = patient
    reason = (
        f"claim {claim.claim_number} exists but is for {last.upper()}, {first.upper()}, not SMITH, JOHN as the "
        f"835 says (segment 14: NM1*QC*1*{last.upper()}*{first.upper()}****MI*{member}~)"
    )
    with Session(web_practice.engine) as session:
        row = WorkException(
            practice_id=web_practice.practice_id, kind="unmatched_claim", reason=reason, claim_id=claim.id
        )
        session.add(row)
        session.commit()
        row_id = row.id
    yield claim.claim_number, patient
    with Session(web_practice.engine) as session:
        session.execute(delete(WorkException).where(WorkException.id == row_id))
        session.commit()


def _everything(reply: AgentReply) -> str:
    return json.dumps(reply.model_dump(mode="json"))


def test_exception_reasons_do_not_reach_an_open_channel(
    web_practice: WebPractice, named_exception: tuple[str, tuple[str, str, str, str]]
) -> None:
    _claim_number, patient = named_exception
    in_channel = requester(web_practice, BILLER, Channel.SLACK_CHANNEL)
    reply = web_practice.agent.ask("what didn't post from the last era", requester=in_channel)
    assert [call.name for call in reply.tool_calls] == ["x12_exceptions"]
    assert not _shows(_everything(reply), (*patient, "SMITH"))
    assert reply.contains_phi is False and reply.phi_hidden is True
    # in a DM (PHI allowed) the same answer shows the reason, and says so
    dm = web_practice.agent.ask(
        "what didn't post from the last era", requester=requester(web_practice, BILLER, Channel.SLACK_DM)
    )
    assert _shows(dm.answer, patient[:2]) and dm.contains_phi is True


def test_claim_replies_in_an_open_channel_hold_no_patient_fields(web_practice: WebPractice) -> None:
    claim = denied_claim(web_practice)
    patient = patient_of(web_practice, claim.claim_number)
    for message in (f"status of claim {claim.claim_number}", f"why was claim {claim.claim_number} denied?"):
        reply = web_practice.agent.ask(message, requester=requester(web_practice, BILLER, Channel.SLACK_CHANNEL))
        assert claim.claim_number in reply.answer
        assert not _shows(_everything(reply), patient), message
        assert reply.contains_phi is False


def test_contains_phi_is_true_when_the_card_shows_the_patient(web_practice: WebPractice, biller: TestClient) -> None:
    claim = web_practice.claim(Claim.status == ClaimStatus.PAID)
    reply = biller.post("/api/chat", json={"message": f"status of claim {claim.claim_number}"}).json()
    card = reply["cards"][0]["data"]
    assert card["patient"]["name"] and card["patient"]["name"] != "[hidden here]"
    assert reply["contains_phi"] is True
    codes_only = biller.post("/api/chat", json={"message": "what is E11.65?"}).json()
    assert codes_only["contains_phi"] is False


def test_a_payment_confirmed_from_an_open_channel_shows_no_patient(web_practice: WebPractice) -> None:
    claim = web_practice.owing_claim(skip=5)
    patient = patient_of(web_practice, claim.claim_number)
    in_channel = requester(web_practice, FRONT_DESK, Channel.SLACK_CHANNEL)
    reply = web_practice.agent.ask(f"post $1 copay to claim {claim.claim_number} by card", requester=in_channel)
    assert reply.pending_action is not None
    assert not _shows(_everything(reply), patient)
    result = web_practice.agent.confirm(reply.pending_action.id, requester=in_channel)
    assert result.status == "confirmed"
    assert not _shows(json.dumps(result.model_dump(mode="json")), patient)
