"""Tool: why a claim was denied, what the codes mean, what the payer's policy says, what to do by when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from knowledge.codesets import CodeSets
from knowledge.codesets.models import AdjustmentCode
from knowledge.documents import KnowledgeBase
from knowledge.documents.models import Passage
from tools.claim_views import Balances, PatientRef
from tools.denial_rules import Deadline as _Deadline
from tools.denial_rules import deadline_for, deadlines, rule_for
from tools.descriptor import ToolDescriptor
from tools.explain_adjustment_codes import explain_adjustment_codes
from tools.get_claim import ClaimLineView, RejectionView, get_claim, service_lines
from tools.render import money, passage_line, quote
from tools.slots import per_claim

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
    rejected: bool = Field(default=False, description="Rejected (277CA) before the payer adjudicated it.")
    rejection: RejectionView | None = Field(default=None, description="The rejection's reason, fix and deadline.")
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
    lines: list[ClaimLineView] = Field(default_factory=list, description="The claim's billed service lines.")
    diagnoses: list[str] = Field(default_factory=list, description="The claim's diagnosis codes, in order.")


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
    claim = get_claim(claim_number, session=session, practice_id=practice_id, today=on)
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
        found = knowledge_base.search(f"denial {codes_text} causes how to fix", limit=8, practice_id=practice_id)
        own = f"playbooks/carc-{main.reason_code.lower()}"
        playbook = sorted((p for p in found if p.doc_id.startswith("playbooks/")), key=lambda p: p.doc_id != own)[:2]
        found_policy = knowledge_base.search(
            f"{rule.topic} {payer_kind}",
            payer=claim.payer,
            on_date=claim.service_date_from,
            limit=6,
            practice_id=practice_id,  # the practice's own policies too, never another practice's
        )
        policy = [p for p in found_policy if p.payer][:2]  # the payer's own policy, not general guidance
    rejection = claim.rejection if main is None else None
    if rejection is not None:
        # Rejected before adjudication: the fix is to resubmit, and the deadline is the filing limit.
        found_policy = knowledge_base.search(
            f"timely filing {payer_kind}",
            payer=claim.payer,
            on_date=claim.service_date_from,
            limit=6,
            practice_id=practice_id,
        )
        policy = [p for p in found_policy if p.payer][:2]
    if main is None:
        if rejection is not None:
            next_step = rejection.fix
        elif remit:
            next_step = "Nothing was denied on the latest remittance."
        else:
            next_step = "The payer has not answered this claim yet."
    else:
        next_step = rule.next_step if rule else ""
    deadline = deadline_for(rule.action, all_deadlines) if rule else None
    if rejection is not None and rejection.filing_deadline is not None and rejection.days_left is not None:
        deadline = _Deadline(
            "timely_filing", rejection.filing_deadline, rejection.days_left, rejection.limit_basis or ""
        )
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
        rejected=rejection is not None,
        rejection=rejection,
        next_step=next_step,
        action=rule.action if rule else ("resubmit" if rejection is not None else "none"),
        deadline=DeadlineView(**vars(deadline)) if deadline else None,
        deadlines=[DeadlineView(**vars(d)) for d in all_deadlines],
        playbook=playbook,
        policy=policy,
        balances=claim.balances,
        lines=claim.lines,
        diagnoses=claim.diagnoses,
    )


def render(data: dict[str, Any], cite: Mapping[str, int]) -> str:
    status = data["status"].replace("_", " ")
    lines = []
    rejection = data.get("rejection")
    if rejection:
        lines.append(
            f"**Claim {data['claim_number']}** was rejected on {rejection['rejected_on']} ({rejection['source']}: "
            f"{rejection['decoded']}) before {data['payer']} adjudicated it (DOS {data['service_date']})"
            + (f": {rejection['reason']}" if rejection.get("reason") else "")
            + "."
        )
        lines.append(f"**Fix:** {rejection['fix']}")
        lines.append(f"**Timely filing:** {rejection['deadline_note']}")
    elif not data.get("denied"):
        lines.append(
            f"**Claim {data['claim_number']}** is {status} ({data['payer']}, DOS {data['service_date']}). "
            + data["next_step"]
        )
        balances = data.get("balances") or {}
        if balances.get("payer_paid") is not None:  # "1043 eob": what the remittance did with the money
            lines.append(
                f"Billed {money(balances['billed'])}: the payer paid {money(balances['payer_paid'])}, adjusted "
                f"{money(balances['adjusted'])} and assigned {money(balances['patient_responsibility'])} to the "
                f"patient (patient balance {money(balances['patient_balance'])})."
            )
    else:
        lines.append(
            f"**Claim {data['claim_number']}** was denied by {data['payer']} on {data['remittance_date']} "
            f"(DOS {data['service_date']}); {money(data['amount_at_stake'])} is still open"
            + (
                f" and the patient owes {money(data['balances']['patient_balance'])}."
                if (data.get("balances") or {}).get("patient_balance") is not None
                else "."
            )
        )
    billed = service_lines(data)
    if billed:
        lines.append(billed)
    decoded = data.get("decoded") or []
    if decoded:
        lines.append("**Codes on the remittance:**")
        for item in decoded:
            label = {"group": "group", "carc": "CARC", "rarc": "RARC"}.get(item["kind"], item["kind"])
            lines.append(f"- {item['code']} ({label}): {quote(item['description'], 300)}")
    if data.get("adjustments"):
        lines.append("Adjustments: " + ", ".join(data["adjustments"]) + ".")
    if data.get("denied"):
        lines.append(f"**Next step:** {data['next_step']}")
        deadline = data.get("deadline")
        if deadline:
            kind = deadline["kind"].replace("_", " ")
            left = deadline["days_left"]
            when = f"{left} days left" if left >= 0 else f"passed {-left} days ago"
            lines.append(f"**Deadline:** {kind} by {deadline['date']} ({when}; {deadline['basis']}).")
    playbook = data.get("playbook") or []
    policy = data.get("policy") or []
    if playbook:
        lines.append("**Playbook:**")
        lines += [passage_line(p, cite) for p in playbook[:2]]
    if policy:
        lines.append(f"**{data['payer']} policy:**")
        lines += [passage_line(p, cite) for p in policy[:2]]
    return "\n".join(lines)


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "why was claim 1042 denied?",
    "Can you tell me why Aetna denied claim 1188?",
    "What was the denial reason on claim 2001 and how do I fix it?",
    "Why did Medicare reject claim 1007?",
    "Why was claim 1500 only partially paid by Cigna?",
    "What do I need to do to get claim 1333 paid after the denial?",
    "Explain the denial on claim 1276 for me please",
    "Why did UnitedHealthcare short pay claim 1610?",
    "What's the appeal deadline for the denial on claim 1042?",
    "Why did BCBS deny claim 1911 with CO-97?",
    "What went wrong with claim 1425? It came back denied",
    "Should we appeal or send a corrected claim for 1734?",
    "whats wrong w/ clm 1042 eob",
    "uhc denied clm 1188 why",
    "clm 2001 denied per era, reason?",
    "mcr rejected clm 1007 - whats the fix",
    "bcbs short paid 1500, why",
    "clm 1333 denial - appeal or corrected clm?",
    "aetna dnd 1276 co-16 whats missing",
    "why did ins pay $0 on clm 1610",
    "medicaid denial on clm 1911 next steps + deadline",
    "pt's clm 1425 came back denied, y?",
    "1042 bounced",
    "denail reason cliam 1188",
    "2001 got kicked back again",
    "clm 1007 denied???",
    "wy was 1500 denyed",
    "1734 rejected by cigna fix?",
    "explain denial 1333",
    "1276 zero pay what happened",
    "claim 1610 denial reason + how to fix",
    "why was it denied",
    "and why did they deny that one?",
    "what do i do to fix it",
    "ok so why did it get rejected?",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "why did uhc deny clm 1042",
    "eob for 1042 says denied - whats wrong w/ it",
    "why was 1042 denid? pt is asking",
    "explain the denial on claim #1019",
    "1022 got denied - reason?",
    "why was 1036 denied by medicare",
    "denial reason for claim 1103 pls",
    "clm 1111 denied, why",
    "can u explain the eob on 1191",
    "why did cigna deny 1375?",
    "1195 denied?? whats the reason",
    "why was clm 1227 denied",
    "explain denial 1576",
    "why wasnt 1148 paid",
    "era on 1327 says denied, what happened",
    "what happened w/ claim 1004",
    "pt called about 1437, why was it denied",
    "reason for denial on claim 1159?",
    "whys 1498 unpaid",
    "why did medicaid deny 1996",
    "explain eob for clm 1351",
    "Why was claim 1266 rejected by Medicare?",
    "medicaid denied 1317 - what do i do next",
    "whats the denial on 1539 and when's the appeal deadline",
    "didnt get paid on claim 1220 - why",
    "why was 1042 denied",
    "why did medicare deny 1036?",
    "pt says ins denied her visit, clm 1042. whats up",
    "who do i call abt the 1022 denial",
    "appeal deadline for claim 1042?",
    "explain CO-45 PR-3 on 1500's eob",
    "y was 1042 denied",
    "why did we get $0 on clm 1148",
    "Can you tell me the denial reason on 1103? eob attached",
    "1036 denial?",
    "can you tell me why 1042 came back denied",
    "uhc rejected 1042, what do i do now?",
    "denial reason for claim number 1022 please",
    "medicare won't pay 1036 - why?",
    "what's the deal with the denial on 1019",
    "how do I appeal the cigna denial on 1375",
    # Deadlines and what to do about one claim's denial.
    "whats the deadline on 1188",
    "appeal deadline for clm 2001",
    "how long do we have to appeal 1042",
    "1188 came back co 50, can we fight it",
    "can we dispute the denial on 1500",
    "1042 was kicked back, what now",
    # More phrasings as staff type them (2026-12-02).
    "1184 denied, what do i need to fix",
    "why did aetna deny 1043",
    "reason 1188 got denied + appeal by when",
    "pt called upset her claim 1042 was denied, can you tell me why and what we do next",
    "clm 2001 - appeal it or send a corrected claim?",
    "what caused the denial on 1500",
    "cigna denied 1610 as not medically necessary? whats next",
    "why'd mcr kick back 1007",
    "uhc zero paid 1911, explain",
    "whats the denial about on 1333",
    "1276 denial explanation pls",
    "why didnt they pay 1425",
    "how many days left to appeal 1734",
    "when's the last day to appeal the denial on 1184",
    "bcbs denied 1002 for no auth? what do we do",
    "claim 1041 denied co-16, what info is missing",
    "explain why 1043 was underpaid",
    "why was 1188 short paid by aetna",
    "1500 came back denied on the era, why and whats the fix",
    "dnl reason 2001",
    "why denid 1090",
    "reasn for denail on 1117",
    "any way to still get 1042 paid after the denial?",
    "what should i do about the denial on clm 1184",
    "medicaid rejected 1610 - why and deadline to fix",
    "why didnt medicare pay anything on 1007",
    "explain whats going on with the 1911 denial and how long we have",
    "pls explain the 1276 denial to me, pt is on hold",
    "next steps on denied clm 1333",
    "is 1425 worth appealing? why was it denied",
    "denied 1734 - corrected claim deadline?",
    "why'd 1043 get denied",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "aetna sent back 1184 with a bunch of codes and no money, what's their problem with it",
    "got an eob today saying they won't cover 1043, can you break down why and what our options are",
    "insurance says not covered on 1188 - help me understand it and tell me what to do",
    "1500 was denied and my supervisor wants to know why and how long we have to fight it",
    "what's the story with clm 2001, ins refused to pay",
    "denial came in on 1610 this morning, walk me through it",
    "need to know what uhc wants from us on 1911 so it finally gets paid",
    "whats the reason behind the nonpayment on 1425",
    # The reason asked of the claim the thread is about (2026-12-03).
    "deny reason on it",
    "denial reason pls",
    "reason it got denied",
    "why'd they deny it",
    "deadline on 1184",
    "how long do we have to appeal 1043",
    "cigna tfl denial on 1184 next steps",
    "uhc auth denial on 1043, what now",
    "aetna dup denial on 1500 next steps",
)

DESCRIPTOR = ToolDescriptor(
    func=explain_denial,
    access="claims",
    step="Explaining the denial of claim {claim_number}",
    summary="why a claim was denied, with the codes decoded, the policy, the deadline and the next step",
    examples=EXAMPLES,
    card="denial",
    referents=("claim", "payer"),
    plan=per_claim,
    render=render,
)
