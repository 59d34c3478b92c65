"""Two practices and two colleagues: threads, feedback and pending actions never cross (issue 14: "any user
can leave feedback on a colleague's thread"; cross-practice reads and writes through the web API)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.practice.models import AuditRecord, Feedback, PendingAction
from tests.integrations.web.conftest import WebPractice
from tests.security.conftest import CODER, user_id


def _count(web: WebPractice, model: type, *criteria: Any) -> int:
    with Session(web.engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)


def test_feedback_only_on_ones_own_thread(
    web_practice: WebPractice, biller: TestClient, front_desk: TestClient, outsider: TestClient
) -> None:
    reply = biller.post("/api/chat", json={"message": "what is E11.65?"}).json()
    thread_id = reply["thread_id"]
    for someone_else in (front_desk, outsider):
        refused = someone_else.post(
            f"/api/threads/{thread_id}/feedback", json={"value": -1, "message_id": reply["message_id"]}
        )
        assert refused.status_code == 404
    assert _count(web_practice, Feedback, Feedback.thread_id == thread_id) == 0
    assert biller.post(f"/api/threads/{thread_id}/feedback", json={"value": 1}).status_code == 200
    biller_id = user_id(web_practice, "biller@demo.example")
    with Session(web_practice.engine) as session:
        stored = session.scalars(select(Feedback).where(Feedback.thread_id == thread_id)).all()
        assert [(f.user_id, f.value) for f in stored] == [(biller_id, 1)]


def test_another_practice_reads_and_writes_nothing(
    web_practice: WebPractice, biller: TestClient, outsider: TestClient
) -> None:
    claim = web_practice.owing_claim(skip=3)
    reply = biller.post("/api/chat", json={"message": f"post $1 copay to claim {claim.claim_number}"}).json()
    action_id, thread_id = reply["pending_action"]["id"], reply["thread_id"]
    assert outsider.get(f"/api/threads/{thread_id}").status_code == 404
    assert thread_id not in [t["id"] for t in outsider.get("/api/threads").json()]
    assert outsider.post("/api/chat", json={"message": "hi", "thread_id": thread_id}).status_code == 404
    assert outsider.post(f"/api/threads/{thread_id}/feedback", json={"value": 1}).status_code == 404
    assert outsider.post(f"/api/actions/{action_id}/confirm").status_code == 404
    assert outsider.post(f"/api/actions/{action_id}/cancel").status_code == 404
    assert outsider.get(f"/api/claims/{claim.claim_number}").status_code == 404
    with Session(web_practice.engine) as session:
        action = session.get(PendingAction, action_id)
        assert action is not None and action.status == "pending"
        # the refusals are on the refusing practice's audit log, each in its own committed transaction
        refusals = session.scalars(
            select(AuditRecord).where(
                AuditRecord.practice_id == web_practice.other_practice_id,
                AuditRecord.outcome == "denied",
                AuditRecord.entity_id.in_([action_id, thread_id]),
            )
        ).all()
        assert {(r.entity, r.entity_id) for r in refusals} >= {
            ("pending_action", action_id),
            ("thread", thread_id),
        }
        assert all(r.practice_id != web_practice.practice_id for r in refusals)
    assert biller.post(f"/api/actions/{action_id}/cancel").json()["status"] == "cancelled"


def test_a_colleague_cannot_read_a_thread(web_practice: WebPractice, biller: TestClient) -> None:
    thread_id = biller.post("/api/chat", json={"message": "what is E11.65?"}).json()["thread_id"]
    coder = web_practice.sign_in(CODER)
    assert coder.get(f"/api/threads/{thread_id}").status_code == 404
    assert thread_id not in [t["id"] for t in coder.get("/api/threads").json()]
