"""Import jobs: large X12 imports queued, run by one worker at a time (SQLite) or several (PostgreSQL).

`submit` writes a queued `ImportJob`; `claim` hands the oldest (or a given) queued job to this process;
`run` imports its files with progress written to the job row; `work` is the worker's loop. The CLI
claims its own job and runs it in the foreground with a progress bar (it waits its turn behind a running
job instead of failing with "database is locked"); the web server's worker process (`billing-assistant
worker`, started by `serve`) runs the jobs chat and the web submit. A job whose worker died (`kill -9`,
a restart) is queued again and resumes: the posting itself resumes after its last committed chunk
(`knowledge.x12.posting`), so nothing is posted twice.

Why by hand and not a task queue (Celery, RQ, Dramatiq): those need a broker (Redis, RabbitMQ) that an
office running this next to SQLite does not have, and the job's state belongs next to the ledger it
writes, in the same database and the same per-practice scoping. The queue is a table, claimed with the
database's own locking: SQLite's write lock, PostgreSQL's `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, computed_field
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from knowledge.errors import AssistantError, InvalidInput, NotFound
from knowledge.practice.database import session_scope
from knowledge.practice.leases import current_owner, holder_alive
from knowledge.practice.models import ImportJob
from knowledge.progress import Progress
from knowledge.x12.importer import ImportReport, import_x12

log = logging.getLogger("billing_assistant.jobs")

STATUSES = ("queued", "running", "done", "failed")
#: Progress is written to the job row at most this often (each write is a short transaction).
PROGRESS_EVERY = 0.5


class JobView(BaseModel):
    """A job as the CLI, the API and the chat show it."""

    id: int
    status: str
    label: str
    step: str
    done: int
    total: int
    percent: int | None
    waiting_behind: int
    error: str | None
    report: dict[str, Any] | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @computed_field(description="One line for a progress display (the web chat shows it while the job runs).")
    def progress_line(self) -> str:
        return self.line()

    def line(self) -> str:
        """One line for a progress display: 'Import of era.835: posting 5,000 of 10,000 claims (50%)'."""
        if self.status == "queued":
            behind = f" behind {self.waiting_behind} other import(s)" if self.waiting_behind else ""
            return f"Import job {self.id} ({self.label}) is queued{behind}."
        if self.status == "running":
            step = self.step or "starting"
            counted = f": {self.done:,} of {self.total:,}" if self.total else ""
            share = f" ({self.percent}%)" if self.percent is not None else ""
            return f"Import job {self.id} ({self.label}) is running, {step}{counted}{share}."
        if self.status == "failed":
            return f"Import job {self.id} ({self.label}) failed: {self.error or 'no reason recorded'}."
        transactions = [t for f in (self.report or {}).get("files") or [] for t in f.get("transactions") or []]
        posted = sum(int(t.get("claims_posted") or 0) for t in transactions)
        exceptions = sum(int(t.get("exceptions") or 0) for t in transactions)
        refused = sum(1 for t in transactions if t.get("status") == "error")
        counts = f": {posted:,} claim(s) posted, {exceptions:,} to the exceptions queue" if transactions else ""
        refusals = f", {refused} transaction(s) refused" if refused else ""
        return f"Import job {self.id} ({self.label}) is done{counts}{refusals}."


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def submit(session: Session, *, practice_id: int, paths: list[Path], user_id: int | None = None) -> ImportJob:
    """Queue an import of `paths` (files or folders that exist) for the practice; the caller commits.
    (A dry run is not a job: it writes nothing, so it need not wait its turn; run `import_x12` directly.)"""
    if not paths:
        raise InvalidInput("give at least one X12 file or folder to import")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise NotFound(f"no such file or folder: {', '.join(missing[:3])}")
    label = ", ".join(p.name for p in paths)
    job = ImportJob(
        practice_id=practice_id,
        created_by_user_id=user_id,
        paths=[str(p.resolve()) for p in paths],
        label=label[:297] + "..." if len(label) > 300 else label,
        status="queued",
        progress_text="",
        progress_done=0,
        progress_total=0,
    )
    session.add(job)
    session.flush()
    return job


def view(session: Session, job: ImportJob) -> JobView:
    waiting = 0
    if job.status == "queued":
        waiting = (
            session.scalar(
                select(func.count(ImportJob.id)).where(
                    ImportJob.status.in_(("queued", "running")), ImportJob.id < job.id
                )
            )
            or 0
        )
    percent = min(100, round(100 * job.progress_done / job.progress_total)) if job.progress_total else None
    return JobView(
        id=job.id,
        status=job.status,
        label=job.label,
        step=job.progress_text,
        done=job.progress_done,
        total=job.progress_total,
        percent=100 if job.status == "done" else percent,
        waiting_behind=waiting,
        error=job.error,
        report=job.report,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def get_job(session: Session, *, practice_id: int, job_id: int) -> JobView:
    """A job of the practice (another practice's job is 'not found', like any of its records)."""
    job = session.get(ImportJob, job_id)
    if job is None or job.practice_id != practice_id:
        raise NotFound(f"no import job {job_id}")
    return view(session, job)


def list_jobs(session: Session, *, practice_id: int, limit: int = 20) -> list[JobView]:
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200")
    jobs = session.scalars(
        select(ImportJob).where(ImportJob.practice_id == practice_id).order_by(ImportJob.id.desc()).limit(limit)
    ).all()
    return [view(session, job) for job in jobs]


def _requeue_orphans(session: Session) -> None:
    """Jobs left `running` by a worker that died go back to the queue (their import resumes)."""
    for job in session.scalars(select(ImportJob).where(ImportJob.status == "running")).all():
        if not holder_alive(job.owner, job.heartbeat):
            log.warning("import job %s lost its worker; queued again", job.id)
            job.status, job.owner = "queued", None


def claim(sessions: sessionmaker[Session], *, job_id: int | None = None) -> int | None:
    """Take a queued job for this process (the given one, else the oldest): its id, or None when there is
    none or it must wait. On SQLite only one job runs at a time in the whole database (the import's chunks
    and a second import's would queue on the one write lock anyway); on PostgreSQL several run at once,
    each claimed with FOR UPDATE SKIP LOCKED, but never two over the same files."""
    with session_scope(sessions) as session:
        _requeue_orphans(session)
        session.flush()
        running = session.scalars(select(ImportJob).where(ImportJob.status == "running")).all()
        postgres = session.get_bind().dialect.name == "postgresql"
        if running and not postgres:
            return None
        query = select(ImportJob).where(ImportJob.status == "queued").order_by(ImportJob.id)
        if job_id is not None:
            query = query.where(ImportJob.id == job_id)
            earlier = session.scalar(
                select(func.count(ImportJob.id)).where(ImportJob.status == "queued", ImportJob.id < job_id)
            )
            if earlier and not postgres:  # first come, first served
                return None
        busy = {path for job in running for path in job.paths}
        for job in session.scalars(query.with_for_update(skip_locked=True).limit(20)).all():
            if busy & set(job.paths):
                continue
            job.status, job.owner, job.heartbeat = "running", current_owner(), _now()
            job.started_at = job.started_at or _now()
            return job.id
        return None


def run(sessions: sessionmaker[Session], job_id: int, *, progress: Progress | None = None) -> ImportReport | None:
    """Import a job this process claimed; progress goes to the job row (and to `progress`, if given).
    Returns the report, or None when the import failed (the job says why)."""
    with session_scope(sessions) as session:
        job = session.get(ImportJob, job_id)
        if job is None or job.status != "running" or job.owner != current_owner():
            raise InvalidInput(f"import job {job_id} is not claimed by this process")
        practice_id, paths, user_id = job.practice_id, job.paths, job.created_by_user_id
    last = 0.0

    def report_progress(what: str, done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or done >= total:
            last = now
            with session_scope(sessions) as session:
                session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id)
                    .values(progress_text=what[:200], progress_done=done, progress_total=total, heartbeat=_now())
                )
        if progress:
            progress(what, done, total)

    try:
        report = import_x12(
            sessions,
            practice_id=practice_id,
            paths=[Path(p) for p in paths],
            user_id=user_id,
            progress=report_progress,
        )
    except Exception as exc:  # the job records the failure; the worker goes on with the next job
        if isinstance(exc, AssistantError):
            message = exc.message
        else:  # a bug or a lost database: the traceback goes to the log (it names no patient), not the job
            log.exception("import job %s failed", job_id)
            message = f"{type(exc).__name__}: the import stopped; import the file again to resume it"
        _finish(sessions, job_id, status="failed", error=message, report=None)
        return None
    errors = report.errors
    _finish(
        sessions,
        job_id,
        status="failed" if errors else "done",
        error=f"{errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "") if errors else None,
        report=report.model_dump(mode="json"),
    )
    return report


def _finish(
    sessions: sessionmaker[Session], job_id: int, *, status: str, error: str | None, report: dict[str, Any] | None
) -> None:
    with session_scope(sessions) as session:
        job = session.get(ImportJob, job_id)
        if job is None:
            return
        job.status, job.error, job.report, job.owner = status, (error or None) and error[:2000], report, None
        job.finished_at = _now()
        if status == "done" and job.progress_total:
            job.progress_done = job.progress_total


def cancel(sessions: sessionmaker[Session], job_id: int) -> bool:
    """Withdraw a job that has not started (True), e.g. the CLI interrupted while it waited its turn."""
    with session_scope(sessions) as session:
        done = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status == "queued")
            .values(status="failed", error="cancelled before it started", finished_at=_now())
        )
        return bool(getattr(done, "rowcount", 0))


def run_when_free(
    sessions: sessionmaker[Session],
    job_id: int,
    *,
    progress: Progress | None = None,
    waiting: Callable[[JobView], None] | None = None,
    poll: float = 0.5,
) -> ImportReport | None:
    """Claim this job as soon as it is its turn, then run it here (the CLI's foreground import)."""
    while claim(sessions, job_id=job_id) is None:
        with session_scope(sessions) as session:
            job = session.get(ImportJob, job_id)
            if job is None:
                raise NotFound(f"no import job {job_id}")
            current = view(session, job)  # queued behind another, or a worker took it: follow it
        if current.finished:
            return ImportReport.model_validate(current.report) if current.report else None
        if waiting:
            waiting(current)
        time.sleep(poll)
    return run(sessions, job_id, progress=progress)


def work(sessions: sessionmaker[Session], *, stop: threading.Event, poll: float = 1.0, once: bool = False) -> int:
    """The worker's loop: run queued jobs until `stop` is set (or, with `once`, until none is left).
    Returns how many jobs it ran."""
    ran = 0
    while not stop.is_set():
        job_id = claim(sessions)
        if job_id is None:
            if once:
                return ran
            stop.wait(poll)
            continue
        log.info("import job %s started", job_id)
        run(sessions, job_id)
        ran += 1
        log.info("import job %s finished", job_id)
    return ran
