"""Tool: the open denials to work, by payer and reason, with amounts and days left to appeal."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from knowledge.practice.claims import adjustment_codes_for, remittance_claims_for
from knowledge.practice.models import Claim, ClaimStatus, Payer
from tools.claim_views import Balances
from tools.denial_rules import deadline_for, deadlines, rule_for

NOT_DENIAL = {"CO-45", "PR-1", "PR-2", "PR-3"}


class WorklistItem(BaseModel):
    claim_number: str
    payer: str
    service_date: dt.date
    denied_on: dt.date | None
    reason: str = Field(description="The main denial code, GROUP-CARC.")
    remark_codes: list[str]
    amount: Decimal = Field(description="Insurance balance still open on the claim.")
    next_action: str
    deadline: dt.date | None
    days_left: int | None


class GroupTotal(BaseModel):
    key: str
    claims: int
    amount: Decimal


class DenialWorklist(BaseModel):
    total_claims: int
    total_amount: Decimal
    by_payer: list[GroupTotal]
    by_reason: list[GroupTotal]
    items: list[WorklistItem]


def denial_worklist(
    payer: str | None = None,
    reason: str | None = None,
    limit: int = 25,
    *,
    session: Session,
    practice_id: int,
    today: dt.date | None = None,
) -> DenialWorklist:
    """List the practice's open denials to work, most urgent first: for each claim its payer, the denial
    reason (GROUP-CARC) and remark codes, the open amount, the next action and the days left before the
    appeal or corrected-claim deadline. Filter by `payer` (name or payer id) or `reason` (e.g. CO-16 or 16).
    Totals by payer and by reason cover every open denial that matches."""
    on = today or dt.date.today()
    query = (
        select(Claim)
        .join(Payer, Payer.id == Claim.payer_id)
        .where(Claim.practice_id == practice_id, Claim.status == ClaimStatus.DENIED)
        .options(selectinload(Claim.payer))
    )
    if payer:
        wanted = payer.strip().lower()
        query = query.where((Payer.name.ilike(f"%{wanted}%")) | (Payer.payer_id.ilike(wanted)) | (Payer.kind == wanted))
    claims = list(session.scalars(query))
    codes = adjustment_codes_for(session, claim_ids=[c.id for c in claims])
    remits = remittance_claims_for(session, claim_ids=[c.id for c in claims])
    items: list[WorklistItem] = []
    for claim in claims:
        carcs, rarcs = codes.get(claim.id, ([], []))
        main = next((c for c in carcs if c not in NOT_DENIAL), carcs[0] if carcs else "unknown")
        if reason and not _same_reason(reason, main):
            continue
        remit = remits.get(claim.id, [])
        remit_date = remit[-1].remittance.payment_date if remit else None
        rule = rule_for(main.split("-")[-1])
        deadline = deadline_for(
            rule.action,
            deadlines(
                service_date=claim.service_date_from,
                remittance_date=remit_date,
                timely_filing_days=claim.payer.timely_filing_days,
                appeal_days=claim.payer.appeal_days,
                corrected_claim_days=claim.payer.corrected_claim_days,
                today=on,
            ),
        )
        items.append(
            WorklistItem(
                claim_number=claim.claim_number,
                payer=claim.payer.name,
                service_date=claim.service_date_from,
                denied_on=remit_date,
                reason=main,
                remark_codes=rarcs,
                amount=Balances.from_claim(claim).insurance_balance,
                next_action=rule.action.replace("_", " "),
                deadline=deadline.date if deadline else None,
                days_left=deadline.days_left if deadline else None,
            )
        )
    by_payer: dict[str, list[Decimal]] = defaultdict(list)
    by_reason: dict[str, list[Decimal]] = defaultdict(list)
    for item in items:
        by_payer[item.payer].append(item.amount)
        by_reason[item.reason].append(item.amount)

    def totals(groups: dict[str, list[Decimal]]) -> list[GroupTotal]:
        rows = [GroupTotal(key=k, claims=len(v), amount=sum(v, Decimal("0"))) for k, v in groups.items()]
        return sorted(rows, key=lambda row: row.amount, reverse=True)

    # Past-deadline claims sort last: still listed (a timely-filing proof may save them), but not first.
    items.sort(key=lambda i: (i.days_left is None, (i.days_left or 0) < 0, i.days_left or 0, -i.amount))
    return DenialWorklist(
        total_claims=len(items),
        total_amount=sum((i.amount for i in items), Decimal("0")),
        by_payer=totals(by_payer),
        by_reason=totals(by_reason),
        items=items[: max(1, min(limit, 200))],
    )


def _same_reason(asked: str, code: str) -> bool:
    """`CO-16`, `co 16` and `16` all match CO-16."""
    wanted = asked.strip().upper().replace(" ", "-")
    return code == wanted if "-" in wanted else code.split("-")[-1] == wanted
