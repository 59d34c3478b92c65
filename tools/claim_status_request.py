"""Tool: write a 276 claim status request for the clearinghouse."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from knowledge.practice.folders import PracticeFolder, practice_folder
from knowledge.x12.writer276 import write_276
from tools.descriptor import NeedSlot, ToolDescriptor
from tools.slots import CLAIM_SLOT, Slots


class StatusRequestResult(BaseModel):
    path: str
    claim_numbers: list[str]
    payers: int
    control_number: str
    segments: int


def claim_status_request(
    claim_numbers: list[str], *, session: Session, practice_id: int, out_dir: Path | PracticeFolder
) -> StatusRequestResult:
    """Write a claim status request (X12 276, 005010X212) for one or more claims, by claim number, to the
    clearinghouse outbox. The payer's answer comes back later as a 277 and is imported into each claim's
    status history. Returns the file written and the claims it asks about."""
    outbox = practice_folder(out_dir, practice_id)  # the requester's own outbox
    out = outbox / "276-pending.x12"
    request = write_276(session, practice_id=practice_id, claim_numbers=claim_numbers, out=out)
    final = outbox / f"276-{request.control_number}.x12"
    out.replace(final)
    return StatusRequestResult(
        path=str(final),
        claim_numbers=request.claim_numbers,
        payers=request.payers,
        control_number=request.control_number,
        segments=request.segments,
    )


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    return (
        f"Wrote a 276 claim status request for claim(s) {', '.join(data.get('claim_numbers', []))} to "
        f"`{data.get('path')}` (control number {data.get('control_number')}): send it to the clearinghouse."
    )


def plan(slots: Slots) -> list[dict[str, Any]]:
    numbers = slots.claims_named
    if not numbers:
        raise NeedSlot(CLAIM_SLOT)
    return [{"claim_numbers": numbers}]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "Send a 276 for claim 1042",
    "Can you request a status update from the payer on claim 2001?",
    "Please create a claim status inquiry for claims 1007 and 1188",
    "Check with Aetna on the status of claim 1500 via a 276",
    "Generate a 276 status request for claim 1333",
    "I need to ask UnitedHealthcare electronically where claim 1610 stands",
    "Submit a claim status inquiry to the clearinghouse for 1911",
    "Can you ping the payer on claims 1425, 1734, and 1276?",
    "Write a 276 file for claim 1042",
    "Request status from Medicare for claim 1007",
    "Put a status inquiry in the outbox for claim 2001",
    "Ask the payer for an update on claim 1188 so we get a 277 back",
    "276 clm 1500",
    "send 276 uhc clm 1610",
    "status inq for clms 1007, 1042",
    "276 request bcbs 1911 pls",
    "ping mcr on clm 1333 status via 276",
    "gen 276 for all 3: 1425 1734 1276",
    "clm 2001 - send stat inquiry to payer",
    "need a 276 on 1188",
    "fire off a 276 to cigna on clm 1610",
    "276/277 status check clm 1042",
    "276 for 1911",
    "send stauts request 2001",
    "claim status inquiry 1007",
    "make 276 1333 1425",
    "276 pls clm 1734",
    "inquire payer status 1276",
    "status req to clearinghouse 1188",
    "send a 276 for claims 1042 and 1500 today",
    "x12 276 1610",
    "send a 276 for it",
    "can you ask the payer about that one?",
    "ok request a status update on it",
    "do a 276 on that claim too",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "send a 276 for claim 1002",
    "create a status request for clm 1110",
    "276 on 1090 pls",
    "can you do a status request to the payer on 1010",
    "need a claim status inquiry (276) for 1117",
    "send 276 clm 1004",
    "pls generate 276 for claims 1002",
    "send the payer a status inquiry for 1002",
    # More phrasings as staff type them (2026-12-02).
    "send a 276 on 1184",
    "276 for clms 1043 1188",
    "pls send an electronic status inquiry for 1500",
    "create 276 inquiry 2001 to uhc",
    "need to ask aetna electronically about 1188",
    "status inquiry to payer for claim 1610 pls",
    "generate a 276 batch for 1042, 1043 and 1184",
    "ping the payer via clearinghouse on 1911",
    "276 inquiry clm 1425 cigna",
    "drop a 276 in the outbox for 1734",
    "send claim status request 1276",
    "can you send a 276 to medicare for 1007",
    "x12 status request for 1333",
    "ask payer for a 277 on clm 1002",
    "claim 1041 no response from bcbs, send a 276",
    "1090 - been 30 days, fire a 276",
    "inquire electronically on 1117 status",
    "make a status inquiry file for 1184 and 1188",
    "276 1500 2001",
    "submit 276 for claim 1043",
    "can u do a 276 on 1042",
    "send stat req to payer 1610",
    "status inqury 1911",
    "request a 277 response for 1425",
    "need payer status on 1734, send inquiry",
    "electronic claim status check to uhc for 1276",
    "create the 276 for all three claims 1007 1333 1002",
    "nothing back from aetna on 1188, ask them thru the clearinghouse",
    "276 out for 1043 pls",
    "write the status request for clm 1184",
    # The claims the last answer listed (the planner passes every one of them).
    "send 276s for those",
    "276 for all of them",
    "status inquiries on these claims pls",
    "send a status request on each of those",
    "ask the payer for status on all of those claims",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "haven't heard anything on 1184 in 45 days, send an inquiry to the payer",
    "can we electronically ask uhc where 1043 is",
    "please send a status request to the clearinghouse for 1188 and 1500",
    "I'd like to check with the payer on clm 2001 thru edi",
    "no eob yet for 1610, send a 276 so we get a 277 back",
    "generate inquiries for 1911 and 1425",
    "ask bcbs electronically for an update on 1734",
    "ping medicare on claims 1007 and 1333",
)

DESCRIPTOR = ToolDescriptor(
    func=claim_status_request,
    access="claims",
    step="Writing a 276 status request for {claim_numbers}",
    summary="write a 276 claim status request",
    examples=EXAMPLES,
    referents=("claim",),
    plan=plan,
    render=render,
)
