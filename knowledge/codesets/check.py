"""Claim-line checks: invalid and incomplete codes, terminated HCPCS, Excludes1 pairs, NCCI PTP and MUE."""

from __future__ import annotations

import datetime as dt
import re
from itertools import combinations

from knowledge.codesets.cpt import looks_like_cpt
from knowledge.codesets.icd10cm import normalize_icd, split_seventh
from knowledge.codesets.lookup import icd_notes, lookup
from knowledge.codesets.models import CheckIssue, ClaimCheckResult, ClaimLine
from knowledge.codesets.ncci import MODIFIER_INDICATORS
from knowledge.codesets.store import CodeSets
from knowledge.codesets.text import PARENTHESIZED
from knowledge.errors import InvalidInput, NotFound

MAX_DIAGNOSES = 12  # an 837P claim carries at most 12 diagnosis pointers
MAX_LINES = 50
_CODE_REF = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
#: Modifiers that may bypass a PTP edit whose modifier indicator is 1 (NCCI policy manual, ch. I).
PTP_BYPASS_MODIFIERS = frozenset(
    {
        "59",
        "XE",
        "XS",
        "XP",
        "XU",
        "25",
        "57",
        "24",
        "27",
        "58",
        "78",
        "79",
        "91",
        "E1",
        "E2",
        "E3",
        "E4",
        "F1",
        "F2",
        "F3",
        "F4",
        "F5",
        "F6",
        "F7",
        "F8",
        "F9",
        "FA",
        "LT",
        "RT",
        "LC",
        "LD",
        "LM",
        "RC",
        "RI",
        "TA",
        "T1",
        "T2",
        "T3",
        "T4",
        "T5",
        "T6",
        "T7",
        "T8",
        "T9",
    }
)


def excludes1_references(text: str) -> list[tuple[str, str]]:
    """Code ranges named in an Excludes1 note: (low, high) prefixes, dotless ("E08.-" -> E08..E08)."""
    ranges: list[tuple[str, str]] = []
    for group in PARENTHESIZED.findall(text):
        matches = list(_CODE_REF.finditer(group))
        i = 0
        while i < len(matches):
            low = matches[i].group().replace(".", "")
            high = low
            if i + 1 < len(matches):
                between = group[matches[i].end() : matches[i + 1].start()].strip()
                if between == "-":
                    high = matches[i + 1].group().replace(".", "")
                    i += 1
            ranges.append((low, high))
            i += 1
    return ranges


def code_in_range(code: str, low: str, high: str) -> bool:
    plain = code.replace(".", "")
    return plain[: len(low)] >= low and plain[: len(high)] <= high


def excludes1_conflict(codesets: CodeSets, first: str, second: str) -> list[str]:
    """The Excludes1 notes of ``first`` (and its ancestors) that name ``second``."""
    base = first
    seventh = split_seventh(codesets.icd, first)
    if seventh:
        base = seventh.base
    found = []
    for note in icd_notes(codesets, base):
        if note.kind != "excludes1":
            continue
        if any(code_in_range(second, low, high) for low, high in excludes1_references(note.text)):
            found.append(f"{note.text} [Excludes1 at {note.level} {note.source_code}]")
    return found


def parse_line(text: str) -> ClaimLine:
    """``CODE[:MOD1,MOD2][:UNITS]`` (e.g. 99214:25:1, G0439::1, 20610:RT)."""
    parts = [part.strip() for part in text.strip().split(":")]
    if not parts or not parts[0]:
        raise InvalidInput(f"Bad claim line {text!r}: expected CODE[:MODIFIERS][:UNITS], e.g. 99214:25:1.")
    modifiers = [m.strip().upper() for m in re.split(r"[,+ ]", parts[1]) if m.strip()] if len(parts) > 1 else []
    units = 1
    if len(parts) > 2 and parts[2]:
        try:
            units = int(parts[2])
        except ValueError as exc:
            raise InvalidInput(f"Bad units {parts[2]!r} in claim line {text!r}: expected a whole number.") from exc
    if units < 1 or units > 9999:
        raise InvalidInput(f"Units must be between 1 and 9999 (claim line {text!r}).")
    if len(parts) > 3:
        raise InvalidInput(f"Bad claim line {text!r}: expected CODE[:MODIFIERS][:UNITS].")
    return ClaimLine(code=parts[0].upper(), modifiers=modifiers, units=units)


def check_claim(
    codesets: CodeSets,
    *,
    diagnoses: list[str],
    lines: list[ClaimLine],
    date_of_service: dt.date | None = None,
) -> ClaimCheckResult:
    """Check diagnosis codes and service lines of one claim for the problems a clearinghouse rejects."""
    day = date_of_service or dt.date.today()
    if not diagnoses and not lines:
        raise InvalidInput("Nothing to check: give diagnosis codes and/or service lines.")
    if len(diagnoses) > MAX_DIAGNOSES:
        raise InvalidInput(f"A professional claim carries at most {MAX_DIAGNOSES} diagnosis codes.")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"At most {MAX_LINES} service lines per check.")
    issues: list[CheckIssue] = []
    valid_dx: list[str] = []
    for raw in diagnoses:
        code = normalize_icd(raw)
        try:
            record = lookup(codesets, raw, "icd10cm")
        except NotFound as exc:
            kind = (
                "seventh_character"
                if "7th character" in exc.message or "placeholder" in exc.message
                else "invalid_code"
            )
            issues.append(CheckIssue(severity="error", kind=kind, codes=[code], message=exc.message))
            continue
        if not record.billable:
            kind = "seventh_character" if record.seventh_characters else "not_billable"
            message = record.messages[0] if record.messages else f"{code} is not a billable code."
            issues.append(CheckIssue(severity="error", kind=kind, codes=[record.code], message=message))
        valid_dx.append(record.code)
    for first, second in combinations(valid_dx, 2):
        for a, b in ((first, second), (second, first)):
            for note in excludes1_conflict(codesets, a, b):
                issues.append(
                    CheckIssue(
                        severity="error",
                        kind="excludes1",
                        codes=[a, b],
                        message=f"{b} is excluded by {a}: {note}. Both may be reported only when the "
                        "conditions are unrelated (ICD-10-CM guideline I.A.12.a).",
                    )
                )
    edits = codesets.ncci_edits()
    for line in lines:
        issues.extend(_check_line(codesets, line, day))
        mue = edits.mue.get(line.code)
        if mue and line.units > mue.units:
            issues.append(
                CheckIssue(
                    severity="error" if mue.adjudication_indicator in ("2", "3") else "warning",
                    kind="mue",
                    codes=[line.code],
                    message=f"{line.units} units of {line.code} exceed the MUE of {mue.units} "
                    f"(MAI {mue.adjudication_indicator}: {mue.adjudication_text}; {mue.rationale}).",
                )
            )
    for line_a, line_b in combinations(lines, 2):
        for col1, col2 in ((line_a, line_b), (line_b, line_a)):
            for edit in edits.ptp.get(col1.code, []):
                if edit.column2 != col2.code or not edit.active_on(day):
                    continue
                bypass = sorted(PTP_BYPASS_MODIFIERS.intersection(col2.modifiers + col1.modifiers))
                if edit.modifier_indicator == "1" and bypass:
                    severity, note = "warning", f"modifier {', '.join(bypass)} bypasses it if documentation supports it"
                elif edit.modifier_indicator == "1":
                    severity, note = "error", "a modifier (e.g. 59/XE/XS/XP/XU) may bypass it when supported"
                else:
                    severity, note = "error", "no modifier bypasses it"
                issues.append(
                    CheckIssue(
                        severity=severity,
                        kind="ncci_ptp",
                        codes=[col1.code, col2.code],
                        message=f"NCCI PTP edit: {col2.code} (column 2) is bundled into {col1.code} (column 1) "
                        f"since {edit.effective.isoformat()}; modifier indicator {edit.modifier_indicator} "
                        f"({MODIFIER_INDICATORS[edit.modifier_indicator]}): {note}. {edit.rationale}.",
                    )
                )
    return ClaimCheckResult(
        date_of_service=day,
        diagnoses=valid_dx,
        lines=lines,
        issues=issues,
        ncci_ptp_loaded=bool(edits.ptp),
        mue_loaded=bool(edits.mue),
    )


def _check_line(codesets: CodeSets, line: ClaimLine, day: dt.date) -> list[CheckIssue]:
    issues: list[CheckIssue] = []
    code = line.code
    if code in codesets.hcpcs:
        record = codesets.hcpcs[code]
        if not record.active_on(day):
            when = (
                f"terminated after {record.terminated.isoformat()}"
                if record.terminated and day > record.terminated
                else f"not valid before {record.added.isoformat() if record.added else '?'}"
            )
            crosswalk = (
                f" CMS cross-reference: {', '.join(record.cross_references)}." if record.cross_references else ""
            )
            issues.append(
                CheckIssue(
                    severity="error",
                    kind="terminated",
                    codes=[code],
                    message=f"{code} is {when}, so it is not valid on {day.isoformat()}.{crosswalk}",
                )
            )
    elif looks_like_cpt(code):
        if codesets.cpt and code not in codesets.cpt:
            issues.append(
                CheckIssue(
                    severity="warning",
                    kind="invalid_code",
                    codes=[code],
                    message=f"{code} is not in the imported CPT descriptor file.",
                )
            )
    else:
        issues.append(
            CheckIssue(
                severity="error",
                kind="invalid_code",
                codes=[code],
                message=f"{code} is neither a HCPCS Level II code in the loaded file nor a CPT code "
                "(5 digits, or 4 digits and F/T/U).",
            )
        )
    for modifier in line.modifiers:
        record_mod = codesets.modifiers.get(modifier)
        if record_mod is None and not re.fullmatch(r"[0-9]{2}", modifier):
            issues.append(
                CheckIssue(
                    severity="error",
                    kind="invalid_modifier",
                    codes=[code, modifier],
                    message=f"{modifier} is not a HCPCS Level II modifier, nor a CPT (2-digit) modifier.",
                )
            )
        elif record_mod is not None and not record_mod.active_on(day):
            issues.append(
                CheckIssue(
                    severity="error",
                    kind="terminated",
                    codes=[code, modifier],
                    message=f"Modifier {modifier} is not valid on {day.isoformat()} "
                    f"(terminated {record_mod.terminated.isoformat() if record_mod.terminated else '?'}).",
                )
            )
    return issues
