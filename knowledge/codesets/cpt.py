"""CPT: recognised by format only; descriptors come from a file the practice licenses from the AMA.

CPT descriptors are AMA copyright and are never shipped. A practice that owns a licensed descriptor file
loads it with ``billing-assistant codes import-cpt FILE`` (CSV ``code,description``); it is kept in the
user's cache folder and read from there.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from knowledge.errors import FileFormatError

CPT_SHAPE = re.compile(r"^(?:\d{5}|\d{4}[FTU])$")


def looks_like_cpt(code: str) -> bool:
    """Five digits (Category I) or four digits and F, T or U (Category II, III, PLA)."""
    return bool(CPT_SHAPE.match(code.strip().upper()))


def cpt_category(code: str) -> str:
    code = code.strip().upper()
    if code.endswith("F"):
        return "CPT Category II"
    if code.endswith("T"):
        return "CPT Category III"
    if code.endswith("U"):
        return "CPT Proprietary Laboratory Analyses"
    return "CPT Category I"


def parse_cpt_descriptors(path: Path) -> dict[str, str]:
    """A CSV of ``code,description`` (a header row is optional)."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read the CPT file ({exc})", path=str(path)) from exc
    out: dict[str, str] = {}
    for line_no, row in enumerate(csv.reader(io.StringIO(raw)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise FileFormatError("expected two columns: code,description", path=str(path), position=f"line {line_no}")
        code, description = row[0].strip().upper(), " ".join(row[1].split())
        if not looks_like_cpt(code):
            if line_no == 1:
                continue  # a header row
            raise FileFormatError(
                f"{code!r} is not a CPT code (5 digits, or 4 digits and F/T/U)",
                path=str(path),
                position=f"line {line_no}",
            )
        out[code] = description
    if not out:
        raise FileFormatError("no CPT codes found", path=str(path))
    return out
