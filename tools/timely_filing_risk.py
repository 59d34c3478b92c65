"""Tool: claims the payer has not accepted yet whose timely-filing limit runs out soon, or already has."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from knowledge.documents import KnowledgeBase
from knowledge.documents.models import Passage
from knowledge.errors import InvalidInput
from knowledge.practice.models import Claim, ClaimStatus, Payer
from tools.claim_views import Balances
from tools.descriptor import ToolDescriptor
from tools.filing_limits import FilingLimit, filing_limit_for
from tools.render import money
from tools.slots import Slots, find_payer

ZERO = Decimal("0")
MAX_LIMIT = 200
MAX_WITHIN = 365

#: Not received by the payer yet: never sent, sent and not acknowledged, or rejected by the clearinghouse
#: or payer (a rejected claim was never received, so it does not stop the filing clock).
NOT_FILED = (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.REJECTED)


class FilingRiskItem(BaseModel):
    claim_number: str
    payer: str
    status: str
    status_note: str | None = Field(description="The latest status event's note, e.g. the rejection reason.")
    service_date: dt.date
    submitted_on: dt.date | None
    amount: Decimal = Field(description="Insurance balance: what is lost if the claim is not filed in time.")
    limit_days: int
    deadline: dt.date
    days_left: int = Field(description="Days from today to the deadline; negative: passed that many days ago.")
    source: str = Field(description="Doc id of the payer policy that states the limit.")
    note: str | None = None


class LimitSource(BaseModel):
    payer: str
    days: int
    stated_as: str
    doc_id: str
    title: str
    effective_from: dt.date
    effective_to: dt.date | None


class NoLimitOnFile(BaseModel):
    payer: str
    claims: int
    amount: Decimal
    message: str


class FilingRisk(BaseModel):
    as_of: dt.date
    payer: str | None
    within_days: int
    at_risk: list[FilingRiskItem] = Field(description="Deadline within `within_days`, soonest first.")
    at_risk_claims: int
    at_risk_amount: Decimal
    more_at_risk: int = Field(description="At-risk claims counted but not listed.")
    passed: list[FilingRiskItem] = Field(description="Deadline passed without the payer receiving the claim.")
    passed_claims: int
    amount_lost: Decimal = Field(description="Insurance balance of the claims whose deadline passed.")
    more_passed: int = Field(description="Passed claims counted but not listed.")
    no_limit_on_file: list[NoLimitOnFile] = Field(description="Payers of unfiled claims with no limit in the table.")
    limits: list[LimitSource] = Field(description="Where each limit used comes from.")
    policy: list[Passage] = Field(default_factory=list, description="The cited policies' filing-limit passages.")


def timely_filing_risk(
    payer: str | None = None,
    within_days: int = 30,
    limit: int = 25,
    *,
    session: Session,
    practice_id: int,
    knowledge_base: KnowledgeBase | None = None,
    today: dt.date | None = None,
) -> FilingRisk:
    """List the claims the payer has not received yet (never submitted, submitted and not yet accepted, or
    rejected) whose timely-filing deadline (date of service + the payer's filing limit) falls within
    `within_days` days, soonest first, and separately those whose deadline has already passed, with the
    amount lost. Each claim has its deadline, days left and the payer policy the limit comes from; a payer
    with no filing limit on file is named as such, never given a guessed limit. Filter by `payer` (name or
    payer id)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= within_days <= MAX_WITHIN:
        raise InvalidInput(f"within_days must be between 0 and {MAX_WITHIN}")
    on = today or dt.date.today()
    query = (
        select(Claim)
        .join(Payer, Payer.id == Claim.payer_id)
        .where(Claim.practice_id == practice_id, Claim.status.in_(NOT_FILED))
        .options(selectinload(Claim.payer), selectinload(Claim.status_history))
    )
    if payer:
        wanted = (find_payer(payer) or payer).strip().lower()  # "uhc" -> UnitedHealthcare, as the slots read it
        query = query.where((Payer.name.ilike(f"%{wanted}%")) | (Payer.payer_id.ilike(wanted)) | (Payer.kind == wanted))
    at_risk: list[FilingRiskItem] = []
    passed: list[FilingRiskItem] = []
    missing: dict[str, list[Decimal]] = {}
    used: dict[str, FilingLimit] = {}
    for claim in session.scalars(query):
        amount = Balances.from_claim(claim).insurance_balance
        if amount <= 0:
            continue  # nothing left to collect from the payer
        found = filing_limit_for(claim.payer, claim.service_date_from)
        if found is None:
            missing.setdefault(claim.payer.name, []).append(amount)
            continue
        deadline = found.deadline(claim.service_date_from)
        days_left = (deadline - on).days
        sent_in_time = (
            claim.status is ClaimStatus.SUBMITTED and claim.submitted_on is not None and claim.submitted_on <= deadline
        )
        if days_left > within_days:
            continue
        used[found.doc_id] = found
        latest = claim.status_history[-1] if claim.status_history else None
        item = FilingRiskItem(
            claim_number=claim.claim_number,
            payer=claim.payer.name,
            status=claim.status.value,
            status_note=latest.note if latest else None,
            service_date=claim.service_date_from,
            submitted_on=claim.submitted_on,
            amount=amount,
            limit_days=found.days,
            deadline=deadline,
            days_left=days_left,
            source=found.doc_id,
        )
        if days_left >= 0:
            at_risk.append(item)
        elif sent_in_time:
            # Sent before the deadline and not answered yet: filed in time if the payer accepts it.
            item.note = (
                f"sent {claim.submitted_on}, before the deadline: in time if the payer accepts it; "
                "keep the clearinghouse acceptance report"
            )
            at_risk.append(item)
        else:
            passed.append(item)
    at_risk.sort(key=lambda i: (i.days_left, -i.amount, i.claim_number))
    passed.sort(key=lambda i: (-i.amount, i.days_left, i.claim_number))
    limits = sorted(used.values(), key=lambda f: (f.payer, f.effective_from))
    return FilingRisk(
        as_of=on,
        payer=payer,
        within_days=within_days,
        at_risk=at_risk[:limit],
        at_risk_claims=len(at_risk),
        at_risk_amount=sum((i.amount for i in at_risk), ZERO),
        more_at_risk=max(0, len(at_risk) - limit),
        passed=passed[:limit],
        passed_claims=len(passed),
        amount_lost=sum((i.amount for i in passed), ZERO),
        more_passed=max(0, len(passed) - limit),
        no_limit_on_file=[
            NoLimitOnFile(
                payer=name,
                claims=len(amounts),
                amount=sum(amounts, ZERO),
                message=f"no filing limit on file for {name}",
            )
            for name, amounts in sorted(missing.items())
        ],
        limits=[
            LimitSource(
                payer=f.payer,
                days=f.days,
                stated_as=f.stated_as,
                doc_id=f.doc_id,
                title=f.title,
                effective_from=f.effective_from,
                effective_to=f.effective_to,
            )
            for f in limits
        ],
        policy=_policy_passages(knowledge_base, limits, practice_id) if knowledge_base is not None else [],
    )


def _policy_passages(kb: KnowledgeBase, limits: list[FilingLimit], practice_id: int) -> list[Passage]:
    """The "Filing limit" passage of each cited policy, so the answer can cite the document itself."""
    passages: list[Passage] = []
    for found in limits:
        hits = kb.search(
            "timely filing limit days from the date of service",
            payer=found.payer,
            on_date=found.effective_from,
            limit=6,
            practice_id=practice_id,
        )
        own = [p for p in hits if p.doc_id == found.doc_id]
        if own:
            passages.append(own[0])
    return passages


def _when(item: Mapping[str, Any]) -> str:
    left = int(item["days_left"])
    if left < 0:
        return f"passed {-left} days ago"
    return "due today" if left == 0 else f"{left} days left"


def _line(item: Mapping[str, Any]) -> str:
    status = item["status"].replace("_", " ")
    note_text = item.get("status_note") or ""
    if item["status"] == "rejected" and note_text:  # the rejection reason is the point; it names the status
        status = note_text if note_text.lower().startswith("rejected") else f"rejected: {note_text}"
    note = f"; {item['note']}" if item.get("note") else ""
    return (
        f"- Claim {item['claim_number']}: {item['payer']}, DOS {item['service_date']}, {money(item['amount'])}, "
        f"{status}; deadline {item['deadline']} ({item['limit_days']} days, {_when(item)}){note}"
    )


def render(data: dict[str, Any], cite: Mapping[str, int]) -> str:
    scope = f" for {data['payer']}" if data.get("payer") else ""
    lines: list[str] = []
    if data.get("at_risk_claims"):
        lines.append(
            f"**{data['at_risk_claims']} claims{scope} reach their timely-filing deadline within "
            f"{data['within_days']} days ({money(data['at_risk_amount'])}):**"
        )
        lines.extend(_line(item) for item in data.get("at_risk", []))
        if data.get("more_at_risk"):
            lines.append(f"…and {data['more_at_risk']} more.")
    else:
        lines.append(f"No unfiled claims{scope} reach their timely-filing deadline within {data['within_days']} days.")
    if data.get("passed_claims"):
        lines.append(
            f"**Deadline passed on {data['passed_claims']} claims: {money(data['amount_lost'])} lost** "
            "(may not be billed to the patient; only proof of timely filing saves one):"
        )
        lines.extend(_line(item) for item in data.get("passed", []))
        if data.get("more_passed"):
            lines.append(f"…and {data['more_passed']} more.")
    for missing in data.get("no_limit_on_file", []):
        lines.append(
            f"{missing['message'][0].upper()}{missing['message'][1:]} "
            f"({missing['claims']} unfiled claims, {money(missing['amount'])}): check the payer's contract."
        )
    passages = {p.get("doc_id"): p for p in data.get("policy", [])}
    if data.get("limits"):
        lines.append("Limits used:")
        for source in data["limits"]:
            passage = passages.get(source["doc_id"])
            number = cite.get(passage.get("passage_id", "")) if passage else None
            marker = f" [{number}]" if number else ""
            lines.append(
                f"- {source['payer']}: {source['stated_as']} from the date of service ({source['title']}, "
                f"{source['doc_id']}){marker}"
            )
    return "\n".join(lines)


# slots.py reads no "within N days" window and it belongs to another owner: this tool reads it itself.
_WITHIN = re.compile(r"\b(?:within|next|in|w/in|inside)\s+(\d{1,3})\s*(days?|d|weeks?|wks?)\b", re.I)
# "90 days" alone is more often the payer's limit than the window asked for ("uhc 90 day tfl"): only a
# number of days that is left or ahead counts.
_DAYS = re.compile(r"\b(\d{1,3})\s*(days?|weeks?|wks?)\s+(?:left|out|away|or less|from now)\b", re.I)


def within_days_in(text: str, today: dt.date | None = None) -> int | None:
    """ "within 14 days" -> 14, "next 2 weeks" -> 14, "this week" -> 7, "this month" -> the days to its end
    (from `today`, else 30); None when the message names no window."""
    match = _WITHIN.search(text) or _DAYS.search(text)
    if match:
        number = int(match.group(1))
        return min(MAX_WITHIN, number * 7 if match.group(2).lower().startswith("w") else number)
    lowered = text.lower()
    if re.search(r"\b(?:this|current)\s+week\b", lowered):
        return 7
    if re.search(r"\bnext\s+week\b", lowered):
        return 14
    if re.search(r"\b(?:this|current)\s+month\b|\bby (?:the )?(?:end of (?:the )?)?month\b|\beom\b", lowered):
        if today is None:
            return 30
        return calendar.monthrange(today.year, today.month)[1] - today.day
    if re.search(r"\bnext\s+month\b", lowered):
        if today is None:
            return 60
        year, month = today.year + today.month // 12, today.month % 12 + 1
        return (dt.date(year, month, calendar.monthrange(year, month)[1]) - today).days
    return None


def plan(slots: Slots) -> list[dict[str, Any]]:
    # "this month" ends on the last day of the month: slots.py gives today as the month's end so far.
    today = slots.service_to if re.search(r"\b(?:this|current)\s+month\b", slots.text, re.I) else None
    within = within_days_in(slots.text, today)
    call: dict[str, Any] = {"payer": slots.payer}
    if within is not None:
        call["within_days"] = within
    return [call]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "which claims are about to pass timely filing?",
    "tfl risk this month",
    "claims close to the filing deadline for aetna",
    "timely filing risk report",
    "what claims are going to miss timely filing",
    "any claims past timely filing?",
    "tfl report uhc",
    "claims at risk of timely filing",
    "which unbilled claims are running out of time",
    "rejected claims close to the filing limit",
    "what have we lost to timely filing",
    "claims we still need to file before the deadline",
    "timely filing deadlines next 2 weeks",
    "tf risk medicare",
    "filing limit coming up on any claims?",
    "which rejections do we need to resubmit before tfl",
    "claims expiring timely filing within 14 days",
    "how much did we lose to missed filing deadlines",
    "timley filing risk",
    "tfl watchlist",
    "unsubmitted claims near filing limit",
    "what claims have not been accepted and are close to tfl",
    "cigna claims about to time out",
    "bcbs timely filing at risk",
    "medicaid claims near filing deadline",
    "show claims past the filing limit",
    "claims to refile before tfl this week",
    "filing deadlines for rejected claims",
    "late filing risk for uhc",
    "which claims will we lose if we dont file soon",
    "timely filing worklist",
    "tfl expiring in 30 days",
    "which clearinghouse rejections still have time to fix",
    # Shorthand: "clms", "about to", a payer named (2026-12-03).
    "aetna clms about to hit tfl",
    "any clms close to missing tfl?",
    "uhc claims that are gonna blow timely filing",
    "mcr clms near the filing deadline",
    "whats about to age out on tfl",
    "clms we're about to lose to tfl, cigna",
    "any aetna claims near it",
    "and the uhc claims close to the limit",
    "which bcbs claims are near the filing limit",
)

DESCRIPTOR = ToolDescriptor(
    func=timely_filing_risk,
    access="claims",
    step="Checking timely-filing deadlines",
    summary="the claims not yet accepted by the payer whose timely-filing deadline is near or passed, "
    "with the amount lost and the policy each limit comes from",
    examples=EXAMPLES,
    card=None,  # the "worklist" card draws denials (reason, next action); these rows have neither
    referents=("payer",),
    plan=plan,
    render=render,
    roles_hint=("admin", "biller"),
)
