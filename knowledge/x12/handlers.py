"""One handler per family of X12 transactions: which kinds it imports, how it reads and applies one
ST..SE, and what it reports.

The importer (`importer.import_x12`) owns what every transaction shares: the envelope pass, the check
that the file's name does not contradict its content, one database transaction per ST..SE, the skip of
a transaction imported before (content hash), the `X12File` row and the exceptions queue for refusals.
A handler owns what varies: `apply` reads the transaction's segments, writes what it means and fills
the `TransactionReport`. A handler whose large transactions post in committed chunks (the 835) says
so through the two explicit hooks of `ChunkedHandler`.

The registry is an explicit list, built by `importer.default_handlers()` when an import starts (nothing
is registered at import time); a kind no handler takes is reported as skipped. Adding a transaction type
(270/271, 834) is one handler class here and one line in `default_handlers`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from knowledge.practice.models import WorkException, X12File
from knowledge.progress import Progress
from knowledge.x12.ack_codes import GROUP_ACK
from knowledge.x12.envelope import TransactionInfo
from knowledge.x12.load277 import apply_statuses, find_claim, read_277
from knowledge.x12.load837 import read_837, save_claim
from knowledge.x12.load999 import (
    NOTE_LIMIT,
    Acknowledgment,
    TransactionAck,
    claims_of,
    find_acknowledged,
    read_999,
    record_rejection,
    record_unmatched,
)
from knowledge.x12.parse835 import ClaimPayment, ProviderAdjustmentItem, RemittanceHeader, RemittanceItem, read_835
from knowledge.x12.posting import BATCH_SIZE, RemittancePoster
from knowledge.x12.reports import TransactionReport
from knowledge.x12.segments import Segment


@dataclass
class TransactionContext:
    """What a handler is told about the transaction it applies, beyond the session and its segments."""

    practice_id: int
    path: Path
    info: TransactionInfo
    user_id: int | None = None
    #: The importer opened the session (a sessionmaker, not a caller's Session): memory may be released.
    owned: bool = False
    #: Commit between batches: a `ChunkedHandler` said the transaction posts in chunks, and the import
    #: owns its sessions and is not a dry run.
    chunked: bool = False
    progress: Progress | None = None
    #: Filled by the handler: the claims the transaction holds (an 837's). The importer links them to
    #: the transaction's `X12File` row, which is how an acknowledgement (999) finds them.
    claim_ids: list[int] = field(default_factory=list)


class TransactionHandler(Protocol):
    """A family of transaction kinds (`TransactionInfo.kind`) and how one transaction of it is imported."""

    @property
    def kinds(self) -> Mapping[str, str]:
        """Each kind the handler imports, with what it is in words ("an 835 remittance")."""
        ...

    @property
    def suffix(self) -> str:
        """The file suffix that names the family, e.g. ".835" (said when a file's name contradicts it)."""
        ...

    def apply(
        self, session: Session, segments: Iterator[Segment], item: TransactionReport, context: TransactionContext
    ) -> None:
        """Read the transaction, write what it means, fill `item`. Raise an `AssistantError` (a
        `SegmentError` with the position) to refuse the whole transaction: the importer rolls it back."""
        ...


@runtime_checkable
class ChunkedHandler(TransactionHandler, Protocol):
    """A handler whose large transactions post in committed chunks, so the write lock is never held for
    the whole file. The importer reads such a transaction through once before writing anything (outside
    any write transaction), so a bad segment in the middle refuses it whole, then applies it with
    `context.chunked` set."""

    def posts_in_chunks(self, info: TransactionInfo) -> bool:
        """Whether this transaction is large enough to post in chunks."""
        ...

    def read_through(self, segments: Iterator[Segment]) -> None:
        """Read every segment as `apply` would, writing nothing; SegmentError for the first bad one."""
        ...


class HandlerRegistry:
    """The handlers of an import, by the kinds they take (each kind by one handler)."""

    def __init__(self, handlers: Iterable[TransactionHandler]) -> None:
        self.handlers = tuple(handlers)
        self._by_kind: dict[str, TransactionHandler] = {}
        for handler in self.handlers:
            for kind in handler.kinds:
                if kind in self._by_kind:
                    raise ValueError(f"two handlers import {kind} transactions")
                self._by_kind[kind] = handler

    def for_kind(self, kind: str) -> TransactionHandler | None:
        return self._by_kind.get(kind)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._by_kind)

    def describe(self, kind: str) -> str | None:
        handler = self._by_kind.get(kind)
        return handler.kinds[kind] if handler else None

    def suffix(self, kind: str) -> str | None:
        handler = self._by_kind.get(kind)
        return handler.suffix if handler else None


def posting_step(path: Path, info: TransactionInfo) -> str:
    """The progress label of a chunked 835."""
    return f"Posting {path.name} (ST {info.control_number})"


class RemittanceHandler:
    """835 remittances: payments and adjustments posted to the claims' ledgers (`posting`)."""

    kinds: ClassVar[Mapping[str, str]] = {"835": "an 835 remittance"}
    suffix: ClassVar[str] = ".835"

    def __init__(self, *, read: Callable[[Iterable[Segment]], Iterator[RemittanceItem]] = read_835) -> None:
        self.read = read  # one reader for the read-through and the posting, so both read the same records

    def posts_in_chunks(self, info: TransactionInfo) -> bool:
        return info.claim_count > BATCH_SIZE

    def read_through(self, segments: Iterator[Segment]) -> None:
        for _ in self.read(segments):
            pass

    def apply(
        self, session: Session, segments: Iterator[Segment], item: TransactionReport, context: TransactionContext
    ) -> None:
        info, progress = context.info, context.progress

        def on_batch(done: int) -> None:
            if progress:
                progress(posting_step(context.path, info), done, info.claim_count)

        poster = RemittancePoster(
            session,
            practice_id=context.practice_id,
            source_file=str(context.path),
            control_number=info.control_number,
            transaction_problem=info.balance_problem(),
            user_id=context.user_id,
            release_memory=context.owned,
            content_hash=info.content_hash,
            commit=session.commit if context.chunked else None,
            on_batch=on_batch,
        )
        for record in self.read(segments):
            if isinstance(record, RemittanceHeader):
                poster.start(record)
            elif isinstance(record, ClaimPayment):
                poster.add_claim(record)
            elif isinstance(record, ProviderAdjustmentItem):
                poster.add_provider_adjustment(record)
        stats = poster.finish()
        item.claims_posted = stats.posted
        item.exceptions = stats.exceptions
        item.paid_posted = stats.paid_posted
        item.adjustments_posted = stats.adjustments_posted
        item.provider_adjustments = stats.provider_adjustments
        item.remittance_id = stats.remittance_id
        item.messages.extend(stats.reasons)
        item.warnings.extend(stats.warnings)


class ClaimHandler:
    """837P/837I claims the practice sent: patients, payers, coverage, claims and their charges."""

    kinds: ClassVar[Mapping[str, str]] = {
        "837P": "an 837P professional claim",
        "837I": "an 837I institutional claim",
    }
    suffix: ClassVar[str] = ".837"

    def apply(
        self, session: Session, segments: Iterator[Segment], item: TransactionReport, context: TransactionContext
    ) -> None:
        for sent in read_837(segments, claim_type=context.info.kind[-1]):
            saved = save_claim(session, practice_id=context.practice_id, sent=sent, source=context.path.name)
            item.claims_in_file += 1
            if saved.created:
                item.claims_created += 1
            else:
                item.claims_updated += 1
            if saved.note:
                item.messages.append(saved.note)
            context.claim_ids.append(saved.claim_id)


class ClaimStatusHandler:
    """277 claim status responses and 277CA claim acknowledgements: a status event per claim (`load277`)."""

    kinds: ClassVar[Mapping[str, str]] = {
        "277": "a 277 claim status",
        "277CA": "a 277CA claim acknowledgement",
    }
    suffix: ClassVar[str] = ".277"

    def apply(
        self, session: Session, segments: Iterator[Segment], item: TransactionReport, context: TransactionContext
    ) -> None:
        source = "277CA" if context.info.kind == "277CA" else "277"
        path = context.path
        for status_report in read_277(segments):
            item.claims_in_file += 1
            claim = find_claim(
                session, practice_id=context.practice_id, report=status_report, is_277ca=source == "277CA"
            )
            if claim is None:
                codes = ", ".join(f"{s.category}:{s.code}" for s in status_report.statuses)
                where = status_report.segment.position if status_report.segment else ""
                reason = (
                    f"{source} status {codes or '(none)'} for claim "
                    f"{status_report.patient_control_number or status_report.trace!r} "
                    f"(payer claim number {status_report.payer_claim_number or 'none'}) matches no claim "
                    f"of the practice ({where})"
                )
                session.add(
                    WorkException(
                        practice_id=context.practice_id,
                        kind="unmatched_status",
                        reason=reason,
                        source_file=str(path)[-300:],
                        position=where[:100] or None,
                    )
                )
                item.exceptions += 1
                item.messages.append(reason)
                continue
            item.status_events += apply_statuses(session, claim=claim, report=status_report, source=source)


class AcknowledgmentHandler:
    """999 implementation acknowledgments of the 837s the practice sent (`load999`): a rejected 837
    transaction becomes a `rejected` status event on each of its claims, with the reason in words."""

    kinds: ClassVar[Mapping[str, str]] = {"999": "a 999 implementation acknowledgment"}
    suffix: ClassVar[str] = ".999"

    def apply(
        self, session: Session, segments: Iterator[Segment], item: TransactionReport, context: TransactionContext
    ) -> None:
        ack = read_999(segments)
        info = context.info
        effective = _date(info.group_date) or dt.date.today()
        for transaction in ack.transactions:
            self._apply_transaction(session, transaction, item, context, group=ack.group_control_number, day=effective)
        if not ack.transactions and ack.group_rejected:
            self._apply_group_rejection(session, ack, item, context, effective)
        elif ack.group_code == "E" or ack.group_code == "P":
            item.messages.append(
                f"AK9: the functional group {ack.group_control_number} was {GROUP_ACK[ack.group_code]} "
                f"({ack.sets_accepted or '?'} of {ack.sets_received or '?'} transaction sets accepted)"
            )

    def _apply_transaction(
        self,
        session: Session,
        transaction: TransactionAck,
        item: TransactionReport,
        context: TransactionContext,
        *,
        group: str,
        day: dt.date,
    ) -> None:
        reason = transaction.reason()
        where = transaction.segment.position
        if transaction.set_id != "837":
            if transaction.rejected:
                text = f"{reason} (group {group}): not a claim file the practice imports; send it again corrected"
                self._unmatched(session, text, item, context, transaction.segment)
            else:
                item.messages.append(f"{reason} (group {group})")
            return
        found = find_acknowledged(
            session,
            practice_id=context.practice_id,
            group_control_number=group,
            control_number=transaction.control_number,
            sender_id=context.info.sender_id,
            convention=transaction.convention,
        )
        if found is None:
            text = (
                f"{reason} (group {group}, {where}): matches no 837 the practice imported "
                "(import the 837 first, then this 999 again)"
            )
            self._unmatched(session, text, item, context, transaction.segment)
            return
        (sent,) = found.transactions
        if found.candidates > 1:
            item.warnings.append(
                f"{where}: {found.candidates} imported 837s carry group {group} and transaction set "
                f"{transaction.control_number}; taken as the latest sent to this 999's sender: "
                f"{Path(sent.file_name).name} (imported {sent.imported_at:%Y-%m-%d %H:%M})"
            )
        if transaction.code == "E":
            item.warnings.append(f"{where}: {reason}")
        if not transaction.rejected:
            item.messages.append(f"{reason} ({Path(sent.file_name).name}): nothing recorded on its claims")
            return
        note = transaction.reason(limit=NOTE_LIMIT)
        self._reject(
            session, sent, reason=reason, note=note, code=transaction.code, item=item, context=context, day=day
        )

    def _apply_group_rejection(
        self, session: Session, ack: Acknowledgment, item: TransactionReport, context: TransactionContext, day: dt.date
    ) -> None:
        """AK9 rejects the whole group without an AK2 per transaction set: every 837 of the group is rejected."""
        group, reason = ack.group_control_number, ack.group_reason()
        found = find_acknowledged(
            session,
            practice_id=context.practice_id,
            group_control_number=group,
            control_number=None,
            sender_id=context.info.sender_id,
        )
        if found is None:
            text = f"{reason}: matches no 837 the practice imported (import the 837 first, then this 999 again)"
            self._unmatched(session, text, item, context, None)
            return
        if found.candidates > 1:
            item.warnings.append(
                f"{found.candidates} imported 837 files carry group {group}; taken as the latest sent to this "
                f"999's sender: {Path(found.transactions[0].file_name).name}"
            )
        for sent in found.transactions:
            note = reason[:NOTE_LIMIT]
            self._reject(
                session, sent, reason=reason, note=note, code=ack.group_code, item=item, context=context, day=day
            )

    def _reject(
        self,
        session: Session,
        sent: X12File,
        *,
        reason: str,
        note: str,
        code: str,
        item: TransactionReport,
        context: TransactionContext,
        day: dt.date,
    ) -> None:
        """Record the rejection of one imported 837 transaction on each of its claims."""
        claims = claims_of(session, practice_id=context.practice_id, x12_file=sent)
        kept = [
            claim.claim_number
            for claim in claims
            if not record_rejection(session, claim=claim, x12_file=sent, note=note, code=code, effective=day)
        ]
        item.status_events += len(claims)
        numbers = ", ".join(c.claim_number for c in claims) or "none linked"
        message = f"{reason} ({Path(sent.file_name).name}): claims {numbers} marked rejected"
        if kept:
            message += f" (the status of {', '.join(kept)} is kept: settled by an 835, or re-sent since)"
        item.messages.append(message)

    def _unmatched(
        self,
        session: Session,
        reason: str,
        item: TransactionReport,
        context: TransactionContext,
        segment: Segment | None,
    ) -> None:
        record_unmatched(
            session, practice_id=context.practice_id, reason=reason, source_file=str(context.path), segment=segment
        )
        item.exceptions += 1
        item.messages.append(reason)


def _date(text: str) -> dt.date | None:
    """GS04 (CCYYMMDD) as a date, or None when it is not one (the envelope pass read it liberally)."""
    text = text.strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
