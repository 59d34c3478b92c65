"""Appeal letters on the web, through the real app on the seeded demo practice: a letter drafted in chat is
served to its practice as JSON, DOCX and PDF; only its author edits it or marks it sent; another practice
gets 404; a state change made with the session cookie needs the CSRF token; every use is audited."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import docx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.types import Channel, Requester
from knowledge.practice.models import AppealLetter, AuditRecord, Claim, Patient, User
from tests.integrations.web.conftest import OTHER_EMAIL, WebPractice

BILLER = "biller@demo.example"
CODER = "coder@demo.example"
CLAIM = "1042"  # a denied claim of the demo practice
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _requester(web: WebPractice, email: str) -> Requester:
    with Session(web.engine) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return Requester(user.practice_id, user.id, user.role, Channel.WEB, "appeals-test")


def _row(web: WebPractice, letter_id: int) -> AppealLetter:
    with Session(web.engine) as session:
        letter = session.get(AppealLetter, letter_id)
        assert letter is not None
        session.expunge(letter)
        return letter


def _audits(web: WebPractice, action: str, letter_id: int) -> list[AuditRecord]:
    with Session(web.engine) as session:
        return list(
            session.scalars(
                select(AuditRecord).where(
                    AuditRecord.action == action,
                    AuditRecord.entity == "appeal_letter",
                    AuditRecord.entity_id == str(letter_id),
                )
            )
        )


def _patient_last_name(web: WebPractice, claim_number: str) -> str:
    with Session(web.engine) as session:
        claim = session.scalars(
            select(Claim).where(Claim.practice_id == web.practice_id, Claim.claim_number == claim_number)
        ).one()
        patient = session.get(Patient, claim.patient_id)
        assert patient is not None
        return patient.last_name


def _new_draft(web: WebPractice, email: str = BILLER) -> int:
    """A fresh draft of the claim's appeal, by this user (through the service, as the CLI drafts)."""
    return web.agent.draft_appeal(CLAIM, requester=_requester(web, email), new_draft=True).letter_id


@pytest.fixture(scope="module")
def biller(web_practice: WebPractice) -> TestClient:
    return web_practice.sign_in(BILLER)


@pytest.fixture(scope="module")
def drafted(biller: TestClient) -> dict[str, Any]:
    """The reply to "draft the appeal for claim 1042" in the web chat."""
    response = biller.post("/api/chat", json={"message": f"draft the appeal for claim {CLAIM}"})
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def test_a_draft_from_chat_carries_its_letter_id_in_a_letter_card(drafted: dict[str, Any]) -> None:
    assert [call["name"] for call in drafted["tool_calls"]] == ["draft_appeal"]
    assert drafted["tool_calls"][0]["outcome"] == "ok"
    cards = [card for card in drafted["cards"] if card["kind"] == "letter"]
    assert len(cards) == 1
    data = cards[0]["data"]
    assert data["claim_number"] == CLAIM and data["status"] == "draft" and data["downloads"] == ["docx", "pdf"]
    assert isinstance(data["letter_id"], int) and data["body"]


def test_the_letter_is_served_as_json_docx_and_pdf(
    web_practice: WebPractice, biller: TestClient, drafted: dict[str, Any]
) -> None:
    letter_id = drafted["cards"][0]["data"]["letter_id"]
    view = biller.get(f"/api/appeals/{letter_id}")
    assert view.status_code == 200, view.text
    shown = view.json()
    assert shown["letter_id"] == letter_id and shown["claim_number"] == CLAIM and shown["status"] == "draft"
    assert shown["body"] == _row(web_practice, letter_id).body
    assert shown["downloads"] == {
        "docx": f"/api/appeals/{letter_id}/download?format=docx",
        "pdf": f"/api/appeals/{letter_id}/download?format=pdf",
    }

    word = biller.get(shown["downloads"]["docx"])
    assert word.status_code == 200, word.text
    assert word.headers["content-type"] == DOCX_TYPE
    disposition = word.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith('.docx"')
    assert _patient_last_name(web_practice, CLAIM).lower() not in disposition.lower()  # no patient in the name
    paragraphs = [p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs]
    first_line = shown["body"].splitlines()[0]
    assert first_line in paragraphs

    pdf = biller.get(shown["downloads"]["pdf"])
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert re.search(r'filename="[^"]+\.pdf"', pdf.headers["content-disposition"])
    assert pdf.headers["cache-control"] == "no-store"

    for bad in ("txt", "", "DOCX"):
        assert biller.get(f"/api/appeals/{letter_id}/download", params={"format": bad}).status_code == 422
    assert biller.get(f"/api/appeals/{letter_id}/download").status_code == 422

    downloads = _audits(web_practice, "download_appeal_letter", letter_id)
    assert sorted(record.details["format"] for record in downloads) == ["docx", "pdf"]
    assert all(record.details["arguments"] == {"claim_number": CLAIM} for record in downloads)
    assert all(record.details["claims"] == [CLAIM] and record.details["patient_ids"] for record in downloads)
    assert _audits(web_practice, "get_appeal_letter", letter_id)


def test_another_practice_gets_404_and_no_one_unsigned_gets_anything(
    web_practice: WebPractice, drafted: dict[str, Any]
) -> None:
    letter_id = drafted["cards"][0]["data"]["letter_id"]
    outsider = web_practice.sign_in(OTHER_EMAIL)
    before = _row(web_practice, letter_id)
    for method, path, body in (
        ("GET", f"/api/appeals/{letter_id}", None),
        ("GET", f"/api/appeals/{letter_id}/download?format=pdf", None),
        ("PUT", f"/api/appeals/{letter_id}", {"body": "Taken over."}),
        ("POST", f"/api/appeals/{letter_id}/sent", None),
    ):
        response = outsider.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["error"] == "not_found"
        assert web_practice.client().request(method, path, json=body).status_code == 401
    after = _row(web_practice, letter_id)
    assert (after.body, after.status) == (before.body, before.status)
    assert web_practice.sign_in(BILLER).get("/api/appeals/2147483647").status_code == 404  # none such


def test_a_colleague_reads_the_draft_but_may_not_edit_or_send_it(web_practice: WebPractice) -> None:
    letter_id = _new_draft(web_practice)
    coder = web_practice.sign_in(CODER)
    assert coder.get(f"/api/appeals/{letter_id}").status_code == 200  # same practice: may read
    edit = coder.put(f"/api/appeals/{letter_id}", json={"body": "My wording."})
    assert edit.status_code == 403 and edit.json()["error"] == "permission_denied"
    assert coder.post(f"/api/appeals/{letter_id}/sent").status_code == 403
    letter = _row(web_practice, letter_id)
    assert letter.status == "draft" and letter.body != "My wording."
    (refused,) = _audits(web_practice, "edit_appeal_letter", letter_id)
    assert refused.outcome == "denied"  # the refusal is audited, in a transaction of its own


def test_the_author_edits_downloads_the_edit_and_marks_it_sent_once(web_practice: WebPractice) -> None:
    letter_id = _new_draft(web_practice)
    biller = web_practice.sign_in(BILLER)
    original = biller.get(f"/api/appeals/{letter_id}").json()["body"]
    edited_text = original + "Reference: our file AB-77.\n"

    edited = biller.put(f"/api/appeals/{letter_id}", json={"body": edited_text})
    assert edited.status_code == 200, edited.text
    assert edited.json()["body"] == edited_text and edited.json()["updated_by_user_id"] is not None
    assert _row(web_practice, letter_id).body == edited_text
    word = biller.get(f"/api/appeals/{letter_id}/download", params={"format": "docx"})
    assert "Reference: our file AB-77." in [p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs]
    (edit_audit,) = _audits(web_practice, "edit_appeal_letter", letter_id)
    assert edit_audit.details["arguments"] == {"claim_number": CLAIM}
    assert "AB-77" not in str(edit_audit.details)  # the audit keeps no letter text

    for empty in ("", "   \n"):
        assert biller.put(f"/api/appeals/{letter_id}", json={"body": empty}).status_code == 422
    assert biller.put(f"/api/appeals/{letter_id}", json={"body": "x" * 60_001}).status_code == 422

    sent = biller.post(f"/api/appeals/{letter_id}/sent")
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent" and sent.json()["sent_at"]
    stored = _row(web_practice, letter_id)
    assert stored.status == "sent" and stored.sent_by_user_id == stored.created_by_user_id
    assert len(_audits(web_practice, "mark_appeal_sent", letter_id)) == 1

    again = biller.post(f"/api/appeals/{letter_id}/sent")
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    late = biller.put(f"/api/appeals/{letter_id}", json={"body": "Changed after sending."})
    assert late.status_code == 409
    assert _row(web_practice, letter_id).body == edited_text
    assert biller.get(f"/api/appeals/{letter_id}/download", params={"format": "pdf"}).status_code == 200


def test_edits_and_sends_with_the_cookie_need_the_csrf_token(web_practice: WebPractice) -> None:
    letter_id = _new_draft(web_practice)
    client = web_practice.sign_in(BILLER)
    token = client.headers.pop("X-CSRF-Token")
    for headers in ({}, {"X-CSRF-Token": "0" * 64}):
        assert client.put(f"/api/appeals/{letter_id}", json={"body": "Forged."}, headers=headers).status_code == 403
        assert client.post(f"/api/appeals/{letter_id}/sent", headers=headers).status_code == 403
    letter = _row(web_practice, letter_id)
    assert letter.status == "draft" and letter.body != "Forged."
    assert client.get(f"/api/appeals/{letter_id}").status_code == 200  # reading needs no token
    ok = client.put(f"/api/appeals/{letter_id}", json={"body": "Signed."}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200


def test_a_slack_channel_without_phi_clearance_gets_download_links_not_the_letter(web_practice: WebPractice) -> None:
    from integrations.slack.blocks import reply_messages

    user = _requester(web_practice, BILLER)
    channel = Requester(user.practice_id, user.user_id, user.role, Channel.SLACK_CHANNEL, "appeals-slack-test")
    reply = web_practice.agent.ask(f"draft the appeal for claim {CLAIM}", requester=channel, thread_id="slack:appeal")
    (card,) = [card for card in reply.cards if card.kind == "letter"]
    letter_id = card.data["letter_id"]
    assert reply.phi_hidden and card.data["body"] != _row(web_practice, letter_id).body
    sent = json.dumps([m.as_kwargs() for m in reply_messages(reply, web_base_url="https://billing.example")])
    assert f"https://billing.example/api/appeals/{letter_id}/download?format=pdf|Download PDF" in sent
    assert f"https://billing.example/api/appeals/{letter_id}/download?format=docx|Download DOCX" in sent
    assert _patient_last_name(web_practice, CLAIM) not in sent
