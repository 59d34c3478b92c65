"""Importing X12 files: one database transaction per ST..SE, and a report of what each file did.

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
through once before anything is written (`_read_through_first`, outside any write transaction), so a
malformed segment in the middle refuses the transaction whole rather than after half of it posted; a
process that dies part-way leaves the remittance `importing`, and importing the file again resumes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from knowledge.errors import AssistantError, FileFormatError
from knowledge.practice.database import READ_ONLY_OPTION
from knowledge.practice.leases import current_owner
from knowledge.practice.models import Remittance, WorkException, X12File
from knowledge.progress import Progress
from knowledge.x12.envelope import TransactionInfo, scan
from knowledge.x12.load277 import apply_statuses, find_claim, read_277
from knowledge.x12.load837 import read_837, save_claim
from knowledge.x12.parse835 import ClaimPayment, ProviderAdjustmentItem, RemittanceHeader, read_835
from knowledge.x12.posting import BATCH_SIZE, IMPORTING, RemittancePoster, ResentRemittance
from knowledge.x12.segments import iter_segments
from knowledge.x12.values import ZERO, SegmentError

log = logging.getLogger("billing_assistant.x12")

SUPPORTED = {"835", "837P", "837I", "277", "277CA"}
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
DESCRIPTIONS = {
    "835": "an 835 remittance",
    "837P": "an 837P professional claim",
    "837I": "an 837I institutional claim",
    "277": "a 277 claim status",
    "277CA": "a 277CA claim acknowledgement",
    "276": "a 276 claim status request",
}


class TransactionReport(BaseModel):
    """What one ST..SE did (or, in a dry run, would do)."""

    control_number: str
    transaction_type: str
    version: str
    segments: int
    status: Literal["imported", "already_imported", "skipped", "error"]
    content_hash: str
    claims_in_file: int = 0
    claims_created: int = 0
    claims_updated: int = 0
    status_events: int = 0
    claims_posted: int = 0
    exceptions: int = 0
    total_paid: Decimal | None = None
    paid_posted: Decimal = ZERO
    adjustments_posted: Decimal = ZERO
    provider_adjustments: Decimal = ZERO
    remittance_id: int | None = None
    messages: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="What was wrong but read anyway (SE01/SE02), each with its position."
    )


class FileReport(BaseModel):
    path: str
    transactions: list[TransactionReport] = Field(default_factory=list)
    error: str | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="Envelope problems read anyway (GE/IEA counts, a synthesised ISA/GS), each with its position.",
    )


class ImportReport(BaseModel):
    """Per file and per transaction: what was imported, posted, skipped, or refused and why."""

    dry_run: bool
    files: list[FileReport] = Field(default_factory=list)
    job_id: int | None = Field(
        default=None, description="Set when the import was queued as a background job instead (a large file)."
    )
    note: str | None = Field(default=None, description="What happened, in words, when the report is not the import.")

    @property
    def errors(self) -> list[str]:
        found = [f"{f.path}: {f.error}" for f in self.files if f.error]
        for file in self.files:
            found += [
                f"{file.path}: ST {t.control_number}: {m}"
                for t in file.transactions
                if t.status == "error"
                for m in t.messages
            ]
        return found

    @property
    def warnings(self) -> list[str]:
        found = [f"{f.path}: {w}" for f in self.files for w in f.warnings]
        for file in self.files:
            found += [f"{file.path}: ST {t.control_number}: {w}" for t in file.transactions for w in t.warnings]
        return found

    def count(self, status: str) -> int:
        return sum(1 for f in self.files for t in f.transactions if t.status == status)

    @property
    def claims_posted(self) -> int:
        return sum(t.claims_posted for f in self.files for t in f.transactions)

    @property
    def exceptions(self) -> int:
        return sum(t.exceptions for f in self.files for t in f.transactions)


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
) -> ImportReport:
    """Import X12 files (835, 837P/I, 277/277CA) into a practice; see the module docstring."""
    report = ImportReport(dry_run=dry_run)
    files = expand_paths(paths)
    for done, path in enumerate(files):
        if progress:
            progress("Importing X12 files", done, len(files))
        report.files.append(
            _import_file(
                sessions, practice_id=practice_id, path=path, dry_run=dry_run, user_id=user_id, progress=progress
            )
        )
    if progress:
        progress("Importing X12 files", len(files), len(files))
    return report


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
        misnamed = _misnamed(path, info)
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
        if info.kind not in SUPPORTED:
            item.status = "skipped"
            item.messages.append(f"{info.kind} transactions ({info.version}) are not imported")
            continue
        try:
            if chunked and info.kind == "835" and info.claim_count > BATCH_SIZE:
                assert not isinstance(sessions, Session)
                _read_through_first(sessions, practice_id=practice_id, path=path, info=info)
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
                _run_transaction(
                    session,
                    item,
                    info,
                    practice_id=practice_id,
                    path=path,
                    user_id=user_id,
                    owned=owned,
                    chunked=chunked,
                    progress=progress,
                )
                session.add(
                    X12File(
                        practice_id=practice_id,
                        content_hash=info.content_hash,
                        file_name=str(path)[-300:],
                        transaction_type=info.kind,
                        control_number=info.control_number[:20],
                        summary=item.model_dump(mode="json", exclude={"messages"}),
                    )
                )
                session.flush()
            if progress and chunked and info.kind == "835" and info.claim_count > BATCH_SIZE:
                progress(_posting_step(path, info), info.claim_count, info.claim_count)  # committed
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


def _run_transaction(
    session: Session,
    item: TransactionReport,
    info: TransactionInfo,
    *,
    practice_id: int,
    path: Path,
    user_id: int | None,
    owned: bool,
    chunked: bool = False,
    progress: Progress | None = None,
) -> None:
    def segments() -> Iterator[object]:
        return iter_segments(
            path, start=info.start, end=info.end, first_number=info.first_number, delimiters=info.delimiters
        )

    try:
        if info.kind == "835":
            chunked = chunked and info.claim_count > BATCH_SIZE  # read through first (`_read_through_first`)
            _run_835(
                session,
                item,
                info,
                segments(),
                practice_id=practice_id,
                path=path,
                user_id=user_id,
                owned=owned,
                chunked=chunked,
                progress=progress,
            )
        elif info.kind in ("837P", "837I"):
            for sent in read_837(segments(), claim_type=info.kind[-1]):  # type: ignore[arg-type]
                saved = save_claim(session, practice_id=practice_id, sent=sent, source=path.name)
                item.claims_in_file += 1
                if saved.created:
                    item.claims_created += 1
                else:
                    item.claims_updated += 1
                if saved.note:
                    item.messages.append(saved.note)
        else:
            source = "277CA" if info.kind == "277CA" else "277"
            for status_report in read_277(segments()):  # type: ignore[arg-type]
                item.claims_in_file += 1
                claim = find_claim(session, practice_id=practice_id, report=status_report, is_277ca=source == "277CA")
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
                            practice_id=practice_id,
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
    except SegmentError as exc:
        raise SegmentError(exc.detail, exc.segment) from None
    except FileFormatError as exc:
        raise FileFormatError(exc.message, path=None) from None


def _read_through_first(
    sessions: sessionmaker[Session], *, practice_id: int, path: Path, info: TransactionInfo
) -> None:
    """Read an 835 that will post in chunks through once before anything is written, so a bad segment in
    the middle refuses it before any chunk commits (a transaction imported before is not read: the import
    reports it as such). Outside the transaction that posts it: on SQLite that transaction takes the write
    lock as it begins, and a read-through inside it kept every other writer waiting for the whole file."""
    read_only: dict[str, Any] = {READ_ONLY_OPTION: True}  # SQLite: begun without taking the write lock
    with sessions() as session:
        session.connection(execution_options=read_only)
        seen = session.scalar(
            select(X12File.id).where(X12File.practice_id == practice_id, X12File.content_hash == info.content_hash)
        )
    if seen is not None:
        return
    segments = iter_segments(
        path, start=info.start, end=info.end, first_number=info.first_number, delimiters=info.delimiters
    )
    try:
        for _ in read_835(segments):
            pass
    except SegmentError as exc:
        raise SegmentError(exc.detail, exc.segment) from None
    except FileFormatError as exc:
        raise FileFormatError(exc.message, path=None) from None


def _posting_step(path: Path, info: TransactionInfo) -> str:
    return f"Posting {path.name} (ST {info.control_number})"


def _misnamed(path: Path, info: TransactionInfo) -> str | None:
    """Why the file's name contradicts the transaction it holds, or None (the content decides the type)."""
    named = NAMED_KINDS.get(path.suffix.lower())
    if named is None or info.kind in named:
        return None
    said = sorted(named)[0]
    holds = DESCRIPTIONS.get(info.kind, f"a {info.kind} transaction")
    message = (
        f"{info.position}: the file {path.name} is named as {DESCRIPTIONS.get(said, 'a ' + said + ' file')} "
        f"but ST01 says it holds {holds} ({info.version or 'no version'})"
    )
    if said == "835":
        message += ", not a remittance"
    return message + f": nothing imported. Rename it to {_suffix_for(info.kind)} to import it as what it is."


def _suffix_for(kind: str) -> str:
    return {"835": ".835", "837P": ".837", "837I": ".837", "277": ".277", "277CA": ".277"}.get(kind, ".x12")


def _run_835(
    session: Session,
    item: TransactionReport,
    info: TransactionInfo,
    segments: Iterator[object],
    *,
    practice_id: int,
    path: Path,
    user_id: int | None,
    owned: bool,
    chunked: bool = False,
    progress: Progress | None = None,
) -> None:
    def on_batch(done: int) -> None:
        if progress:
            progress(_posting_step(path, info), done, info.claim_count)

    poster = RemittancePoster(
        session,
        practice_id=practice_id,
        source_file=str(path),
        control_number=info.control_number,
        transaction_problem=info.balance_problem(),
        user_id=user_id,
        release_memory=owned,
        content_hash=info.content_hash,
        commit=session.commit if chunked else None,
        on_batch=on_batch,
    )
    for record in read_835(segments):  # type: ignore[arg-type]
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
