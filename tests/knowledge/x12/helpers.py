"""Shared test helpers: a practice per case, and an 835's own totals read by pyx12 (an independent reader)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyx12.segment
import pyx12.x12file
from sqlalchemy.orm import Session

from knowledge.practice.models import Practice

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "x12"
#: Folders of files kept because they are malformed the way real files are (other separators, no ISA,
#: wrong counts): only the tests of such files (`test_wild_files.py`) read them, and the 999 tests
#: (`test_acknowledgments.py`) the folder's 999s by name.
WILD_FOLDERS = {"imsweb"}
_counter = itertools.count(1)


def fixture_files(*suffixes: str, kind: str | None = None, wild: bool = False) -> list[Path]:
    """Fixture files by suffix, or by the transaction set the file holds (ST01); `wild` adds WILD_FOLDERS."""
    files = sorted(
        p
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.suffix != ".md" and (wild or p.relative_to(FIXTURES).parts[0] not in WILD_FOLDERS)
    )
    if suffixes:
        files = [p for p in files if p.suffix in suffixes]
    if kind:
        files = [p for p in files if f"ST*{kind}*" in p.read_text(encoding="latin-1").replace("|", "*")]
    return files


def new_practice(session: Session, name: str = "Test practice") -> int:
    practice = Practice(slug=f"p{next(_counter)}-{name[:40]}", name=name, npi="1234567893", tax_id="123456789")
    session.add(practice)
    session.flush()
    return practice.id


@dataclass
class FileTotals:
    bpr: Decimal = Decimal("0.00")
    clp_billed: Decimal = Decimal("0.00")
    clp_paid: Decimal = Decimal("0.00")
    svc_paid: Decimal = Decimal("0.00")
    cas_by_group: dict[str, Decimal] = field(default_factory=dict)
    plb: Decimal = Decimal("0.00")
    claims: int = 0
    lines: int = 0


def totals_by_pyx12(path: Path) -> FileTotals:
    """BPR02, CLP03/04, SVC03, CAS and PLB amounts of an 835, read with pyx12's segment reader."""
    totals = FileTotals()
    handle = path.open(encoding="latin-1")
    for segment in pyx12.x12file.X12Reader(handle):
        tag = segment.get_seg_id()

        def value(name: str, segment: pyx12.segment.Segment = segment) -> Decimal:
            text = segment.get_value(name)
            return Decimal(text) if text else Decimal("0")

        if tag == "BPR":
            totals.bpr += value("BPR02")
        elif tag == "CLP":
            totals.claims += 1
            totals.clp_billed += value("CLP03")
            totals.clp_paid += value("CLP04")
        elif tag == "SVC":
            totals.lines += 1
            totals.svc_paid += value("SVC03")
        elif tag == "CAS":
            group = segment.get_value("CAS01")
            for index in range(3, 20, 3):
                totals.cas_by_group[group] = totals.cas_by_group.get(group, Decimal("0")) + value(f"CAS{index:02d}")
        elif tag == "PLB":
            for index in range(4, 15, 2):
                totals.plb += value(f"PLB{index:02d}")
    return totals
