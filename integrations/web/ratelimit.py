"""A per-user token bucket, in process: enough for one server; a fleet would keep buckets in a shared store."""

from __future__ import annotations

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
