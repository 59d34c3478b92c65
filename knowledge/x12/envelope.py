"""Envelope checks (ISA/IEA, GS/GE, ST/SE) and a first pass that finds every transaction in a file.

The first pass streams the file once, checks every envelope count and control number, and notes for
each ST..SE its byte range, its content hash and (for an 835) its balancing totals. Nothing is written
until the whole file has passed: a truncated file or a wrong SE01 is reported with its position before
any transaction is posted. The importer then re-reads each ST..SE by its byte range.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from knowledge.errors import FileFormatError
from knowledge.x12.segments import Delimiters, Segment, iter_segments
from knowledge.x12.values import ZERO, amount

ENVELOPE_TAGS = {"ISA", "IEA", "GS", "GE", "ST", "SE", "TA1"}


@dataclass
class TransactionInfo:
    """One ST..SE found by the first pass."""

    set_id: str
    control_number: str
    version: str
    functional_id: str
    start: int
    end: int
    first_number: int
    segment_count: int
    content_hash: str
    delimiters: Delimiters
    sender_id: str = ""
    receiver_id: str = ""
    saw_sv2: bool = False
    bpr_amount: Decimal | None = None
    clp_paid: Decimal = ZERO
    plb_total: Decimal = ZERO
    claim_count: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """835, 837P, 837I, 277, 277CA, or the bare set id for transactions we do not import."""
        if self.set_id == "837":
            if any(tag in self.version for tag in ("X223", "X096")):
                return "837I"
            if any(tag in self.version for tag in ("X222", "X098")):
                return "837P"
            return "837I" if self.saw_sv2 else "837P"
        if self.set_id == "277":
            return "277CA" if "X214" in self.version else "277"
        return self.set_id

    def balance_problem(self) -> str | None:
        """Why an 835 does not balance (BPR02 = sum CLP04 - sum PLB), or None."""
        if self.set_id != "835" or self.bpr_amount is None:
            return None
        expected = self.clp_paid - self.plb_total
        if expected == self.bpr_amount:
            return None
        return (
            f"BPR02 total paid {self.bpr_amount} does not equal the claims' paid amounts {self.clp_paid} "
            f"minus provider adjustments {self.plb_total} = {expected} "
            f"(difference {self.bpr_amount - expected})"
        )


def _fail(message: str, segment: Segment, path: Path) -> FileFormatError:
    return FileFormatError(message, path=str(path), position=segment.position)


def scan_file(path: Path) -> list[TransactionInfo]:
    """Check a file's envelopes and list its transactions; FileFormatError (with the position) if bad."""
    if not path.is_file():
        raise FileFormatError("no such file", path=str(path))
    if path.stat().st_size == 0:
        raise FileFormatError("the file is empty", path=str(path))
    found: list[TransactionInfo] = []
    isa: Segment | None = None
    gs: Segment | None = None
    st: Segment | None = None
    groups = 0
    sets = 0
    count = 0
    digest = hashlib.sha256()
    current: TransactionInfo | None = None
    last: Segment | None = None
    for segment in iter_segments(path):
        last = segment
        tag = segment.tag
        if tag == "ISA":
            if isa is not None:
                raise _fail("a new ISA starts before the previous interchange's IEA", segment, path)
            isa, groups = segment, 0
            continue
        if isa is None:
            raise _fail(f"{tag} outside an interchange (after IEA, before ISA)", segment, path)
        if tag == "IEA":
            if gs is not None:
                raise _fail("IEA before the functional group's GE", segment, path)
            if segment[2] != isa[13]:
                raise _fail(f"IEA02 {segment[2]!r} does not match ISA13 {isa[13]!r}", segment, path)
            if segment[1] != str(groups):
                raise _fail(f"IEA01 says {segment[1]} functional groups but there are {groups}", segment, path)
            isa = None
            continue
        if tag == "TA1":
            continue
        if tag == "GS":
            if gs is not None:
                raise _fail("a new GS starts before the previous group's GE", segment, path)
            gs, sets = segment, 0
            groups += 1
            continue
        if gs is None:
            raise _fail(f"{tag} outside a functional group (GS..GE)", segment, path)
        if tag == "GE":
            if st is not None:
                raise _fail("GE before the transaction's SE", segment, path)
            if segment[2] != gs[6]:
                raise _fail(f"GE02 {segment[2]!r} does not match GS06 {gs[6]!r}", segment, path)
            if segment[1] != str(sets):
                raise _fail(f"GE01 says {segment[1]} transaction sets but the group has {sets}", segment, path)
            gs = None
            continue
        if tag == "ST":
            if st is not None:
                raise _fail("a new ST starts before the previous transaction's SE", segment, path)
            st, count, digest = segment, 0, hashlib.sha256()
            sets += 1
            current = TransactionInfo(
                set_id=segment[1],
                control_number=segment[2],
                version=gs[8] or segment[3],
                functional_id=gs[1],
                start=segment.offset,
                end=segment.offset,
                first_number=segment.number,
                segment_count=0,
                content_hash="",
                delimiters=segment.delimiters,
                sender_id=gs[2],
                receiver_id=gs[3],
            )
        if st is None or current is None:
            raise _fail(f"{tag} outside a transaction set (ST..SE)", segment, path)
        count += 1
        digest.update("*".join(segment.elements).encode("latin-1", "replace"))
        digest.update(b"~")
        _note_totals(current, segment, path)
        if tag == "SE":
            if segment[2] != st[2]:
                raise _fail(f"SE02 {segment[2]!r} does not match ST02 {st[2]!r}", segment, path)
            if segment[1] != str(count):
                raise _fail(
                    f"SE01 says the transaction has {segment[1]} segments but ST..SE holds {count}", segment, path
                )
            current.end = segment.offset + len(segment.text)
            current.segment_count = count
            current.content_hash = digest.hexdigest()
            found.append(current)
            st, current = None, None
    if last is None:
        raise FileFormatError("the file holds no X12 segments", path=str(path))
    if st is not None:
        raise _fail("the file ends inside a transaction set (no SE): it looks truncated", last, path)
    if gs is not None:
        raise _fail("the file ends inside a functional group (no GE): it looks truncated", last, path)
    if isa is not None:
        raise _fail("the file ends inside an interchange (no IEA): it looks truncated", last, path)
    return found


def _note_totals(info: TransactionInfo, segment: Segment, path: Path) -> None:
    tag = segment.tag
    if tag == "SV2":
        info.saw_sv2 = True
    if info.set_id != "835":
        return
    try:
        if tag == "BPR":
            info.bpr_amount = amount(segment, 2)
        elif tag == "CLP":
            info.clp_paid += amount(segment, 4)
            info.claim_count += 1
        elif tag == "PLB":
            for index in range(4, 15, 2):
                if segment[index - 1]:
                    info.plb_total += amount(segment, index)
    except FileFormatError as exc:
        raise FileFormatError(exc.message, path=str(path)) from None
