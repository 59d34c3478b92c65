"""Tool: check the codes of one claim before it is sent."""

from __future__ import annotations

import datetime as dt

from knowledge.codesets import ClaimCheckResult, CodeSets, check_claim, parse_line
from knowledge.errors import InvalidInput


def check_claim_codes(
    diagnoses: list[str],
    lines: list[str],
    date_of_service: str | None = None,
    *,
    codesets: CodeSets,
) -> ClaimCheckResult:
    """Check the diagnosis and procedure codes of one claim for problems a payer would reject.

    diagnoses: ICD-10-CM codes, e.g. ["E11.65", "I10"].
    lines: service lines written CODE:MODIFIERS:UNITS, e.g. ["99214:25:1", "G0439::1", "20610:RT,59:2"].
    date_of_service: YYYY-MM-DD (default: today).

    Reports invalid or non-billable codes, missing or wrong 7th characters and X placeholders, HCPCS codes
    terminated on the date of service, Excludes1 conflicts between the diagnoses, NCCI
    procedure-to-procedure edits (and whether a modifier may bypass them) and MUE unit limits when the
    practice has imported the NCCI files.
    """
    day: dt.date | None = None
    if date_of_service:
        try:
            day = dt.date.fromisoformat(date_of_service.strip())
        except ValueError as exc:
            raise InvalidInput(f"Bad date of service {date_of_service!r}: expected YYYY-MM-DD.") from exc
    return check_claim(
        codesets, diagnoses=list(diagnoses), lines=[parse_line(line) for line in lines], date_of_service=day
    )
