"""Tool: why a claim was denied, what the codes mean, what the payer's policy says, what to do by when."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from knowledge.codesets import CodeSets
from knowledge.codesets.models import AdjustmentCode
from knowledge.documents import KnowledgeBase
from knowledge.documents.models import Passage
from tools.claim_views import Balances, PatientRef
from tools.denial_rules import deadline_for, deadlines, rule_for
from tools.explain_adjustment_codes import explain_adjustment_codes
from tools.get_claim import get_claim

#: Adjustments that are not denials: contractual write-downs and the patient's share.
NOT_DENIAL = {("CO", "45"), ("PR", "1"), ("PR", "2"), ("PR", "3")}


class DeadlineView(BaseModel):
    kind: str
    date: dt.date
    days_left: int
    basis: str


class DenialExplanation(BaseModel):
    claim_number: str
    status: str
    denied: bool
    patient: PatientRef
    payer: str
    service_date: dt.date
    remittance_date: dt.date | None
    amount_at_stake: Decimal = Field(description="What the payer has not paid and may still pay.")
    adjustments: list[str] = Field(description="GROUP-CARC amount, as on the remittance.")
    decoded: list[AdjustmentCode] = Field(description="Group codes, CARCs and RARCs with their official text.")
    next_step: str
    action: str
    deadline: DeadlineView | None = Field(description="The deadline that matters for the next step.")
    deadlines: list[DeadlineView]
    playbook: list[Passage] = Field(description="The denial playbook passages for these codes.")
    policy: list[Passage] = Field(description="The payer's policy passages in force on the date of service.")
    balances: Balances


def explain_denial(
    claim_number: str,
    *,
    session: Session,
    practice_id: int,
    codesets: CodeSets,
    knowledge_base: KnowledgeBase,
    today: dt.date | None = None,
) -> DenialExplanation:
    """Explain why a claim was denied (or adjusted): its status, the adjustment codes (group + CARC) and
    remark codes (RARC) of its latest remittance decoded from the official lists, the denial playbook and
    the payer's policy that apply (with citations), the next step, and the appeal or corrected-claim
    deadline computed from the payer's windows and the remittance date."""
    on = today or dt.date.today()
    claim = get_claim(claim_number, session=session, practice_id=practice_id)
    remit = claim.remittances[-1] if claim.remittances else None
    adjustments = remit.adjustments if remit else []
    denial_codes = [a for a in adjustments if (a.group_code, a.reason_code) not in NOT_DENIAL]
    rarcs = remit.remark_codes if remit else []
    inputs = list(dict.fromkeys([f"{a.group_code}-{a.reason_code}" for a in adjustments] + rarcs))
    decoded = (
        explain_adjustment_codes(inputs, claim.service_date_from.isoformat(), codesets=codesets).items if inputs else []
    )
    main = denial_codes[0] if denial_codes else None
    rule = rule_for(main.reason_code) if main else None
    payer_kind = claim.payer_kind
    all_deadlines = deadlines(
        service_date=claim.service_date_from,
        remittance_date=remit.payment_date if remit else None,
        timely_filing_days=claim.timely_filing_days,
        appeal_days=claim.appeal_days,
        corrected_claim_days=claim.corrected_claim_days,
        today=on,
    )
    playbook: list[Passage] = []
    policy: list[Passage] = []
    if main is not None and rule is not None:
        codes_text = " ".join([f"{main.group_code}-{main.reason_code}", *rarcs])
        found = knowledge_base.search(f"denial {codes_text} causes how to fix", limit=8)
        own = f"playbooks/carc-{main.reason_code.lower()}"
        playbook = sorted((p for p in found if p.doc_id.startswith("playbooks/")), key=lambda p: p.doc_id != own)[:2]
        found_policy = knowledge_base.search(
            f"{rule.topic} {payer_kind}", payer=claim.payer, on_date=claim.service_date_from, limit=6
        )
        policy = [p for p in found_policy if p.payer][:2]  # the payer's own policy, not general guidance
    if main is None:
        next_step = (
            "Nothing was denied on the latest remittance." if remit else "The payer has not answered this claim yet."
        )
    else:
        next_step = rule.next_step if rule else ""
    deadline = deadline_for(rule.action, all_deadlines) if rule else None
    at_stake = claim.balances.insurance_balance
    return DenialExplanation(
        claim_number=claim.claim_number,
        status=claim.status,
        denied=main is not None,
        patient=claim.patient,
        payer=claim.payer,
        service_date=claim.service_date_from,
        remittance_date=remit.payment_date if remit else None,
        amount_at_stake=at_stake,
        adjustments=[f"{a.group_code}-{a.reason_code} {a.amount}" for a in adjustments],
        decoded=decoded,
        next_step=next_step,
        action=rule.action if rule else "none",
        deadline=DeadlineView(**vars(deadline)) if deadline else None,
        deadlines=[DeadlineView(**vars(d)) for d in all_deadlines],
        playbook=playbook,
        policy=policy,
        balances=claim.balances,
    )
