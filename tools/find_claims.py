"""Tool: find claims by number, patient, payer, status or dates."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy.orm import Session

from knowledge.errors import InvalidInput
from knowledge.practice.claims import adjustment_codes_for, parse_status
from knowledge.practice.claims import find_claims as query_claims
from tools.claim_views import ClaimSummary, summarise

MAX_LIMIT = 200


class ClaimList(BaseModel):
    total: int
    claims: list[ClaimSummary]


def find_claims(
    claim_number: str | None = None,
    patient_name: str | None = None,
    birth_date: dt.date | None = None,
    payer: str | None = None,
    status: str | None = None,
    service_from: dt.date | None = None,
    service_to: dt.date | None = None,
    limit: int = 20,
    *,
    session: Session,
    practice_id: int,
) -> ClaimList:
    """Find the practice's claims. Give any of: a claim number, a patient's name (with birth date to be
    sure of the person), a payer (name, payer id, or medicare/medicaid/commercial), a status (submitted,
    accepted, rejected, pending, paid, partially_paid, denied, appealed...), and a range of service dates.
    Returns matching claims newest first with status, amounts and the adjustment (CARC) and remark (RARC)
    codes of their latest remittance."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if service_from and service_to and service_from > service_to:
        raise InvalidInput("service_from is after service_to")
    claims, total = query_claims(
        session,
        practice_id=practice_id,
        claim_number=claim_number,
        patient_name=patient_name,
        birth_date=birth_date,
        payer=payer,
        status=parse_status(status) if status else None,
        service_from=service_from,
        service_to=service_to,
        limit=limit,
    )
    codes = adjustment_codes_for(session, claim_ids=[claim.id for claim in claims])
    return ClaimList(total=total, claims=[summarise(claim, codes.get(claim.id)) for claim in claims])
