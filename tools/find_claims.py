"""Tool: find claims by number, patient, payer, status or dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from knowledge.errors import InvalidInput
from knowledge.practice.claims import adjustment_codes_for, closest_patient, parse_status
from knowledge.practice.claims import find_claims as query_claims
from tools.claim_views import ClaimSummary, PatientRef, person_ref, summarise
from tools.descriptor import ToolDescriptor
from tools.render import money, shown
from tools.slots import Slots

MAX_LIMIT = 200


class ClaimList(BaseModel):
    total: int
    claims: list[ClaimSummary]
    patient: PatientRef | None = Field(
        default=None,
        description="Set when no patient has the name as typed: the one patient whose name is closest in spelling "
        "(born on the birth date given, if one was), whose claims these are.",
    )


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
    closest = None
    if not claims and patient_name and not claim_number:
        closest = closest_patient(session, practice_id=practice_id, name=patient_name, birth_date=birth_date)
        if closest is not None:
            claims, total = query_claims(
                session,
                practice_id=practice_id,
                patient_id=closest.id,
                payer=payer,
                status=parse_status(status) if status else None,
                service_from=service_from,
                service_to=service_to,
                limit=limit,
            )
    codes = adjustment_codes_for(session, claim_ids=[claim.id for claim in claims])
    return ClaimList(
        total=total,
        claims=[summarise(claim, codes.get(claim.id)) for claim in claims],
        patient=person_ref(closest) if closest is not None else None,
    )


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    claims = data.get("claims", [])
    closest = data.get("patient")
    if isinstance(closest, dict) and shown(closest.get("name")):
        born = f" (born {closest['birth_date']})" if shown(closest.get("birth_date")) else ""
        note = f"No patient has exactly that name; the closest is {closest['name']}{born}."
        if not claims:
            return note + " They have no claims that match."
    elif isinstance(closest, dict):
        note = "No patient has exactly that name; these are the claims of the one patient closest to it."
    else:
        note = ""
    if not claims:
        return "No claims match that."
    lines = ([note] if note else []) + [
        f"{data['total']} claim{'s' if data['total'] != 1 else ''} found"
        + (f" (showing {len(claims)})" if data["total"] > len(claims) else "")
        + ":"
    ]
    for claim in claims:
        codes = " ".join(claim.get("adjustment_codes", []) + claim.get("remark_codes", []))
        patient = claim.get("patient")
        who = f" {patient['name']}," if isinstance(patient, dict) and shown(patient.get("name")) else ""
        lines.append(
            f"- Claim {claim['claim_number']}:{who} DOS {claim['service_date']}, {claim['payer']}, "
            f"{claim['status'].replace('_', ' ')}, billed {money(claim['billed'])}, paid {money(claim['paid'])}, "
            f"balance {money(claim['balance'])}" + (f" ({codes})" if codes else "")
        )
    return "\n".join(lines)


def plan(slots: Slots) -> list[dict[str, Any]]:
    return [
        {
            "patient_name": slots.patient_name,
            "birth_date": slots.birth_date.isoformat() if slots.birth_date else None,
            "payer": slots.payer,
            "status": slots.status,
            "service_from": slots.service_from.isoformat() if slots.service_from else None,
            "service_to": slots.service_to.isoformat() if slots.service_to else None,
            "limit": 20,
        }
    ]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "Show me all claims for Drew Fakely dob 07/24/1963",
    "Which claims are denied with Aetna?",
    "List all Medicare claims from October 2026",
    "What claims does Jane Sample born 01/02/1980 have?",
    "Find all claims that are still pending",
    "Show me every rejected claim this month",
    "Which UnitedHealthcare claims were partially paid?",
    "Find claims with dates of service between 10/01/2026 and 10/31/2026",
    "Are there any claims for Maria Testwell dob 3/15/1975?",
    "List the paid claims for Cigna in September",
    "Which claims are in appealed status?",
    "Pull all Medicaid claims submitted last week",
    "pt Jane Sample dob 1/2/1980 october claims",
    "all bcbs clms denied",
    "uhc clms pending list",
    "mcr clms dos 2026-10-01 to 2026-10-15",
    "pt drew fakely 07/24/1963 clms",
    "list partially_paid clms aetna",
    "commercial clms submitted this wk",
    "clms for pt Tom Notreal dob 11/30/1958?",
    "cigna clms w/ co-45 last month",
    "all rejected clms nov",
    "claims for Drew Fakely",
    "denied claims medicaid",
    "octber claims list",
    "every clm w status submitted",
    "Jane Sample claims 2026",
    "pending medicare clms pls",
    "claims dos 9/1-9/30",
    "lsit all uhc claims",
    "claims paid yesterday",
    "patient Rosa Madeup dob 05/09/1990 all her claims",
    "show me claims from aetna in august",
    "which of Drew's claims are unpaid",
    "any accepted claims from bcbs this month?",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "claims for Morgan Draftley dob 10/08/1988",
    "pt Drew Fakely DOB 7/24/1963 - any claims?",
    "find claims for elliot dummyfield born 1958-09-27",
    "look up pt Kendall Templeton dob 04/08/2004",
    "any claims for patient Tatum Demoson?",
    "denied claims for aetna",
    "all rejected claims",
    "pending claims w/ cigna",
    "uhc claims from october",
    "show me medicaid claims that got paid",
    "medicare claims with dos in sept 2026",
    "which claims are still submitted and not accepted yet",
    "bcbs claims denied in may",
    "pt born 02/23/1943 has a question abt her claims",
    "post $10 copay for Drew Fakely DOB 07/24/1963",
    "denied claims for cigna",
    "pt Morgan Draftley called re: bal, dob 10/8/1988",
    "look up patient Kendall Mockingham DOB 4/11/2022",
    "any cigna claims still pending?",
    "look up claims for Morgan Draftley, born 10/08/1988",
    "Drew Fakely 07/24/1963 claims",
    # Claims by status, payer or date of service.
    "rejected claims for medicare",
    "medicare rejections",
    "denied claims with dos 2026-10-14",
    "all pending aetna claims",
    "partially paid claims last month",
    "claims for dos 11/02/2026",
    "show me the rejected ones from bcbs",
    "unpaid cigna claims from september",
    # More phrasings as staff type them (2026-12-02).
    "claims for pt Jane Sample",
    "all of Drew Fakely's claims dob 07/24/1963",
    "pull every claim for Maria Testwell dob 3/15/1975",
    "any open claims for pt Tom Notreal",
    "list uhc claims dos last month",
    "aetna claims submitted in october",
    "pending claims from medicaid in nov",
    "find pt Rosa Madeup 05/09/1990 claims",
    "search claims by patient Morgan Draftley",
    "show claims with dos 10/14/2026",
    "medicare claims still pending from september",
    "claims accepted by the payer but still open",
    "which bcbs claims got paid this month",
    "list of rejected claims cigna",
    "pt Kendall Templeton dob 04/08/2004 claim list",
    "every claim for Jane Sample dob 01/02/1980",
    "all claims in submitted status",
    "partial pays from uhc",
    "claims between 9/1/2026 and 9/15/2026",
    "clms for commercial payers this month",
    "does pt Drew Fakely have any claims still pending",
    "find claims 2026-11-01 thru 2026-11-15",
    "pending clms list pls",
    "mcd clms oct",
    "submitted claims from cigna nov",
    "pt Tatum Demoson on the phone, wants a list of all her visits billed to aetna",
    "search clms pt elliot dummyfield born 1958-09-27",
    "claim search: cigna, pending",
    "any claims for Casey Notreal born 6/6/1966",
    "list claims for aetna dos august",
    "paid medicare claims from october 2026",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "I need a list of everything we've billed for Jane Sample dob 01/02/1980",
    "can you bring up all the visits billed for pt Drew Fakely",
    "looking for any medicare claims from last month that never got paid",
    "show me what we have sitting in pending with cigna",
    "mom called about her son, patient Kendall Templeton dob 04/08/2004, what claims does he have",
    "everything billed to bcbs in october",
    "all the claims uhc rejected this month",
    "claims list for Maria Testwell",
    # The patient of the claim the thread is about, referred to (2026-12-03).
    "what else does this pt have open with us",
    "any other claims for her",
    "does he have other visits w us",
    "other open balances for this patient?",
    "what other claims does the same pt have",
    "pull up everything else for this lady",
    "any other dos for him that are still open",
    "list the rest of her claims",
)

DESCRIPTOR = ToolDescriptor(
    func=find_claims,
    access="claims",
    step="Searching claims",
    summary="claims by patient (name and birth date), payer, status or dates",
    examples=EXAMPLES,
    card="claims",
    phi_fields=("patient",),
    referents=("patient",),
    plan=plan,
    render=render,
)
