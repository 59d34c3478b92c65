"""Tool: decode the adjustment codes of a remittance (group codes, CARC, RARC)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from knowledge.codesets import AdjustmentCode, AdjustmentExplanation, CodeSets
from knowledge.codesets.x12codes import X12Code
from knowledge.errors import InvalidInput

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
            items.append(_item("group", codesets.groups[match.group(1)], day))
            if match.group(2):
                carc = codesets.carc.get(match.group(2))
                if carc is None:
                    unknown.append(raw)
                else:
                    items.append(_item("carc", carc, day))
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
