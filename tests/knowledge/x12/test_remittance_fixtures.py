"""Every 835 fixture posts, and the ledger adds up to the file's own BPR/CLP/SVC/CAS/PLB amounts."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from knowledge.practice.database import make_session_factory, session_scope
from knowledge.practice.ledger import claim_totals
from knowledge.practice.models import (
    Adjustment,
    Claim,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    Payment,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
    Responsibility,
    WorkException,
)
from knowledge.x12.generator import seed_claims_for_835
from knowledge.x12.importer import import_x12
from tests.knowledge.x12.helpers import fixture_files, new_practice, totals_by_pyx12

ZERO = Decimal("0.00")


def _ledger_sum(session: Session, practice_id: int, kind: LedgerKind, side: Responsibility) -> Decimal:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.practice_id == practice_id, LedgerEntry.kind == kind, LedgerEntry.responsibility == side
        )
    )
    return Decimal(total or 0)


def test_every_835_posts_to_its_own_totals(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    files = fixture_files(kind="835")
    assert len(files) == 37
    for path in files:
        expected = totals_by_pyx12(path)
        with session_scope(sessions) as session:
            practice_id = new_practice(session, path.stem)
            assert seed_claims_for_835(session, practice_id=practice_id, path=path) == expected.claims

        report = import_x12(sessions, practice_id=practice_id, paths=[path])
        (transaction,) = report.files[0].transactions
        assert transaction.status == "imported", (path.name, transaction.messages)
        assert transaction.claims_posted == expected.claims, (path.name, transaction.messages)
        assert transaction.exceptions == 0

        with session_scope(sessions) as session:
            # charges minus the ledger's cents are the file's cents (ledger amounts are stored in cents)
            payments = _ledger_sum(session, practice_id, LedgerKind.PAYER_PAYMENT, Responsibility.PAYER)
            assert payments == -expected.clp_paid, path.name
            adjusted = _ledger_sum(session, practice_id, LedgerKind.ADJUSTMENT, Responsibility.PAYER)
            non_pr = sum((v for g, v in expected.cas_by_group.items() if g != "PR"), ZERO)
            # every CAS is stored as received; a denial's are recorded but left open (not written off)
            recorded = session.scalar(
                select(func.coalesce(func.sum(Adjustment.amount), 0))
                .join(RemittanceClaim, RemittanceClaim.id == Adjustment.remittance_claim_id)
                .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
                .where(Remittance.practice_id == practice_id, Adjustment.group_code != "PR")
            )
            assert Decimal(recorded or 0) == non_pr, path.name
            left_open = session.scalar(
                select(func.coalesce(func.sum(Adjustment.amount), 0))
                .join(RemittanceClaim, RemittanceClaim.id == Adjustment.remittance_claim_id)
                .join(Claim, Claim.id == RemittanceClaim.claim_id)
                .where(
                    Claim.practice_id == practice_id,
                    Claim.status == ClaimStatus.DENIED,
                    Claim.adjusted_amount == ZERO,
                    Adjustment.group_code != "PR",
                )
            )
            assert adjusted == -(non_pr - Decimal(left_open or 0)), path.name
            to_patient = _ledger_sum(session, practice_id, LedgerKind.TRANSFER, Responsibility.PATIENT)
            assert to_patient == expected.cas_by_group.get("PR", ZERO), path.name
            assert _ledger_sum(session, practice_id, LedgerKind.CHARGE, Responsibility.PAYER) == expected.clp_billed
            # per line: where payments were posted on lines, they are the SVC03 amounts
            line_paid = session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.practice_id == practice_id,
                    LedgerEntry.kind == LedgerKind.PAYER_PAYMENT,
                    LedgerEntry.claim_line_id.is_not(None),
                )
            )
            if line_paid:
                assert -Decimal(line_paid) <= expected.svc_paid or expected.svc_paid < 0
            remittance = session.scalars(select(Remittance).where(Remittance.practice_id == practice_id)).one()
            assert remittance.total_paid == expected.bpr
            assert remittance.status == "posted"
            plb = session.scalar(
                select(func.coalesce(func.sum(ProviderAdjustment.amount), 0)).where(
                    ProviderAdjustment.remittance_id == remittance.id
                )
            )
            assert Decimal(plb or 0) == expected.plb
            assert remittance.total_paid == expected.clp_paid - expected.plb
            if expected.bpr:
                payment = session.scalars(select(Payment).where(Payment.remittance_id == remittance.id)).one()
                assert payment.amount == expected.bpr
            for claim in session.scalars(select(Claim).where(Claim.practice_id == practice_id)):
                totals = claim_totals(session, claim_id=claim.id)
                assert totals.balanced(), (path.name, claim.claim_number)
                # a denial stays open on the payer side (recorded with its codes, not written off)
                expected_open = totals.billed - totals.patient_responsibility if totals.adjusted == ZERO else ZERO
                open_balance = expected_open if claim.status.value == "denied" else ZERO
                assert totals.insurance_balance == open_balance, (path.name, claim.claim_number)
                assert claim.paid_amount == totals.payer_paid
                assert claim.status.value in {"paid", "partially_paid", "denied"}
            entries_before = session.scalar(select(func.count(LedgerEntry.id)))

        again = import_x12(sessions, practice_id=practice_id, paths=[path])
        assert [t.status for t in again.files[0].transactions] == ["already_imported"]
        with session_scope(sessions) as session:
            assert session.scalar(select(func.count(LedgerEntry.id))) == entries_before
            assert session.scalar(select(func.count(WorkException.id)).where(
                WorkException.practice_id == practice_id)) == 0  # fmt: skip


def test_line_payments_are_the_svc_amounts(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    path = next(p for p in fixture_files(kind="835") if p.name == "X221-multiple-claims-single-check.edi")
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
        seed_claims_for_835(session, practice_id=practice_id, path=path)
    import_x12(sessions, practice_id=practice_id, paths=[path])
    expected = totals_by_pyx12(path)
    with session_scope(sessions) as session:
        line_paid = session.scalar(
            select(func.sum(LedgerEntry.amount)).where(
                LedgerEntry.practice_id == practice_id,
                LedgerEntry.kind == LedgerKind.PAYER_PAYMENT,
                LedgerEntry.claim_line_id.is_not(None),
            )
        )
        assert line_paid is not None and -line_paid == expected.svc_paid == Decimal("810.80")
        # nine CLPs share CLP01 7722337: each went to its own patient's claim
        rows = session.scalars(
            select(RemittanceClaim).join(Remittance).where(Remittance.practice_id == practice_id)
        ).all()
        assert len(rows) == 9 and len({r.claim_id for r in rows}) == 9 and all(r.posted for r in rows)
