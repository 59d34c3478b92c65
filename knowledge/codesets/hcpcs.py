"""HCPCS Level II codes and modifiers from the CMS quarterly fixed-width file (320-byte records).

Positions come from the record layout CMS ships with every quarter (``HCPC<year>_recordlayout.txt``);
the layout has been stable for years, so a new quarter's ``HCPC*_ANWEB*.txt`` drops into the data folder
and is read as is. A record whose identification code is 3 (procedure) or 7 (modifier) starts an entry;
4 and 8 are continuation lines of its long description.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.errors import FileFormatError

RECORD_LENGTH = 320

ACTION_CODES: dict[str, str] = {
    "A": "added",
    "B": "changed (administrative data and long description)",
    "C": "changed (long description)",
    "D": "discontinued",
    "F": "changed (administrative data)",
    "N": "no maintenance",
    "P": "payment change",
    "R": "reactivated",
    "S": "changed (short description)",
    "T": "miscellaneous change (BETOS, type of service)",
}
COVERAGE_CODES: dict[str, str] = {
    "C": "carrier judgment",
    "D": "special coverage instructions apply",
    "I": "not payable by Medicare",
    "M": "non-covered by Medicare",
    "S": "non-covered by Medicare statute",
}
PRICING_INDICATORS: dict[str, str] = {
    "00": "service not separately priced by Part B",
    "11": "price established using national RVUs",
    "12": "price established using national anesthesia base units",
    "13": "price established by carriers",
    "21": "price subject to national limitation amount (clinical lab)",
    "22": "price established by carriers (clinical lab)",
    "31": "frequently serviced DME",
    "32": "inexpensive and routinely purchased DME",
    "33": "oxygen and oxygen equipment",
    "34": "DME supplies",
    "35": "surgical dressings",
    "36": "capped rental DME",
    "37": "ostomy, tracheostomy and urological supplies",
    "38": "orthotics, prosthetics, prosthetic devices and vision services",
    "39": "parenteral and enteral nutrition",
    "40": "lymphedema compression treatment items",
    "45": "customized DME items",
    "46": "carrier priced (DMEPOS)",
    "51": "drugs",
    "57": "other carrier priced",
    "99": "value not established",
}

_PROC_NOTE_START = re.compile(r"^\s*(\d{4})--(.*)$")


@dataclass(slots=True)
class HcpcsRecord:
    """One HCPCS Level II procedure code or modifier."""

    code: str
    is_modifier: bool
    long_description: str
    short_description: str
    pricing_indicators: list[str] = field(default_factory=list)
    coverage: str = ""
    betos: str = ""
    type_of_service: list[str] = field(default_factory=list)
    cross_references: list[str] = field(default_factory=list)
    processing_note: str = ""
    added: dt.date | None = None
    action_effective: dt.date | None = None
    terminated: dt.date | None = None
    action: str = ""

    def active_on(self, day: dt.date) -> bool:
        """In force on ``day``: added on or before it and not terminated before it."""
        if self.added is not None and day < self.added:
            return False
        return self.terminated is None or day <= self.terminated


def _date(raw: str, path: Path, line_no: int) -> dt.date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return dt.datetime.strptime(raw, "%Y%m%d").date()
    except ValueError as exc:
        raise FileFormatError(f"bad date {raw!r}", path=str(path), position=f"line {line_no}") from exc


def _slices(line: str, start: int, width: int, count: int) -> list[str]:
    """``count`` repeated fields of ``width`` from 1-based position ``start``, blanks dropped."""
    values = []
    for i in range(count):
        begin = start - 1 + i * width
        value = line[begin : begin + width].strip()
        if value:
            values.append(value)
    return values


def parse_hcpcs_file(path: Path) -> list[HcpcsRecord]:
    """Parse the CMS fixed-width HCPCS file (positions per the record layout, 1-based inclusive)."""
    records: list[HcpcsRecord] = []
    current: HcpcsRecord | None = None
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise FileFormatError(f"cannot read ({exc})", path=str(path)) from exc
    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        line = raw_line.ljust(RECORD_LENGTH)
        record_id = line[10]
        long_part = line[11:91].rstrip()
        if record_id in "37":
            is_modifier = record_id == "7"
            code = line[3:5].strip() if is_modifier else line[0:5].strip()
            if not code:
                raise FileFormatError("record without a code", path=str(path), position=f"line {line_no}")
            current = HcpcsRecord(
                code=code,
                is_modifier=is_modifier,
                long_description=long_part.strip(),
                short_description=line[91:119].strip(),
                pricing_indicators=_slices(line, 120, 2, 4),
                cross_references=_slices(line, 205, 5, 5),
                coverage=line[229].strip(),
                processing_note=line[252:256].strip(),
                betos=line[256:259].strip(),
                type_of_service=_slices(line, 261, 1, 5),
                added=_date(line[268:276], path, line_no),
                action_effective=_date(line[276:284], path, line_no),
                terminated=_date(line[284:292], path, line_no),
                action=line[292].strip(),
            )
            records.append(current)
        elif record_id in "48":
            if current is None:
                raise FileFormatError("continuation line before any record", path=str(path), position=f"line {line_no}")
            current.long_description = f"{current.long_description} {long_part.strip()}".strip()
        else:
            raise FileFormatError(
                f"unknown record identification code {record_id!r} (expected 3, 4, 7 or 8)",
                path=str(path),
                position=f"line {line_no}",
            )
    if not records:
        raise FileFormatError("no HCPCS records found", path=str(path))
    return records


def parse_proc_notes(path: Path) -> dict[str, str]:
    """The processing notes file: note number -> text (deleted notes included, as CMS prints them)."""
    notes: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in path.read_text(encoding="latin-1").splitlines():
        line = raw.rstrip().rstrip("*").rstrip()
        match = _PROC_NOTE_START.match(line)
        if match:
            current = notes.setdefault(match.group(1), [])
            current.append(match.group(2).strip())
        elif current is not None and line.strip() and not line.strip().startswith("_"):
            current.append(line.strip())
        elif not line.strip():
            current = None
    return {number: " ".join(parts) for number, parts in notes.items()}


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_QUARTER_NAME = re.compile(r"HCPC(\d{4})_([A-Z]{3})", re.IGNORECASE)


def find_hcpcs_file(folder: Path) -> Path:
    """The newest quarter's record file in ``folder`` (``HCPC<year>_<MON>_ANWEB*.txt``)."""

    def quarter(path: Path) -> tuple[int, int, str]:
        match = _QUARTER_NAME.search(path.name)
        if not match:
            return (0, 0, path.name)
        month = match.group(2).upper()
        return (int(match.group(1)), _MONTHS.index(month) if month in _MONTHS else 0, path.name)

    candidates = sorted(folder.glob("HCPC*ANWEB*.txt"), key=quarter)
    if not candidates:
        raise FileFormatError("no HCPCS record file (HCPC*_ANWEB*.txt)", path=str(folder))
    return candidates[-1]
