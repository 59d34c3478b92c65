"""draft_appeal on the demo practice, with the real code sets and knowledge index: the letter holds the
claim's facts and nothing else, is filed against the claim with its author, exports to DOCX and PDF, and
stays inside its practice."""

from __future__ import annotations

import datetime as dt
import io
import re

import docx
import pypdf
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from assistant.context import RequestContext
from assistant.tooling import call_tool
from assistant.types import Channel, Requester
from knowledge.codesets import CodeSets
from knowledge.documents import KnowledgeBase
from knowledge.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from knowledge.practice.database import make_session_factory
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.models import AppealLetter, AuditRecord, Claim, Payer, PayerKind, Practice, Role, User
from tools.draft_appeal import (
    DESCRIPTOR,
    EXAMPLES,
    AppealDraft,
    draft_appeal,
    edit_appeal_letter,
    get_appeal_letter,
    mark_appeal_sent,
    plan,
)
from tools.explain_denial import explain_denial
from tools.get_claim import get_claim
from tools.letters_export import file_name, to_docx, to_pdf
from tools.slots import read_slots

TODAY = dt.date(2026, 11, 22)

#: Code-shaped tokens: group-CARC pairs, RARCs, ICD-10-CM, CPT/HCPCS. (The form's own number is not a code.)
CODE_PATTERNS = (
    r"\b(?:CO|PR|OA|PI|CR)-[A-Z0-9]{1,3}\b",
    r"\b(?:MA|N|M)\d{1,3}\b",
    r"\b[A-TV-Z]\d{2}\.[0-9A-Z]{1,4}\b",
    r"\b(?:\d{5}|[A-V]\d{4})\b",
)


@pytest.fixture
def demo(engine: Engine) -> int:
    with Session(engine) as session:
        practice_id = seed_demo_practice(session, as_of=TODAY, patients=40, claims=160).practice_id
        session.commit()
    return practice_id


def _user(session: Session, practice_id: int, role: Role) -> int:
    return session.scalars(select(User.id).where(User.practice_id == practice_id, User.role == role)).one()


def _draft(
    session: Session, practice_id: int, codesets: CodeSets, kb: KnowledgeBase, number: str, **kwargs: object
) -> AppealDraft:
    return draft_appeal(
        number,
        session=session,
        practice_id=practice_id,
        user_id=kwargs.pop("user_id", _user(session, practice_id, Role.BILLER)),  # type: ignore[arg-type]
        codesets=codesets,
        knowledge_base=kb,
        today=TODAY,
        **kwargs,  # type: ignore[arg-type]
    )


def _medicare_denial(session: Session, practice_id: int, codesets: CodeSets, kb: KnowledgeBase) -> str:
    numbers = session.scalars(
        select(Claim.claim_number)
        .join(Payer, Claim.payer_id == Payer.id)
        .where(Claim.practice_id == practice_id, Payer.kind == PayerKind.MEDICARE, Claim.status == "denied")
        .order_by(Claim.claim_number)
    ).all()
    for number in numbers:
        found = explain_denial(
            number, session=session, practice_id=practice_id, codesets=codesets, knowledge_base=kb, today=TODAY
        )
        if found.denied and found.action == "appeal":
            return number
    raise AssertionError("the demo practice has no Medicare denial to appeal")


def _codes_in(text: str) -> set[str]:
    text = text.replace("CMS-20027", "")
    return {match for pattern in CODE_PATTERNS for match in re.findall(pattern, text)}


def _codes_from_tools(
    session: Session, practice_id: int, number: str, codesets: CodeSets, kb: KnowledgeBase
) -> set[str]:
    claim = get_claim(number, session=session, practice_id=practice_id)
    explanation = explain_denial(
        number, session=session, practice_id=practice_id, codesets=codesets, knowledge_base=kb, today=TODAY
    )
    codes = {line.procedure_code for line in claim.lines} | {m for line in claim.lines for m in line.modifiers}
    codes |= set(claim.diagnoses) | {claim.payer_id}
    codes |= {a.split(" ")[0] for a in explanation.adjustments}
    codes |= {item.code for item in explanation.decoded if item.kind == "rarc"}
    return codes


def test_the_appeal_for_a_commercial_denial_holds_the_facts_and_is_filed(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    with Session(engine) as session:
        biller = _user(session, demo, Role.BILLER)
        letter = _draft(session, demo, codesets, shipped_kb, "1042")
        explanation = explain_denial(
            "1042", session=session, practice_id=demo, codesets=codesets, knowledge_base=shipped_kb, today=TODAY
        )
        session.commit()
        stored = session.scalars(select(AppealLetter).where(AppealLetter.id == letter.letter_id)).one()
        claim = session.get(Claim, stored.claim_id)
        assert claim is not None and claim.claim_number == "1042" and stored.practice_id == demo
        assert (stored.status, stored.kind, stored.created_by_user_id) == ("draft", "appeal", biller)
        assert stored.body == letter.body
    assert letter.kind == "appeal" and letter.payer == "UnitedHealthcare"
    body = letter.body
    assert "Claim number: 1042" in body and "UnitedHealthcare" in body
    assert f"Date of service: {explanation.service_date:%m/%d/%Y}" in body
    assert "CO-50" in body and "N115" in body
    for item in explanation.decoded:  # the official text of every code, as decoded
        assert " ".join(item.description.split()) in body
    assert letter.policy and all(p.payer == "UnitedHealthcare" for p in letter.policy)
    assert any("appeal" in " ".join(p.section_path).lower() for p in letter.policy)
    for passage in letter.policy:
        assert " ".join(passage.text.split()) in body and passage.title in body
    assert explanation.deadline is not None and letter.deadline == explanation.deadline
    assert f"due by {explanation.deadline.date:%m/%d/%Y}" in body
    assert "Medical records" in body and "Blake Biller" in body
    assert letter.to_complete and all(blank in body for blank in letter.to_complete)


def test_a_medicare_denial_gets_a_redetermination_with_the_cms_20027_fields(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    with Session(engine) as session:
        number = _medicare_denial(session, demo, codesets, shipped_kb)
        claim = get_claim(number, session=session, practice_id=demo)
        letter = _draft(session, demo, codesets, shipped_kb, number)
        also = _draft(session, demo, codesets, shipped_kb, number, kind="appeal")  # Medicare's first level
        with pytest.raises(InvalidInput, match="redetermination"):
            _draft(session, demo, codesets, shipped_kb, number, kind="reconsideration")
        with pytest.raises(InvalidInput, match="not Medicare"):
            _draft(session, demo, codesets, shipped_kb, "1042", kind="redetermination")
    assert letter.kind == "redetermination" and also.letter_id == letter.letter_id and also.reused
    fields = letter.fields
    assert fields["1. Beneficiary's name"] == claim.patient.name
    assert fields["2. Medicare number"] == claim.member_id
    assert claim.lines[0].procedure_code in fields["3. Item or service you wish to appeal"]
    assert fields["4. Date the service or item was received"] == f"{claim.service_date_from:%m/%d/%Y}"
    assert fields["5. Date of the initial determination notice"] == f"{claim.remittances[-1].payment_date:%m/%d/%Y}"
    assert fields["7. Additional information Medicare should consider"].startswith(
        "I do not agree with the determination of my claim."
    )
    assert fields["8. Requester's name"] == "Blake Biller"
    assert fields["Requester's email"] == "biller@demo.example"
    for label, value in fields.items():
        assert f"{label}: {value}" in letter.body
    assert "CMS-20027" in letter.body
    assert any(p.payer == "Medicare Part B" and "Redetermination" in " ".join(p.section_path) for p in letter.policy)


def test_no_code_in_the_letter_that_the_tools_did_not_return(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    with Session(engine) as session:
        for number in ("1042", _medicare_denial(session, demo, codesets, shipped_kb)):
            letter = _draft(session, demo, codesets, shipped_kb, number)
            returned = _codes_from_tools(session, demo, number, codesets, shipped_kb)
            named = _codes_in(letter.body)
            assert named, number
            assert named <= returned, f"claim {number}: codes no tool returned: {named - returned}"
            assert set(letter.codes) <= returned


def test_a_claim_without_a_denial_is_refused(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    with Session(engine) as session:
        paid = session.scalars(
            select(Claim.claim_number).where(Claim.practice_id == demo, Claim.status == "paid").limit(1)
        ).one()
        with pytest.raises(InvalidInput, match="nothing to appeal"):
            _draft(session, demo, codesets, shipped_kb, paid)
        assert session.scalars(select(AppealLetter)).all() == []


def test_the_letter_downloads_as_docx_and_pdf(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    with Session(engine) as session:
        letter = get_appeal_letter(
            _draft(session, demo, codesets, shipped_kb, "1042").letter_id, session=session, practice_id=demo
        )
    document = docx.Document(io.BytesIO(to_docx(letter)))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "Claim number: 1042" in text and "CO-50" in text and "N115" in text
    assert document.core_properties.title == letter.title
    pdf = to_pdf(letter)
    assert pdf.startswith(b"%PDF")
    pdf_text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "1042" in pdf_text and "CO-50" in pdf_text
    name = file_name(letter, "pdf")
    assert name.endswith(".pdf") and "1042" in name and letter.fields["Patient"].split()[-1] not in name


def test_only_the_author_edits_and_sends_and_another_practice_sees_nothing(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    with Session(engine) as session:
        other = Practice(slug="other", name="Other Practice")
        session.add(other)
        session.flush()
        stranger = User(practice_id=other.id, email="b@other.example", name="Other Biller", role=Role.BILLER)
        session.add(stranger)
        session.flush()
        biller, admin = _user(session, demo, Role.BILLER), _user(session, demo, Role.ADMIN)
        letter_id = _draft(session, demo, codesets, shipped_kb, "1042").letter_id
        session.commit()
        with pytest.raises(NotFound):
            get_appeal_letter(letter_id, session=session, practice_id=other.id)
        with pytest.raises(NotFound):
            edit_appeal_letter(letter_id, "mine now", session=session, practice_id=other.id, user_id=stranger.id)
        with pytest.raises(NotFound):
            mark_appeal_sent(letter_id, session=session, practice_id=other.id, user_id=stranger.id)
        with pytest.raises(PermissionDenied):
            edit_appeal_letter(letter_id, "a colleague's words", session=session, practice_id=demo, user_id=admin)
        before = get_appeal_letter(letter_id, session=session, practice_id=demo)
        edited = edit_appeal_letter(
            letter_id, before.body + "\nP.S. Records enclosed.\n", session=session, practice_id=demo, user_id=biller
        )
        sent = mark_appeal_sent(letter_id, session=session, practice_id=demo, user_id=biller)
        with pytest.raises(Conflict):
            edit_appeal_letter(letter_id, "too late", session=session, practice_id=demo, user_id=biller)
        session.commit()
        stored = session.get(AppealLetter, letter_id)
        assert stored is not None
        assert stored.body.endswith("P.S. Records enclosed.\n") and edited.updated_by_user_id == biller
        assert (stored.status, stored.sent_by_user_id) == ("sent", biller) and sent.sent_at is not None
        # A sent letter is not the claim's open draft: the next request drafts a new one.
        again = _draft(session, demo, codesets, shipped_kb, "1042")
        assert again.letter_id != letter_id and not again.reused
        fresh = _draft(session, demo, codesets, shipped_kb, "1042", new_draft=True)
        assert fresh.letter_id not in {letter_id, again.letter_id}


def test_the_tool_call_files_the_draft_at_once_and_audits_it(
    engine: Engine, demo: int, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    """Through the server's tool wrapper: no confirm step, the read-write session, one audit row."""
    reads = make_session_factory(engine, read_only=True)
    with Session(engine) as session, reads() as read_session:
        biller = _user(session, demo, Role.BILLER)
        ctx = RequestContext(
            requester=Requester(practice_id=demo, user_id=biller, role=Role.BILLER, channel=Channel.WEB),
            session=session,
            thread_id="t-appeal",
            message_id="m-1",
            providers={"codesets": lambda: codesets, "knowledge_base": lambda: shipped_kb},
            read_session=read_session,
        )
        data = call_tool(DESCRIPTOR, {"claim_number": "1042"}, ctx)
        session.commit()
        assert "error" not in data, data
        letter = session.get(AppealLetter, data["letter_id"])
        assert letter is not None and letter.created_by_user_id == biller and letter.practice_id == demo
        audit = session.scalars(select(AuditRecord).where(AuditRecord.action == "draft_appeal")).one()
        assert audit.outcome == "ok" and audit.user_id == biller and "1042" in audit.details["claims"]
        hidden = call_tool(
            DESCRIPTOR,
            {"claim_number": "1042"},
            RequestContext(
                requester=Requester(practice_id=demo, user_id=biller, role=Role.BILLER, channel=Channel.SLACK_CHANNEL),
                session=session,
                thread_id="t-appeal",
                message_id="m-2",
                providers=ctx.providers,
                read_session=read_session,
            ),
        )
        assert hidden["letter_id"] == data["letter_id"]  # the open draft, not a second one
        assert "Fixturely" not in str(hidden) and data["body"] not in str(hidden)
        assert DESCRIPTOR.render is not None and "open the draft on the web" in DESCRIPTOR.render(hidden, {})


def test_the_offline_plan_reads_the_kind_and_the_examples_are_staff_phrasings() -> None:
    def calls(text: str) -> list[dict[str, object]]:
        return plan(read_slots(text, today=TODAY))

    assert calls("appeal letter for clm 1042") == [{"claim_number": "1042"}]
    assert calls("write up a recon for 1188") == [{"claim_number": "1188", "kind": "reconsideration"}]
    assert calls("redetermination letter for the medicare denial on 1043") == [
        {"claim_number": "1043", "kind": "redetermination"}
    ]
    assert calls("start over on the appeal letter for 1188") == [{"claim_number": "1188", "new_draft": True}]
    assert len(EXAMPLES) >= 25 and len(set(EXAMPLES)) == len(EXAMPLES)
    assert DESCRIPTOR.writes_draft and DESCRIPTOR.access == "claims"
    assert {"body", "fields"} <= set(DESCRIPTOR.phi_fields)
