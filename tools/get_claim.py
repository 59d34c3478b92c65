"""Tool: everything about one claim: status and its history, lines, diagnoses, remittances, balances."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from knowledge.practice.claims import get_claim as load_claim
from knowledge.practice.claims import remittance_claims_for
from knowledge.practice.ledger import claim_totals
from tools.claim_views import Balances, PatientRef, patient_ref
from tools.descriptor import ToolDescriptor
from tools.render import money, shown
from tools.slots import per_claim


class ClaimLineView(BaseModel):
    line_number: int
    procedure_code: str
    modifiers: list[str]
    units: Decimal
    charge: Decimal
    diagnosis_pointers: list[int]
    service_date: dt.date | None


class StatusEventView(BaseModel):
    status: str
    effective_date: dt.date
    source: str
    category_code: str | None
    status_code: str | None
    note: str | None


class AdjustmentView(BaseModel):
    group_code: str
    reason_code: str
    amount: Decimal
    procedure_code: str | None = Field(default=None, description="The service line, when line-level.")


class RemittanceView(BaseModel):
    trace_number: str
    payment_date: dt.date
    payer_name: str
    claim_status_code: str = Field(description="CLP02: 1 processed as primary, 4 denied, 22 reversal...")
    billed: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    adjustments: list[AdjustmentView]
    remark_codes: list[str]


class ClaimDetail(BaseModel):
    claim_number: str
    payer_claim_number: str | None
    status: str
    patient: PatientRef
    member_id: str | None
    payer: str
    payer_id: str
    payer_kind: str
    provider: str | None
    service_date_from: dt.date
    service_date_to: dt.date
    submitted_on: dt.date | None
    place_of_service: str | None
    frequency_code: str
    diagnoses: list[str]
    lines: list[ClaimLineView]
    status_history: list[StatusEventView]
    remittances: list[RemittanceView]
    balances: Balances
    timely_filing_days: int
    appeal_days: int
    corrected_claim_days: int | None


def get_claim(claim_number: str, *, session: Session, practice_id: int) -> ClaimDetail:
    """Get one claim by its claim number (or the payer's claim number): current status and status
    history, service lines with codes and modifiers, diagnoses, every remittance with its adjustment
    (group + CARC) and remark (RARC) codes, and the balances owed by the payer and by the patient."""
    claim = load_claim(session, practice_id=practice_id, claim_number=claim_number)
    remits = remittance_claims_for(session, claim_ids=[claim.id]).get(claim.id, [])
    coverage = next((c for c in claim.patient.coverages if c.id == claim.coverage_id), None)
    remittances = []
    for remit in remits:
        codes_by_line = {line.id: line.procedure_code for line in remit.service_lines}
        remittances.append(
            RemittanceView(
                trace_number=remit.remittance.trace_number,
                payment_date=remit.remittance.payment_date,
                payer_name=remit.remittance.payer_name,
                claim_status_code=remit.status_code,
                billed=remit.billed_amount,
                paid=remit.paid_amount,
                patient_responsibility=remit.patient_responsibility,
                adjustments=[
                    AdjustmentView(
                        group_code=a.group_code,
                        reason_code=a.reason_code,
                        amount=a.amount,
                        procedure_code=codes_by_line.get(a.service_line_id) if a.service_line_id else None,
                    )
                    for a in remit.adjustments
                ],
                remark_codes=list(dict.fromkeys(r.code for r in remit.remarks)),
            )
        )
    return ClaimDetail(
        claim_number=claim.claim_number,
        payer_claim_number=claim.payer_claim_number,
        status=claim.status.value,
        patient=patient_ref(claim),
        member_id=coverage.member_id if coverage else None,
        payer=claim.payer.name,
        payer_id=claim.payer.payer_id,
        payer_kind=claim.payer.kind.value,
        provider=claim.provider.name if claim.provider else None,
        service_date_from=claim.service_date_from,
        service_date_to=claim.service_date_to,
        submitted_on=claim.submitted_on,
        place_of_service=claim.place_of_service,
        frequency_code=claim.frequency_code,
        diagnoses=[d.code for d in claim.diagnoses],
        lines=[
            ClaimLineView(
                line_number=line.line_number,
                procedure_code=line.procedure_code,
                modifiers=line.modifier_list,
                units=line.units,
                charge=line.charge,
                diagnosis_pointers=[int(p) for p in line.diagnosis_pointers.split(",") if p.strip().isdigit()],
                service_date=line.service_date,
            )
            for line in claim.lines
        ],
        status_history=[
            StatusEventView(
                status=event.status.value,
                effective_date=event.effective_date,
                source=event.source,
                category_code=event.category_code,
                status_code=event.status_code,
                note=event.note,
            )
            for event in claim.status_history
        ],
        remittances=remittances,
        balances=Balances.from_totals(claim_totals(session, claim_id=claim.id)),
        timely_filing_days=claim.payer.timely_filing_days,
        appeal_days=claim.payer.appeal_days,
        corrected_claim_days=claim.payer.corrected_claim_days,
    )


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    patient = data.get("patient") or {}
    header = (
        f"**Claim {data['claim_number']}**: {data['status'].replace('_', ' ')} "
        f"({data['payer']}, DOS {data['service_date_from']}, billed {money(data['balances']['billed'])})."
    )
    lines = [header]
    if isinstance(patient, dict) and shown(patient.get("name")):
        lines.append(f"Patient: {patient['name']} (born {patient.get('birth_date')}), member {data.get('member_id')}.")
    if data.get("provider"):
        lines.append(f"Rendering provider: {data['provider']}.")
    history = data.get("status_history") or []
    if history:
        last = history[-1]
        codes = ":".join(c for c in (last.get("category_code"), last.get("status_code")) if c)
        lines.append(
            f"Latest: {last['status'].replace('_', ' ')} on {last['effective_date']} ({last['source']}"
            + (f", {codes}" if codes else "")
            + ")"
            + (f": {last['note']}" if last.get("note") else "")
            + "."
        )
    balances = data["balances"]
    lines.append(
        f"Payer paid {money(balances['payer_paid'])}, adjusted {money(balances['adjusted'])}, patient responsibility "
        f"{money(balances['patient_responsibility'])} (paid {money(balances['patient_paid'])}); open: insurance "
        f"{money(balances['insurance_balance'])}, patient {money(balances['patient_balance'])}."
    )
    service = ", ".join(
        f"{line['procedure_code']}{'-' + '-'.join(line['modifiers']) if line['modifiers'] else ''} "
        f"{money(line['charge'])}"
        for line in data.get("lines", [])
    )
    if service:
        lines.append(f"Lines: {service}. Diagnoses: {', '.join(data.get('diagnoses', []))}.")
    for remit in data.get("remittances", []):
        adjustments = ", ".join(
            f"{a['group_code']}-{a['reason_code']} {money(a['amount'])}" for a in remit["adjustments"]
        )
        remarks = ", ".join(remit.get("remark_codes", []))
        lines.append(
            f"Remittance {remit['trace_number']} ({remit['payment_date']}): paid {money(remit['paid'])}"
            + (f"; adjustments {adjustments}" if adjustments else "")
            + (f"; remarks {remarks}" if remarks else "")
            + "."
        )
    return "\n".join(lines)


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "What is the status of claim 2001?",
    "Can you pull up claim 1042?",
    "How much is still owed on claim 1500?",
    "What's the patient balance on claim 1188?",
    "Has claim 1007 been paid yet?",
    "Show me the history of claim 1333",
    "What lines and diagnoses are on claim 1276?",
    "When did Aetna pay claim 1610 and how much?",
    "Is claim 1911 still pending with the payer?",
    "What does the patient owe on claim 1425 after insurance?",
    "Look up payer claim number 26301000123 for me",
    "Show the remittances posted to claim 1734",
    "clm 2001 status?",
    "bal on clm 1042",
    "pt resp on clm 1500?",
    "ins bal remaining clm 1188",
    "clm 1007 pd yet?",
    "dos + cpts on clm 1333",
    "era posted to clm 1276?",
    "uhc pd amt on clm 1610",
    "clm 1911 status hx",
    "whats the pt owe on 1425 after ins",
    "cliam 2001 stauts",
    "status 1042",
    "1500 balance?",
    "claim 1188 details",
    "where is 1007 at",
    "1333 paid or not",
    "clm1276 lines dx mods",
    "show claim 1610",
    "1911 amt owed",
    "and the balance on that one?",
    "what's its status now?",
    "has it been paid?",
    "how much does the patient owe on it",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "status of claim 1500",
    "where is clm 1002",
    "any update on 1090?",
    "whats the bal on 1041",
    "show me claim 1043",
    "look up clm# 1001",
    "did 3100 get paid?",
    "claim 1017 status pls",
    "1044 status?",
    "how much does the pt owe on 1500",
    "what did medicare pay on clm 1043",
    "dx codes on claim 1500?",
    "what cpt was billed on clm 1042",
    "DOS for claim 1110?",
    "is 1010 still pending",
    "chk status of 1117",
    "stauts on claim 1058",
    "did aetna send an era for 1001 yet",
    "status of claim 1500?",
    "whats going on with clm 1043",
    "status of claim 1044",
    "whats the ins bal on 1043",
    "bal due from pt on clm 1041?",
    "whats the copay on 1500",
    "status on clm # 2001?",
    "whats the ins paid amt on 1001",
    "pt on the phone asking what she owes for 1043",
    "has 1500 been paid yet?",
    "check on claim 1002 for me",
    "what's the balance on 1500",
    "any update on clm#1002?",
    # One claim's details.
    "pull up 1188",
    "pull up 1042 and 2001",
    "1188??",
    "what did aetna pay on 1188",
    "rendering provider on 1188",
    "who was the provider on clm 2001",
    "what modifier was on the line for 1188",
    # More phrasings as staff type them (2026-12-02).
    "1042 status pls",
    "where are we on clm 1184",
    "can u check if 1188 got paid",
    "pt called asking if her ins ever paid for the visit, claim 1043",
    "what's the remaining balance on 1500 after the era posted",
    "is there still an ins bal on clm 2001?",
    "amt pt owes 1184",
    "pull clm 1610 for me real quick",
    "did bcbs ever pay on 1911",
    "when was 1425 last updated",
    "1734 - submitted date?",
    "when did clm 1276 go out",
    "what dos is on 1333",
    "member id on claim 1042",
    "which payer is 1188 billed to",
    "claim 1500 billed amt vs paid amt",
    "how much did we bill on 1007 and how much came back",
    "pt's responsibility on 1043 after the deductible",
    "status check 1184 thx",
    "quick q, has uhc processed 1610 yet",
    "hi can you look at claim 1002 and tell me where its at",
    "stat on 1041?",
    "is 1188 closed out or is there still money owed",
    "pls pull up the details for clm # 1500",
    "what icd codes did we bill on 1184",
    "how many units were billed on 1043",
    "any payments posted on 2001 yet",
    "was 1042 accepted by the payer",
    "claim 1911 - paid in full?",
    "clam 1333 staus",
    "waht is the balance for 1276",
    "front desk here, pt at the window wants to know what she still owes on 1500",
    "payer claim # for 1188",
    "open bal on 1007",
    "status history for 1425",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "hey so pt Jane Sample is on line 2, wants to know if her ins ever picked up the october visit, its claim 1043",
    "where does 1184 stand right now",
    "can you tell me what's outstanding on 1188, both the ins and pt portion",
    "1500: who's the payer, what dos, what's left",
    "trying to figure out if anything ever came in on clm 2001 from the insurance",
    "I think 1610 got paid last week but not sure, can you confirm",
    "what did we charge for the visit on 1911",
    "lines on 1425 pls, need to see the modifiers",
    "curious if 1734 ever got accepted or if it's still sitting there",
)

DESCRIPTOR = ToolDescriptor(
    func=get_claim,
    access="claims",
    step="Looking up claim {claim_number}",
    summary="a claim's status, history, lines, remittances and balances",
    examples=EXAMPLES,
    card="claim",
    phi_fields=("patient", "member_id"),
    referents=("claim", "payer", "patient"),
    plan=per_claim,
    render=render,
)
