"""Rate limits: a per-key token bucket for chat turns, and the sign-in throttle.

Their state lives in a `CounterStore` (`knowledge/practice/limits.py`). The web app gives them the
database store, so every worker on the practice database counts the same requests: a client held back
by one worker is held back by all of them. Built without a store they count in this process's memory,
which is what unit tests and a single embedded worker need (and what a fleet must not use).

Keys are hashed before they reach the store: the table never holds a client address or a typed email.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from knowledge.practice.limits import Counter, CounterStore, MemoryCounterStore


def _key(namespace: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{namespace}:{digest}"


class TokenBucket:
    """`capacity` requests at once, refilled at `per_second`; `take` says how long to wait when empty.

    `clock` is Unix seconds (every worker must read the same time); tests pass a fake one."""

    def __init__(
        self,
        *,
        capacity: float,
        per_second: float,
        clock: Callable[[], float] = time.time,
        max_keys: int = 10000,
        store: CounterStore | None = None,
        namespace: str = "bucket",
    ) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("capacity must be >= 1 and per_second > 0")
        self.capacity = capacity
        self.per_second = per_second
        self.clock = clock
        self.store: CounterStore = store if store is not None else MemoryCounterStore(max_keys=max_keys)
        self.namespace = namespace

    def take(self, key: str) -> float:
        """0 if the request may go ahead (one token spent); else the seconds until a token is back."""
        return self.store.update(_key(self.namespace, key), self._take, self.clock())

    def _take(self, current: Counter | None, now: float) -> tuple[Counter, float]:
        tokens, at = (self.capacity, now) if current is None else (current.value, current.at)
        tokens = min(self.capacity, tokens + max(0.0, now - at) * self.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.per_second
        # Once the bucket would be full again the row says nothing a new bucket would not: it may go.
        full_at = now + (self.capacity - tokens) / self.per_second
        return Counter(value=tokens, at=now, expires_at=full_at), wait

    def retry_after(self, key: str) -> int:
        """`take` as whole seconds for a Retry-After header (0: go ahead)."""
        wait = self.take(key)
        return 0 if wait == 0 else max(1, math.ceil(wait))


class LoginThrottle:
    """Sign-in attempts, limited the three ways OWASP's authentication guidance asks for.

    - Per client (its address): a token bucket over every attempt, so one client cannot spray passwords
      over many accounts (`client_burst`, then one every `1 / client_per_second` seconds).
    - Per client and account: after `pair_failures` wrong passwords in a row, that client waits before
      trying that account again, the wait doubling up to `max_lockout` seconds. Other clients, the real
      user's among them, are not held up; a right password clears the count (a streak also lapses after
      `window` quiet seconds).
    - Per account: `account_failures` wrong passwords from anywhere within a window of `window` seconds
      (a fixed window, begun by the first failure) lock the account for `max_lockout` seconds (a guess
      spread over many addresses).

    An account is named by the caller together with a fingerprint of its password hash
    (`account_key`), so when an administrator resets the password (`billing-assistant users
    set-password`) every count and lock of the old one is gone at once, in a running server too.
    Counts live in `store` (see the module docstring): shared by every worker with the database store.
    """

    def __init__(
        self,
        *,
        client_burst: float = 30,
        client_per_second: float = 0.5,
        pair_failures: int = 5,
        account_failures: int = 50,
        window: float = 900.0,
        max_lockout: int = 900,
        clock: Callable[[], float] = time.time,
        max_keys: int = 10000,
        store: CounterStore | None = None,
    ) -> None:
        if pair_failures < 1 or account_failures < 1 or max_lockout < 1 or window <= 0:
            raise ValueError("failure counts, window and max_lockout must be positive")
        self.client_burst = client_burst
        self.pair_failures = pair_failures
        self.account_failures = account_failures
        self.window = window
        self.max_lockout = max_lockout
        self.clock = clock
        self.store: CounterStore = store if store is not None else MemoryCounterStore(max_keys=max_keys)
        self.clients = TokenBucket(
            capacity=client_burst,
            per_second=client_per_second,
            clock=clock,
            store=self.store,
            namespace="login-client",
        )

    @staticmethod
    def account_key(name: str, password_hashes: list[str | None]) -> str:
        """The account as the throttle knows it: its name and a fingerprint of its current password."""
        digest = hashlib.sha256("\n".join(h or "-" for h in password_hashes).encode()).hexdigest()[:16]
        return f"{name}#{digest}"

    def client_wait(self, client: str) -> int:
        """Seconds this client must wait before any attempt (0: go ahead; one attempt is counted)."""
        return self.clients.retry_after(client)

    def account_wait(self, client: str, account: str) -> int:
        """Seconds before this client may try this account again (0: go ahead)."""
        now = self.clock()
        held = [
            self.store.peek(_key("login-pair", client, account), now),
            self.store.peek(_key("login-account", account), now),
        ]
        until = max((c.until for c in held if c is not None), default=0.0)
        return 0 if until <= now else max(1, math.ceil(until - now))

    def failed(self, client: str, account: str) -> None:
        """Count a wrong password of this client for this account (both counts, each atomically)."""
        now = self.clock()
        self.store.update(_key("login-pair", client, account), self._pair_failed, now)
        self.store.update(_key("login-account", account), self._account_failed, now)

    def succeeded(self, client: str, account: str) -> None:
        self.store.forget(_key("login-pair", client, account))

    def _pair_failed(self, current: Counter | None, now: float) -> tuple[Counter, None]:
        count = 1 + (int(current.value) if current is not None else 0)
        until = 0.0
        if count >= self.pair_failures:
            until = now + min(self.max_lockout, 30 * 2 ** (count - self.pair_failures))
        return Counter(value=count, at=now, until=until, expires_at=max(until, now) + self.window), None

    def _account_failed(self, current: Counter | None, now: float) -> tuple[Counter, None]:
        if current is None or now - current.at >= self.window:
            count, started, until = 0, now, current.until if current is not None else 0.0
        else:
            count, started, until = int(current.value), current.at, current.until
        count += 1
        if count >= self.account_failures:
            until, count, started = now + self.max_lockout, 0, now
        return Counter(value=count, at=started, until=until, expires_at=max(started + self.window, until)), None
