"""X12 code lists: claim adjustment reason codes (CARC), remark codes (RARC), group codes, claim status
category codes.

The lists come as two-column CSVs (``Code,Description``) as published by py835; the descriptions of
RARC and claim status categories carry the X12/CMS maintenance text glued on ("...Start: 01/01/1997 |
Stop: 08/01/2004Notes: Consider using M68"), which is parsed here into dates and a note. A newer list in
the same two-column shape (or with separate start/stop columns) can be imported by the user.

Claim status *codes* (STC01-2, X12 external code list 508) are not shipped: no source with a licence that
permits it was found (py835 ships the categories only; pyx12 ships the code values without their text).
A status code is shown as it came with "description not shipped", never with a guessed text. The 835's
CLP02 claim status codes are not an external list but values of the 835 implementation guide itself
(005010X221A1, CLP02), so they are decoded from the table below.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
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


# --- claim status (277 STC01, 835 CLP02) -----------------------------------------------------------------

#: What is said of a claim status code whose description is not shipped (see the module docstring).
NOT_SHIPPED = "description not shipped"

#: CLP02 claim status codes, as the 835 implementation guide (005010X221A1) lists them.
CLP02_STATUS = {
    "1": "Processed as Primary",
    "2": "Processed as Secondary",
    "3": "Processed as Tertiary",
    "4": "Denied",
    "19": "Processed as Primary, Forwarded to Additional Payer(s)",
    "20": "Processed as Secondary, Forwarded to Additional Payer(s)",
    "21": "Processed as Tertiary, Forwarded to Additional Payer(s)",
    "22": "Reversal of Previous Payment",
    "23": "Not Our Claim, Forwarded to Additional Payer(s)",
    "25": "Predetermination Pricing Only - No Payment",
}


def shipped_status_categories() -> Path:
    """The claim status category list shipped in knowledge/data (see codesets/SOURCES.md)."""
    return Path(__file__).resolve().parent.parent / "data" / "codesets" / "x12" / "claim_status_category_codes.csv"


@functools.lru_cache(maxsize=4)
def claim_status_categories(path: Path | None = None) -> dict[str, X12Code]:
    """The STC01-1 category list (56 codes, read once per process: a claim view should not need the whole
    code-set cache to say what "F2" means)."""
    return parse_code_csv(path or shipped_status_categories(), what="claim status category")


@dataclass(frozen=True, slots=True)
class ClaimStatusText:
    """A claim status as a person reads it: each code with its text, or why there is none."""

    category_code: str | None
    category: str | None  # the list's text; None when the code is not in the list
    status_code: str | None
    status: str | None  # the code's text; None when it is not shipped
    code_name: str = "status code"  # "CLP02" for an 835's claim status code

    @property
    def category_label(self) -> str | None:
        """The category's heading ("Finalized/Denial"), without the sentence the list adds after a dash."""
        if self.category is None:
            return None
        head, dash, _ = self.category.replace(" - ", "-").partition("-")
        return head.strip() if dash and "/" in head and len(head) < 80 else self.category

    def describe(self, *, short: bool = False) -> str:
        """e.g. "F2 Finalized/Denial, status code 65 (description not shipped)" (short), or with the
        category's whole text."""
        parts = []
        if self.category_code:
            text = self.category_label if short else self.category
            parts.append(f"{self.category_code} {text}" if text else f"{self.category_code} (not in the category list)")
        if self.status_code:
            parts.append(f"{self.code_name} {self.status_code} ({self.status or NOT_SHIPPED})")
        return ", ".join(parts)


def describe_claim_status(
    category_code: str | None,
    status_code: str | None,
    *,
    source: str | None = None,
    categories: dict[str, X12Code] | None = None,
) -> ClaimStatusText:
    """Decode a claim status: a 277/277CA STC01 (category, status code) or an 835 CLP02 (source "835" and
    no category: the status code is then CLP02). Unknown codes keep their value with no text."""
    listed = claim_status_categories() if categories is None else categories
    category = (category_code or "").strip().upper() or None
    code = (status_code or "").strip().upper() or None
    found = listed.get(category) if category else None
    if code is not None and category is None and source == "835":
        return ClaimStatusText(None, None, code, CLP02_STATUS.get(code), "CLP02")
    if code is not None and category is None and source == "999":
        from knowledge.x12.ack_codes import TRANSACTION_ACK  # the 999's own code list (IK501), data only

        return ClaimStatusText(None, None, code, TRANSACTION_ACK.get(code), "IK501")
    return ClaimStatusText(category, found.description if found else None, code, None)
