"""NCCI edits in the CMS published formats: practitioner PTP edits and MUE values.

PTP (procedure-to-procedure) files are tab-separated text with a few header lines: column 1, column 2,
"in existence prior to 1996" flag, effective date, deletion date ("*" = none), modifier indicator
(0 = not allowed, 1 = allowed, 9 = not applicable) and the rationale. MUE files are CSV with a copyright
paragraph, a header row ("HCPCS/CPT Code", "... MUE Values", "MUE Adjudication Indicator", "MUE
Rationale") and one row per code. Full quarterly files carry CPT numbers under an AMA notice, so the
product never ships them: the user imports them (``codes import-ncci FILE``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.errors import FileFormatError

MODIFIER_INDICATORS = {
    "0": "not allowed: no modifier bypasses this edit",
    "1": "allowed: an NCCI-associated modifier (e.g. 59, XE, XS, XP, XU) may bypass the edit when supported",
    "9": "not applicable: the edit was deleted",
}


@dataclass(frozen=True, slots=True)
class PtpEdit:
    column1: str
    column2: str
    effective: dt.date
    deleted: dt.date | None
    modifier_indicator: str
    rationale: str

    def active_on(self, day: dt.date) -> bool:
        return self.effective <= day and (self.deleted is None or day <= self.deleted)


@dataclass(frozen=True, slots=True)
class MueValue:
    code: str
    units: int
    adjudication_indicator: str  # "1", "2" or "3"
    adjudication_text: str
    rationale: str


@dataclass(slots=True)
class NcciEdits:
    ptp: dict[str, list[PtpEdit]] = field(default_factory=dict)  # column 1 code -> edits
    mue: dict[str, MueValue] = field(default_factory=dict)

    def merge(self, other: NcciEdits) -> None:
        for column1, edits in other.ptp.items():
            self.ptp.setdefault(column1, []).extend(edits)
        self.mue.update(other.mue)


def _yyyymmdd(raw: str) -> dt.date | None:
    raw = raw.strip()
    if not raw or raw == "*":
        return None
    return dt.datetime.strptime(raw, "%Y%m%d").date()


def parse_ptp(text: str, *, path: str = "") -> dict[str, list[PtpEdit]]:
    """Rows of a practitioner (or hospital) PTP file; header lines are skipped."""
    out: dict[str, list[PtpEdit]] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        parts = [part.strip() for part in line.split("\t")]
        if len(parts) < 6 or not parts[0] or not parts[3].isdigit():
            continue  # header and notice lines
        try:
            effective = _yyyymmdd(parts[3])
            deleted = _yyyymmdd(parts[4])
        except ValueError as exc:
            raise FileFormatError(f"bad date ({exc})", path=path, position=f"line {line_no}") from exc
        if effective is None or parts[5] not in MODIFIER_INDICATORS:
            raise FileFormatError(
                "expected: column1, column2, flag, effective YYYYMMDD, deletion, modifier indicator 0/1/9",
                path=path,
                position=f"line {line_no}",
            )
        edit = PtpEdit(
            column1=parts[0].upper(),
            column2=parts[1].upper(),
            effective=effective,
            deleted=deleted,
            modifier_indicator=parts[5],
            rationale=parts[6] if len(parts) > 6 else "",
        )
        out.setdefault(edit.column1, []).append(edit)
    return out


def parse_mue(text: str, *, path: str = "") -> dict[str, MueValue]:
    """Rows of an MUE CSV after its header row."""
    out: dict[str, MueValue] = {}
    started = False
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row:
            continue
        first = " ".join(row[0].split()).upper()
        if not started:
            started = first.startswith("HCPCS")
            continue
        if len(row) < 3 or not first:
            continue
        try:
            units = int(row[1].strip())
        except ValueError as exc:
            raise FileFormatError(
                f"MUE value {row[1]!r} is not a number", path=path, position=f"row {line_no}"
            ) from exc
        mai = row[2].strip()
        out[first] = MueValue(
            code=first,
            units=units,
            adjudication_indicator=mai[:1],
            adjudication_text=mai[1:].strip(),
            rationale=row[3].strip() if len(row) > 3 else "",
        )
    return out


def parse_ncci_file(path: Path) -> NcciEdits:
    """A PTP or MUE file, recognised by its content (tab-separated PTP rows or an MUE header row)."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise FileFormatError(f"cannot read ({exc})", path=str(path)) from exc
    head = text[:5000]
    if "\t" in head and "Column 1" in head.replace("Column1", "Column 1"):
        edits = NcciEdits(ptp=parse_ptp(text, path=str(path)))
        if not edits.ptp:
            raise FileFormatError("no PTP edit rows found", path=str(path))
        return edits
    if "MUE" in head.upper():
        edits = NcciEdits(mue=parse_mue(text, path=str(path)))
        if not edits.mue:
            raise FileFormatError("no MUE rows found after the header row", path=str(path))
        return edits
    raise FileFormatError(
        "not an NCCI file: expected a PTP edit file (tab-separated, 'Column 1 / Column 2' header) "
        "or an MUE file (CSV with 'MUE Values' header)",
        path=str(path),
    )
