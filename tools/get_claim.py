"""Tool: everything about one claim: status and its history, lines, diagnoses, remittances, balances."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from knowledge.practice.claims import get_claim as load_claim
from knowledge.practice.claims import remittance_claims_for
from knowledge.practice.ledger import claim_totals
from tools.claim_views import Balances, PatientRef, patient_ref


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
