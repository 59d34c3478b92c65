"""ar_aging and timely_filing_risk on the demo practice (seeded as of 2026-11-22), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import frontmatter
import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from knowledge.documents import KnowledgeBase
from knowledge.practice.database import upgrade
from knowledge.practice.demo import PAYERS, seed_demo_practice
from knowledge.practice.ledger import claim_totals
from knowledge.practice.models import Claim, ClaimStatus, Payer, PayerKind
from tools import ar_aging as aging_module
from tools import timely_filing_risk as filing_module
from tools.ar_aging import ar_aging, bucket_of, older_than_in, responsibility_in
from tools.filing_limits import FILING_LIMITS, filing_limit_for
from tools.slots import read_slots
from tools.timely_filing_risk import timely_filing_risk, within_days_in

TODAY = dt.date(2026, 11, 22)
ZERO = Decimal("0")
#: The aging buckets written out by hand: (label, last day).
LAST_DAYS = (("0-30", 30), ("31-60", 60), ("61-90", 90), ("91-120", 120), ("120+", 10_000))
POLICIES = Path(__file__).resolve().parents[2] / "knowledge/data"


@pytest.fixture
def demo(engine: Engine) -> int:
    with Session(engine) as session:
        practice_id = seed_demo_practice(session, as_of=TODAY, patients=40, claims=160).practice_id
        session.commit()
    return practice_id


@pytest.fixture(scope="module")
def full_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, int]]:
    """The demo as `init` seeds it (claim numbers 1001-3100): issue 16's claim 1446 exists only at this size.
    SQLite only: seeding it takes about a minute."""
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('full-demo') / 'practice.db'}")
    upgrade(engine)
    with Session(engine) as session:
        practice_id = seed_demo_practice(session, as_of=TODAY).practice_id
        session.commit()
    yield engine, practice_id
    engine.dispose()


# -- A/R aging ---------------------------------------------------------------------------------------


def test_ar_aging_totals_add_up(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        result = ar_aging(session=session, practice_id=demo, today=TODAY, limit=200)
    assert result.claims > 0 and result.total > 0
    assert result.total == result.insurance_total + result.patient_total
    assert [b.label for b in result.by_bucket] == ["0-30", "31-60", "61-90", "91-120", "120+"]
    assert sum((b.total for b in result.by_bucket), ZERO) == result.total
    assert sum((b.insurance for b in result.by_bucket), ZERO) == result.insurance_total
    assert sum((b.patient for b in result.by_bucket), ZERO) == result.patient_total
    assert sum(b.claims for b in result.by_bucket) == result.claims
    assert sum((p.total for p in result.by_payer), ZERO) == result.total
    assert sum(p.claims for p in result.by_payer) == result.claims
    for row in result.by_payer:
        assert row.total == row.insurance + row.patient == sum(row.by_bucket.values(), ZERO)
    for bucket in result.by_bucket:
        assert bucket.total == sum((p.by_bucket[bucket.label] for p in result.by_payer), ZERO)
    assert len(result.oldest) + result.more == result.claims
    days = [item.days for item in result.oldest]
    assert days == sorted(days, reverse=True)  # oldest first


def test_ar_aging_buckets_match_claims_computed_by_hand(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        result = ar_aging(session=session, practice_id=demo, today=TODAY, limit=200)
        listed = {item.claim_number: item for item in result.oldest}
        claims = list(session.scalars(select(Claim).where(Claim.practice_id == demo).order_by(Claim.claim_number)))
        checked = 0
        seen_buckets = set()
        for claim in claims:
            ledger = claim_totals(session, claim_id=claim.id)  # the ledger, not the cached columns
            if ledger.balance <= 0:
                assert claim.claim_number not in listed
                continue
            days = (TODAY - claim.service_date_from).days
            expected = next(label for label, last in LAST_DAYS if days <= last)
            item = listed[claim.claim_number]
            assert (item.days, item.bucket) == (days, expected), claim.claim_number
            assert item.insurance_balance == ledger.insurance_balance
            assert item.patient_balance == ledger.patient_balance
            seen_buckets.add(expected)
            checked += 1
    assert checked == result.claims  # every open claim listed at limit 200 on this demo
    assert seen_buckets == {"0-30", "31-60", "61-90", "91-120", "120+"}


def test_bucket_boundaries() -> None:
    assert [bucket_of(d) for d in (0, 30, 31, 60, 61, 90, 91, 120, 121, 400)] == [
        "0-30", "0-30", "31-60", "31-60", "61-90", "61-90", "91-120", "91-120", "120+", "120+"
    ]  # fmt: skip


def test_ar_aging_filters(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        every = ar_aging(session=session, practice_id=demo, today=TODAY, limit=200)
        uhc = ar_aging("uhc", session=session, practice_id=demo, today=TODAY, limit=200)
        over_90 = ar_aging(older_than_days=90, session=session, practice_id=demo, today=TODAY, limit=200)
        patient = ar_aging(responsibility="patient", session=session, practice_id=demo, today=TODAY, limit=200)
        insurance = ar_aging(responsibility="insurance", session=session, practice_id=demo, today=TODAY)
        few = ar_aging(session=session, practice_id=demo, today=TODAY, limit=3)
    uhc_row = next(p for p in every.by_payer if p.payer == "UnitedHealthcare")
    assert [p.payer for p in uhc.by_payer] == ["UnitedHealthcare"]
    assert uhc.total == uhc_row.total and uhc.claims == uhc_row.claims
    assert all(item.payer == "UnitedHealthcare" for item in uhc.oldest)
    assert all(item.days > 90 for item in over_90.oldest)
    old = [b for b in every.by_bucket if b.label in ("91-120", "120+")]
    assert over_90.total == sum((b.total for b in old), ZERO)
    assert [b.total for b in over_90.by_bucket[:3]] == [ZERO, ZERO, ZERO]
    assert patient.insurance_total == ZERO and patient.patient_total == every.patient_total
    assert insurance.patient_total == ZERO and insurance.insurance_total == every.insurance_total
    assert patient.total + insurance.total == every.total
    assert len(few.oldest) == 3 and few.more == every.claims - 3 and few.total == every.total


def test_ar_aging_render_writes_money_one_way_and_says_what_is_left_out(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        result = ar_aging(session=session, practice_id=demo, today=TODAY, limit=3)
    text = aging_module.render(result.model_dump(mode="json"), {})
    assert f"${result.total:,.2f}" in text
    assert f"…and {result.more} more" in text
    assert "date of service" in text
    assert "patient" not in {k for item in result.model_dump()["oldest"] for k in item}  # no patient fields


def test_ar_aging_plan_reads_age_and_side() -> None:
    def planned(text: str) -> dict[str, object]:
        return aging_module.plan(read_slots(text, today=TODAY))[0]

    assert planned("show me AR over 90 days") == {"payer": None, "older_than_days": 90, "responsibility": None}
    assert planned("uhc ar 60+") == {"payer": "UnitedHealthcare", "older_than_days": 60, "responsibility": None}
    assert planned("patient ar over 60 days")["responsibility"] == "patient"
    assert planned("insurance ar aging for aetna") == {
        "payer": "Aetna",
        "older_than_days": None,
        "responsibility": "insurance",
    }
    assert planned("aging report by payer") == {"payer": None, "older_than_days": None, "responsibility": None}
    assert older_than_in("whats in the 120+ bucket") == 120
    assert older_than_in("ar > 90 medicare") == 90
    assert older_than_in("claims over $500") is None
    assert older_than_in("aging buckets 0-30 31-60 61-90") is None
    assert responsibility_in("total ar insurance vs patient") is None


# -- timely filing ------------------------------------------------------------------------------------


def test_filing_limits_cite_the_policies_that_state_them() -> None:
    for limit in FILING_LIMITS:
        post = frontmatter.load(POLICIES / f"{limit.doc_id}.md")
        assert post["topic"] == "timely-filing", limit.doc_id
        assert (post["payer"], str(post["payer_id"]), post["title"]) == (limit.payer, limit.payer_id, limit.title)
        aliases = post.get("aliases") or []
        assert isinstance(aliases, list) and tuple(aliases) == limit.aliases
        assert post["effective_from"] == limit.effective_from
        assert (post.get("effective_to") or None) == limit.effective_to
        assert f"within {limit.stated_as}" in post.content or f"{limit.stated_as} (one calendar year)" in post.content
        assert limit.days == (365 if limit.stated_as == "12 months" else int(limit.stated_as.split()[0]))
    # The limits in force today agree with the demo's payer windows (which deadlines elsewhere use).
    for name, payer_id, kind, filing, *_ in PAYERS:
        payer = Payer(payer_id=payer_id, name=name, kind=kind, timely_filing_days=filing, appeal_days=0)
        found = filing_limit_for(payer, TODAY)
        assert found is not None and found.days == filing, name


def test_aetna_limit_follows_the_date_of_service() -> None:
    aetna = Payer(payer_id="60054", name="Aetna", kind=PayerKind.COMMERCIAL, timely_filing_days=90, appeal_days=180)
    before, after = filing_limit_for(aetna, dt.date(2023, 12, 31)), filing_limit_for(aetna, dt.date(2024, 1, 1))
    assert before is not None and before.days == 120 and before.doc_id == "policies/aetna-timely-filing-2019"
    assert after is not None and after.days == 90 and after.doc_id == "policies/aetna-timely-filing-2024"
    advantage = Payer(payer_id="MA123", name="Medicare Advantage", kind=PayerKind.OTHER, timely_filing_days=1)
    assert filing_limit_for(advantage, TODAY) is None  # not Medicare Part B by a partial name


def test_filing_risk_deadlines_come_from_the_table(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        result = timely_filing_risk(within_days=60, session=session, practice_id=demo, today=TODAY, limit=200)
        claims = {
            c.claim_number: c
            for c in session.scalars(select(Claim).where(Claim.practice_id == demo)).all()
            if c.status in (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.REJECTED)
        }
        expected_passed, expected_risk = set(), set()
        for number, claim in claims.items():
            found = filing_limit_for(claim.payer, claim.service_date_from)
            assert found is not None  # every demo payer has a limit on file
            deadline = claim.service_date_from + dt.timedelta(days=found.days)
            sent_in_time = claim.status is ClaimStatus.SUBMITTED and (claim.submitted_on or TODAY) <= deadline
            if deadline < TODAY and not sent_in_time:
                expected_passed.add(number)
            elif (deadline - TODAY).days <= 60:
                expected_risk.add(number)
        payers = {c.claim_number: c.payer for c in claims.values()}
    assert result.passed and result.at_risk  # the small demo has both
    assert {i.claim_number for i in result.passed} == expected_passed
    assert {i.claim_number for i in result.at_risk} == expected_risk
    for item in [*result.at_risk, *result.passed]:
        found = filing_limit_for(payers[item.claim_number], item.service_date)
        assert found is not None
        assert item.deadline == item.service_date + dt.timedelta(days=found.days)
        assert item.days_left == (item.deadline - TODAY).days and item.limit_days == found.days
        assert item.source == found.doc_id
        assert item.status in ("draft", "submitted", "rejected")
    assert all(i.days_left < 0 for i in result.passed)
    assert all(0 <= i.days_left <= 60 for i in result.at_risk if i.note is None)
    assert result.amount_lost == sum((i.amount for i in result.passed), ZERO)
    assert result.at_risk_amount == sum((i.amount for i in result.at_risk), ZERO)
    assert {s.doc_id for s in result.limits} == {i.source for i in [*result.at_risk, *result.passed]}
    assert result.no_limit_on_file == []


def test_filing_risk_names_claim_1446_as_lost(full_demo: tuple[Engine, int]) -> None:
    """Issue 16: claim 1446 (UnitedHealthcare, rejected at the clearinghouse) is past UHC's 90-day limit."""
    engine, practice_id = full_demo
    with Session(engine) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == "1446")).one()
        assert claim.status is ClaimStatus.REJECTED and claim.payer.name == "UnitedHealthcare"
        service_date = claim.service_date_from
        result = timely_filing_risk("uhc", session=session, practice_id=practice_id, today=TODAY, limit=200)
    lost = next(item for item in result.passed if item.claim_number == "1446")
    # The demo's DOS is 2026-06-01, so the 90 days ran out on 2026-08-30 (the issue said 2026-09-08).
    assert service_date == dt.date(2026, 6, 1)
    assert lost.deadline == dt.date(2026, 8, 30) == service_date + dt.timedelta(days=90)
    assert lost.amount == Decimal("245.00") and lost.days_left == -84
    assert lost.source == "policies/unitedhealthcare-timely-filing"
    assert "NPI" in (lost.status_note or "")
    assert all(item.payer == "UnitedHealthcare" for item in [*result.at_risk, *result.passed])
    text = filing_module.render(result.model_dump(mode="json"), {})
    assert "Claim 1446: UnitedHealthcare, DOS 2026-06-01, $245.00" in text
    assert "deadline 2026-08-30 (90 days, passed 84 days ago)" in text
    assert f"{money_text(result.amount_lost)} lost" in text
    assert "policies/unitedhealthcare-timely-filing" in text


def money_text(value: Decimal) -> str:
    return f"${value:,.2f}"


def test_payer_without_a_limit_on_file_says_so(engine: Engine, demo: int) -> None:
    with Session(engine) as session:
        humana = Payer(
            practice_id=demo,
            payer_id="61101",
            name="Humana",
            kind=PayerKind.COMMERCIAL,
            timely_filing_days=180,  # the default an 837 import gives: not a limit anyone read
            appeal_days=180,
        )
        session.add(humana)
        session.flush()
        claim = session.scalars(
            select(Claim)
            .where(Claim.practice_id == demo, Claim.status == ClaimStatus.REJECTED)
            .order_by(Claim.claim_number)
        ).first()
        assert claim is not None
        claim.payer_id = humana.id
        session.flush()
        session.expire(claim)
        every = timely_filing_risk(within_days=365, session=session, practice_id=demo, today=TODAY, limit=200)
        only = timely_filing_risk("humana", session=session, practice_id=demo, today=TODAY)
        number = claim.claim_number
        session.rollback()
    assert number not in {i.claim_number for i in [*every.at_risk, *every.passed]}
    assert [(m.payer, m.claims, m.message) for m in every.no_limit_on_file] == [
        ("Humana", 1, "no filing limit on file for Humana")
    ]
    assert only.at_risk == [] and only.passed == [] and only.limits == []
    text = filing_module.render(only.model_dump(mode="json"), {})
    assert "No filing limit on file for Humana" in text


def test_filing_risk_cites_the_policy_passages(engine: Engine, demo: int, shipped_kb: KnowledgeBase) -> None:
    with Session(engine) as session:
        result = timely_filing_risk(session=session, practice_id=demo, knowledge_base=shipped_kb, today=TODAY)
    cited = {p.doc_id for p in result.policy}
    assert cited and cited <= {s.doc_id for s in result.limits}
    passage = result.policy[0]
    text = filing_module.render(result.model_dump(mode="json"), {passage.passage_id: 1})
    assert f"{passage.doc_id}) [1]" in text


def test_filing_risk_plan_reads_the_window() -> None:
    def planned(text: str) -> dict[str, object]:
        return filing_module.plan(read_slots(text, today=TODAY))[0]

    assert planned("which claims are about to pass timely filing?") == {"payer": None}
    assert planned("claims close to the filing deadline for aetna") == {"payer": "Aetna"}
    assert planned("tfl risk this month") == {"payer": None, "within_days": 8}  # to 2026-11-30
    assert planned("timely filing deadlines next 2 weeks")["within_days"] == 14
    assert planned("uhc tfl expiring in 10 days") == {"payer": "UnitedHealthcare", "within_days": 10}
    assert within_days_in("what claims are close to uhc's 90 day limit") is None  # the limit, not a window
    assert within_days_in("claims to refile before tfl this week") == 7


def test_descriptors_follow_the_tool_conventions() -> None:
    for module in (aging_module, filing_module):
        descriptor = module.DESCRIPTOR
        assert descriptor.access == "claims" and descriptor.card is None and descriptor.phi_fields == ()
        assert len(set(descriptor.examples)) >= 30
        assert {"session", "practice_id", "today"} <= set(descriptor.context_parameters())
        schema = descriptor.args_schema().model_json_schema()["properties"]
        assert "session" not in schema and "practice_id" not in schema
    assert set(aging_module.DESCRIPTOR.args_schema().model_fields) == {
        "payer",
        "older_than_days",
        "responsibility",
        "limit",
    }
    assert set(filing_module.DESCRIPTOR.args_schema().model_fields) == {"payer", "within_days", "limit"}
