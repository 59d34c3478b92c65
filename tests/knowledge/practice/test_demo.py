"""The demo practice: realistic, deterministic, balanced, and seeded once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import simple_icd_10_cm as icd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from knowledge.practice.demo import seed_demo_practice
from knowledge.practice.ledger import claim_totals
from knowledge.practice.models import (
    Adjustment,
    Claim,
    ClaimDiagnosis,
    ClaimLine,
    ClaimStatus,
    Payer,
    Payment,
    PaymentKind,
    Practice,
    Provider,
    RemarkCode,
    Remittance,
    RemittanceClaim,
)
from knowledge.practice.practices import valid_npi

AS_OF = dt.date(2026, 11, 22)


def _seed(engine: Engine, **sizes: int) -> int:
    with Session(engine) as session:
        report = seed_demo_practice(session, as_of=AS_OF, **sizes)
        session.commit()
        return report.practice_id


def test_every_claim_ledger_balances_and_matches_its_cached_amounts(engine: Engine) -> None:
    _seed(engine, patients=40, claims=160)
    with Session(engine) as session:
        claims = session.scalars(select(Claim)).all()
        assert len(claims) == 160
        for claim in claims:
            totals = claim_totals(session, claim_id=claim.id)
            assert totals.balanced(), claim.claim_number
            # payments + adjustments + patient balance + what is still expected = charge
            assert totals.billed == sum((line.charge for line in claim.lines), Decimal("0"))
            assert (
                totals.payer_paid
                + totals.adjusted
                + totals.patient_paid
                + totals.patient_adjusted
                + totals.patient_balance
                + totals.insurance_balance
                == totals.billed
            )
            assert (claim.billed_amount, claim.paid_amount, claim.adjusted_amount) == (
                totals.billed,
                totals.payer_paid,
                totals.adjusted,
            )
            assert claim.patient_responsibility == totals.patient_responsibility
            assert claim.patient_paid == totals.patient_paid


def test_remittances_and_payments_agree_with_the_claims(engine: Engine) -> None:
    _seed(engine, patients=40, claims=160)
    with Session(engine) as session:
        for remittance in session.scalars(select(Remittance)):
            paid = sum((rc.paid_amount for rc in remittance.claims), Decimal("0"))
            assert remittance.total_paid == paid
            payment = session.scalar(select(Payment).where(Payment.remittance_id == remittance.id))
            assert payment is not None and payment.amount == paid and payment.kind is PaymentKind.PAYER
            for remit_claim in remittance.claims:
                # the 835 balancing rule: billed - paid = the sum of the adjustments
                adjusted = sum((a.amount for a in remit_claim.adjustments), Decimal("0"))
                assert remit_claim.billed_amount - remit_claim.paid_amount == adjusted
                assert remit_claim.patient_responsibility == sum(
                    (a.amount for a in remit_claim.adjustments if a.group_code == "PR"), Decimal("0")
                )


def test_seeding_twice_leaves_one_demo_practice(engine: Engine) -> None:
    first = _seed(engine, patients=20, claims=50)
    second = _seed(engine, patients=20, claims=50)
    assert first == second
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Practice)) == 1
        assert session.scalar(select(func.count()).select_from(Claim)) == 50


def test_reset_replaces_the_demo_practice(engine: Engine) -> None:
    _seed(engine, patients=20, claims=50)
    with Session(engine) as session:
        report = seed_demo_practice(session, as_of=AS_OF, patients=20, claims=60, reset=True)
        session.commit()
        assert report.created
        assert session.scalar(select(func.count()).select_from(Practice)) == 1
        assert session.scalar(select(func.count()).select_from(Claim)) == 60


def test_the_same_date_gives_the_same_practice(tmp_path: object) -> None:
    from knowledge.practice.database import make_engine, upgrade

    snapshots = []
    for name in ("a", "b"):
        engine = make_engine(f"sqlite:///{tmp_path}/{name}.db")
        upgrade(engine)
        _seed(engine, patients=30, claims=80)
        with Session(engine) as session:
            snapshots.append(
                session.execute(
                    select(
                        Claim.claim_number,
                        Claim.status,
                        Claim.billed_amount,
                        Claim.paid_amount,
                        Claim.service_date_from,
                    ).order_by(Claim.claim_number)
                ).all()
            )
    assert snapshots[0] == snapshots[1]


def test_full_demo_is_realistic() -> None:
    """The full-size practice on SQLite: the counts the issue asks for and realistic outcomes."""
    from knowledge.practice.database import make_engine, upgrade

    engine = make_engine("sqlite:///demo.db")
    upgrade(engine)
    _seed(engine)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Claim)) >= 2000
        kinds = Counter(session.scalars(select(Payer.kind)))
        assert sum(kinds.values()) >= 6 and {"medicare", "medicaid", "commercial"} <= {k.value for k in kinds}
        statuses = Counter(session.scalars(select(Claim.status)))
        for status in (
            ClaimStatus.PAID,
            ClaimStatus.PARTIALLY_PAID,
            ClaimStatus.DENIED,
            ClaimStatus.REJECTED,
            ClaimStatus.PENDING,
        ):
            assert statuses[status] > 0, status
        service_dates = session.execute(
            select(func.min(Claim.service_date_from), func.max(Claim.service_date_from))
        ).one()
        assert AS_OF - dt.timedelta(days=366) <= service_dates[0] and service_dates[1] < AS_OF

        # real codes: every diagnosis is a billable ICD-10-CM FY2026 code
        for code in set(session.scalars(select(ClaimDiagnosis.code))):
            assert icd.is_valid_item(code) and icd.is_leaf(code), code
        # procedure codes: CPT numbers (5 digits) or HCPCS Level II (letter + 4 digits); never a descriptor column
        for code in set(session.scalars(select(ClaimLine.procedure_code))):
            assert (code.isdigit() and len(code) == 5) or (code[0].isalpha() and code[1:].isdigit()), code

        pairs = Counter(
            session.execute(
                select(Adjustment.group_code, Adjustment.reason_code, RemarkCode.code).join(
                    RemarkCode, RemarkCode.service_line_id == Adjustment.service_line_id
                )
            ).all()
        )
        for pair in [
            ("CO", "16", "M51"),
            ("CO", "50", "N115"),
            ("CO", "97", "M15"),
            ("CO", "197", "N54"),
            ("CO", "11", "M76"),
            ("CO", "4", "N519"),
            ("OA", "18", "N522"),
            ("CO", "22", "MA04"),
            ("CO", "B7", "N570"),
        ]:
            assert pairs[pair] > 0, pair
        groups = Counter(session.execute(select(Adjustment.group_code, Adjustment.reason_code)).all())
        for pair in [("CO", "45"), ("PR", "1"), ("PR", "2"), ("PR", "3"), ("CO", "29")]:
            assert groups[pair] > 0, pair
        claim_1042 = session.scalar(select(Claim).where(Claim.claim_number == "1042"))
        assert claim_1042 is not None and claim_1042.status is ClaimStatus.DENIED
        assert all(valid_npi(npi) for npi in session.scalars(select(Provider.npi)))
        assert session.scalar(select(func.count()).select_from(RemittanceClaim)) > 1500


def test_demo_payer_windows_match_the_sample_policies() -> None:
    """Deadlines are computed from the payer's windows; the cited policy must say the same numbers."""
    from pathlib import Path

    import frontmatter

    from knowledge.practice.demo import PAYERS

    folder = Path(__file__).resolve().parents[3] / "knowledge/data/policies"
    current: dict[tuple[str, str], str] = {}
    for path in folder.glob("*.md"):
        post = frontmatter.load(path)
        if not post.get("effective_to"):
            current[(str(post["payer"]), str(post["topic"]))] = post.content
    for name, _payer_id, _kind, filing, appeal, corrected, _share in PAYERS:
        filing_text = current[(name, "timely-filing")]
        assert f"{filing} days" in filing_text or (filing == 365 and "12 months" in filing_text), name
        assert f"{appeal} days" in current[(name, "appeals")], name
        if corrected is not None and name != "Medicare Part B":  # Medicare: a reopening within one year
            assert f"{corrected} days" in current[(name, "corrected-claims")], name
