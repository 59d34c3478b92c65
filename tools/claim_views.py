"""Result models shared by the claim tools (what the CLI prints as JSON and the model reads)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field

from knowledge.practice.ledger import ClaimTotals
from knowledge.practice.models import Claim, Patient


class Balances(BaseModel):
    """Money on a claim, from its ledger."""

    billed: Decimal
    payer_paid: Decimal
    adjusted: Decimal = Field(description="Contractual and other payer-side adjustments (CO/OA/PI).")
    patient_responsibility: Decimal = Field(description="What the payer assigned to the patient (PR).")
    patient_paid: Decimal
    insurance_balance: Decimal = Field(description="Still expected from the payer.")
    patient_balance: Decimal = Field(description="Still owed by the patient (negative: a credit).")

    @classmethod
    def from_totals(cls, totals: ClaimTotals) -> Balances:
        return cls(
            billed=totals.billed,
            payer_paid=totals.payer_paid,
            adjusted=totals.adjusted,
            patient_responsibility=totals.patient_responsibility,
            patient_paid=totals.patient_paid,
            insurance_balance=totals.insurance_balance,
            patient_balance=totals.patient_balance,
        )

    @classmethod
    def from_claim(cls, claim: Claim) -> Balances:
        """From the claim's cached columns (kept equal to the ledger by every posting)."""
        insurance = claim.billed_amount - claim.paid_amount - claim.adjusted_amount - claim.patient_responsibility
        return cls(
            billed=claim.billed_amount,
            payer_paid=claim.paid_amount,
            adjusted=claim.adjusted_amount,
            patient_responsibility=claim.patient_responsibility,
            patient_paid=claim.patient_paid,
            insurance_balance=insurance,
            patient_balance=claim.patient_responsibility - claim.patient_paid,
        )


class PatientRef(BaseModel):
    """Who the claim is for. These are patient fields (PHI): adapters decide where they may be shown."""

    name: str
    birth_date: dt.date | None
    account_number: str


class ClaimSummary(BaseModel):
    claim_number: str
    payer_claim_number: str | None
    patient: PatientRef
    payer: str
    payer_id: str
    service_date: dt.date
    status: str
    billed: Decimal
    paid: Decimal
    balance: Decimal
    adjustment_codes: list[str] = Field(default_factory=list, description="GROUP-CARC of the latest remittance.")
    remark_codes: list[str] = Field(default_factory=list, description="RARCs of the latest remittance.")


def patient_ref(claim: Claim) -> PatientRef:
    return person_ref(claim.patient)


def person_ref(patient: Patient) -> PatientRef:
    return PatientRef(
        name=f"{patient.first_name} {patient.last_name}",
        birth_date=patient.birth_date,
        account_number=patient.account_number,
    )


def summarise(claim: Claim, codes: tuple[list[str], list[str]] | None = None) -> ClaimSummary:
    carcs, rarcs = codes or ([], [])
    balances = Balances.from_claim(claim)
    return ClaimSummary(
        claim_number=claim.claim_number,
        payer_claim_number=claim.payer_claim_number,
        patient=patient_ref(claim),
        payer=claim.payer.name,
        payer_id=claim.payer.payer_id,
        service_date=claim.service_date_from,
        status=claim.status.value,
        billed=claim.billed_amount,
        paid=claim.paid_amount,
        balance=balances.insurance_balance + balances.patient_balance,
        adjustment_codes=carcs,
        remark_codes=rarcs,
    )
