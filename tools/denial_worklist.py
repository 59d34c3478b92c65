"""Tool: the open denials to work, by payer and reason, with amounts and days left to appeal."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from knowledge.practice.claims import adjustment_codes_for, remittance_claims_for
from knowledge.practice.models import Claim, ClaimStatus, Payer
from tools.claim_views import Balances
from tools.denial_rules import deadline_for, deadlines, rule_for
from tools.descriptor import ToolDescriptor
from tools.render import money
from tools.slots import Slots

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
    by_month: list[GroupTotal] = Field(
        default_factory=list,
        description="By the month denied (YYYY-MM of the remittance), oldest first; a denial with no remittance "
        "date is in none.",
    )
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
    by_month: dict[str, list[Decimal]] = defaultdict(list)
    for item in items:
        by_payer[item.payer].append(item.amount)
        by_reason[item.reason].append(item.amount)
        if item.denied_on is not None:
            by_month[f"{item.denied_on:%Y-%m}"].append(item.amount)

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
        by_month=sorted(totals(by_month), key=lambda row: row.key),
        items=items[: max(1, min(limit, 200))],
    )


def _same_reason(asked: str, code: str) -> bool:
    """`CO-16`, `co 16` and `16` all match CO-16."""
    wanted = asked.strip().upper().replace(" ", "-")
    return code == wanted if "-" in wanted else code.split("-")[-1] == wanted


URGENT_SHOWN = 10  # claims listed in a chat answer; the totals count every claim


def _groups(groups: list[dict[str, Any]], shown: int, what: str) -> str:
    """The first `shown` groups with their claims and amounts, and what the rest add up to, so the figures in
    the answer always add up to the total."""
    text = ", ".join(f"{g['key']} {g['claims']} ({money(g['amount'])})" for g in groups[:shown])
    rest = groups[shown:]
    if rest:
        claims = sum(int(g["claims"]) for g in rest)
        amount = sum((Decimal(str(g["amount"])) for g in rest), Decimal("0"))
        text += f", and {len(rest)} more {what}: {claims} claims ({money(amount)})"
    return text


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    if not data.get("total_claims"):
        return "No open denials match."
    lines = [f"**{data['total_claims']} open denials, {money(data['total_amount'])}.**"]
    lines.append(f"By payer: {_groups(data.get('by_payer', []), 8, 'payers')}.")
    lines.append(f"By reason: {_groups(data.get('by_reason', []), 15, 'reasons')}.")
    items = data.get("items", [])
    shown = items[:URGENT_SHOWN]
    lines.append(
        "Most urgent:"
        if len(shown) == data["total_claims"]
        else f"Most urgent ({len(shown)} of {data['total_claims']}; the Worklists view lists them all):"
    )
    for item in shown:
        left = item.get("days_left")
        when = (
            "no deadline"
            if left is None
            else (f"{left} days left" if left >= 0 else f"deadline passed {-left} days ago")
        )
        remarks = " " + " ".join(item.get("remark_codes", [])) if item.get("remark_codes") else ""
        lines.append(
            f"- Claim {item['claim_number']}: {item['payer']}, {item['reason']}{remarks}, {money(item['amount'])}, "
            f"{item['next_action']} by {item.get('deadline')} ({when})"
        )
    return "\n".join(lines)


def plan(slots: Slots) -> list[dict[str, Any]]:
    group = slots.extras.get("group_code")
    reason = f"{group}-{slots.extras['reason_code']}" if group else slots.extras.get("reason_words")
    return [{"payer": slots.payer, "reason": reason}]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "What are our open denials?",
    "Show me the denial worklist",
    "Which open denials do we have with UnitedHealthcare?",
    "What denials should I work first today?",
    "List all open CO-16 denials",
    "How many denials are open for Aetna and how much money is that?",
    "Which denials are closest to their appeal deadline?",
    "Show open denials with reason CO-97",
    "What's the total dollar amount of open denials by payer?",
    "Give me the top 20 denials to work",
    "Are there any open Medicare denials for missing information?",
    "Which denials are about to run out of time to appeal?",
    "open denials for uhc",
    "denial wl bcbs",
    "co-50 denials open?",
    "mcr denials days left",
    "my denial queue pls",
    "denials by reason + $$",
    "aetna open dnls",
    "worklist co-197 auth denials",
    "open denials sorted by deadline",
    "top 10 denials to appeal",
    "denial worklist",
    "open denails cigna",
    "denials to work today",
    "whats in the denial queue",
    "medicaid denials open",
    "all open denials",
    "CO-16 worklist",
    "denials near deadline",
    "how much $ tied up in denials",
    "open denials by payer totals",
    "denials list uhc co-97",
    "which denials r urgent",
    "work queue denials this wk",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "show me the bcbs denials",
    "what denials do we have for medicare",
    "worklist for cigna pls",
    "denial queue - aetna",
    "whats on the denial list for medicaid",
    "which denials are most urgent to work today",
    "outstanding denials by payer",
    "open denials for bcbs",
    "any denials from aetna this month?",
    "what's our denial backlog look like",
    "denails for medicaid",
    "pull the UHC denial list for me",
    "what denials do we need to work today",
    "cigna denial list",
    # Open denials by reason code.
    "co-16 denials",
    "open co-197 for uhc",
    "how much is in co-50 denials",
    "uhc co-97 open",
    "all the pr-1 denials",
    "timely filing denials for aetna",
    # More phrasings as staff type them (2026-12-02).
    "whats on my denial worklist today",
    "denials i need to work for uhc",
    "pull the open denials",
    "show me the denials queue sorted by days left",
    "open co-16 denials for aetna",
    "how much money is sitting in open denials",
    "which denials expire soonest",
    "denials about to miss the appeal deadline",
    "top priority denials pls",
    "denials worklist medicare",
    "open denial totals by payer and reason",
    "list denials w/ co-197",
    "give me 15 denials to work this afternoon",
    "bcbs denial backlog",
    "any new open denials for cigna",
    "how many open denials do we have right now",
    "open denials ranked by urgency",
    "co-97 bundling denials still open",
    "open medical necessity denials co-50",
    "where should i start on denials today",
    "uhc denials $ amount",
    "denails wrklist",
    "dnl queue mcd",
    "open denails by reason",
    "what denials are past due or close to it",
    "denial work list for the team meeting",
    "aetna co-16 open list",
    "summary of open denials by payer",
    "which payer has the most open denials",
    "open auth denials",
    "co-18 duplicate denials still open",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "i have an hour, what denials should i tackle",
    "which denied claims are most at risk of losing appeal rights",
    "give me the aetna denials ranked by dollars",
    "manager wants the open denial numbers by payer for monday",
    "what's piled up in denials for medicare",
    "rundown of every open denial w/ days left",
    "outstanding co-16 missing info denials, any payer",
    "what denied claims are still waiting on someone to work them",
    # A reason code in the plural stands for its denials ("the co-16s") (2026-12-03).
    "pull up the cigna co-16s",
    "all the co-50s still open",
    "uhc pr-204s",
    "any co-197s for bcbs?",
    "how many oa-18s do we have",
    "list the medicare co-96s",
    # Who denies most, and denial counts, without the word worklist (2026-12-03).
    "whos denying us the most this month",
    "which payer denies the most",
    "top denial reasons rn",
    "where are most of our denials coming from",
    "whats getting denied the most",
    "how many denials do we have open",
    "biggest denial problem this month",
    "which insurance is killing us on denials",
)

DESCRIPTOR = ToolDescriptor(
    func=denial_worklist,
    access="claims",
    step="Building the denial worklist",
    summary="the open denials by payer, reason, amount and days left to appeal",
    examples=EXAMPLES,
    card="worklist",
    referents=("payer",),
    plan=plan,
    render=render,
)
