"""Tool: write a 276 claim status request for the clearinghouse."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.orm import Session

from knowledge.x12.writer276 import write_276


class StatusRequestResult(BaseModel):
    path: str
    claim_numbers: list[str]
    payers: int
    control_number: str
    segments: int


def claim_status_request(
    claim_numbers: list[str], *, session: Session, practice_id: int, out_dir: Path
) -> StatusRequestResult:
    """Write a claim status request (X12 276, 005010X212) for one or more claims, by claim number, to the
    clearinghouse outbox. The payer's answer comes back later as a 277 and is imported into each claim's
    status history. Returns the file written and the claims it asks about."""
    out = out_dir / "276-pending.x12"
    request = write_276(session, practice_id=practice_id, claim_numbers=claim_numbers, out=out)
    final = out_dir / f"276-{request.control_number}.x12"
    out.replace(final)
    return StatusRequestResult(
        path=str(final),
        claim_numbers=request.claim_numbers,
        payers=request.payers,
        control_number=request.control_number,
        segments=request.segments,
    )
