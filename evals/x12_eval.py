"""X12 quality and speed figures.

`run_x12_eval`: every 835 fixture is posted into a fresh temporary SQLite practice (after creating the
claims it pays from its own CLP/SVC data) and the ledger is compared with the file's amounts as read by
pyx12, an independent reader: payments = sum CLP04, write-offs = non-PR CAS, patient transfers = PR
CAS, payment = BPR02 = sum CLP04 - sum PLB; a second import must post nothing.

`run_x12_bench`: a synthetic 835 with `claims` claims is posted on SQLite; prints claims/second, memory,
the longest time the import held the write lock (a chunk between commits, and any write transaction of
it), and the parse time of our streaming reader against pyx12's segment reader on the same file.
"""

from __future__ import annotations

import gc
import itertools
import resource
import shutil
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyx12.x12file
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from knowledge.practice.database import READ_ONLY_OPTION, make_engine, make_session_factory, session_scope, upgrade
from knowledge.practice.models import LedgerEntry, LedgerKind, Practice, Remittance, Responsibility
from knowledge.x12.envelope import scan_file
from knowledge.x12.generator import seed_claims_for_835, seed_synthetic_claims, write_synthetic_835
from knowledge.x12.importer import expand_paths, import_x12
from knowledge.x12.parse835 import read_835
from knowledge.x12.segments import iter_segments

DEFAULT_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "x12"
ZERO = Decimal("0.00")


def _file_totals(path: Path) -> dict[str, Decimal]:
    totals = {"bpr": ZERO, "paid": ZERO, "billed": ZERO, "pr": ZERO, "other_cas": ZERO, "plb": ZERO}
    with path.open(encoding="latin-1") as handle:
        for segment in pyx12.x12file.X12Reader(handle):
            tag = segment.get_seg_id()

            def value(name: str, seg: Any = segment) -> Decimal:
                text = seg.get_value(name)
                return Decimal(text) if text else ZERO

            if tag == "BPR":
                totals["bpr"] += value("BPR02")
            elif tag == "CLP":
                totals["paid"] += value("CLP04")
                totals["billed"] += value("CLP03")
            elif tag == "CAS":
                key = "pr" if segment.get_value("CAS01") == "PR" else "other_cas"
                for index in range(3, 20, 3):
                    totals[key] += value(f"CAS{index:02d}")
            elif tag == "PLB":
                for index in range(4, 15, 2):
                    totals["plb"] += value(f"PLB{index:02d}")
    return totals


def _ledger(session: Session, practice_id: int, kind: LedgerKind, side: Responsibility) -> Decimal:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.practice_id == practice_id, LedgerEntry.kind == kind, LedgerEntry.responsibility == side
        )
    )
    return Decimal(total or 0)


def run_x12_eval(fixtures_dir: Path | None = None) -> dict[str, Any]:
    """Post every 835 under `fixtures_dir` and check the ledger against the file's own totals."""
    folder = fixtures_dir or DEFAULT_FIXTURES
    files = [p for p in expand_paths([folder]) if scan_file(p) and scan_file(p)[0].set_id == "835"]
    started = time.perf_counter()
    failures: list[str] = []
    claims = 0
    with tempfile.TemporaryDirectory(prefix="x12-eval-") as tmp:
        template = Path(tmp) / "template.db"
        engine = make_engine(f"sqlite:///{template}")
        upgrade(engine)
        engine.dispose()
        for number, path in enumerate(files):
            database = Path(tmp) / f"case{number}.db"
            shutil.copy(template, database)
            engine = make_engine(f"sqlite:///{database}")
            sessions = make_session_factory(engine)
            try:
                with session_scope(sessions) as session:
                    practice = Practice(slug="eval", name="Eval practice")
                    session.add(practice)
                    session.flush()
                    practice_id = practice.id
                    seed_claims_for_835(session, practice_id=practice_id, path=path)
                report = import_x12(sessions, practice_id=practice_id, paths=[path])
                again = import_x12(sessions, practice_id=practice_id, paths=[path])
                expected = _file_totals(path)
                with session_scope(sessions) as session:
                    payer, patient = Responsibility.PAYER, Responsibility.PATIENT
                    got = {
                        "paid": -_ledger(session, practice_id, LedgerKind.PAYER_PAYMENT, payer),
                        "billed": _ledger(session, practice_id, LedgerKind.CHARGE, payer),
                        "pr": _ledger(session, practice_id, LedgerKind.TRANSFER, patient),
                        "other_cas": -_ledger(session, practice_id, LedgerKind.ADJUSTMENT, payer),
                        "bpr": session.scalar(select(Remittance.total_paid)) or ZERO,
                    }
                problems = [f"{k}: ledger {got[k]} != file {expected[k]}" for k in got if got[k] != expected[k]]
                if expected["bpr"] != expected["paid"] - expected["plb"]:
                    problems.append("file does not balance")
                transactions = report.files[0].transactions
                claims += sum(t.claims_posted for t in transactions)
                if any(t.exceptions or t.status != "imported" for t in transactions):
                    problems.append("not fully posted: " + "; ".join(m for t in transactions for m in t.messages))
                if any(t.status != "already_imported" for t in again.files[0].transactions):
                    problems.append("second import was not a no-op")
                if problems:
                    failures.append(f"{path.name}: " + "; ".join(problems))
            finally:
                engine.dispose()
    return {
        "files": len(files),
        "passed": len(files) - len(failures),
        "claims_posted": claims,
        "failures": failures,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _parse_ours(path: Path) -> int:
    claims = 0
    for info in scan_file(path):
        segments = iter_segments(path, start=info.start, end=info.end, delimiters=info.delimiters)
        claims += sum(1 for _ in read_835(segments))
    return claims


def _parse_pyx12(path: Path) -> int:
    with path.open(encoding="latin-1") as handle:
        return sum(1 for _ in pyx12.x12file.X12Reader(handle))


def run_x12_bench(claims: int = 10_000) -> dict[str, Any]:
    """Post a synthetic `claims`-claim 835 on SQLite; speed, memory, and a parse-time baseline (pyx12)."""
    with tempfile.TemporaryDirectory(prefix="x12-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        with session_scope(sessions) as session:
            practice = Practice(slug="bench", name="Bench practice")
            session.add(practice)
            session.flush()
            practice_id = practice.id
            seed_synthetic_claims(session, practice_id=practice_id, count=claims)
        path = write_synthetic_835(Path(tmp) / "bench.835", count=claims)

        started = time.perf_counter()
        _parse_ours(path)
        ours_parse = time.perf_counter() - started
        started = time.perf_counter()
        sum(1 for _ in iter_segments(path))
        ours_tokenize = time.perf_counter() - started
        started = time.perf_counter()
        _parse_pyx12(path)
        pyx12_parse = time.perf_counter() - started

        gc.collect()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        chunk_ends: list[float] = []
        # How long each write transaction of the import held SQLite's write lock (BEGIN IMMEDIATE to its end).
        write_transactions: list[float] = []
        began: dict[int, float] = {}

        def begin(connection: Any) -> None:
            if not connection.get_execution_options().get(READ_ONLY_OPTION, False):
                began[id(connection)] = time.perf_counter()

        def end(connection: Any) -> None:
            start = began.pop(id(connection), None)
            if start is not None:
                write_transactions.append(time.perf_counter() - start)

        event.listen(engine, "begin", begin)
        event.listen(engine, "commit", end)
        event.listen(engine, "rollback", end)

        def progress(what: str, _done: int, _total: int) -> None:
            if what.startswith("Posting"):
                chunk_ends.append(time.perf_counter())

        started, cpu_started = time.perf_counter(), time.process_time()
        report = import_x12(sessions, practice_id=practice_id, paths=[path], progress=progress)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        for name, listener in (("begin", begin), ("commit", end), ("rollback", end)):
            event.remove(engine, name, listener)
        # Each chunk is one write transaction: the longest is how long chat could wait for the lock.
        chunks = [later - earlier for earlier, later in itertools.pairwise(chunk_ends)]
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        # Streaming check: the parser's peak allocation for this file and for a file twice as large.
        tracemalloc.start()
        _parse_ours(path)
        peak_one = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        double = write_synthetic_835(Path(tmp) / "double.835", count=claims * 2, prefix="DBL")
        tracemalloc.start()
        _parse_ours(double)
        peak_two = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        engine.dispose()
        transaction = report.files[0].transactions[0]
        return {
            "claims": claims,
            "file_bytes": path.stat().st_size,
            "posted": transaction.claims_posted,
            "exceptions": transaction.exceptions,
            "seconds": round(elapsed, 2),
            "claims_per_second": round(claims / elapsed, 1),
            "cpu_seconds": round(cpu, 2),
            "claims_per_cpu_second": round(claims / cpu, 1) if cpu else None,
            "target_seconds": 1,
            "chunks": len(chunks),
            "longest_chunk_seconds": round(max(chunks), 3) if chunks else None,
            "write_transactions": len(write_transactions),
            "longest_write_transaction_seconds": round(max(write_transactions), 3) if write_transactions else None,
            "max_rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
            "parse_peak_mb": round(peak_one / 1e6, 2),
            "parse_peak_mb_double_file": round(peak_two / 1e6, 2),
            "parse_seconds_ours_scan_and_835_records": round(ours_parse, 2),
            "tokenize_seconds_ours": round(ours_tokenize, 2),
            "parse_seconds_pyx12_segments_only": round(pyx12_parse, 2),
            "tokenize_ratio_pyx12_over_ours": round(pyx12_parse / ours_tokenize, 2) if ours_tokenize else None,
        }


if __name__ == "__main__":
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(json.dumps(run_x12_eval(), indent=2))
    print(json.dumps(run_x12_bench(count), indent=2))
