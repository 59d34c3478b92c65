"""What sharing the limits through the database costs: one limiter check, a sign-in failure, a Slack event
id, in memory and in the practice database, and the throughput of many threads on two engines counting
one key (the worst case: every request of one user at once, on two workers).

`python -m evals.limits_bench [--database-url URL]` prints one JSON document. Without a URL it migrates a
fresh SQLite file in a temporary folder; a URL must name an empty database it may migrate and write to
(never the practice database in use: the bench writes rows of its own).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from integrations.web.ratelimit import LoginThrottle, TokenBucket
from knowledge.practice.database import make_engine, upgrade
from knowledge.practice.limits import DatabaseCounterStore, DatabaseEventLedger


def _timed(work: Callable[[int], object], count: int) -> dict[str, float]:
    spent: list[float] = []
    for n in range(count):
        started = time.perf_counter()
        work(n)
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return {"p50_ms": round(spent[len(spent) // 2], 3), "p95_ms": round(spent[int(len(spent) * 0.95)], 3)}


def _contended(engines: list[Engine], threads_per_engine: int, seconds: float) -> dict[str, float]:
    buckets = [
        TokenBucket(capacity=1e9, per_second=1.0, store=DatabaseCounterStore(engine), namespace="bench-hot")
        for engine in engines
    ]
    done = [0] * (len(buckets) * threads_per_engine)
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        bucket = buckets[index % len(buckets)]
        while time.monotonic() < stop:
            bucket.take("one-user")
            done[index] += 1

    workers = [threading.Thread(target=run, args=(n,)) for n in range(len(done))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"threads": len(done), "checks_per_s": round(sum(done) / seconds, 1)}


def _sign_in_failure(throttle: LoginThrottle) -> None:
    """What a wrong password costs the route: the check before it, and counting it."""
    throttle.account_wait("192.0.2.1", "acct")
    throttle.failed("192.0.2.1", "acct")


def run_limits_bench(database_url: str, *, count: int = 300) -> dict[str, Any]:
    engine, second = make_engine(database_url), make_engine(database_url)
    upgrade(engine)
    try:
        store = DatabaseCounterStore(engine)
        memory = TokenBucket(capacity=1e9, per_second=1.0)
        shared = TokenBucket(capacity=1e9, per_second=1.0, store=store, namespace="bench")
        throttle = LoginThrottle(store=store, pair_failures=10**9, account_failures=10**9)
        ledger = DatabaseEventLedger(engine)
        return {
            "database": engine.dialect.name,
            "memory_take": _timed(lambda n: memory.take("user"), count * 10),
            "database_take_same_key": _timed(lambda n: shared.take("user"), count),
            "database_take_new_keys": _timed(lambda n: shared.take(f"user-{n}"), count),
            "sign_in_failure": _timed(lambda n: _sign_in_failure(throttle), count),
            "slack_event_first": _timed(lambda n: ledger.first(f"EvBENCH{n}-{time.time_ns()}"), count),
            "contended_one_key": _contended([engine, second], threads_per_engine=4, seconds=3.0),
        }
    finally:
        engine.dispose()
        second.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", help="An empty database to migrate and write to (default: temp SQLite).")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    if args.database_url:
        print(json.dumps(run_limits_bench(args.database_url, count=args.count)))
        return
    with tempfile.TemporaryDirectory(prefix="limits-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'practice.db'}"
        print(json.dumps(run_limits_bench(url, count=args.count)))


if __name__ == "__main__":
    main()
