"""Tool: check the codes of one claim before it is sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from knowledge.codesets import ClaimCheckResult, CodeSets, check_claim, parse_line
from knowledge.errors import InvalidInput
from tools.descriptor import NeedSlot, ToolDescriptor
from tools.slots import CHECK_CODES_SLOT, Slots


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


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    issues = data.get("issues") or []
    if not issues:
        return (
            "No problems found with these codes"
            + (
                ""
                if data.get("ncci_ptp_loaded")
                else " (NCCI edits are not loaded: pair and unit edits were not checked)"
            )
            + "."
        )
    lines = [f"{len(issues)} finding{'s' if len(issues) != 1 else ''}:"]
    for issue in issues:
        lines.append(f"- {issue['severity'].upper()}: {issue['message']}")
    if not data.get("ncci_ptp_loaded"):
        lines.append("_NCCI edits are not loaded (`billing-assistant codes import-ncci FILE`)._")
    return "\n".join(lines)


def plan(slots: Slots) -> list[dict[str, Any]]:
    if not slots.medical_codes:
        raise NeedSlot(CHECK_CODES_SLOT)
    return [slots.check_arguments()]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "check 99214-25 G0439 with E11.65, I10",
    "Can I bill 99213 and 20610 together on the same day?",
    "Are there any NCCI edits between 99214 and 96372?",
    "Is E11.65 with E11.9 an Excludes1 conflict?",
    "Will 99214 with modifier 25 and G0439 pass the edits with dx Z00.00?",
    "Does J1100 x 3 units exceed the MUE?",
    "Please check the codes on this claim before I send it: 99213, J1100, M10.9",
    "Are these diagnoses okay together: J45.909 and J45.20?",
    "Can 20610-RT and 20610-LT go on the same claim with M17.11?",
    "Is G0439 still valid for date of service 10/12/2026 with Z00.00?",
    "Will the payer reject 99214 plus 99396 on the same visit?",
    "Scrub these codes for me: 99214:25:1, 36415::1, dx E11.65 I10",
    "ncci check 99214 + 96372",
    "bundling 99213 w/ 20610?",
    "mue for j1100 2 units",
    "excl1 conflict E11.65 + E11.9?",
    "99214-25 + G0439 dx z00.00 i10 ok?",
    "scrub clm codes 99213 j1100 m10.9 dos 2026-10-12",
    "cpt 20610 rt 59 x2 w/ M17.11 check",
    "does mod 25 bypass the edit 99214/g0439",
    "dx combo check j45.909 + j45.901",
    "pre-bill check: 99214, 93000, I10, E78.5",
    "check codes 99213 36415 E11.65",
    "99214 96372 bundle?",
    "validate E11.65 I10 with 99214",
    "g0439 99397 same day ok",
    "edits on 20610 x3",
    "M17.11 20610 J1030 check before send",
    "is this combo billable 99214 25 + g0438",
    "any problems w/ these codes 99213 G0439 Z00.00 dos 10/12/2026",
    "E119 + E1165 together??",
    "can I bill those together?",
    "check them for bundling",
    "will that combo get rejected?",
    "run those codes thru the ncci edits",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "can i bill 99213 and 99214 together dos 11/20/2026",
    "validate dx E11.9 with E10.9 on one claim",
    "scrub these: 99396, 99213-25, dx Z00.00 I10",
    "does 20610 bundle with 99213? dx M17.11",
    "check codes E11.65 I10 99214",
    "check 20610 x3 units for M17.11",
    "validate E11 and 99213",
    "cpt 99214 w/ mod 25 and G0439 same day ok?",
    "is it ok to bill 99213 with Z00.00 and I10?",
    # Checking the codes a claim was billed with.
    "code check claim 1188 before it goes out",
    "scrub the codes on 2001",
    "run edits on clm 1500 codes",
    "are the codes on 1042 ok",
)

DESCRIPTOR = ToolDescriptor(
    func=check_claim_codes,
    access="codes",
    step="Checking the claim's codes",
    summary="check a claim's codes (validity, Excludes1, NCCI, MUE)",
    examples=EXAMPLES,
    referents=("code",),
    plan=plan,
    render=render,
    roles_hint=("coder", "biller"),
)
