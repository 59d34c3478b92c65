"""Importing X12 files: one database transaction per ST..SE, and a report of what each file did.

What a transaction means is its handler's (`handlers`: 835 remittances, 837 claims, 277/277CA statuses,
999 acknowledgments); this module does what every transaction shares.

The first pass (`envelope.scan`) reads the whole file's envelopes before anything is written, so a
truncated file posts nothing; what is wrong with the envelopes but readable (a wrong SE01, GE01 or IEA02,
a missing ISA/GS) is a warning in the report. The transaction type is read from the content (ST01, GS08),
never from the file name; a file whose name says another type (an 837 saved as `era-nov.835`) is refused
rather than imported as what it holds, since the person asked for what the name says.

Each transaction then runs in its own database transaction: with a `sessionmaker`, a fresh session per
ST..SE (committed, or rolled back on failure); with a caller's `Session`, a SAVEPOINT per ST..SE (the
caller commits). A transaction whose content hash was imported before is skipped and reported as such,
and so is a re-sent ERA (the same payer and claim payments under a new ST02 or TRN02,
`posting.ResentRemittance`): a second import posts nothing.

An 835 larger than one batch, imported with a `sessionmaker`, is posted in committed chunks
(`posting.RemittancePoster`), so the write lock is never held for the whole file. Its segments are read
through once before anything is written (`_read_through_first`, outside any write transaction, by the
handler's `ChunkedHandler.read_through`), so a malformed segment in the middle refuses the transaction
whole rather than after half of it posted; a process that dies part-way leaves the remittance
`importing`, and importing the file again resumes it.

Each 837 transaction's `X12File` row is linked to the claims it held (`X12ImportClaim`), so that a 999
acknowledging that transaction (by GS06 and ST02, which the row keeps) finds them.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from knowledge.errors import AssistantError, FileFormatError
from knowledge.practice.database import READ_ONLY_OPTION
from knowledge.practice.leases import current_owner
from knowledge.practice.models import Remittance, WorkException, X12File, X12ImportClaim
from knowledge.progress import Progress
from knowledge.x12.envelope import TransactionInfo, scan
from knowledge.x12.handlers import (
    AcknowledgmentHandler,
    ChunkedHandler,
    ClaimHandler,
    ClaimStatusHandler,
    HandlerRegistry,
    RemittanceHandler,
    TransactionContext,
    TransactionHandler,
    posting_step,
)
from knowledge.x12.parse835 import read_835
from knowledge.x12.posting import IMPORTING, ResentRemittance
from knowledge.x12.reports import FileReport, ImportReport, TransactionReport
from knowledge.x12.segments import Segment, iter_segments
from knowledge.x12.values import ZERO, SegmentError

log = logging.getLogger("billing_assistant.x12")

SKIPPED_SUFFIXES = {".md", ".txt", ".json", ".py", ".csv"}
#: File suffixes that name a transaction type, and the types (TransactionInfo.kind) they may hold.
NAMED_KINDS = {
    ".835": {"835"},
    ".era": {"835"},
    ".837": {"837P", "837I"},
    ".837p": {"837P"},
    ".837i": {"837I"},
    ".277": {"277", "277CA"},
    ".277ca": {"277CA"},
    ".276": {"276"},
    ".270": {"270"},
    ".271": {"271"},
    ".999": {"999"},
    ".834": {"834"},
}
#: What the kinds no handler imports are, in words (the handlers describe their own kinds).
DESCRIPTIONS = {"276": "a 276 claim status request"}


__all__ = [
    "DESCRIPTIONS",
    "NAMED_KINDS",
    "SKIPPED_SUFFIXES",
    "FileReport",
    "ImportReport",
    "TransactionReport",
    "default_handlers",
    "expand_paths",
    "import_x12",
]


def default_handlers() -> HandlerRegistry:
    """The transactions a practice imports: 835 remittances, 837 claims, 277/277CA statuses, 999s. Built
    when an import starts; the 835 reader is looked up here then, so that one reader (this module's
    `read_835`, which a test may watch) serves both the read-through and the posting."""
    return HandlerRegistry(
        [RemittanceHandler(read=read_835), ClaimHandler(), ClaimStatusHandler(), AcknowledgmentHandler()]
    )


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and the files under each folder (sorted; hidden and documentation files skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.suffix.lower() not in SKIPPED_SUFFIXES
            )
        else:
            found.append(path)
    return found


def import_x12(
    sessions: sessionmaker[Session] | Session,
    *,
    practice_id: int,
    paths: list[Path],
    dry_run: bool = False,
    user_id: int | None = None,
    progress: Progress | None = None,
    handlers: HandlerRegistry | None = None,
) -> ImportReport:
    """Import X12 files (835, 837P/I, 277/277CA, 999) into a practice; see the module docstring.
    `handlers` defaults to `handlers.default_handlers()`."""
    registry = handlers or default_handlers()
    report = ImportReport(dry_run=dry_run)
    files = expand_paths(paths)
    with _collector_skips_older_objects():
        for done, path in enumerate(files):
            if progress:
                progress("Importing X12 files", done, len(files))
            report.files.append(
                _import_file(
                    sessions,
                    registry,
                    practice_id=practice_id,
                    path=path,
                    dry_run=dry_run,
                    user_id=user_id,
                    progress=progress,
                )
            )
    if progress:
        progress("Importing X12 files", len(files), len(files))
    return report


@contextmanager
def _collector_skips_older_objects() -> Iterator[None]:
    """Keep Python's cyclic garbage collector off the objects that existed before the import.

    Posting a large 835 allocates millions of short-lived objects, and the batch in hand survives long
    enough to reach the oldest generation, so CPython runs several full collections per file, each walking
    every object of the process (the application's modules, code sets, caches): 0.5 s of a 3.5 s import of
    10,000 claims in the bare benchmark process, more in a worker that holds the code sets. `gc.freeze`
    (stdlib, O(1)) leaves those older objects out of every collection until `gc.unfreeze`; the import's
    own objects are collected as usual, so memory stays flat. The freeze is process-wide: cyclic garbage
    of older objects waits for the end of the import, and nothing is frozen or unfrozen if something else
    froze objects already (a pre-fork server, or another import running in a thread).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _unit(sessions: sessionmaker[Session] | Session, *, dry_run: bool) -> Iterator[Session]:
    if isinstance(sessions, Session):
        savepoint = sessions.begin_nested()
        try:
            yield sessions
        except BaseException:
            savepoint.rollback()
            raise
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
        return
    session = sessions()
    try:
        yield session
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _import_file(
    sessions: sessionmaker[Session] | Session,
    handlers: HandlerRegistry,
    *,
    practice_id: int,
    path: Path,
    dry_run: bool,
    user_id: int | None,
    progress: Progress | None = None,
) -> FileReport:
    result = FileReport(path=str(path))
    try:
        scanned = scan(path)
    except FileFormatError as exc:
        result.error = exc.message
        if not dry_run:
            _record_exception(
                sessions, practice_id=practice_id, kind="bad_file", reason=exc.message, path=path, position=exc.position
            )
        return result
    transactions = scanned.transactions
    result.warnings = list(scanned.warnings)
    if not transactions:
        result.error = "the file holds no transaction sets (ST..SE)"
    owned = not isinstance(sessions, Session)
    chunked = owned and not dry_run
    for info in transactions:
        item = TransactionReport(
            control_number=info.control_number,
            transaction_type=info.kind,
            version=info.version,
            segments=info.segment_count,
            status="imported",
            content_hash=info.content_hash,
            claims_in_file=info.claim_count,
            total_paid=info.bpr_amount,
            warnings=list(info.notes),
        )
        result.transactions.append(item)
        misnamed = _misnamed(path, info, handlers)
        if misnamed:
            item.status = "error"
            item.messages.append(misnamed)
            if not dry_run:
                _record_exception(
                    sessions,
                    practice_id=practice_id,
                    kind="bad_transaction",
                    reason=f"ST {info.control_number} ({info.kind}) was not imported: {misnamed}",
                    path=path,
                    position=info.position,
                )
            continue
        handler = handlers.for_kind(info.kind)
        if handler is None:
            item.status = "skipped"
            item.messages.append(f"{info.kind} transactions ({info.version}) are not imported")
            continue
        in_chunks = chunked and isinstance(handler, ChunkedHandler) and handler.posts_in_chunks(info)
        try:
            if in_chunks:
                assert not isinstance(sessions, Session) and isinstance(handler, ChunkedHandler)
                _read_through_first(sessions, handler, practice_id=practice_id, path=path, info=info)
            with _unit(sessions, dry_run=dry_run) as session:
                seen = session.scalar(
                    select(X12File).where(X12File.practice_id == practice_id, X12File.content_hash == info.content_hash)
                )
                if seen is not None:
                    item.status = "already_imported"
                    item.messages.append(
                        f"already imported from {seen.file_name} on {seen.imported_at:%Y-%m-%d %H:%M}: nothing posted"
                    )
                    continue
                context = TransactionContext(
                    practice_id=practice_id,
                    path=path,
                    info=info,
                    user_id=user_id,
                    owned=owned,
                    chunked=in_chunks,
                    progress=progress,
                )
                _apply(handler, session, item, context)
                imported = X12File(
                    practice_id=practice_id,
                    content_hash=info.content_hash,
                    file_name=str(path)[-300:],
                    transaction_type=info.kind,
                    control_number=info.control_number[:20],
                    group_control_number=info.group_control_number[:20] or None,
                    receiver_id=info.receiver_id[:80] or None,
                    summary=item.model_dump(mode="json", exclude={"messages"}),
                )
                session.add(imported)
                session.flush()
                session.add_all(
                    X12ImportClaim(x12_import_id=imported.id, claim_id=claim_id)
                    for claim_id in dict.fromkeys(context.claim_ids)
                )
                session.flush()
            if progress and in_chunks:
                progress(posting_step(path, info), info.claim_count, info.claim_count)  # committed
        except ResentRemittance as resent:
            _reset(item)
            item.status = "already_imported"
            item.messages.append(resent.message)
        except AssistantError as exc:
            log.info("x12 transaction refused", extra={"control": info.control_number, "kind": info.kind})
            if chunked:
                _release(sessions, practice_id=practice_id, content_hash=info.content_hash)
            _reset(item)
            item.status = "error"
            item.messages.append(exc.message)
            if not dry_run:
                kind = "duplicate_remittance" if exc.code == "conflict" else "bad_transaction"
                _record_exception(
                    sessions,
                    practice_id=practice_id,
                    kind=kind,
                    reason=f"ST {info.control_number} ({info.kind}) was not imported: {exc.message}",
                    path=path,
                    position=getattr(exc, "position", None),
                )
    return result


def _reset(item: TransactionReport) -> None:
    item.claims_created = item.claims_updated = item.status_events = item.claims_posted = item.exceptions = 0
    item.paid_posted = item.adjustments_posted = item.provider_adjustments = ZERO
    item.remittance_id = None
    item.messages.clear()


def _segments(path: Path, info: TransactionInfo) -> Iterator[Segment]:
    """The transaction's segments, re-read by the byte range the first pass found."""
    return iter_segments(
        path, start=info.start, end=info.end, first_number=info.first_number, delimiters=info.delimiters
    )


def _apply(handler: TransactionHandler, session: Session, item: TransactionReport, context: TransactionContext) -> None:
    """Let the handler apply the transaction; its refusals name the segment, not the file (the report
    already says which file)."""
    try:
        handler.apply(session, _segments(context.path, context.info), item, context)
    except SegmentError as exc:
        raise SegmentError(exc.detail, exc.segment) from None
    except FileFormatError as exc:
        raise FileFormatError(exc.message, path=None) from None


def _read_through_first(
    sessions: sessionmaker[Session], handler: ChunkedHandler, *, practice_id: int, path: Path, info: TransactionInfo
) -> None:
    """Read a transaction that will post in chunks through once before anything is written, so a bad
    segment in the middle refuses it before any chunk commits (a transaction imported before is not read:
    the import reports it as such). Outside the transaction that posts it: on SQLite that transaction
    takes the write lock as it begins, and a read-through inside it kept every other writer waiting for
    the whole file."""
    read_only: dict[str, Any] = {READ_ONLY_OPTION: True}  # SQLite: begun without taking the write lock
    with sessions() as session:
        session.connection(execution_options=read_only)
        seen = session.scalar(
            select(X12File.id).where(X12File.practice_id == practice_id, X12File.content_hash == info.content_hash)
        )
    if seen is not None:
        return
    try:
        handler.read_through(_segments(path, info))
    except SegmentError as exc:
        raise SegmentError(exc.detail, exc.segment) from None
    except FileFormatError as exc:
        raise FileFormatError(exc.message, path=None) from None


def _misnamed(path: Path, info: TransactionInfo, handlers: HandlerRegistry) -> str | None:
    """Why the file's name contradicts the transaction it holds, or None (the content decides the type)."""
    named = NAMED_KINDS.get(path.suffix.lower())
    if named is None or info.kind in named:
        return None
    said = sorted(named)[0]

    def describe(kind: str) -> str | None:
        return handlers.describe(kind) or DESCRIPTIONS.get(kind)

    holds = describe(info.kind) or f"a {info.kind} transaction"
    message = (
        f"{info.position}: the file {path.name} is named as {describe(said) or 'a ' + said + ' file'} "
        f"but ST01 says it holds {holds} ({info.version or 'no version'})"
    )
    if said == "835":
        message += ", not a remittance"
    suffix = handlers.suffix(info.kind) or ".x12"
    return message + f": nothing imported. Rename it to {suffix} to import it as what it is."


def _release(sessions: sessionmaker[Session] | Session, *, practice_id: int, content_hash: str) -> None:
    """Give up the lease of a chunked import that was refused part-way, so that any process may resume it
    (the chunks already committed stay posted; the remittance stays `importing` until it is finished)."""
    with _unit(sessions, dry_run=False) as session:
        session.execute(
            update(Remittance)
            .where(
                Remittance.practice_id == practice_id,
                Remittance.content_hash == content_hash,
                Remittance.status == IMPORTING,
                Remittance.import_owner == current_owner(),  # never another importer's lease
            )
            .values(import_owner=None)
        )


def _record_exception(
    sessions: sessionmaker[Session] | Session,
    *,
    practice_id: int,
    kind: str,
    reason: str,
    path: Path,
    position: str | None = None,
) -> None:
    """Queue a refused file or transaction for a person (once: the same refusal is not queued twice)."""
    with _unit(sessions, dry_run=False) as session:
        already = session.scalar(
            select(WorkException.id).where(
                WorkException.practice_id == practice_id,
                WorkException.kind == kind,
                WorkException.status == "open",
                WorkException.reason == reason,
            )
        )
        if already is None:
            session.add(
                WorkException(
                    practice_id=practice_id,
                    kind=kind,
                    reason=reason,
                    source_file=str(path)[-300:],
                    position=(position or "")[:100] or None,
                )
            )
