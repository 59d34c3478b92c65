"""Import jobs: queued, claimed one at a time on SQLite (several on PostgreSQL), progress on the row, a job
whose worker died taken up again, and two CLI imports of one large file at once: the second waits its turn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from knowledge.errors import NotFound
from knowledge.practice.database import make_engine, make_session_factory, session_scope, upgrade
from knowledge.practice.leases import current_owner
from knowledge.practice.models import ImportJob, LedgerEntry, LedgerKind, Practice, Remittance
from knowledge.x12 import jobs
from knowledge.x12.generator import seed_synthetic_claims, write_synthetic_835
from knowledge.x12.posting import BATCH_SIZE
from tests.knowledge.x12.helpers import new_practice, totals_by_pyx12

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _practice(sessions: sessionmaker[Session], claims: int = 0) -> int:
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
        if claims:
            seed_synthetic_claims(session, practice_id=practice_id, count=claims)
        return practice_id


def _submit(sessions: sessionmaker[Session], practice_id: int, *paths: Path) -> int:
    with session_scope(sessions) as session:
        return jobs.submit(session, practice_id=practice_id, paths=list(paths)).id


def _dead_owner() -> str:
    """A lease holder that has exited (a pid that was just reaped on this host)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return current_owner().rpartition(":")[0] + f":{child.pid}"


def test_a_job_runs_with_its_progress_on_the_row_and_its_report_when_done(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    claims = BATCH_SIZE * 2 + 5
    path = write_synthetic_835(tmp_path / "era.835", count=claims)
    practice_id = _practice(sessions, claims)
    job_id = _submit(sessions, practice_id, path)
    with session_scope(sessions) as session:
        queued = jobs.get_job(session, practice_id=practice_id, job_id=job_id)
    assert queued.status == "queued" and queued.line() == f"Import job {job_id} (era.835) is queued."
    steps: list[tuple[str, int, int]] = []
    rows: list[tuple[str, int, int]] = []

    def progress(what: str, done: int, total: int) -> None:
        steps.append((what, done, total))
        if what.startswith("Posting") and done < total:
            with session_scope(sessions) as session:
                job = session.get(ImportJob, job_id)
                assert job is not None
                rows.append((job.status, job.progress_done, job.progress_total))

    assert jobs.claim(sessions) == job_id
    jobs.PROGRESS_EVERY = 0.0  # write every report, so the test sees each chunk
    try:
        report = jobs.run(sessions, job_id, progress=progress)
    finally:
        jobs.PROGRESS_EVERY = 0.5
    assert report is not None and report.claims_posted == claims
    assert ("running", BATCH_SIZE, claims) in rows and ("running", BATCH_SIZE * 2, claims) in rows
    with session_scope(sessions) as session:
        done = jobs.get_job(session, practice_id=practice_id, job_id=job_id)
        other_practice = new_practice(session, "Other")
    assert done.status == "done" and done.percent == 100 and done.report is not None
    assert done.report["files"][0]["transactions"][0]["claims_posted"] == claims
    with session_scope(sessions) as session, pytest.raises(NotFound):
        jobs.get_job(session, practice_id=other_practice, job_id=job_id)  # another practice's job
    assert jobs.claim(sessions) is None  # nothing left


def test_sqlite_runs_one_job_at_a_time_postgres_several_and_never_two_over_one_file(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    practice_id = _practice(sessions)
    first, second = tmp_path / "a.835", tmp_path / "b.835"
    for path in (first, second):
        write_synthetic_835(path, count=3, trace=path.stem)
    a, b, a_again = (_submit(sessions, practice_id, p) for p in (first, second, first))
    if engine.dialect.name == "sqlite":
        assert jobs.claim(sessions, job_id=b) is None  # first come, first served: a is older
        assert jobs.claim(sessions) == a
        assert jobs.claim(sessions) is None  # a is running: b waits for the write lock's turn
        jobs.run(sessions, a)
        assert jobs.claim(sessions) == b
        assert jobs.claim(sessions) is None
        jobs.run(sessions, b)
    else:
        assert jobs.claim(sessions) == a
        assert jobs.claim(sessions) == b  # another file: PostgreSQL runs it beside a
        assert jobs.claim(sessions) is None  # a_again is a's file: it waits for a
        jobs.run(sessions, a)
    assert jobs.claim(sessions) == a_again
    report = jobs.run(sessions, a_again)
    assert report is not None and report.count("already_imported") == 1


def test_a_job_whose_worker_died_is_queued_again_and_resumes(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = write_synthetic_835(tmp_path / "era.835", count=10)
    practice_id = _practice(sessions, 10)
    job_id = _submit(sessions, practice_id, path)
    assert jobs.claim(sessions) == job_id
    with session_scope(sessions) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        job.owner = _dead_owner()  # as if its worker had been killed mid-import
    assert jobs.claim(sessions) == job_id  # taken up again by this process
    report = jobs.run(sessions, job_id)
    assert report is not None and report.claims_posted == 10


def test_the_worker_loop_runs_what_is_queued_and_records_a_failure(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    practice_id = _practice(sessions, 10)
    good = write_synthetic_835(tmp_path / "era.835", count=10)
    bad = tmp_path / "bad.835"
    bad.write_text("ISA*00*nonsense~", encoding="latin-1")
    good_id, bad_id = _submit(sessions, practice_id, good), _submit(sessions, practice_id, bad)
    assert jobs.work(sessions, stop=threading.Event(), once=True) == 2
    with session_scope(sessions) as session:
        ran = {job.id: job for job in jobs.list_jobs(session, practice_id=practice_id)}
    assert ran[good_id].status == "done"
    assert ran[bad_id].status == "failed" and ran[bad_id].error and "bad.835" in ran[bad_id].error
    assert ran[bad_id].line().startswith(f"Import job {bad_id} (bad.835) failed: ")


def test_a_missing_file_is_not_queued(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    practice_id = _practice(sessions)
    with session_scope(sessions) as session, pytest.raises(NotFound, match=r"nowhere\.835"):
        jobs.submit(session, practice_id=practice_id, paths=[tmp_path / "nowhere.835"])


def test_two_cli_imports_of_one_large_file_at_once_queue_and_post_it_once(tmp_path: Path) -> None:
    """The issue's crash: the second import died with 'database is locked' and a traceback, no JSON."""
    claims = BATCH_SIZE * 6
    url = f"sqlite:///{tmp_path / 'practice.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        practice = Practice(slug="demo", name="Demo practice", npi="1234567893")
        session.add(practice)
        session.flush()
        practice_id = practice.id
        seed_synthetic_claims(session, practice_id=practice_id, count=claims)
    path = write_synthetic_835(tmp_path / "era.835", count=claims)
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        BILLING_ASSISTANT_DATABASE_URL=url,
        BILLING_ASSISTANT_HOME=str(tmp_path / "home"),
    )
    command = [sys.executable, "-m", "integrations.cli.main", "x12", "import", str(path), "--json"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outcomes = [(*run.communicate(timeout=300), run.returncode) for run in runs]
    for _, stderr, code in outcomes:
        assert code == 0 and "Traceback" not in stderr, stderr
    reports = [json.loads(stdout) for stdout, _, _ in outcomes]
    assert sorted(report["summary"]["claims_posted"] for report in reports) == [0, claims]
    assert sorted(report["summary"]["already_imported"] for report in reports) == [0, 1]
    totals = totals_by_pyx12(path)
    with session_scope(sessions) as session:
        paid = session.scalar(
            select(func.sum(LedgerEntry.amount)).where(
                LedgerEntry.practice_id == practice_id, LedgerEntry.kind == LedgerKind.PAYER_PAYMENT
            )
        )
        assert -paid == totals.clp_paid  # type: ignore[operator]
        assert session.scalar(select(func.count(Remittance.id))) == 1
        statuses = session.scalars(select(ImportJob.status)).all()
    assert statuses == ["done", "done"]
    engine.dispose()


def test_a_large_inbox_file_from_chat_is_queued_for_the_worker_not_posted_in_the_request(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from tools import import_remittance as tool

    claims = tool.JOB_THRESHOLD + 100
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_synthetic_835(inbox / "era-big.835", count=claims)
    practice_id = _practice(sessions, claims)
    with session_scope(sessions) as session:
        summary = tool.describe("era-big.835", session=session, practice_id=practice_id, inbox_dir=inbox)
        report = tool.import_remittance("era-big.835", session=session, practice_id=practice_id, inbox_dir=inbox)
        assert session.scalar(select(func.count(Remittance.id))) == 0  # nothing posted in the request
    assert f"{claims:,} claim payments" in summary and "background import job" in summary
    assert report.job_id is not None and report.note and f"import job {report.job_id}" in report.note
    assert jobs.work(sessions, stop=threading.Event(), once=True) == 1
    with session_scope(sessions) as session:
        done = jobs.get_job(session, practice_id=practice_id, job_id=report.job_id)
    assert done.status == "done" and done.report is not None
    assert done.report["files"][0]["transactions"][0]["claims_posted"] == claims
