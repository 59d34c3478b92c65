"""Envelope checks (ISA/IEA, GS/GE, ST/SE) and a first pass that finds every transaction in a file.

The first pass streams the file once, checks every envelope count and control number, and notes for
each ST..SE its byte range, its content hash and (for an 835) its balancing totals. Nothing is written
until the whole file has passed: a truncated file is refused with its position before any transaction
is posted. The importer then re-reads each ST..SE by its byte range.

Liberal in reading, strict in posting: envelopes are bookkeeping of the sender's software, so a wrong
count or control number (SE01/SE02, GE01/GE02, IEA01/IEA02), a missing ISA/GS (a bare ST..SE from a
payer portal) or a missing trailer is read and reported as a warning with its position. What decides
whether an 835 posts money is its own balancing (`TransactionInfo.balance_problem`, and each claim's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from knowledge.errors import FileFormatError
from knowledge.x12.segments import Delimiters, Segment, iter_segments
from knowledge.x12.values import ZERO, SegmentError, amount

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
    group_control_number: str = ""  # GS06: with ST02, what an acknowledgement (999 AK1/AK2) names
    group_date: str = ""  # GS04 (CCYYMMDD): when the sender built the functional group
    saw_sv2: bool = False
    bpr_amount: Decimal | None = None
    clp_paid: Decimal = ZERO
    plb_total: Decimal = ZERO
    claim_count: int = 0
    notes: list[str] = field(default_factory=list)
    st_text: str = ""

    @property
    def position(self) -> str:
        """Where the transaction starts, for messages: its ST segment's number and text."""
        return f"segment {self.first_number}: {self.st_text}"

    @property
    def kind(self) -> str:
        """835, 837P, 837I, 277, 277CA, 999, or the bare set id of any other transaction set."""
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


@dataclass
class Scan:
    """What the first pass found: the transactions, and what was wrong with the envelopes but read anyway."""

    transactions: list[TransactionInfo]
    warnings: list[str] = field(default_factory=list)


def scan_file(path: Path) -> list[TransactionInfo]:
    """Check a file's envelopes and list its transactions; FileFormatError (with the position) if bad."""
    return scan(path).transactions


def scan(path: Path) -> Scan:
    """Read a file's envelopes liberally and list its transactions (see the module docstring).

    Refused (FileFormatError with the position): a file that is not X12, is empty, or ends inside a
    transaction set. Read with a warning: wrong counts or control numbers in SE, GE and IEA, a missing
    ISA or GS (synthesised), a new ISA or GS before the previous trailer, a missing GE or IEA at the end.
    """
    if not path.is_file():
        raise FileFormatError("no such file", path=str(path))
    if path.stat().st_size == 0:
        raise FileFormatError("the file is empty", path=str(path))
    found: list[TransactionInfo] = []
    warnings: list[str] = []
    isa: Segment | None = None
    gs: Segment | None = None
    st: Segment | None = None
    groups = 0
    sets = 0
    count = 0
    synthetic_isa = False
    synthetic_gs = False
    digest = hashlib.sha256()
    current: TransactionInfo | None = None
    last: Segment | None = None

    def warn(message: str, segment: Segment) -> None:
        warnings.append(f"{segment.position}: {message}")

    def close_group(segment: Segment, why: str) -> None:
        nonlocal gs
        if gs is not None and not synthetic_gs:
            warn(f"the functional group GS {gs[6]!r} has no GE ({why}): its transactions were read", segment)
        gs = None

    def close_interchange(segment: Segment, why: str) -> None:
        nonlocal isa
        if isa is not None and not synthetic_isa:
            warn(f"the interchange ISA {isa[13]!r} has no IEA ({why}): its transactions were read", segment)
        isa = None

    for segment in iter_segments(path):
        last = segment
        tag = segment.tag
        if tag in ("ISA", "GS", "GE", "IEA") and st is not None:
            raise _fail(
                f"{tag} inside transaction set ST {st[2]!r} (its SE is missing): the file looks truncated or spliced",
                segment,
                path,
            )
        if tag == "ISA":
            close_group(segment, "a new ISA starts")
            close_interchange(segment, "a new ISA starts")
            isa, groups, synthetic_isa, synthetic_gs = segment, 0, False, False
            continue
        if tag == "TA1":
            continue
        if tag == "IEA":
            if gs is not None:
                close_group(segment, "IEA comes first")
            if isa is None:
                warn("IEA without an ISA: the interchange header is missing", segment)
            elif not synthetic_isa:
                if segment[2] != isa[13]:
                    warn(f"IEA02 {segment[2]!r} does not match ISA13 {isa[13]!r}", segment)
                if segment[1] != str(groups):
                    warn(f"IEA01 says {segment[1]} functional groups but there are {groups}", segment)
            isa, synthetic_isa = None, False
            continue
        if tag == "GS":
            close_group(segment, "a new GS starts")
            if isa is None:
                warn("GS without an ISA interchange header: read as if inside one (envelope synthesised)", segment)
                isa, groups, synthetic_isa = segment, 0, True
            gs, sets, synthetic_gs = segment, 0, False
            groups += 1
            continue
        if tag == "GE":
            if gs is None:
                warn("GE without a GS: the functional group header is missing", segment)
            elif not synthetic_gs:
                if segment[2] != gs[6]:
                    warn(f"GE02 {segment[2]!r} does not match GS06 {gs[6]!r}", segment)
                if segment[1] != str(sets):
                    warn(f"GE01 says {segment[1]} transaction sets but the group has {sets}", segment)
            gs, synthetic_gs = None, False
            continue
        if tag == "ST":
            if st is not None:
                raise _fail(
                    f"a new ST starts before transaction set ST {st[2]!r} ended (no SE): it looks truncated",
                    segment,
                    path,
                )
            if gs is None:
                missing = "ISA/GS envelope" if isa is None else "GS functional group"
                warn(
                    f"no {missing} around this transaction: read as if inside one (envelope synthesised); "
                    "sender and receiver are unknown",
                    segment,
                )
                gs, sets, synthetic_gs = segment, 0, True
                if isa is None:
                    isa, groups, synthetic_isa = segment, 0, True
            st, count, digest = segment, 0, hashlib.sha256()
            sets += 1
            current = TransactionInfo(
                set_id=segment[1],
                control_number=segment[2],
                version=("" if synthetic_gs else gs[8]) or segment[3],
                functional_id="" if synthetic_gs else gs[1],
                start=segment.offset,
                end=segment.offset,
                first_number=segment.number,
                segment_count=0,
                content_hash="",
                delimiters=segment.delimiters,
                sender_id="" if synthetic_gs else gs[2],
                receiver_id="" if synthetic_gs else gs[3],
                group_control_number="" if synthetic_gs else gs[6],
                group_date="" if synthetic_gs else gs[4],
                st_text=segment.text[:60],
            )
        if st is None or current is None:
            raise _fail(f"{tag} outside a transaction set (ST..SE)", segment, path)
        count += 1
        digest.update(("*".join(segment.elements) + "~").encode("latin-1", "replace"))
        if tag in _TOTALLED:
            _note_totals(current, segment, path)
        if tag == "SE":
            if segment[2] != st[2]:
                current.notes.append(f"{segment.position}: SE02 {segment[2]!r} does not match ST02 {st[2]!r}")
            if segment[1] != str(count):
                current.notes.append(
                    f"{segment.position}: SE01 says the transaction has {segment[1]} segments but ST..SE holds {count}"
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
    close_group(last, "the file ends")
    close_interchange(last, "the file ends")
    return Scan(found, warnings)


#: The segments `_note_totals` reads (the rest of a transaction passes it by).
_TOTALLED = frozenset({"SV2", "BPR", "CLP", "PLB"})


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
    except SegmentError as exc:
        raise SegmentError(exc.detail, exc.segment, path=str(path)) from None
