"""Counters and seen-ids that every worker shares, kept in the practice database.

Rate limits, the sign-in throttle and Slack's retried events must behave the same whether one process
serves or several: a count kept in one worker's memory lets a client that is held back on worker A try
again on worker B. So the limiters (`integrations/web/ratelimit.py`) keep their state behind a
`CounterStore`, and the Slack app its seen event ids behind an `EventLedger`; the database kinds of both
live here. `MemoryCounterStore` is kept because the limiters are unit-tested (and tuned by tests of the
web app) without a database; the Slack app always has the agent's database, so its ledger has no
in-memory kind.

Atomicity, the point of the module:
- `DatabaseCounterStore.update` reads and rewrites one row inside one transaction that holds that row:
  on PostgreSQL the row is created if missing (`INSERT ... ON CONFLICT DO NOTHING`) and then locked
  (`SELECT ... FOR UPDATE`), so two workers counting the same key queue on the row lock and the second
  sees the first's count; on SQLite the engine begins every writing transaction `IMMEDIATE`
  (`database.py`), which serialises them on the database's write lock.
- `DatabaseEventLedger.first` is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired` on the event
  id's primary key: exactly one worker's statement adds (or revives) the row, and only it answers.
Expired rows are pruned now and then in a transaction of their own.

Each call is a short transaction of its own on its own connection, so a caller must not hold a writing
transaction of the same SQLite database meanwhile (it would wait for its own lock): the sign-in route
checks and counts outside its session for this reason.

Times are Unix seconds from a clock the caller passes (tests pass a fake one), never `time.monotonic`:
a monotonic clock means nothing in another process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from knowledge.practice.database import READ_ONLY_OPTION
from knowledge.practice.models import LimitCounter, SlackEvent

T = TypeVar("T")
log = logging.getLogger("billing_assistant.limits")


@dataclass(frozen=True)
class Counter:
    """The state of one key: `value` (tokens or failures), `at` (when it was brought up to date or a
    window began), `until` (locked until; 0 for none), and `expires_at` (after it the key is forgotten)."""

    value: float
    at: float
    until: float = 0.0
    expires_at: float = 0.0


#: What `CounterStore.update` runs under the key's lock: the current state (None when the key is new or
#: expired) and the time, to the new state and what to answer.
Step = Callable[[Counter | None, float], tuple[Counter, T]]


class CounterStore(Protocol):
    """Where limiter state lives. `update` must run `step` atomically per key across every user of it."""

    def update(self, key: str, step: Step[T], now: float) -> T: ...

    def peek(self, key: str, now: float) -> Counter | None:
        """The current state without changing it (None: new or expired)."""
        ...

    def forget(self, key: str) -> None: ...


class MemoryCounterStore:
    """Counters of this process only: for one worker without a database, and for unit tests. With more
    than one worker use `DatabaseCounterStore`, or each worker counts on its own."""

    def __init__(self, *, max_keys: int = 10000) -> None:
        self.max_keys = max_keys
        self._counters: dict[str, Counter] = {}
        self._lock = threading.Lock()

    def update(self, key: str, step: Step[T], now: float) -> T:
        with self._lock:
            new, answer = step(self._live(key, now), now)
            self._counters[key] = new
            if len(self._counters) > self.max_keys:
                self._counters = {k: c for k, c in self._counters.items() if c.expires_at > now}
            return answer

    def peek(self, key: str, now: float) -> Counter | None:
        with self._lock:
            return self._live(key, now)

    def forget(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)

    def _live(self, key: str, now: float) -> Counter | None:
        found = self._counters.get(key)
        return found if found is not None and found.expires_at > now else None


def _table(model: type[LimitCounter] | type[SlackEvent]) -> Table:
    return cast(Table, model.__table__)


def _insert(engine: Engine) -> Any:
    # Both dialects spell "insert unless the key exists" the same way; SQLAlchemy keeps them in two modules.
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


class DatabaseCounterStore:
    """Counters in the `limit_counters` table, shared by every worker on the database.

    Expired rows are deleted every `prune_every` updates of this process (an indexed range delete), so
    the table holds only keys that still mean something."""

    def __init__(self, engine: Engine, *, prune_every: int = 200) -> None:
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise ValueError(f"shared limits support PostgreSQL and SQLite, not {engine.dialect.name}")
        self.engine = engine
        # Reads begin deferred on SQLite (see `database.py`): a check never queues behind a writer.
        self._reader = engine.execution_options(**{READ_ONLY_OPTION: True})
        self.prune_every = prune_every
        self._insert = _insert(engine)
        self._updates = 0
        self._count_lock = threading.Lock()

    def update(self, key: str, step: Step[T], now: float) -> T:
        table = _table(LimitCounter)
        with self.engine.begin() as connection:
            # A placeholder that has already expired, so `step` sees a new key as None; the row exists from
            # here on, and FOR UPDATE holds it until commit (SQLite: the IMMEDIATE transaction does).
            connection.execute(
                self._insert(table)
                .values(key=key, value=0.0, at=0.0, until=0.0, expires_at=0.0)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            row = connection.execute(
                select(table.c.value, table.c.at, table.c.until, table.c.expires_at)
                .where(table.c.key == key)
                .with_for_update()
            ).one()
            current = Counter(row.value, row.at, row.until, row.expires_at) if row.expires_at > now else None
            new, answer = step(current, now)
            connection.execute(
                update(table)
                .where(table.c.key == key)
                .values(value=new.value, at=new.at, until=new.until, expires_at=new.expires_at)
            )
        if self._due_for_pruning():
            _prune(self.engine, table, now)
        return answer

    def peek(self, key: str, now: float) -> Counter | None:
        table = _table(LimitCounter)
        with self._reader.connect() as connection:
            row = connection.execute(
                select(table.c.value, table.c.at, table.c.until, table.c.expires_at).where(table.c.key == key)
            ).one_or_none()
        if row is None or row.expires_at <= now:
            return None
        return Counter(row.value, row.at, row.until, row.expires_at)

    def forget(self, key: str) -> None:
        table = _table(LimitCounter)
        with self.engine.begin() as connection:
            connection.execute(delete(table).where(table.c.key == key))

    def _due_for_pruning(self) -> bool:
        with self._count_lock:
            self._updates += 1
            return self._updates % self.prune_every == 0


class EventLedger(Protocol):
    """Event ids already taken. `first` is True for exactly one caller per id within the `ttl`."""

    def first(self, event_id: str) -> bool: ...


class DatabaseEventLedger:
    """Event ids in the `slack_events` table: the first worker to insert an id answers the event."""

    def __init__(
        self, engine: Engine, *, ttl: float = 3600.0, clock: Callable[[], float] = time.time, prune_every: int = 100
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self.clock = clock
        self.prune_every = prune_every
        self._insert = _insert(engine)
        self._calls = 0
        self._count_lock = threading.Lock()

    def first(self, event_id: str) -> bool:
        now = self.clock()
        table = _table(SlackEvent)
        statement = self._insert(table).values(event_id=event_id[:120], received_at=now, expires_at=now + self.ttl)
        # One statement: the id is added, or an expired row of it taken over; a live row is left alone and
        # no row counts as changed, so the caller knows another worker has the event.
        statement = statement.on_conflict_do_update(
            index_elements=["event_id"],
            set_={"received_at": statement.excluded.received_at, "expires_at": statement.excluded.expires_at},
            where=table.c.expires_at <= now,
        ).returning(table.c.event_id)
        with self.engine.begin() as connection:
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT that SQLAlchemy executes this way.
            taken = connection.execute(statement).first() is not None
        with self._count_lock:
            self._calls += 1
            due = self._calls % self.prune_every == 0
        if due:
            _prune(self.engine, table, now)
        return taken


def _prune(engine: Engine, table: Table, now: float) -> None:
    """Delete expired rows, in a transaction of its own so no row lock of a count is held meanwhile.
    Best effort: a failure (two workers pruning at once, say) leaves the rows to the next prune."""
    try:
        with engine.begin() as connection:
            connection.execute(delete(table).where(table.c.expires_at <= now))
    except DBAPIError:
        log.warning("pruning %s failed; the next prune retries", table.name, exc_info=True)
