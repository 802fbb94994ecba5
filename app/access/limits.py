"""Rate limits: requests per API key (or JWT subject), and requests with unknown or invalid
credentials per client address."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """A token bucket per key (an API key's subject, a client address): `per_minute` requests
    a minute, in bursts of up to the same number. Per process: N workers allow N times the
    rate between them."""

    # Past this many buckets the full ones (they would allow a whole burst anyway) are
    # dropped, and all of them if that is not enough: memory stays bounded, and a caller with
    # that many addresses is past what per-address limits can stop anyway.
    MAX_BUCKETS = 10_000

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, key: str) -> float:
        """0 if the key may go ahead now (and takes a token), else the seconds to wait."""
        return self._spend(key, take=True)

    def peek(self, key: str) -> float:
        """0 if the key has a token left (none is taken), else the seconds to wait for one."""
        return self._spend(key, take=False)

    def _spend(self, key: str, *, take: bool) -> float:
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60
        now = time.monotonic()
        with self._lock:
            if not take and key not in self._buckets:
                return 0.0
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / rate
            if take:
                if len(self._buckets) >= self.MAX_BUCKETS:
                    self._drop_full(now, rate)
                self._buckets[key] = (tokens - 1, now)
            return 0.0

    def _drop_full(self, now: float, rate: float) -> None:
        full = float(self.per_minute)
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * rate >= full:
                del self._buckets[key]
        if len(self._buckets) >= self.MAX_BUCKETS:
            self._buckets.clear()
