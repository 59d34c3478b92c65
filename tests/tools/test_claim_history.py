"""A claim's history a biller trusts, the posting guards, and rejections as a claim's state.

On the demo practice (SQLite and PostgreSQL): real postings through the tools, a real 277CA import, and
what get_claim and explain_denial then return and show.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from knowledge.codesets import CodeSets
from knowledge.codesets.x12codes import parse_code_csv, shipped_status_categories
from knowledge.documents import KnowledgeBase
from knowledge.errors import Conflict
from knowledge.practice.database import make_session_factory
from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.ledger import claim_totals
from knowledge.practice.models import (
    Claim,
    ClaimStatus,
    LedgerEntry,
    Payment,
    PaymentKind,
    RemarkCode,
    RemittanceClaim,
    Role,
    User,
)
from knowledge.practice.posting import CREDIT_FLAG, PREPAYMENT_MEMO
from knowledge.x12.importer import import_x12
from tools import post_patient_payment as payment_tool
from tools.denial_rules import REMARK_ADVICE, REMARK_PLAYBOOK
from tools.explain_denial import explain_denial
from tools.explain_denial import render as explain_render
from tools.filing_limits import filing_limit_for
from tools.get_claim import get_claim, render
from tools.render import money
from tools.slots import read_slots

TODAY = dt.date(2026, 11, 22)
PLAYBOOK = Path(__file__).resolve().parents[2] / "knowledge" / "data" / f"{REMARK_PLAYBOOK}.md"


@pytest.fixture
def demo(engine: Engine) -> int:
    with Session(engine) as session:
        practice_id = seed_demo_practice(session, as_of=TODAY, patients=30, claims=120).practice_id
        session.commit()
    return practice_id


def _user(session: Session, role: Role) -> User:
    user = session.scalars(select(User).where(User.role == role).order_by(User.id)).first()
    assert user is not None
    return user


def _owing(session: Session, practice_id: int, *, unpaid: bool = True) -> tuple[str, Decimal]:
    """A partially paid claim whose patient owes something (and, with `unpaid`, has paid nothing yet)."""
    for claim in session.scalars(
        select(Claim)
        .where(Claim.practice_id == practice_id, Claim.status == ClaimStatus.PARTIALLY_PAID)
        .order_by(Claim.id)
    ):
        totals = claim_totals(session, claim_id=claim.id)
        if totals.patient_balance >= Decimal("5") and (not unpaid or totals.patient_paid == 0):
            return claim.claim_number, totals.patient_balance
    raise AssertionError("the demo practice has no claim with a patient balance")


def _entries(session: Session, claim_number: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(LedgerEntry).join(Claim).where(Claim.claim_number == claim_number)
        )
        or 0
    )


def _patient_payments(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Payment).where(Payment.kind == PaymentKind.PATIENT)) or 0
    )


def _post(  # type: ignore[no-untyped-def]
    session: Session, practice_id: int, claim_number: str, amount: Decimal, key: str, prepayment: bool = False
):
    return payment_tool.post_patient_payment(
        claim_number,
        amount,
        "card",
        TODAY,
        prepayment=prepayment,
        session=session,
        practice_id=practice_id,
        user_id=_user(session, Role.FRONT_DESK).id,
        idempotency_key=key,
    )


def test_a_payment_that_settles_the_claim_makes_it_paid_and_is_in_its_history(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        number, owed = _owing(session, demo)
        front_desk = _user(session, Role.FRONT_DESK)
        result = _post(session, demo, number, owed, "history-1")
        session.commit()
        assert result.status == "paid" and result.balances.patient_balance == 0
        assert result.flags == []  # nothing to follow up: paid exactly what was owed

        claim = get_claim(number, session=session, practice_id=demo, today=TODAY)
        assert claim.status == "paid"
        # every ledger entry, oldest first, each saying where it came from and who posted it
        assert len(claim.history) == _entries(session, number)
        assert [e.posted_on for e in claim.history] == sorted(e.posted_on for e in claim.history)
        by_source = {e.source: e for e in claim.history}
        assert by_source["claim charge"].posted_by == "claim import"
        assert by_source["835 remittance"].posted_by == "ERA import" and by_source["835 remittance"].reference
        last = claim.history[-1]
        assert (last.source, last.kind, last.amount, last.reference, last.posted_by) == (
            "patient payment posting",
            "patient_payment",
            -owed,
            "card",
            front_desk.name,
        )
        event = claim.status_history[-1]
        assert (event.status, event.source, event.effective_date) == ("paid", "posting", TODAY)

        text = render(claim.model_dump(mode="json"), {})
        assert f"patient paid {money(owed)} by card ({front_desk.name})" in text
        assert "paid (posting)" in text
        assert "F1 Finalized/Payment" in text and "F1:" not in text  # decoded, not the raw "F1:65"


def test_a_patient_payment_on_a_co_denial_is_refused_unless_it_is_a_prepayment(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        claim = session.scalars(select(Claim).where(Claim.practice_id == demo, Claim.claim_number == "1042")).one()
        assert claim.status is ClaimStatus.DENIED and claim.patient_responsibility == 0  # the demo's CO-50
        payments = _patient_payments(session)

        with pytest.raises(Conflict) as proposal:
            payment_tool.describe("1042", Decimal("40"), "card", session=session, practice_id=demo)
        assert "CO-50" in proposal.value.message and "owes $0.00" in proposal.value.message
        assert "prepayment" in proposal.value.message  # says how to post it if it really is one
        with pytest.raises(Conflict):  # confirming a stale proposal checks again
            _post(session, demo, "1042", Decimal("40"), "deny-1")
        assert _patient_payments(session) == payments

        summary = payment_tool.describe(
            "1042", Decimal("40"), "card", prepayment=True, session=session, practice_id=demo
        )
        assert PREPAYMENT_MEMO in summary and CREDIT_FLAG in summary and "-$40.00" in summary
        result = _post(session, demo, "1042", Decimal("40"), "deny-2", prepayment=True)
        session.commit()
        assert result.prepayment and result.flags == [CREDIT_FLAG]
        assert result.status == "denied" and result.balances.patient_balance == Decimal("-40.00")
        history = get_claim("1042", session=session, practice_id=demo, today=TODAY).history
        assert history[-1].note == PREPAYMENT_MEMO and history[-1].amount == Decimal("-40.00")


def test_a_claim_paid_in_full_with_no_patient_share_refuses_a_payment(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        paid = next(
            claim
            for claim in session.scalars(
                select(Claim).where(Claim.practice_id == demo, Claim.status == ClaimStatus.PAID).order_by(Claim.id)
            )
            if claim.patient_responsibility == 0
        )
        with pytest.raises(Conflict) as refused:
            payment_tool.describe(paid.claim_number, Decimal("20"), "cash", session=session, practice_id=demo)
        assert f"paid claim {paid.claim_number}" in refused.value.message
        assert "no patient responsibility" in refused.value.message and "owes $0.00" in refused.value.message


def test_an_overpayment_after_adjudication_is_flagged_for_refund_review(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        number, owed = _owing(session, demo)
        summary = payment_tool.describe(number, owed + 5, "card", session=session, practice_id=demo)
        assert f"{CREDIT_FLAG}: $5.00 more than the patient owes" in summary
        result = _post(session, demo, number, owed + 5, "over-1")
        assert result.flags == [CREDIT_FLAG] and result.balances.patient_balance == Decimal("-5.00")


def test_a_payment_before_the_payer_answers_is_taken(engine: Engine, demo: int) -> None:
    """A copay at the visit, before adjudication: no refusal and no refund flag, just a credit for now."""
    with Session(engine) as session:
        waiting = session.scalars(
            select(Claim)
            .where(Claim.practice_id == demo, Claim.status.in_([ClaimStatus.SUBMITTED, ClaimStatus.PENDING]))
            .order_by(Claim.id)
        ).first()
        assert waiting is not None
        summary = payment_tool.describe(waiting.claim_number, Decimal("25"), "card", session=session, practice_id=demo)
        assert "a credit until the payer adjudicates" in summary and CREDIT_FLAG not in summary
        result = _post(session, demo, waiting.claim_number, Decimal("25"), "early-1")
        assert result.flags == [] and result.status == waiting.status.value  # a deposit does not settle it


def _reject(engine: Engine, practice_id: int, tmp_path: Path) -> tuple[str, dt.date, Decimal, str]:
    """Import a clearinghouse 277CA (A7:562:85, with its reason in STC12) for a claim waiting on the payer;
    returns its number, filing deadline, insurance balance and the policy the limit comes from."""
    with Session(engine) as session:
        claim = next(
            c
            for c in session.scalars(
                select(Claim)
                .where(Claim.practice_id == practice_id, Claim.status.in_([ClaimStatus.ACCEPTED, ClaimStatus.PENDING]))
                .order_by(Claim.id)
            )
            if filing_limit_for(c.payer, c.service_date_from) is not None
        )
        limit = filing_limit_for(claim.payer, claim.service_date_from)
        assert limit is not None
        number, deadline = claim.claim_number, limit.deadline(claim.service_date_from)
        open_amount = claim_totals(session, claim_id=claim.id).insurance_balance
        billed = claim.billed_amount
    body = [
        "BHT*0085*08*CA1*20260302*1200*TH", "HL*1**20*1", "NM1*AY*2*CLEARINGHOUSE*****46*CH1", "TRN*1*BATCH1",
        "DTP*050*D8*20260302", "DTP*009*D8*20260302", "HL*2*1*21*1", "NM1*41*2*RIVERBEND*****46*TGJ23",
        "TRN*2*BATCH1", "STC*A1:19:PR*20260302*WQ*100", "HL*3*2*19*1", "NM1*85*2*RIVERBEND*****XX*1003000126",
        "HL*4*3*PT", "NM1*QC*1*DOE*PAT", f"TRN*2*{number}",
        f"STC*A7:562:85*20260302*U*{billed}********BILLING PROVIDER NPI NOT ON FILE",
    ]  # fmt: skip
    segments = ["ST*277*0001*005010X214", *body]
    path = tmp_path / "rejected.277"
    path.write_text(
        "ISA*00*          *00*          *ZZ*CH1            *ZZ*PRACTICE       *260302*1200*^*00501*000000003*0*T*:~"
        "GS*HN*CH1*PRACTICE*20260302*1200*3*X*005010X214~"
        + "".join(s + "~" for s in segments)
        + f"SE*{len(segments) + 1}*0001~GE*1*3~IEA*1*000000003~"
    )
    report = import_x12(make_session_factory(engine), practice_id=practice_id, paths=[path])
    assert report.files[0].transactions[0].status_events == 1, report
    return number, deadline, open_amount, limit.doc_id


def test_a_277ca_rejection_is_the_claims_state_with_its_fix_and_deadline(
    engine: Engine, demo: int, tmp_path: Path
) -> None:
    number, deadline, open_amount, doc_id = _reject(engine, demo, tmp_path)
    with Session(engine) as session:
        before = get_claim(number, session=session, practice_id=demo, today=deadline - dt.timedelta(days=10))
        after = get_claim(number, session=session, practice_id=demo, today=deadline + dt.timedelta(days=1))
    assert before.status == "rejected" and before.rejection is not None
    rejection = before.rejection
    assert rejection.decoded.startswith("A7 Acknowledgement/Rejected for Invalid Information")
    assert "status code 562 (description not shipped)" in rejection.decoded  # never a made-up text
    assert rejection.reason == "BILLING PROVIDER NPI NOT ON FILE"
    assert "NPI" in rejection.fix and "new original claim" in rejection.fix
    assert (rejection.filing_deadline, rejection.days_left, rejection.lost) == (deadline, 10, False)
    assert rejection.amount == open_amount > 0 and rejection.limit_source == doc_id
    assert f"Resubmit by {deadline}" in rejection.deadline_note

    assert after.rejection is not None and after.rejection.lost and after.rejection.days_left == -1
    assert f"{money(open_amount)} is lost" in after.rejection.deadline_note
    text = render(after.model_dump(mode="json"), {})
    assert "**Rejected**" in text and "**Fix:**" in text and "is lost" in text


def test_why_was_it_rejected_answers_with_the_reason_the_fix_and_the_deadline(
    engine: Engine, demo: int, tmp_path: Path, codesets: CodeSets, shipped_kb: KnowledgeBase
) -> None:
    number, deadline, open_amount, _ = _reject(engine, demo, tmp_path)
    today = deadline + dt.timedelta(days=5)
    with Session(engine) as session:
        result = explain_denial(
            number, session=session, practice_id=demo, codesets=codesets, knowledge_base=shipped_kb, today=today
        )
    assert result.rejected and not result.denied  # not a denial: nothing to appeal, a claim to resubmit
    assert result.rejection is not None and result.next_step == result.rejection.fix
    assert result.action == "resubmit" and result.amount_at_stake == open_amount
    assert result.deadline is not None and (result.deadline.kind, result.deadline.date) == ("timely_filing", deadline)
    assert result.deadline.days_left == -5
    text = explain_render(result.model_dump(mode="json"), {})
    assert text.startswith(f"**Claim {number}** was rejected") and "BILLING PROVIDER NPI NOT ON FILE" in text
    assert "has not answered" not in text and f"{money(open_amount)} is lost" in text


def test_ma18_tells_front_desk_to_wait_for_the_crossover_payer(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        number, owed = _owing(session, demo, unpaid=False)
        claim_id = session.scalar(select(Claim.id).where(Claim.practice_id == demo, Claim.claim_number == number))
        remit_id = session.scalar(
            select(RemittanceClaim.id).where(RemittanceClaim.claim_id == claim_id).order_by(RemittanceClaim.id.desc())
        )
        assert remit_id is not None
        has_ma18 = select(RemarkCode.id).where(RemarkCode.remittance_claim_id == remit_id, RemarkCode.code == "MA18")
        if not session.scalar(has_ma18):
            session.add(RemarkCode(remittance_claim_id=remit_id, code="MA18", source="MOA"))
            session.flush()
        claim = get_claim(number, session=session, practice_id=demo, today=TODAY)
        (message,) = [m for m in claim.payer_messages if m.code == "MA18"]
        assert "wait for the supplemental insurer's payment before billing the patient" in message.front_desk
        assert message.source == REMARK_PLAYBOOK
        assert f"**MA18:** {message.front_desk}" in render(claim.model_dump(mode="json"), {})
        summary = payment_tool.describe(number, owed, "cash", session=session, practice_id=demo)
        assert f"MA18: {message.front_desk}" in summary  # said before front desk collects
        assert f"MA18: {message.front_desk}" in _post(session, demo, number, owed, "ma18-1").flags


def test_the_playbook_says_what_the_remark_table_says() -> None:
    text = PLAYBOOK.read_text()
    front_matter = text.split("---")[1]
    official = parse_code_csv(shipped_status_categories().with_name("remittance_advice_remark_codes.csv"), what="RARC")
    for code, advice in REMARK_ADVICE.items():
        assert f'"{code}"' in front_matter, code
        section = text.split(f"## RARC {code}\n", 1)[1].split("\n## ", 1)[0]
        assert f"Front desk: {advice.front_desk}" in section, code
        words = re.sub(r"\s+", " ", official[code].description.replace("Alert:", "Alert: ")).strip()
        assert words in re.sub(r"\s+", " ", section), code  # the code's own text, as X12/CMS publish it


def test_the_offline_plan_marks_a_prepayment_only_when_the_person_says_so() -> None:
    (deposit,) = payment_tool.plan(read_slots("pt is paying ahead, $40 deposit on claim 1042 by card", today=TODAY))
    assert deposit["prepayment"] is True and deposit["claim_number"] == "1042"
    (copay,) = payment_tool.plan(read_slots("post $40 copay to claim 1042 by card", today=TODAY))
    assert "prepayment" not in copay
