"""Implementation acknowledgments (999, 005010X231A1): what the clearinghouse or payer did with an 837.

A 999 answers one functional group the practice sent (AK1: its GS06) and, for each transaction set of
it (AK2: ST01 and ST02), says whether it was accepted (IK5: A, or E with errors noted) or rejected (R,
M, W, X), and why: the segments in error (IK3: segment, position, loop, code) with their elements (IK4:
position, data element, code) and the claim they are in (CTX, CLM01). A rejected 837 transaction never
reached the payer: each claim the practice imported from it gets a `rejected` status event with the
reason in words (`ack_codes`), the same form a 277CA rejection takes, so the claim shows the rejection
as its state. An accepted transaction records nothing on its claims (with errors noted: a warning in
the import report). An acknowledgement that names no 837 the practice imported goes to the exceptions
queue.

The 837 is found by its functional group and transaction set control numbers (`X12File`), and its
claims through the link the 837 import wrote (`X12ImportClaim`). Control numbers repeat (software that
starts every file at 1), so when several imported 837s carry the same numbers, the one sent to the
999's sender (GS03 = GS02) and of the acknowledged implementation (AK203) is preferred, then the latest
imported, and the report says so.

IK404 (a copy of the bad data element) is read but not written anywhere: it copies whatever the 837
held there, which in a name, birth date or member id element is a patient's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.practice.models import Claim, ClaimStatus, ClaimStatusEvent, WorkException, X12File, X12ImportClaim
from knowledge.x12.ack_codes import (
    ELEMENT_ERRORS,
    GROUP_ACK,
    GROUP_ERRORS,
    HAS_ELEMENT_ERRORS,
    REJECTED,
    SEGMENT_ERRORS,
    SEGMENTS_IN_ERROR,
    TRANSACTION_ACK,
    TRANSACTION_ERRORS,
    decode,
)
from knowledge.x12.load277 import SETTLED
from knowledge.x12.segments import Segment
from knowledge.x12.values import SegmentError

CLAIM_KINDS = ("837P", "837I")
#: What the status note holds at most (ClaimStatusEvent.note); the exception row keeps the whole reason.
NOTE_LIMIT = 300
_CONVENTION_KINDS = {"X222": "837P", "X098": "837P", "X223": "837I", "X096": "837I"}


@dataclass
class ElementError:
    """IK4: one data element in error."""

    element: str  # IK401-1: its position in the segment
    component: str  # IK401-2: the component's position in a composite, when it is one
    reference: str  # IK402: the data element's number in the X12 dictionary, e.g. 67
    code: str  # IK403
    bad_value: str  # IK404: read, never written (see the module docstring)
    segment: Segment

    def describe(self, segment_id: str) -> str:
        """e.g. "element 9 (NM109) invalid character in data element"."""
        where = f"element {self.element}" + (f"-{self.component}" if self.component else "")
        what = decode(ELEMENT_ERRORS, self.code, "IK403")
        if not (self.element.isdigit() and segment_id):
            return f"{where} {what}"
        name = f"{segment_id}{int(self.element):02d}" + (f"-{self.component}" if self.component else "")
        return f"{where} ({name}) {what}"


@dataclass
class SegmentNote:
    """IK3 and what follows it: one segment in error."""

    segment_id: str  # IK301
    position: str  # IK302: the segment's position in the transaction set (ST is 1)
    loop: str  # IK303, e.g. 2010AA
    code: str  # IK304 (may be empty when the IK4s say it all)
    segment: Segment
    claim_number: str = ""  # CTX*CLM01:...: the claim (patient control number) the segment is in
    elements: list[ElementError] = field(default_factory=list)

    def describe(self) -> str:
        where = f"segment {self.segment_id or '?'} at position {self.position or '?'}"
        if self.loop:
            where += f" (loop {self.loop})"
        if self.claim_number:
            where += f" of claim {self.claim_number}"
        parts = [e.describe(self.segment_id) for e in self.elements]
        if self.code and (self.code != HAS_ELEMENT_ERRORS or not parts):
            parts.insert(0, decode(SEGMENT_ERRORS, self.code, "IK304"))
        return f"{where}: {', '.join(parts)}" if parts else where


@dataclass
class TransactionAck:
    """AK2..IK5: what the receiver did with one transaction set of the group."""

    set_id: str  # AK201, e.g. 837
    control_number: str  # AK202: the acknowledged transaction set's ST02
    convention: str  # AK203, e.g. 005010X222A1 (optional)
    segment: Segment  # the AK2
    code: str = ""  # IK501
    errors: list[str] = field(default_factory=list)  # IK502..IK506
    notes: list[SegmentNote] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return self.code in REJECTED

    def reason(self, *, limit: int | None = None) -> str:
        """What was done and why, in words: "999 rejected the 837 transaction 0001: segment NM1 at
        position 12 (loop 2010AA): element 9 (NM109) invalid character in data element". With `limit`,
        cut at a whole error, saying how many more there are."""
        head = f"999 {_verb(TRANSACTION_ACK, self.code, 'IK501')} the {self.set_id} transaction {self.control_number}"
        if self.code == "E":
            head += " with errors noted"
        details = [note.describe() for note in self.notes]
        details += [
            decode(TRANSACTION_ERRORS, code, "IK502")
            for code in self.errors
            if not (self.notes and code in SEGMENTS_IN_ERROR)
        ]
        if not details:
            return head + (": no reason given" if self.rejected else "")
        text = head + ": " + "; ".join(details)
        if limit is None or len(text) <= limit:
            return text
        for shown in range(len(details) - 1, 0, -1):
            more = len(details) - shown
            text = f"{head}: {'; '.join(details[:shown])}; and {more} more error{'s' if more > 1 else ''}"
            if len(text) <= limit:
                return text
        return text[: limit - 3] + "..."


@dataclass
class Acknowledgment:
    """One 999 transaction set: the group it acknowledges and what was done with each of its sets."""

    functional_id: str  # AK101, e.g. HC (837)
    group_control_number: str  # AK102: the acknowledged group's GS06
    segment: Segment  # the AK1
    transactions: list[TransactionAck] = field(default_factory=list)
    group_code: str = ""  # AK901
    group_errors: list[str] = field(default_factory=list)  # AK905..AK909
    sets_included: str = ""  # AK902
    sets_received: str = ""  # AK903
    sets_accepted: str = ""  # AK904

    @property
    def group_rejected(self) -> bool:
        return self.group_code in REJECTED

    def group_reason(self) -> str:
        """The group's own rejection, for a 999 that rejects a whole group without an AK2 per set."""
        text = f"999 {_verb(GROUP_ACK, self.group_code, 'AK901')} the functional group {self.group_control_number}"
        if self.group_code == "E":
            text += " with errors noted"
        errors = [decode(GROUP_ERRORS, code, "AK905") for code in self.group_errors]
        return text + (": " + "; ".join(errors) if errors else "")


def _verb(codes: Mapping[str, str], code: str, what: str) -> str:
    """What an acknowledgment code did, to read in "999 ... the 837 transaction 0001"."""
    if code == "R":
        return "rejected"
    if code in REJECTED:  # "rejected, assurance failed validity tests"
        return f"rejected ({codes[code].removeprefix('rejected, ')})"
    if code in ("A", "E"):  # E: "with errors noted" follows what was accepted
        return "accepted"
    if code == "P":
        return "partially accepted"
    return decode(codes, code, what)


def read_999(segments: Iterable[Segment]) -> Acknowledgment:
    """Read one 999 transaction set (ST..SE); SegmentError (with the position) for what cannot be read."""
    found: Acknowledgment | None = None
    current: TransactionAck | None = None
    note: SegmentNote | None = None
    st: Segment | None = None
    for segment in segments:
        tag = segment.tag
        if tag in ("ST", "SE"):
            st = st or segment
            continue
        if tag == "AK1":
            if found is not None:
                raise SegmentError("a second AK1 in one 999 transaction set", segment)
            found = Acknowledgment(functional_id=segment[1], group_control_number=segment[2].strip(), segment=segment)
            continue
        if found is None:
            raise SegmentError(f"{tag} before AK1: a 999 starts with AK1 (the group acknowledged)", segment)
        if tag == "AK2":
            if current is not None and not current.code:
                raise SegmentError(f"AK2 {current.control_number!r} has no IK5 before the next AK2", segment)
            current = TransactionAck(
                set_id=segment[1].strip(),
                control_number=segment[2].strip(),
                convention=segment[3].strip(),
                segment=segment,
            )
            found.transactions.append(current)
            note = None
        elif tag == "IK3":
            if current is None:
                raise SegmentError("IK3 outside an AK2 loop", segment)
            note = SegmentNote(
                segment_id=segment[1].strip(),
                position=segment[2].strip(),
                loop=segment[3].strip(),
                code=segment[4].strip(),
                segment=segment,
            )
            current.notes.append(note)
        elif tag == "CTX":
            # Loop 2100 CTX names the claim (CTX01 "CLM01" and its value); the situational trigger kind
            # (CTX01 "SITUATIONAL TRIGGER") points at another segment and is not needed to say what failed.
            parts = segment.components(1)
            if note is not None and parts[0] == "CLM01" and len(parts) > 1:
                note.claim_number = parts[1].strip()
        elif tag == "IK4":
            if note is None:
                raise SegmentError("IK4 without an IK3 (the segment in error) before it", segment)
            position = segment.components(1)
            note.elements.append(
                ElementError(
                    element=position[0].strip(),
                    component=position[1].strip() if len(position) > 1 else "",
                    reference=segment[2].strip(),
                    code=segment[3].strip(),
                    bad_value=segment[4],
                    segment=segment,
                )
            )
        elif tag == "IK5":
            if current is None:
                raise SegmentError("IK5 outside an AK2 loop", segment)
            code = segment[1].strip()
            if code not in TRANSACTION_ACK:
                raise SegmentError(f"IK501 transaction set acknowledgment code {code!r} is not a known code", segment)
            current.code = code
            current.errors = [segment[i].strip() for i in range(2, 7) if segment[i].strip()]
            note = None
        elif tag == "AK9":
            if current is not None and not current.code:
                raise SegmentError(f"AK2 {current.control_number!r} has no IK5 before AK9", segment)
            code = segment[1].strip()
            if code not in GROUP_ACK:
                raise SegmentError(f"AK901 functional group acknowledge code {code!r} is not a known code", segment)
            found.group_code = code
            found.sets_included, found.sets_received, found.sets_accepted = segment[2], segment[3], segment[4]
            found.group_errors = [segment[i].strip() for i in range(5, 10) if segment[i].strip()]
            current = note = None
    if found is None:
        if st is None:
            raise ValueError("read_999 was given no segments")
        raise SegmentError("the 999 has no AK1 (the functional group it acknowledges)", st)
    if not found.group_code:
        raise SegmentError("the 999 has no AK9 (what was done with the functional group)", found.segment)
    return found


# -- finding what was acknowledged -------------------------------------------------------------------------


def _number(value: str) -> str:
    """A control number compared as the number it is (GS06 is numeric: 000000028 and 28 are the same)."""
    value = value.strip()
    return (value.lstrip("0") or "0") if value.isdigit() else value


@dataclass
class Acknowledged:
    """The imported 837 transactions an acknowledgement names, and how sure the match is."""

    transactions: list[X12File]  # one for an AK2; those of one functional group for a group's rejection
    candidates: int  # imported 837s (for a group: files) that carry the same control numbers


def find_acknowledged(
    session: Session,
    *,
    practice_id: int,
    group_control_number: str,
    control_number: str | None,
    sender_id: str,
    convention: str = "",
) -> Acknowledged | None:
    """The imported 837 transactions an acknowledgement names, or None: the one an AK2 names (by its
    ST02, `control_number`), or for a group rejected as a whole (`control_number` None) those of the
    group. See the module docstring for how repeated control numbers are told apart."""
    query = select(X12File).where(X12File.practice_id == practice_id, X12File.transaction_type.in_(CLAIM_KINDS))
    if control_number is not None:
        query = query.where(X12File.control_number == control_number[:20])
    group = _number(group_control_number)
    rows = [
        row
        for row in session.scalars(query.order_by(X12File.id))
        if row.group_control_number is not None and _number(row.group_control_number) == group
    ]
    if not rows:
        return None
    kind = next((k for tag, k in _CONVENTION_KINDS.items() if tag in convention), None)
    # Each preference narrows the candidates only when some meet it: a lone candidate is never lost.
    best = [row for row in rows if sender_id and row.receiver_id == sender_id] or rows
    best = [row for row in best if row.transaction_type == kind] or best
    if control_number is not None:
        return Acknowledged([best[-1]], len(rows))
    latest = best[-1].file_name  # a functional group is one GS..GE of one file: the latest file's
    return Acknowledged([row for row in best if row.file_name == latest], len({row.file_name for row in rows}))


def claims_of(session: Session, *, practice_id: int, x12_file: X12File) -> list[Claim]:
    """The claims an imported 837 transaction held, in claim-number order."""
    query = (
        select(Claim)
        .join(X12ImportClaim, X12ImportClaim.claim_id == Claim.id)
        .where(X12ImportClaim.x12_import_id == x12_file.id, Claim.practice_id == practice_id)
        .order_by(Claim.claim_number)
    )
    return list(session.scalars(query))


def record_rejection(
    session: Session, *, claim: Claim, x12_file: X12File, note: str, code: str, effective: dt.date
) -> bool:
    """Append the rejection to the claim's history and make it the claim's state; returns whether the
    state moved. It does not move when an 835 has settled the claim (the 835 is the word on money) or
    when a later 837 re-sent the claim (that one is what the payer has now)."""
    later = session.scalar(
        select(func.max(X12ImportClaim.x12_import_id)).where(
            X12ImportClaim.claim_id == claim.id, X12ImportClaim.x12_import_id > x12_file.id
        )
    )
    moved = claim.status not in SETTLED and later is None
    if moved:
        claim.status = ClaimStatus.REJECTED
    session.add(
        ClaimStatusEvent(
            claim_id=claim.id,
            status=ClaimStatus.REJECTED,
            status_code=code[:6],  # IK501, as an 835's event keeps CLP02: read with its source, "999"
            effective_date=effective,
            source="999",
            note=note[:NOTE_LIMIT],
        )
    )
    return moved


def record_unmatched(
    session: Session, *, practice_id: int, reason: str, source_file: str, segment: Segment | None
) -> None:
    """Queue an acknowledgement that names nothing the practice imported, for a person."""
    session.add(
        WorkException(
            practice_id=practice_id,
            kind="unmatched_status",
            reason=reason,
            source_file=source_file[-300:],
            position=segment.position[:100] if segment else None,
        )
    )
