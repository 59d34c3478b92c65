"""Large 835s post in committed chunks: the write lock is let go between them, a killed import resumes,
and whatever happens every cent posts once (SQLite and PostgreSQL)."""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from knowledge.practice.database import make_engine, make_session_factory, session_scope
from knowledge.practice.models import (
    LedgerEntry,
    LedgerKind,
    Payment,
    Remittance,
    RemittanceClaim,
    Responsibility,
    WorkException,
    X12File,
)
from knowledge.x12 import importer
from knowledge.x12.generator import seed_synthetic_claims, synthetic_claims, write_synthetic_835
from knowledge.x12.importer import import_x12
from knowledge.x12.parse835 import RemittanceItem
from knowledge.x12.posting import BATCH_SIZE, IMPORTING
from knowledge.x12.segments import Segment
from tests.knowledge.x12.helpers import new_practice, totals_by_pyx12

ROOT = Path(__file__).resolve().parents[3]
ZERO = Decimal("0.00")


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _practice_with_claims(sessions: sessionmaker[Session], count: int) -> int:
    with session_scope(sessions) as session:
        practice_id = new_practice(session)
        seed_synthetic_claims(session, practice_id=practice_id, count=count)
        return practice_id


def _ledger(session: Session, practice_id: int) -> dict[tuple[str, str], Decimal]:
    rows = session.execute(
        select(LedgerEntry.kind, LedgerEntry.responsibility, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.practice_id == practice_id)
        .group_by(LedgerEntry.kind, LedgerEntry.responsibility)
    ).all()
    return {(str(kind), str(side)): Decimal(total) for kind, side, total in rows}


def _count(session: Session, model: type, practice_id: int) -> int:
    column = model.practice_id  # type: ignore[attr-defined]
    return session.scalar(select(func.count()).select_from(model).where(column == practice_id)) or 0


def _remittance_claims(session: Session, practice_id: int) -> int:
    return (
        session.scalar(
            select(func.count(RemittanceClaim.id))
            .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
            .where(Remittance.practice_id == practice_id)
        )
        or 0
    )


def _assert_posted_once(sessions: sessionmaker[Session], practice_id: int, path: Path, claims: int) -> None:
    """The ledger holds exactly the file's money: every payment, write-off and patient share once."""
    totals = totals_by_pyx12(path)
    with session_scope(sessions) as session:
        ledger = _ledger(session, practice_id)
        assert -ledger[(LedgerKind.PAYER_PAYMENT.value, Responsibility.PAYER.value)] == totals.clp_paid
        # Contractual write-offs; a denial's CO amounts stay open on the claim (it is worked, not written off).
        written_off = sum(
            (line.contractual for claim in synthetic_claims(claims) if not claim.denied for line in claim.lines), ZERO
        )
        assert -ledger[(LedgerKind.ADJUSTMENT.value, Responsibility.PAYER.value)] == written_off
        assert ledger[(LedgerKind.TRANSFER.value, Responsibility.PATIENT.value)] == totals.cas_by_group["PR"]
        assert _remittance_claims(session, practice_id) == claims
        (remittance,) = session.scalars(select(Remittance).where(Remittance.practice_id == practice_id))
        assert remittance.status == "posted" and remittance.import_owner is None
        payments = session.scalars(select(Payment.amount).where(Payment.practice_id == practice_id)).all()
        assert payments == [totals.bpr]
        assert _count(session, X12File, practice_id) == 1
        assert _count(session, WorkException, practice_id) == 0


def test_a_large_835_commits_chunk_by_chunk_and_posts_what_one_transaction_would(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    claims = BATCH_SIZE * 2 + 200
    path = write_synthetic_835(tmp_path / "big.835", count=claims)
    chunked, whole = _practice_with_claims(sessions, claims), _practice_with_claims(sessions, claims)
    seen: list[tuple[int, str | None, int]] = []
    other = make_engine(engine.url.render_as_string(hide_password=False), connect_args={"timeout": 0.5})
    if engine.dialect.name != "sqlite":
        other.dispose()
        other = make_engine(engine.url.render_as_string(hide_password=False))
    other_sessions = make_session_factory(other)

    def progress(what: str, done: int, total: int) -> None:
        if not what.startswith("Posting") or done >= total:
            return
        # Between chunks another connection writes at once (SQLite: a 0.5 s busy timeout would fail
        # if the import held the write lock) and sees the chunks committed so far.
        with session_scope(other_sessions) as session:
            session.execute(text("UPDATE practices SET name = name WHERE id = :id"), {"id": chunked})
            status = session.scalar(select(Remittance.status).where(Remittance.practice_id == chunked))
            seen.append((done, status, _remittance_claims(session, chunked)))

    report = import_x12(sessions, practice_id=chunked, paths=[path], progress=progress)
    other.dispose()
    assert report.claims_posted == claims and not report.errors
    assert [done for done, _, _ in seen] == [BATCH_SIZE, BATCH_SIZE * 2]
    assert all(status == IMPORTING and stored == done for done, status, stored in seen)
    _assert_posted_once(sessions, chunked, path, claims)

    with session_scope(sessions) as session:  # the same file through a caller's session: one transaction
        import_x12(session, practice_id=whole, paths=[path])
    with session_scope(sessions) as session:
        assert _ledger(session, chunked) == _ledger(session, whole)
    again = import_x12(sessions, practice_id=chunked, paths=[path])
    assert again.count("already_imported") == 1 and again.claims_posted == 0
    _assert_posted_once(sessions, chunked, path, claims)


def test_the_import_leaves_older_objects_to_the_collector_only_while_it_runs(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The objects that existed before an import are frozen (out of the GC's full collections) while it
    posts, and unfrozen after it, even when it fails; a freeze made by someone else is left as it was."""
    path = write_synthetic_835(tmp_path / "big.835", count=BATCH_SIZE + 10)
    practice_id = _practice_with_claims(sessions, BATCH_SIZE + 10)
    during: list[int] = []

    def progress(what: str, done: int, total: int) -> None:
        if what.startswith("Posting"):
            during.append(gc.get_freeze_count())

    assert gc.get_freeze_count() == 0
    report = import_x12(sessions, practice_id=practice_id, paths=[path], progress=progress)
    assert report.claims_posted == BATCH_SIZE + 10
    assert during and all(count > 0 for count in during)
    assert gc.get_freeze_count() == 0

    def fail(what: str, done: int, total: int) -> None:
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        import_x12(sessions, practice_id=practice_id, paths=[path], progress=fail)
    assert gc.get_freeze_count() == 0

    gc.freeze()
    try:
        import_x12(sessions, practice_id=practice_id, paths=[path])
        assert gc.get_freeze_count() > 0  # still frozen: the import did not undo a freeze it did not make
    finally:
        gc.unfreeze()


def test_a_large_835_is_read_through_before_its_import_takes_the_write_lock(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first reading of a chunked 835 (so a bad segment refuses it before any chunk commits) runs
    outside the transaction that posts it: another connection writes at once while it reads."""
    claims = BATCH_SIZE + 10
    path = write_synthetic_835(tmp_path / "era.835", count=claims)
    practice_id = _practice_with_claims(sessions, claims)
    url = engine.url.render_as_string(hide_password=False)
    sqlite = engine.dialect.name == "sqlite"
    other = make_engine(url, connect_args={"timeout": 0.5}) if sqlite else make_engine(url)  # 0.5 s: fail fast
    other_sessions = make_session_factory(other)
    wrote: list[int] = []
    read_835 = importer.read_835

    def reading(segments: Iterator[Segment]) -> Iterator[RemittanceItem]:
        for number, record in enumerate(read_835(segments)):
            if number == 1 and not wrote:  # the first claim of the first reading
                with session_scope(other_sessions) as session:
                    session.execute(text("UPDATE practices SET name = name WHERE id = :id"), {"id": practice_id})
                wrote.append(number)
            yield record

    monkeypatch.setattr(importer, "read_835", reading)
    report = import_x12(sessions, practice_id=practice_id, paths=[path])
    other.dispose()
    assert wrote == [1] and report.claims_posted == claims and not report.errors
    _assert_posted_once(sessions, practice_id, path, claims)


_CHILD = """
import sys
from pathlib import Path
from knowledge.practice.database import make_engine, make_session_factory
from knowledge.x12.importer import import_x12
engine = make_engine(sys.argv[1])
import_x12(make_session_factory(engine), practice_id=int(sys.argv[2]), paths=[Path(sys.argv[3])])
"""


def test_kill_9_at_random_points_then_import_again_loses_and_doubles_nothing(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    claims = BATCH_SIZE * 8
    path = write_synthetic_835(tmp_path / "era.835", count=claims)
    practice_id = _practice_with_claims(sessions, claims)
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    url = engine.url.render_as_string(hide_password=False)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    killed_at: list[int] = []
    for _ in range(3):
        target = rng.randrange(1, 8) * BATCH_SIZE  # stop it once this many claims were committed, or later
        child = subprocess.Popen([sys.executable, "-c", _CHILD, url, str(practice_id), str(path)], env=env)
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline:
            with session_scope(sessions) as session:
                done = _remittance_claims(session, practice_id)
            if done >= target:
                break
            time.sleep(0.01)
        if child.poll() is None:
            child.kill()  # SIGKILL: no handler, no rollback, no cleanup
            killed_at.append(done)
        child.wait(timeout=60)
    final = import_x12(sessions, practice_id=practice_id, paths=[path])
    assert not final.errors, (seed, killed_at, final.errors)
    assert killed_at, f"seed {seed}: no import was killed part-way"
    _assert_posted_once(sessions, practice_id, path, claims)


def test_a_bad_date_deep_in_a_large_835_refuses_it_before_any_chunk_posts(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    claims = BATCH_SIZE * 2 + 10
    path = write_synthetic_835(tmp_path / "era.835", count=claims)
    lines = path.read_text(encoding="latin-1").splitlines(keepends=True)
    dates = [n for n, line in enumerate(lines) if line.startswith("DTM*232*")]
    bad = dates[BATCH_SIZE + 300]  # in the second chunk: the first would have been committed already
    lines[bad] = "DTM*232*20261399~\n"
    path.write_text("".join(lines), encoding="latin-1")
    practice_id = _practice_with_claims(sessions, claims)
    with session_scope(sessions) as session:
        before = _ledger(session, practice_id)

    report = import_x12(sessions, practice_id=practice_id, paths=[path])

    (error,) = report.errors
    assert f"segment {bad + 1}:" in error and "20261399" in error  # the ISA line is segment 1
    with session_scope(sessions) as session:
        assert _ledger(session, practice_id) == before
        assert _count(session, Remittance, practice_id) == 0
        assert _count(session, Payment, practice_id) == 0


@pytest.mark.parametrize("claims", [20, BATCH_SIZE * 2 + 10], ids=["one-batch", "chunked"])
def test_an_era_with_denials_sent_again_under_a_new_trace_posts_nothing_and_leaves_nothing(
    sessions: sessionmaker[Session], tmp_path: Path, claims: int
) -> None:
    """Denials included: a denial leaves the balance open, so only the earlier remittance tells it was sent."""
    first = write_synthetic_835(tmp_path / "era.835", count=claims)
    again = write_synthetic_835(tmp_path / "era-resent.835", count=claims, trace="RESENTTRACE2")
    practice_id = _practice_with_claims(sessions, claims)
    assert import_x12(sessions, practice_id=practice_id, paths=[first]).claims_posted == claims

    report = import_x12(sessions, practice_id=practice_id, paths=[again])

    (transaction,) = report.files[0].transactions
    assert transaction.status == "already_imported" and "re-sent ERA" in transaction.messages[0]
    _assert_posted_once(sessions, practice_id, first, claims)  # one remittance, one payment, no exceptions
