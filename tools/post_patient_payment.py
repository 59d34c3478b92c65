"""Write tool: post a payment a patient made (copay, coinsurance, balance) to one of their claims."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from knowledge.practice import posting
from tools.claim_views import Balances
from tools.denial_rules import remark_advice
from tools.descriptor import ToolDescriptor
from tools.posting_views import PostingResult
from tools.slots import Slots, money_on_a_claim

#: Roles that may confirm this write.
CONFIRM_ROLES = ("admin", "biller", "front_desk")
#: Words that mark a payment as a prepayment or deposit (the offline plan sets `prepayment` from them).
_PREPAYMENT = re.compile(r"\b(?:pre-?pay(?:ment|ing|s)?|pre-?paid|deposit|paying ahead|paid ahead|in advance)\b", re.I)


class PatientPaymentResult(PostingResult):
    """What was posted, the claim's status after it, and anything a person must follow up."""

    status: str = Field(description="The claim's status after the posting (derived from its ledger).")
    prepayment: bool = False
    flags: list[str] = Field(default_factory=list, description="e.g. 'credit balance — for refund review'.")


def post_patient_payment(
    claim_number: str,
    amount: Decimal,
    method: str = "cash",
    received_on: dt.date | None = None,
    reference: str | None = None,
    prepayment: bool = False,
    *,
    session: Session,
    practice_id: int,
    user_id: int | None,
    idempotency_key: str,
) -> PatientPaymentResult:
    """Post a payment the patient made (copay, coinsurance, deductible or balance) to a claim.
    `amount` in dollars (e.g. 40 or 40.00); `method` is cash, check, card, ach or other; `received_on`
    defaults to today. A payment on a claim the payer has settled for the patient (denied with no patient
    responsibility, or paid in full with none) is refused, because the patient owes nothing on it; set
    `prepayment` true only when the person says the patient is paying ahead (a prepayment or deposit), and
    it is then kept as a credit for refund review. This writes to the practice's books, so it only runs
    after a person confirms it."""
    on = received_on or dt.date.today()
    payment, totals, plan = posting.post_patient_payment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        method=method,
        received_on=on,
        idempotency_key=idempotency_key,
        user_id=user_id,
        reference=reference,
        prepayment=prepayment,
    )
    return PatientPaymentResult(
        claim_number=plan.claim.claim_number,
        posted=f"{'prepayment' if prepayment else 'patient payment'} #{payment.id}",
        amount=payment.amount,
        balances=Balances.from_totals(totals),
        status=plan.claim.status.value,
        prepayment=prepayment,
        flags=[*plan.flags, *_crossover_notes(plan.remark_codes)],
    )


def describe(
    claim_number: str,
    amount: Decimal,
    method: str = "cash",
    received_on: dt.date | None = None,
    reference: str | None = None,
    prepayment: bool = False,
    *,
    session: Session,
    practice_id: int,
) -> str:
    """What `post_patient_payment` would write, checked against the claim now (raises on bad input, and
    on a payment the payer's decision rules out)."""
    plan = posting.plan_patient_payment(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        amount=amount,
        method=method,
        received_on=received_on or dt.date.today(),
        prepayment=prepayment,
    )
    return " ".join([plan.description, *_crossover_notes(plan.remark_codes)])


def _crossover_notes(remark_codes: tuple[str, ...]) -> list[str]:
    """What front desk should know before collecting when the payer forwarded the claim (MA18...)."""
    return [f"{advice.code}: {advice.front_desk}" for code in remark_codes if (advice := remark_advice(code))]


def plan(slots: Slots) -> list[dict[str, Any]]:
    claim_number, amount = money_on_a_claim(slots)
    arguments: dict[str, Any] = {
        "claim_number": claim_number,
        "amount": amount,
        "method": slots.method or "cash",
        "received_on": slots.on_date.isoformat() if slots.on_date else None,
    }
    if slots.extras.get("reference"):
        arguments["reference"] = str(slots.extras["reference"])  # the check's number: kept with the payment
    if _PREPAYMENT.search(slots.text or ""):
        arguments["prepayment"] = True  # only when the person said so: the guard is the default
    return [arguments]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "Post a $40 copay to claim 1500",
    "The patient paid $25.00 by card on claim 1042, please record it",
    "Record a cash payment of $15.50 on claim 1188",
    "Can you apply a $100 check payment to claim 2001, check number 4471?",
    "Drew Fakely paid his $20 copay today for claim 1007",
    "Please post the patient's coinsurance payment of $62.18 to claim 1333",
    "Patient paid the balance in full, $85, on claim 1276 via ACH",
    "Log a deductible payment of $150 received 10/12/2026 on claim 1610",
    "Apply the $30 the patient paid at the front desk to claim 1911",
    "I need to enter a $45 card payment for claim 1425",
    "Jane Sample dropped off a check for $75 for claim 1734, ref 1029",
    "Put the patient's payment of 12.50 on claim 1042, received yesterday",
    "post $40 copay clm 1500",
    "pt pd 25.00 cash clm 1042",
    "pt pmt $15.50 cc on 1188",
    "copay $20 rec'd 10/12/2026 clm 2001 card",
    "post pt pmt $60 chk #1183 clm 1007",
    "coins pmt $33.40 pt paid clm 1333",
    "pt paid bal $85 ach clm 1276",
    "ded pmt 150 chk clm 1610 rec'd 2026-10-14",
    "front desk collected $30 copay clm 1911",
    "apply pt cc pmt $45 to clm 1425",
    "$40 copay 1500",
    "1042 pt paid 25 cash",
    "post paymnet 15.50 claim 1188",
    "copay collected 2001 $20 card",
    "record pt check 100 for 1007",
    "$62.18 coins 1333 paid today",
    "patient payment 85.00 ach 1276",
    "took $30 at checkout for clm 1911",
    "pymt $45 visa claim 1425",
    "post $20 to it",
    # Money taken ahead of the payer's decision: a prepayment (the tool's `prepayment` argument).
    "pt is paying ahead, post a $50 prepayment to claim 1610",
    "deposit of $100 from the pt for 2001 before the surgery",
    "collect $75 in advance on 1184 as a prepayment",
    "she paid $40 cash on that one, post it",
    "apply the copay to that claim",
    "record a $15.50 card payment on it",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "post $25 copay to claim 1500 paid by card",
    "pt paid $20 cash on 1500",
    "apply $40 payment to clm 1500, check",
    "record a $15 copay on 1043 today, cash",
    "take a $10 pmt from the pt on claim 1016 by credit card",
    "log pt payment of 25.00 on 1041",
    "pt dropped off a check for $12.50 for claim 1021, pls post",
    "post $5 copay to claim 1500 paid today by card",
    "Pt paid 20 copay today on 1043 w/ debit",
    "patient paid $30 copay on claim 1021 today",
    "patient just paid $15 by check for claim 1500",
    # More phrasings as staff type them (2026-12-02).
    "pt paid $35 copay on 1184 w/ card",
    "collected $20 cash from the pt for clm 1043",
    "pls post $50 pt pmt to 1188, visa",
    "Jane Sample paid $60 toward claim 1500 today, check 2231",
    "patient came in and paid 45.00 on 2001, debit card",
    "post copay 25 cash 1042",
    "$12.75 coins payment recd by mail for 1184, check",
    "record $100 pt payment on claim 1610 received 11/18/2026",
    "apply $80 deductible pmt clm 1911 ach",
    "pt pd in full $42.10 clm 1425",
    "put 30 dollars on 1734 from the pt, cash",
    "enter pt check $65 on 1276 chk 5512",
    "front desk took a $15 copay for 1333, card",
    "pt mailed in a check for $90 for claim 1007, pls apply",
    "log copay $40 on 1043",
    "pt paid $55 online for 1188",
    "pst $20 copy 1500",
    "paymnt from pt 35 dollars clm 2001 card",
    "can you post the $25 pt paid on clm 1042 yesterday",
    "she paid 18.50 toward her bal on 1184",
    "Drew Fakely paid $70 on 1007 by credit card",
    "post coinsurance $27.40 clm 1002 paid by check",
    "pt payment $10 1041 cash today",
    "record the $150 deductible the pt paid on 1090",
    "got $22 from pt at checkout, claim 1117",
    "apply patient's card payment of 65.00 to 1500",
    "pt pmt posting: 1043, $30, cash",
    "hi can u post a copay of $25 for 1276, pt paid w/ card this morning",
    "need to post a $200 pt payment on 1610, ach",
    "post pt's $5 on 1188",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "pt just handed me $40 for her copay, it's for claim 1043, put it in pls",
    "received a $75 personal check from the pt in the mail today for 1188",
    "the pt paid off what she owed on 1500, $62.50 on her visa",
    "Drew Fakely stopped by and gave us $20 cash toward claim 2001",
    "pt swiped card for $35 at checkout, apply to 1184",
    "got an ach from the patient for $110, claim 1610",
    "we collected a $25 copay this morning for claim 1042, cash",
    "pt paid $15 over the phone w/ card for 1911",
    # Paying in full, no amount typed: the patient's open balance, shown for confirmation (2026-12-03).
    "shes paying the whole thing on a card",
    "he wants to pay off his balance, cash",
    "pt paying in full today by check",
    "she'll pay what she owes on 1719, visa",
    "taking the full pt bal on that one, card",
    "pt is settling up the whole balance on it",
    # An amount and a way of paying, the claim left to the thread (2026-12-03).
    "pt wants to do 20 today",
    "ok she'll do 50 on card today",
    "shes paying the 10 on card now",
    "he can do 25 now, cash",
    "mom is putting 15 down on it today",
    "she'll pay 30 of it now w her debit",
    "pt gave 60 toward it, check",
    "taking 45 from her now on the visa",
)

DESCRIPTOR = ToolDescriptor(
    func=post_patient_payment,
    access="write",
    step="Preparing a ${amount} patient payment on claim {claim_number}",
    summary="post a patient's payment (you confirm before anything is written)",
    examples=EXAMPLES,
    referents=("claim",),
    plan=plan,
    describe=describe,
    confirm_roles=CONFIRM_ROLES,
    roles_hint=("front_desk", "biller"),
)
