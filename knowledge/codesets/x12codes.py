"""X12 code lists: claim adjustment reason codes (CARC), remark codes (RARC), group codes, claim status
category codes.

The lists come as two-column CSVs (``Code,Description``) as published by py835; the descriptions of
RARC and claim status categories carry the X12/CMS maintenance text glued on ("...Start: 01/01/1997 |
Stop: 08/01/2004Notes: Consider using M68"), which is parsed here into dates and a note. A newer list in
the same two-column shape (or with separate start/stop columns) can be imported by the user.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import FileFormatError

_TAIL = re.compile(r"(?P<label>Start|Stop|Last Modified|Activation Date|Notes)\s*:\s*", re.IGNORECASE)
_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@dataclass(frozen=True, slots=True)
class X12Code:
    """One code of an X12 list, with its maintenance dates when the list gives them."""

    code: str
    description: str
    start: dt.date | None = None
    stop: dt.date | None = None
    last_modified: dt.date | None = None
    notes: str | None = None

    def active_on(self, day: dt.date) -> bool:
        if self.start is not None and day < self.start:
            return False
        return self.stop is None or day <= self.stop


def _parse_date(text: str) -> dt.date | None:
    match = _DATE.search(text)
    if not match:
        return None
    month, day, year = (int(part) for part in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def split_maintenance_text(code: str, text: str) -> X12Code:
    """Split "description + Start:/Stop:/Last Modified:/Notes:" into an ``X12Code``."""
    text = " ".join(text.split())
    matches = list(_TAIL.finditer(text))
    # Only labels after the description count: "Stop loss" inside a CARC text has no colon after it.
    if not matches:
        return X12Code(code=code, description=text)
    description = text[: matches[0].start()].strip()
    fields: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        fields[match.group("label").lower()] = text[match.end() : end].strip().strip("|").strip()
    start_text = fields.get("start") or fields.get("activation date") or ""
    return X12Code(
        code=code,
        description=description,
        start=_parse_date(start_text),
        stop=_parse_date(fields.get("stop", "")),
        last_modified=_parse_date(fields.get("last modified", "")),
        notes=fields.get("notes") or None,
    )


def parse_code_csv(path: Path, *, what: str) -> dict[str, X12Code]:
    """Read a code list CSV: columns ``Code,Description`` (optionally ``Start``/``Stop``)."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read the {what} list ({exc})", path=str(path)) from exc
    reader = csv.DictReader(io.StringIO(raw))
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    code_col = columns.get("code")
    text_col = columns.get("description") or columns.get("text") or columns.get("desc")
    if code_col is None or text_col is None:
        raise FileFormatError(
            f"a {what} list needs the columns Code and Description (found: {', '.join(columns) or 'none'})",
            path=str(path),
            position="line 1",
        )
    out: dict[str, X12Code] = {}
    for line_no, row in enumerate(reader, start=2):
        code = (row.get(code_col) or "").strip().upper()
        text = row.get(text_col) or ""
        if not code:
            continue
        if len(code) > 8 or not code.isalnum():
            raise FileFormatError(f"{code!r} is not a {what} code", path=str(path), position=f"line {line_no}")
        record = split_maintenance_text(code, text)
        start_col, stop_col = columns.get("start"), columns.get("stop")
        if start_col or stop_col:
            record = X12Code(
                code=code,
                description=record.description,
                start=_parse_date(row.get(start_col or "", "") or "") or record.start,
                stop=_parse_date(row.get(stop_col or "", "") or "") or record.stop,
                last_modified=record.last_modified,
                notes=record.notes,
            )
        out[code] = record
    if not out:
        raise FileFormatError(f"no {what} codes found", path=str(path))
    return out
