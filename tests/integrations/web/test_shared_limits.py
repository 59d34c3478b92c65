"""Rate limits, the sign-in throttle and Slack's seen event ids kept in the practice database: two
"workers" (each its own engine, so its own connections) on one database count as one, on SQLite and on
PostgreSQL. The clocks are fake, so nothing sleeps. The two-process proof is tests/integrations/test_workers.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from integrations.web.app import create_app
from integrations.web.ratelimit import LoginThrottle, TokenBucket
from knowledge.practice.database import make_engine
from knowledge.practice.limits import DatabaseCounterStore, DatabaseEventLedger
from knowledge.practice.models import LimitCounter, SlackEvent
from tests.integrations.web.conftest import WebPractice

CODER = "coder@demo.example"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def second_engine(engine: Engine) -> Iterator[Engine]:
    """Another worker's engine on the same database."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


def _rows(engine: Engine, model: type[LimitCounter] | type[SlackEvent]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_chat_bucket_is_one_bucket_across_workers(engine: Engine, second_engine: Engine) -> None:
    clock = Clock()
    a, b = (
        TokenBucket(capacity=2, per_second=0.5, clock=clock, store=DatabaseCounterStore(e), namespace="chat")
        for e in (engine, second_engine)
    )
    assert [a.retry_after("1:7"), b.retry_after("1:7"), a.retry_after("1:7"), b.retry_after("1:7")] == [0, 0, 2, 2]
    assert b.retry_after("1:8") == 0  # another user has a bucket of their own
    clock.now += 2.0  # one token back, for whichever worker asks first
    assert b.retry_after("1:7") == 0 and a.retry_after("1:7") == 2


def test_sign_in_failures_on_one_worker_count_on_the_other(engine: Engine, second_engine: Engine) -> None:
    clock = Clock()
    a, b = (LoginThrottle(pair_failures=3, clock=clock, store=DatabaseCounterStore(e)) for e in (engine, second_engine))
    account = LoginThrottle.account_key("coder@demo.example|", ["hash-1"])
    a.failed("203.0.113.7", account)
    b.failed("203.0.113.7", account)
    assert a.account_wait("203.0.113.7", account) == 0 and b.account_wait("203.0.113.7", account) == 0
    a.failed("203.0.113.7", account)  # the third in a row, split over two workers
    assert b.account_wait("203.0.113.7", account) == 30
    assert a.account_wait("198.51.100.2", account) == 0  # the real user, elsewhere, is not held up
    clock.now += 31
    b.succeeded("203.0.113.7", account)
    assert a.account_wait("203.0.113.7", account) == 0
    # nothing the throttle stores names the client or the account
    with Session(engine) as session:
        keys = " ".join(session.scalars(select(LimitCounter.key)))
    assert "203.0.113.7" not in keys and "coder@demo.example" not in keys


def test_an_account_lock_is_shared_and_ends_by_itself(engine: Engine, second_engine: Engine) -> None:
    clock = Clock()
    workers = [
        LoginThrottle(account_failures=4, max_lockout=600, clock=clock, store=DatabaseCounterStore(e))
        for e in (engine, second_engine)
    ]
    account = LoginThrottle.account_key("frontdesk@demo.example|", ["hash-1"])
    for n in range(4):  # four clients, two on each worker
        workers[n % 2].failed(f"192.0.2.{n}", account)
    assert workers[0].account_wait("198.51.100.77", account) == 600
    assert workers[1].account_wait("198.51.100.77", account) == 600
    clock.now += 601
    assert workers[1].account_wait("198.51.100.77", account) == 0
    # a new password is a new account key: its counts start afresh
    renamed = LoginThrottle.account_key("frontdesk@demo.example|", ["hash-2"])
    assert renamed != account and workers[0].account_wait("198.51.100.77", renamed) == 0


def test_failures_outside_the_window_do_not_add_up(engine: Engine) -> None:
    clock = Clock()
    throttle = LoginThrottle(account_failures=3, window=100, clock=clock, store=DatabaseCounterStore(engine))
    account = LoginThrottle.account_key("biller@demo.example|", ["h"])
    for n in range(2):
        throttle.failed(f"192.0.2.{n}", account)
    clock.now += 101
    throttle.failed("192.0.2.9", account)
    assert throttle.account_wait("198.51.100.1", account) == 0


def _race(workers: list[Callable[[], object]]) -> list[object]:
    """Run each callable in its own thread, released together; their results in order."""
    gate = threading.Barrier(len(workers))
    results: list[object] = [None] * len(workers)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        gate.wait()
        try:
            results[index] = workers[index]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_concurrent_takes_spend_each_token_once(engine: Engine, second_engine: Engine) -> None:
    clock = Clock()  # frozen: no token comes back while they race
    buckets = [
        TokenBucket(capacity=5, per_second=0.001, clock=clock, store=DatabaseCounterStore(e))
        for e in (engine, second_engine)
    ]
    waits = _race([partial(buckets[n % 2].take, "1:7") for n in range(16)])
    assert sum(1 for wait in waits if wait == 0) == 5


def test_a_slack_event_is_taken_by_one_worker_only(engine: Engine, second_engine: Engine) -> None:
    clock = Clock()
    ledgers = [DatabaseEventLedger(e, ttl=3600, clock=clock) for e in (engine, second_engine)]
    taken = _race([partial(ledgers[n % 2].first, "Ev0RETRIED") for n in range(8)])
    assert taken.count(True) == 1
    assert ledgers[1].first("Ev0OTHER") is True and ledgers[0].first("Ev0OTHER") is False
    clock.now += 3601  # long after Slack stopped retrying, the id is new again
    assert ledgers[0].first("Ev0RETRIED") is True and ledgers[1].first("Ev0RETRIED") is False


def test_expired_rows_are_pruned(engine: Engine) -> None:
    clock = Clock()
    store = DatabaseCounterStore(engine, prune_every=5)
    bucket = TokenBucket(capacity=1, per_second=1.0, clock=clock, store=store)
    for n in range(4):
        bucket.take(f"user-{n}")
    assert _rows(engine, LimitCounter) == 4
    clock.now += 10  # every bucket full again: their rows mean nothing
    bucket.take("user-new")  # the fifth update prunes
    assert _rows(engine, LimitCounter) == 1

    ledger = DatabaseEventLedger(engine, ttl=60, clock=clock, prune_every=3)
    ledger.first("Ev1")
    ledger.first("Ev2")
    clock.now += 61
    ledger.first("Ev3")
    assert _rows(engine, SlackEvent) == 1


def test_the_app_counts_sign_ins_in_the_database_without_waiting_on_itself(web_practice: WebPractice) -> None:
    """The app's own throttle is the database one; the sign-in route counts outside its own transaction
    (on SQLite a count inside it waited 30 s for the request's own write lock, then failed)."""
    app = create_app(web_practice.settings, agent=web_practice.agent)
    client = TestClient(app, client=("192.0.2.201", 50000))
    password = web_practice.credentials[CODER]
    assert client.post("/api/login", json={"email": CODER, "password": "wrong-password"}).status_code == 401
    assert client.post("/api/login", json={"email": CODER, "password": password}).status_code == 200
    with Session(web_practice.engine) as session:
        namespaces = {key.split(":")[0] for key in session.scalars(select(LimitCounter.key))}
    assert {"login-client", "login-account"} <= namespaces
