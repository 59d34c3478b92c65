"""Tool: the practice's open accounts receivable by age, by payer, insurance vs patient, oldest first."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from knowledge.errors import InvalidInput
from knowledge.practice.models import Claim, ClaimStatus, Payer
from tools.claim_views import Balances
from tools.descriptor import ToolDescriptor
from tools.render import money
from tools.slots import Slots, find_payer

ZERO = Decimal("0")
MAX_LIMIT = 200

#: (label, first day, last day or None for open-ended): days since the date of service.
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-120", 91, 120),
    ("120+", 121, None),
)

Responsibility = Literal["insurance", "patient"]


class AgingBucket(BaseModel):
    label: str = Field(description="Days since the date of service: 0-30, 31-60, 61-90, 91-120, 120+ (over 120).")
    claims: int
    insurance: Decimal
    patient: Decimal
    total: Decimal


class PayerAging(BaseModel):
    payer: str
    claims: int
    insurance: Decimal = Field(description="Still expected from this payer.")
    patient: Decimal = Field(description="Owed by patients on this payer's claims.")
    total: Decimal
    by_bucket: dict[str, Decimal] = Field(description="This payer's total by age bucket label.")


class AgingItem(BaseModel):
    claim_number: str
    payer: str
    service_date: dt.date
    status: str
    days: int = Field(description="Days since the date of service.")
    bucket: str
    insurance_balance: Decimal
    patient_balance: Decimal
    balance: Decimal


class ArAging(BaseModel):
    as_of: dt.date
    aged_from: str = Field(description="What the age counts from: the date of service.")
    payer: str | None
    older_than_days: int | None
    responsibility: Responsibility | None
    claims: int = Field(description="Open claims counted (a balance on the side asked about).")
    insurance_total: Decimal
    patient_total: Decimal
    total: Decimal = Field(description="Insurance + patient; by_bucket and by_payer each add up to it.")
    by_bucket: list[AgingBucket]
    by_payer: list[PayerAging]
    oldest: list[AgingItem] = Field(description="Oldest open claims first: the ones to work first.")
    more: int = Field(description="Open claims counted in the totals but not listed in `oldest`.")


def bucket_of(days: int) -> str:
    """The age bucket of a claim `days` after its date of service (a future date counts as 0)."""
    for label, first, last in BUCKETS:
        if days >= first and (last is None or days <= last):
            return label
    return BUCKETS[0][0]


def ar_aging(
    payer: str | None = None,
    older_than_days: int | None = None,
    responsibility: Responsibility | None = None,
    limit: int = 25,
    *,
    session: Session,
    practice_id: int,
    today: dt.date | None = None,
) -> ArAging:
    """Age the practice's open accounts receivable: every billed claim with a balance (drafts are not
    billed yet), aged in days since its date of service, in 0-30, 31-60, 61-90, 91-120 and 120+ (over 120)
    day buckets, with totals by bucket and by payer (each adds up to the grand total), split into insurance
    balance (still expected from the payer) and patient balance, and the oldest claims to work first.
    Filter by `payer` (name or payer id), `older_than_days` (e.g. 90 for "AR over 90 days": more than 90
    days since the date of service) and `responsibility` ("insurance" or "patient" balances only)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if older_than_days is not None and older_than_days < 0:
        raise InvalidInput("older_than_days must be 0 or more")
    on = today or dt.date.today()
    query = (
        select(Claim)
        .join(Payer, Payer.id == Claim.payer_id)
        .where(Claim.practice_id == practice_id, Claim.status != ClaimStatus.DRAFT)  # a draft is not billed yet
        .options(selectinload(Claim.payer))
    )
    if payer:
        wanted = (find_payer(payer) or payer).strip().lower()  # "uhc" -> UnitedHealthcare, as the slots read it
        query = query.where((Payer.name.ilike(f"%{wanted}%")) | (Payer.payer_id.ilike(wanted)) | (Payer.kind == wanted))
    items: list[AgingItem] = []
    for claim in session.scalars(query):
        balances = Balances.from_claim(claim)
        insurance = balances.insurance_balance if responsibility != "patient" else ZERO
        patient = balances.patient_balance if responsibility != "insurance" else ZERO
        if not insurance and not patient:
            continue
        days = max(0, (on - claim.service_date_from).days)
        if older_than_days is not None and days <= older_than_days:
            continue
        items.append(
            AgingItem(
                claim_number=claim.claim_number,
                payer=claim.payer.name,
                service_date=claim.service_date_from,
                status=claim.status.value,
                days=days,
                bucket=bucket_of(days),
                insurance_balance=insurance,
                patient_balance=patient,
                balance=insurance + patient,
            )
        )
    by_bucket = [_bucket_total(label, [i for i in items if i.bucket == label]) for label, _, _ in BUCKETS]
    payers = sorted({i.payer for i in items})
    by_payer = [_payer_total(name, [i for i in items if i.payer == name]) for name in payers]
    by_payer.sort(key=lambda row: row.total, reverse=True)
    # Oldest first, biggest first within a day; credits (a negative balance) are for refund review, not here.
    owed = sorted((i for i in items if i.balance > 0), key=lambda i: (-i.days, -i.balance, i.claim_number))
    shown = owed[:limit]
    insurance_total = sum((i.insurance_balance for i in items), ZERO)
    patient_total = sum((i.patient_balance for i in items), ZERO)
    return ArAging(
        as_of=on,
        aged_from="date of service",
        payer=payer,
        older_than_days=older_than_days,
        responsibility=responsibility,
        claims=len(items),
        insurance_total=insurance_total,
        patient_total=patient_total,
        total=insurance_total + patient_total,
        by_bucket=by_bucket,
        by_payer=by_payer,
        oldest=shown,
        more=len(items) - len(shown),
    )


def _bucket_total(label: str, items: list[AgingItem]) -> AgingBucket:
    insurance = sum((i.insurance_balance for i in items), ZERO)
    patient = sum((i.patient_balance for i in items), ZERO)
    return AgingBucket(label=label, claims=len(items), insurance=insurance, patient=patient, total=insurance + patient)


def _payer_total(name: str, items: list[AgingItem]) -> PayerAging:
    insurance = sum((i.insurance_balance for i in items), ZERO)
    patient = sum((i.patient_balance for i in items), ZERO)
    return PayerAging(
        payer=name,
        claims=len(items),
        insurance=insurance,
        patient=patient,
        total=insurance + patient,
        by_bucket={label: sum((i.balance for i in items if i.bucket == label), ZERO) for label, _, _ in BUCKETS},
    )


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    scope = []
    if data.get("payer"):
        scope.append(str(data["payer"]))
    if data.get("responsibility"):
        scope.append(f"{data['responsibility']} balances")
    if data.get("older_than_days") is not None:
        scope.append(f"over {data['older_than_days']} days")
    scoped = f" ({', '.join(scope)})" if scope else ""
    if not data.get("claims"):
        return f"No open A/R{scoped}."
    lines = [
        f"**Open A/R{scoped}: {money(data['total'])} on {data['claims']} claims** "
        f"(insurance {money(data['insurance_total'])}, patient {money(data['patient_total'])}; "
        f"aged from the date of service, as of {data['as_of']})."
    ]
    buckets = ", ".join(
        f"{b['label']} {money(b['total'])} ({b['claims']})" for b in data.get("by_bucket", []) if b["claims"]
    )
    lines.append(f"By age: {buckets}.")
    payers = data.get("by_payer", [])
    lines.append(
        "By payer: "
        + ", ".join(
            f"{p['payer']} {money(p['total'])} (ins {money(p['insurance'])}, pt {money(p['patient'])})" for p in payers
        )
        + "."
    )
    oldest = data.get("oldest", [])
    if oldest:
        lines.append("Oldest first:")
        for item in oldest:
            lines.append(
                f"- Claim {item['claim_number']}: {item['payer']}, DOS {item['service_date']}, {item['days']} days, "
                f"{money(item['balance'])} ({item['status'].replace('_', ' ')})"
            )
    if data.get("more"):
        lines.append(f"…and {data['more']} more claims in the totals, not listed.")
    return "\n".join(lines)


# slots.py reads no ages ("over 90 days", "60+") and no insurance/patient side that can be told from its
# default, and it belongs to another owner: this tool reads those two values itself.
_OLDER = re.compile(
    r"(?<![$\d])(?:(?:over|older than|more than|greater than|past|above|beyond|>=?)\s*(\d{1,3})(?!\d)"
    r"(?!\s*(?:dollars|bucks|\$))"
    r"|(\d{1,3})\s*(?:\+|plus\b|days? (?:and|or) (?:over|older|more|up)))",
    re.I,
)
_PATIENT = re.compile(r"\b(?:patient|patients|pt|pts|self[- ]?pay|private pay|guarantor)\b", re.I)
_INSURANCE = re.compile(r"\b(?:insurance|ins|payer side|carrier|third[- ]party)\b", re.I)


def older_than_in(text: str) -> int | None:
    """ "ar over 90 days" -> 90, "uhc ar 60+" -> 60; None if no age is named ("0-30 31-60" lists buckets)."""
    match = _OLDER.search(text)
    return int(match.group(1) or match.group(2)) if match else None


def responsibility_in(text: str) -> Responsibility | None:
    patient, insurance = bool(_PATIENT.search(text)), bool(_INSURANCE.search(text))
    if patient == insurance:  # neither, or both ("patient vs insurance"): every balance
        return None
    return "patient" if patient else "insurance"


def plan(slots: Slots) -> list[dict[str, Any]]:
    return [
        {
            "payer": slots.payer,
            "older_than_days": older_than_in(slots.text),
            "responsibility": responsibility_in(slots.text),
        }
    ]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "show me AR over 90 days",
    "aging report by payer",
    "whats our ar look like",
    "uhc ar 60+",
    "A/R aging",
    "ar aging report",
    "what's in the 120+ bucket",
    "how much AR is over 120 days?",
    "accounts receivable by payer",
    "total ar insurance vs patient",
    "patient ar over 60 days",
    "insurance ar aging for aetna",
    "aging buckets 0-30 31-60 61-90",
    "oldest claims with a balance",
    "which claims have been outstanding the longest",
    "ar > 90 medicare",
    "bcbs aging",
    "how much is cigna sitting on",
    "outstanding balances by age",
    "aeging report pls",
    "ar agin by payer",
    "what do payers still owe us",
    "how much do patients owe us in total",
    "open ar older than 30 days",
    "medicaid ar 90+",
    "days in ar by bucket",
    "the 91-120 bucket for uhc",
    "old ar to work this week",
    "ar summary for the month end meeting",
    "unpaid claims by age",
    "pt balances aging",
    "how much money is outstanding from insurance",
    "ar breakdown 30 60 90 120",
    "whats aging past 120 days",
    "oldest unpaid claims first",
    "our a/r by payer and bucket",
)

DESCRIPTOR = ToolDescriptor(
    func=ar_aging,
    access="claims",
    step="Aging the open A/R",
    summary="the open A/R by age bucket (from the date of service), by payer, insurance vs patient, oldest first",
    examples=EXAMPLES,
    card=None,  # no card kind draws an aging table yet; "worklist" is the denial worklist's shape
    referents=("payer",),
    plan=plan,
    render=render,
    roles_hint=("admin", "biller", "front_desk"),
)
