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


def _checked(data: Mapping[str, Any]) -> str:
    """What was checked, as the tool read it: "99214-25, G0439 with E11.65, I10 (DOS 2026-11-22)"."""
    lines = []
    for line in data.get("lines") or []:
        code = str(line.get("code", ""))
        modifiers = "-".join(str(m) for m in line.get("modifiers") or [])
        units = line.get("units") or 1
        lines.append(code + (f"-{modifiers}" if modifiers else "") + (f" x{units}" if units != 1 else ""))
    diagnoses = [str(d) for d in data.get("diagnoses") or []]
    shown = ", ".join(lines) if lines else "no procedure lines"
    if diagnoses:
        shown += " with " + ", ".join(diagnoses)
    if data.get("date_of_service"):
        shown += f" (DOS {data['date_of_service']})"
    return shown


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    issues = data.get("issues") or []
    checked = f"Checked {_checked(data)}."
    if not issues:
        return (
            checked
            + "\nNo problems found with these codes"
            + (
                ""
                if data.get("ncci_ptp_loaded")
                else " (NCCI edits are not loaded: pair and unit edits were not checked)"
            )
            + "."
        )
    lines = [checked, f"{len(issues)} finding{'s' if len(issues) != 1 else ''}:"]
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
    # More phrasings as staff type them (2026-12-02).
    "is 99203 with 20610 going to bundle",
    "ncci edit 20610 and 20611?",
    "will 93000 and 99214 bundle for mcr",
    "check 99214-25 and 96372 with J1030, dx M17.11",
    "validate dx codes E11.9 and E11.65 together",
    "excludes1 check I10 and I11.9",
    "scrub: 99395, 90471, 90686, Z00.00, Z23",
    "pre-submission check 99214 G0439 Z00.00 E11.9",
    "do 36415 and 85025 need a modifier together",
    "are 99213-25 and G0439 ok together",
    "mue check 96372 x4",
    "j3420 x 2 units ok?",
    "is 20610 x2 gonna hit the mue",
    "99214 and 99406 same day, any edit",
    "run an ncci check on 11721 and 99213",
    "codes ok? 99213 M54.50 J1100",
    "check these before i submit: 99204, 36415, dx R73.03",
    "does mod 59 get around the edit for 97140 and 97110",
    "verify 99214:25:1 and 20610:RT:1 dx M17.11 dos 2026-11-03",
    "F32.9 and F33.1 together, excludes?",
    "pls validate E11.65 I10 Z79.4 with 99214 before billing",
    "will 99397 and 99214-25 pass with z00.00 and e11.9",
    "check G0439 + 99497 same visit",
    "is J45.909 ok w/ J45.901 on the same claim",
    "cpt 17110 and 99212 together allowed?",
    "edits for 99213 w/ 69210",
    "do these dx conflict: M54.50, M54.16",
    "will g0439 with z00.00 and g0444 get rejected",
    "biller q: can i put 99214 and 99215 on the same dos",
    "quick scrub 99213 G0008 90686 Z23 pls",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "doc billed 99214 and a joint injection 20610 with M17.11, will that go through",
    "before I drop this one: 99213-25, 96372, J1100, dx M10.9, make sure nothing conflicts",
    "is it a problem to put E11.9 and E11.65 on the same claim",
    "will medicare bundle 93000 into the 99214",
    "can we get paid for both 99396 and 99213 on one day with Z00.00 and J45.909",
    "double check my coding: G0439, 99497, Z00.00",
    "any edits I'm going to hit with 97110 x4 and 97140 x2",
    "are these dx compatible: I10, I11.0",
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
