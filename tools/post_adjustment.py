"""Write tool: adjust or write off part of a claim's balance with a group code and CARC."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from knowledge.practice import posting
from knowledge.practice.models import Responsibility
from tools.claim_views import Balances
from tools.descriptor import ToolDescriptor
from tools.posting_views import PostingResult
from tools.slots import Slots, money_on_a_claim

#: Roles that may confirm this write (front desk may not adjust balances).
CONFIRM_ROLES = ("admin", "biller")


def post_adjustment(
    claim_number: str,
    amount: Decimal | None = None,
    reason_code: str = "45",
    group_code: str = "CO",
    side: Literal["payer", "patient"] = "payer",
    memo: str | None = None,
    *,
    session: Session,
    practice_id: int,
    user_id: int | None,
    idempotency_key: str,
) -> PostingResult:
    """Adjust (write off) part of a claim's balance: `side` payer for the insurance balance (e.g. CO-45
    contractual) or patient for the patient balance (e.g. a small-balance write-off); `reason_code` is a
    claim adjustment reason code (CARC) and `group_code` CO, OA, PI or PR. Leave `amount` out to write off
    that side's whole open balance ("write off the balance on 1333"): the amount is fixed when the action is
    proposed and shown to the person who confirms it. Only runs after a person with the biller or admin
    role confirms it."""
    entry, totals = posting.post_adjustment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        group_code=group_code,
        reason_code=reason_code,
        responsibility=Responsibility(side),
        posted_on=dt.date.today(),
        idempotency_key=idempotency_key,
        user_id=user_id,
        memo=memo,
    )
    return PostingResult(
        claim_number=claim_number,
        posted=f"{entry.group_code}-{entry.reason_code} adjustment",
        amount=-entry.amount,
        balances=Balances.from_totals(totals),
    )


def describe(
    claim_number: str,
    amount: Decimal | None = None,
    reason_code: str = "45",
    group_code: str = "CO",
    side: Literal["payer", "patient"] = "payer",
    memo: str | None = None,
    *,
    session: Session,
    practice_id: int,
) -> str:
    """What `post_adjustment` would write, checked against the claim now (raises on bad input)."""
    return posting.plan_adjustment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        group_code=group_code,
        reason_code=reason_code,
        responsibility=Responsibility(side),
    ).description


def settle(arguments: dict[str, Any], *, session: Session, practice_id: int) -> dict[str, Any]:
    """The arguments with the amount fixed: no amount is the side's whole open balance as it is now."""
    if arguments.get("amount") is None:
        arguments = {
            **arguments,
            "amount": posting.plan_adjustment(
                session,
                practice_id=practice_id,
                claim_number=arguments["claim_number"],
                amount=None,
                group_code=arguments["group_code"],
                reason_code=arguments["reason_code"],
                responsibility=Responsibility(arguments["side"]),
            ).amount,
        }
    return arguments


def plan(slots: Slots) -> list[dict[str, Any]]:
    if slots.amount is None and slots.claim_number:
        # "write off the balance on 1333", "write off 2912, not worth appealing", "small bal, adj it off": the
        # open balance of that side, fixed when proposed and shown in the confirmation a person answers.
        claim_number, amount = slots.claim_number, None
    else:
        claim_number, amount = money_on_a_claim(slots)
    return [
        {
            "claim_number": claim_number,
            "amount": amount,
            "reason_code": slots.extras.get("reason_code"),
            "group_code": slots.extras.get("group_code"),
            "side": slots.extras.get("side"),
        }
    ]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "Write off $5 small balance on claim 1500",
    "Adjust $120 contractual CO-45 on claim 1042",
    "Please write off the remaining $12.30 patient balance on claim 1188",
    "Can you post a CO-45 adjustment of $85.00 to claim 2001?",
    "Write off $250 on claim 1007 as CO-97 bundled",
    "I need to adjust the insurance balance on claim 1333 by $40 for timely filing, CO-29",
    "Take $3.75 off the patient side of claim 1276 as a small balance",
    "Post a contractual adjustment of $64.20 on claim 1610 for Aetna",
    "Adjust off $18 on claim 1911, group OA reason 23",
    "Write down the payer balance on 1425 by $110 per the UHC contract",
    "Please zero out the $2 patient balance on claim 1734",
    "Apply a PI-204 adjustment of $95 on claim 1042",
    "w/o $5 sm bal clm 1500",
    "co-45 adj $120 clm 1042",
    "w/o pt bal 12.30 clm 1188",
    "adj ins side $85 co-45 clm 2001",
    "contractual w/o $64.20 aetna clm 1610",
    "w/o tfl denial $40 co-29 clm 1333",
    "sm bal adj $3.75 pt side 1276",
    "adj oa-23 18.00 clm 1911",
    "writeoff uhc contractual 110 clm 1425",
    "w/o $2 pt resp clm 1734 memo small bal",
    "write off 5 on 1500",
    "adjust 1042 $120 co45",
    "writeoff 12.30 claim 1188 patient",
    "small bal w/o 1276",
    "2001 contractual adj 85",
    "wirte off $250 co-97 1007",
    "adj 1333 40 co 29",
    "zero out 1734 balance write off",
    "co-45 1610 64.20 adjust",
    "write off the rest of it",
    "adjust $15 off that one as CO-45",
    "ok w/o the small balance on it",
    "go ahead and write that claim's pt balance off",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "write off $5 small bal on claim 1500",
    "w/o $10.00 on 1041 pt side",
    "adjust $20 CO-45 on clm 1002",
    "post a $12 adjustment to claim 1010",
    "small balance write-off of $2.50 on 1043",
    "need to w/o $3.00 sm bal on 1500",
    "adj off $15 contractual on clm 1010",
    "adjust off $3.50 small balance on 1500",
    # More phrasings as staff type them (2026-12-02).
    "w/o $4.50 small bal on 1184",
    "write off $7 pt bal 1043",
    "adjust co-45 $92.00 on clm 1188",
    "pls write off $300 on 2001 timely filing co-29",
    "contractual adj 55.40 on 1500",
    "adj $16 oa-23 on 1042",
    "w/o remaining ins bal $38 on 1610 co-45",
    "take $1.25 off pt side on 1911 small balance",
    "small bal write off $3 for clm 1425",
    "post a co-97 writeoff of $75 on 1734",
    "write down $140 contractual on 1276 per the bcbs fee schedule",
    "adj off $9.99 pt balance claim 1333",
    "need a pi-204 adj of $60 on 1007",
    "zero out the $1.50 on 1184 pt side",
    "adjustment $44 co-45 1002",
    "write off 2.75 small bal 1041",
    "cntractual adjstment $22 clm 1090",
    "co45 w/o $130 on 1117",
    "w/o the $6 left on 1043, pt side, small bal",
    "can you adjust $25 off clm 1188 as contractual",
    "write off $180 co-50 on 2001, not appealing",
    "adj the ins bal on 1042 down $50 co-45",
    "post adj $33 CO-45 to 1610",
    "w/o $45 bad debt pt bal 1911",
    "write off $4 pt resp on 1425",
    "w/o $8 small bal 1734 per policy",
    "contractual writeoff $67.89 1276 aetna",
    "adjust 1333 by $12 co-45",
    "take the $2.20 balance off 1184 as a small bal w/o",
    "biller ok'd it, write off $15 on 1500 pt side",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "the pt only owes $3 on 1184, just write it off",
    "adjust the $45 over the contract rate off 1043, co-45",
    "we're not appealing 1188, write off the $210 as co-50",
    "take the $6.40 pt balance on 1500 off the books",
    # No amount: the whole open balance, fixed when the action is proposed (2026-12-02).
    "we lost the appeal on 1188, write off the balance",
    "1333 is a timely filing denial we can't fight, write it off",
    "write off the remaining insurance balance on 1610",
    "w/o the rest of the pt balance on 1043",
    "write off the patient balance on 1500 as bad debt",
    "please adjust $30 off the insurance side of clm 2001 for the contractual",
    "the $1.10 left on 1610 isn't worth billing, w/o",
    "write off $95 on 1911 for timely filing co-29, we missed it",
    "remove $20 from the insurance bal on 1425 as a contractual adjustment",
)

DESCRIPTOR = ToolDescriptor(
    func=post_adjustment,
    access="write",
    step="Preparing a ${amount} adjustment on claim {claim_number}",
    summary="post an adjustment or write-off (confirmed by a biller)",
    examples=EXAMPLES,
    referents=("claim",),
    plan=plan,
    describe=describe,
    settle=settle,
    confirm_roles=CONFIRM_ROLES,
    roles_hint=("biller", "admin"),
)
