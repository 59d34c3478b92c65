"""Rate limits, in process (enough for one server; a fleet would keep them in a shared store): a per-key
token bucket for chat turns, and the sign-in throttle."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """`capacity` requests at once, refilled at `per_second`; `take` says how long to wait when empty."""

    def __init__(
        self, *, capacity: float, per_second: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 10000
    ) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("capacity must be >= 1 and per_second > 0")
        self.capacity = capacity
        self.per_second = per_second
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if the request may go ahead (one token spent); else the seconds until a token is back."""
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._forget_full(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.per_second

    def retry_after(self, key: str) -> int:
        """`take` as whole seconds for a Retry-After header (0: go ahead)."""
        wait = self.take(key)
        return 0 if wait == 0 else max(1, math.ceil(wait))

    def _forget_full(self, now: float) -> None:
        if len(self._buckets) <= self.max_keys:
            return
        full_after = self.capacity / self.per_second
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}


class LoginThrottle:
    """Sign-in attempts, limited the three ways OWASP's authentication guidance asks for.

    - Per client (its address): a token bucket over every attempt, so one client cannot spray passwords
      over many accounts (`client_burst`, then one every `1 / client_per_second` seconds).
    - Per client and account: after `pair_failures` wrong passwords in a row, that client waits before
      trying that account again, the wait doubling up to `max_lockout` seconds. Other clients, the real
      user's among them, are not held up; a right password clears the count.
    - Per account: `account_failures` wrong passwords from anywhere within `window` seconds lock the
      account for `max_lockout` seconds (a guess spread over many addresses).

    An account is named by the caller together with a fingerprint of its password hash
    (`account_key`), so when an administrator resets the password (`billing-assistant users
    set-password`) every count and lock of the old one is gone at once, in a running server too.
    Counts are per process, like `TokenBucket`.
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
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10000,
    ) -> None:
        if pair_failures < 1 or account_failures < 1 or max_lockout < 1 or window <= 0:
            raise ValueError("failure counts, window and max_lockout must be positive")
        self.client_burst = client_burst
        self.pair_failures = pair_failures
        self.account_failures = account_failures
        self.window = window
        self.max_lockout = max_lockout
        self.clock = clock
        self.max_keys = max_keys
        self.clients = TokenBucket(capacity=client_burst, per_second=client_per_second, clock=clock, max_keys=max_keys)
        self._pairs: dict[tuple[str, str], tuple[int, float]] = {}  # -> (failures in a row, locked until)
        self._accounts: dict[str, list[float]] = {}  # -> times of recent failures
        self._account_locks: dict[str, float] = {}  # -> locked until
        self._lock = threading.Lock()

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
        with self._lock:
            now = self.clock()
            until = max(self._account_locks.get(account, 0.0), self._pairs.get((client, account), (0, 0.0))[1])
            return 0 if until <= now else max(1, math.ceil(until - now))

    def failed(self, client: str, account: str) -> None:
        with self._lock:
            now = self.clock()
            count, _until = self._pairs.get((client, account), (0, 0.0))
            count += 1
            until = 0.0
            if count >= self.pair_failures:
                until = now + min(self.max_lockout, 30 * 2 ** (count - self.pair_failures))
            self._pairs[(client, account)] = (count, until)
            recent = [at for at in self._accounts.get(account, []) if now - at < self.window] + [now]
            self._accounts[account] = recent
            if len(recent) >= self.account_failures:
                self._account_locks[account] = now + self.max_lockout
                self._accounts[account] = []
            self._forget(now)

    def succeeded(self, client: str, account: str) -> None:
        with self._lock:
            self._pairs.pop((client, account), None)

    def _forget(self, now: float) -> None:
        if len(self._pairs) + len(self._accounts) + len(self._account_locks) <= self.max_keys:
            return
        self._pairs = {k: v for k, v in self._pairs.items() if v[1] > now}
        self._accounts = {k: v for k, v in self._accounts.items() if v and now - v[-1] < self.window}
        self._account_locks = {k: v for k, v in self._account_locks.items() if v > now}
