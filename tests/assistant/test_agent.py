"""The real agent loop (create_agent + tools + memory) with the offline planner, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.types import Channel
from knowledge.errors import NotFound, PermissionDenied
from knowledge.practice.ledger import claim_totals
from knowledge.practice.models import (
    AuditRecord,
    Claim,
    ClaimStatus,
    Coverage,
    LedgerEntry,
    Patient,
    Payment,
    PaymentKind,
    PendingAction,
    Role,
)
from tests.assistant.conftest import Practice

REPO = Path(__file__).resolve().parents[2]


def _claim(practice: Practice, **criteria: object) -> Claim:
    with Session(practice.engine) as session:
        query = select(Claim).where(Claim.practice_id == practice.practice_id)
        for name, value in criteria.items():
            query = query.where(getattr(Claim, name) == value)
        claim = session.scalars(query.order_by(Claim.id)).first()
        assert claim is not None
        session.expunge(claim)
        return claim


def _owing_claim(practice: Practice, at_least: Decimal = Decimal("5.00")) -> Claim:
    """A claim whose patient still owes at least this much."""
    with Session(practice.engine) as session:
        for claim in session.scalars(
            select(Claim).where(Claim.status == ClaimStatus.PARTIALLY_PAID).order_by(Claim.id)
        ):
            if claim.patient_responsibility - claim.patient_paid >= at_least:
                session.expunge(claim)
                return claim
    raise AssertionError("the demo practice has no claim with a patient balance")


def _payments(practice: Practice) -> int:
    with Session(practice.engine) as session:
        return int(
            session.scalar(select(func.count()).select_from(Payment).where(Payment.kind == PaymentKind.PATIENT)) or 0
        )


def test_claim_status_answer_comes_from_the_claim(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    claim = _claim(practice, status=ClaimStatus.DENIED)
    service = service_factory()
    reply = service.ask(f"what's the status of claim {claim.claim_number}?", requester=practice.requester(Role.BILLER))
    assert [call.name for call in reply.tool_calls] == ["get_claim"]
    assert f"Claim {claim.claim_number}" in reply.answer and "denied" in reply.answer
    assert reply.cards[0].kind == "claim" and reply.cards[0].data["claim_number"] == claim.claim_number
    assert reply.removed_codes == []
    with Session(practice.engine) as session:
        audit = session.scalars(select(AuditRecord).where(AuditRecord.action == "get_claim")).one()
        assert audit.outcome == "ok" and audit.thread_id == reply.thread_id and audit.user_id is not None
        assert "what's the status" not in str(audit.details)


def test_payment_waits_for_confirmation_and_posts_exactly_once(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    claim = _owing_claim(practice)
    service = service_factory()
    front_desk = practice.requester(Role.FRONT_DESK)
    before = _payments(practice)
    reply = service.ask(f"post $5 copay to claim {claim.claim_number} paid today by card", requester=front_desk)
    assert reply.pending_action is not None
    assert reply.pending_action.tool == "post_patient_payment"
    assert "$5.00" in reply.pending_action.summary and claim.claim_number in reply.pending_action.summary
    assert _payments(practice) == before  # nothing written yet

    result = service.confirm(reply.pending_action.id, requester=front_desk)
    assert result.status == "confirmed"
    again = service.confirm(reply.pending_action.id, requester=front_desk)
    assert again.status == "already_decided"
    assert _payments(practice) == before + 1
    with Session(practice.engine) as session:
        payment = session.scalars(select(Payment).order_by(Payment.id.desc())).first()
        assert payment is not None and payment.amount == Decimal("5.00") and payment.method == "card"
        assert payment.idempotency_key == f"action:{reply.pending_action.id}"
        totals = claim_totals(session, claim_id=claim.id)
        assert totals.balanced() and totals.patient_paid >= Decimal("5.00")
        confirmed = session.scalars(select(AuditRecord).where(AuditRecord.outcome == "confirmed")).one()
        assert confirmed.entity_id == reply.pending_action.id


def test_cancel_writes_nothing(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    claim = _owing_claim(practice)
    service = service_factory()
    biller = practice.requester(Role.BILLER)
    before = _payments(practice)
    reply = service.ask(f"patient paid $3 on claim {claim.claim_number}", requester=biller)
    assert reply.pending_action is not None
    assert service.cancel(reply.pending_action.id, requester=biller).status == "cancelled"
    assert service.confirm(reply.pending_action.id, requester=biller).status == "already_decided"
    assert _payments(practice) == before


def test_roles_decide_who_may_confirm(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    claim = _owing_claim(practice)
    service = service_factory()
    reply = service.ask(
        f"write off $1 small balance on claim {claim.claim_number}", requester=practice.requester(Role.FRONT_DESK)
    )
    assert reply.pending_action is not None and reply.pending_action.tool == "post_adjustment"
    with pytest.raises(PermissionDenied):
        service.confirm(reply.pending_action.id, requester=practice.requester(Role.FRONT_DESK))
    with pytest.raises(PermissionDenied):
        service.confirm(reply.pending_action.id, requester=practice.requester(Role.CODER))
    with Session(practice.engine) as session:
        entries = session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "write_off"))
        assert entries == 0
    assert service.confirm(reply.pending_action.id, requester=practice.requester(Role.BILLER)).status == "confirmed"


def test_writing_off_the_balance_fixes_the_open_amount_when_proposed(  # type: ignore[no-untyped-def]
    practice: Practice, service_factory
) -> None:
    """ "write off the balance on N as bad debt": no amount typed; the pending action holds the patient balance
    as it was when proposed, the confirm writes exactly that, and the claim's patient side is then zero."""
    claim = _owing_claim(practice)
    with Session(practice.engine) as session:
        owed = claim_totals(session, claim_id=claim.id).patient_balance
    service = service_factory()
    biller = practice.requester(Role.BILLER)
    reply = service.ask(f"write off the balance on {claim.claim_number} as bad debt", requester=biller)
    assert reply.pending_action is not None and reply.pending_action.tool == "post_adjustment"
    assert Decimal(str(reply.pending_action.arguments["amount"])) == owed
    assert reply.pending_action.arguments["side"] == "patient"
    assert f"{owed:,.2f}" in reply.pending_action.summary
    assert service.confirm(reply.pending_action.id, requester=biller).status == "confirmed"
    with Session(practice.engine) as session:
        assert claim_totals(session, claim_id=claim.id).patient_balance == 0
    again = service.ask(f"write off the pt balance on {claim.claim_number}", requester=biller)
    assert again.pending_action is None and "no open patient balance" in again.answer


def test_bad_posting_is_refused_before_anyone_is_asked(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    # A claim the patient owes on (a CO denial is refused for its own reason: see the next test).
    claim = _owing_claim(practice)
    service = service_factory()
    reply = service.ask(f"post $99999 copay to claim {claim.claim_number}", requester=practice.requester(Role.BILLER))
    assert reply.pending_action is None
    assert "more than" in reply.answer
    with Session(practice.engine) as session:
        assert session.scalar(select(func.count()).select_from(PendingAction)) == 0


def test_a_copay_on_a_co_denial_is_refused_and_audited_unless_it_is_a_prepayment(  # type: ignore[no-untyped-def]
    practice: Practice, service_factory
) -> None:
    service = service_factory()
    front_desk = practice.requester(Role.FRONT_DESK)
    reply = service.ask("post $40 copay to claim 1042 by card", requester=front_desk)  # the demo's CO-50 denial
    assert reply.pending_action is None
    assert "Not posted" in reply.answer and "CO-50" in reply.answer
    with Session(practice.engine) as session:
        assert session.scalar(select(func.count()).select_from(PendingAction)) == 0
        refused = session.scalars(select(AuditRecord).where(AuditRecord.action == "post_patient_payment")).one()
        assert refused.outcome == "error" and refused.details["claims"] == ["1042"]

    deposit = service.ask("pt is paying ahead: post a $40 prepayment to claim 1042 by card", requester=front_desk)
    assert deposit.pending_action is not None and deposit.pending_action.arguments["prepayment"] is True
    assert "credit balance — for refund review" in deposit.pending_action.summary
    result = service.confirm(deposit.pending_action.id, requester=front_desk)
    assert result.status == "confirmed" and result.result is not None
    assert result.result["flags"] == ["credit balance — for refund review"]


def test_unmapped_users_get_no_claim_data(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    claim = _claim(practice, status=ClaimStatus.DENIED)
    service = service_factory()
    reply = service.ask(f"status of claim {claim.claim_number}", requester=practice.requester(None, Channel.SLACK_DM))
    assert reply.tool_calls == []
    assert "isn't linked" in reply.answer
    assert str(claim.billed_amount) not in reply.answer


def test_channel_replies_never_show_patient_fields(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    claim = _claim(practice, status=ClaimStatus.DENIED)
    with Session(practice.engine) as session:
        patient = session.get(Patient, claim.patient_id)
        assert patient is not None
        member = session.scalars(select(Coverage.member_id).where(Coverage.patient_id == patient.id)).one()
        phi = [patient.first_name, patient.last_name, patient.birth_date.isoformat(), member]  # type: ignore[union-attr]
    service = service_factory()
    in_channel = service.ask(
        f"status of claim {claim.claim_number}", requester=practice.requester(Role.BILLER, Channel.SLACK_CHANNEL)
    )
    in_dm = service.ask(
        f"status of claim {claim.claim_number}", requester=practice.requester(Role.BILLER, Channel.SLACK_DM)
    )
    assert claim.claim_number in in_channel.answer
    for value in phi:
        assert value not in in_channel.answer, value
        assert value not in str(in_channel.cards), value
    assert not in_channel.contains_phi
    assert patient.last_name in in_dm.answer and in_dm.contains_phi


def test_memory_follows_the_thread_across_restarts(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    service = service_factory()
    biller = practice.requester(Role.BILLER)
    first = service.ask("status of claim 1050", requester=biller)
    second = service.ask("and the one before it?", requester=biller, thread_id=first.thread_id)
    assert second.tool_calls[0].arguments == {"claim_number": "1049"}
    assert "Claim 1049" in second.answer
    restarted = service_factory()  # a new process: the conversation is in the database
    third = restarted.ask("what about 1060?", requester=biller, thread_id=first.thread_id)
    assert third.tool_calls[0].arguments == {"claim_number": "1060"}
    messages = restarted.thread_messages(first.thread_id, requester=biller)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[2]["text"] == "and the one before it?"
    # Each answer comes back with the cards its turn showed (rebuilt from the stored tool results).
    assert [card["data"]["claim_number"] for card in messages[3]["cards"]] == ["1049"]
    assert messages[3]["cards"] == [card.model_dump(mode="json") for card in second.cards]
    assert restarted.threads(requester=biller)[0]["id"] == first.thread_id


def test_threads_and_actions_stay_in_their_practice(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    from assistant.types import Requester

    service = service_factory()
    biller = practice.requester(Role.BILLER)
    claim = _owing_claim(practice)
    reply = service.ask(f"post $2 copay to claim {claim.claim_number}", requester=biller)
    assert reply.pending_action is not None
    outsider = Requester(practice_id=practice.practice_id + 999, user_id=biller.user_id, role=Role.ADMIN)
    with pytest.raises(NotFound):
        service.confirm(reply.pending_action.id, requester=outsider)
    with pytest.raises(NotFound):
        service.ask("status of claim 1050", requester=outsider, thread_id=reply.thread_id)
    with pytest.raises(NotFound):
        service.thread_messages(reply.thread_id, requester=practice.requester(Role.CODER))


def _remittances(practice: Practice) -> int:
    """How many remittances of era.835 the practice holds."""
    from knowledge.practice.models import Remittance

    with Session(practice.engine) as session:
        query = select(func.count()).select_from(Remittance).where(Remittance.source_file.like("%era.835"))
        return int(session.scalar(query) or 0)


def _inbox_with_an_era(practice: Practice, tmp_path: Path) -> Path:
    """An inbox holding a real 835 (era.835) whose claims the practice has."""
    import shutil

    from knowledge.x12.generator import seed_claims_for_835

    source = REPO / "tests/fixtures/x12/linuxforhealth/835_005010X221A1__managed-care.835"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(source, inbox / "era.835")
    with Session(practice.engine) as session:
        assert seed_claims_for_835(session, practice_id=practice.practice_id, path=inbox / "era.835") >= 1
        session.commit()
    return inbox


def test_an_835_import_is_checked_first_and_posted_once_on_confirmation(
    practice: Practice,
    service_factory,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from assistant.registry import default_tool_specs

    inbox = _inbox_with_an_era(practice, tmp_path)
    specs = [spec for spec in default_tool_specs() if spec.name == "import_remittance"]
    service = service_factory(tool_specs=specs, providers={"inbox_dir": lambda: inbox})
    biller = practice.requester(Role.BILLER)

    reply = service.ask("import remittance file era.835", requester=biller)
    assert reply.pending_action is not None and reply.pending_action.tool == "import_remittance"
    assert "would post" in reply.pending_action.summary
    assert _remittances(practice) == 0  # the dry run left nothing behind
    with pytest.raises(PermissionDenied):
        service.confirm(reply.pending_action.id, requester=practice.requester(Role.FRONT_DESK))
    assert service.confirm(reply.pending_action.id, requester=biller).status == "confirmed"
    assert service.confirm(reply.pending_action.id, requester=biller).status == "already_decided"
    assert _remittances(practice) == 1


def test_one_agent_serves_concurrent_requests_each_with_its_own_requester(practice: Practice, service_factory) -> None:  # type: ignore[no-untyped-def]
    """The compiled agent is shared by every request of a tool set; who is asking travels with each run,
    so parallel turns from two practices asking about the same claim number each see their own claim,
    and a requester whose role has fewer tools does not inherit another role's."""
    from concurrent.futures import ThreadPoolExecutor

    from assistant.types import Requester
    from tests.knowledge.practice.test_scoping import _other_practice

    with Session(practice.engine) as session:
        other_id = _other_practice(session)  # has its own claim 1042, paid by "Other Payer"
        session.commit()
    service = service_factory()
    ours = practice.requester(Role.BILLER)
    theirs = Requester(practice_id=other_id, user_id=None, role=Role.BILLER, request_id="other")

    def payer_seen(requester: Requester) -> str:
        reply = service.ask("status of claim 1042", requester=requester)
        return str(reply.cards[0].data["payer"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        payers = list(pool.map(payer_seen, [ours, theirs] * 5))
    assert payers[1::2] == ["Other Payer"] * 5
    assert "Other Payer" not in payers[0::2]

    unmapped = service.ask("status of claim 1042", requester=practice.requester(None))
    assert not any(call.name == "get_claim" and call.outcome == "ok" for call in unmapped.tool_calls)
    assert unmapped.cards == []


def test_a_dry_run_is_answered_at_once_and_going_ahead_is_confirmed_first(
    practice: Practice,
    service_factory,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """ "dry run era.835 b4 we post it" writes nothing, so it needs no confirmation; "looks fine go ahead n
    post it" is the same file, imported only when a person confirms."""
    from assistant.registry import default_tool_specs

    inbox = _inbox_with_an_era(practice, tmp_path)
    specs = [spec for spec in default_tool_specs() if spec.name == "import_remittance"]
    service = service_factory(tool_specs=specs, providers={"inbox_dir": lambda: inbox})
    biller = practice.requester(Role.BILLER)

    dry = service.ask("dry run era.835 b4 we post it", requester=biller)
    assert [(c.name, c.arguments.get("dry_run"), c.outcome) for c in dry.tool_calls] == [
        ("import_remittance", True, "ok")
    ]
    assert dry.pending_action is None and "Dry run of era.835" in dry.answer and "would post" in dry.answer
    assert _remittances(practice) == 0
    real = service.ask("looks fine go ahead n post it for real", requester=biller, thread_id=dry.thread_id)
    assert real.pending_action is not None and real.pending_action.tool == "import_remittance"
    assert _remittances(practice) == 0
    assert service.confirm(real.pending_action.id, requester=biller).status == "confirmed"
    assert _remittances(practice) == 1
