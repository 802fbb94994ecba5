"""Rate limits: requests per API key (or JWT subject), and requests with unknown or invalid
credentials per client address; in each process by default, or shared by every process and
host through Redis (REDIS_URL)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Protocol
from weakref import WeakKeyDictionary

if TYPE_CHECKING:  # `limits` and Redis's client are imported only where REDIS_URL is set
    from limits.aio.strategies import SlidingWindowCounterRateLimiter

    from app.platform.shared import SharedState


class RateLimits(Protocol):
    """`per_minute` requests a minute per key (0: no limit). Called on the event loop."""

    per_minute: int

    async def wait_for(self, key: str) -> float:
        """0 if the key may go ahead now (and counts it), else the seconds to wait."""
        ...

    async def peek(self, key: str) -> float:
        """0 if the key has a request left (none is counted), else the seconds to wait."""
        ...


class RateLimiter:
    """A token bucket per key (an API key's subject, a client address): `per_minute` requests
    a minute, in bursts of up to the same number. Per process: N workers allow N times the
    rate between them (`SharedRateLimiter` does not)."""

    # Past this many buckets the full ones (they would allow a whole burst anyway) are
    # dropped, and all of them if that is not enough: memory stays bounded, and a caller with
    # that many addresses is past what per-address limits can stop anyway.
    MAX_BUCKETS = 10_000

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    async def wait_for(self, key: str) -> float:
        return self._spend(key, take=True)

    async def peek(self, key: str) -> float:
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


class SharedRateLimiter:
    """`per_minute` requests a minute per key, counted in Redis by every process and host
    together, on the event loop: the `limits` package's sliding window counter, one Lua call
    of constant cost a request (a key's first minute counts exactly; after it, the previous
    minute's count weighs by how much of it is still within the last 60 seconds). Its moving
    window would be exact at every instant, but walks a list as long as the limit on every
    request. `name` keeps the counts of one limit apart from another's. A Redis that does
    not answer is a `SharedStateUnavailableError` (503)."""

    def __init__(self, per_minute: int, shared: SharedState, name: str) -> None:
        self.per_minute = per_minute
        self.name = name
        self._shared = shared
        from limits import RateLimitItemPerMinute

        self._item = RateLimitItemPerMinute(max(per_minute, 1))
        self._limiters: WeakKeyDictionary[
            asyncio.AbstractEventLoop, SlidingWindowCounterRateLimiter
        ]
        self._limiters = WeakKeyDictionary()

    async def wait_for(self, key: str) -> float:
        if self.per_minute <= 0:
            return 0.0
        return await self._shared.call_async(lambda: self._wait(key, take=True))

    async def peek(self, key: str) -> float:
        if self.per_minute <= 0:
            return 0.0
        return await self._shared.call_async(lambda: self._wait(key, take=False))

    async def _wait(self, key: str, *, take: bool) -> float:
        limiter = self._limiter()
        count = limiter.hit if take else limiter.test
        if await count(self._item, self.name, key):
            return 0.0
        reset_at, _ = await limiter.get_window_stats(self._item, self.name, key)
        return max(reset_at - time.time(), 0.1)

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        """The limiter of the running event loop (its connections belong to it)."""
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            from limits.aio.storage import RedisStorage
            from limits.aio.strategies import SlidingWindowCounterRateLimiter

            storage = RedisStorage(
                f"async+{self._shared.url}",
                implementation="redispy",
                key_prefix=f"{self._shared.prefix}limits",
                wrap_exceptions=True,
                # The options are typed as scalars, but the bridge takes a pool among them.
                connection_pool=self._shared.loop_pool(),  # type: ignore[arg-type]
            )
            limiter = SlidingWindowCounterRateLimiter(storage)
            self._limiters[loop] = limiter
        return limiter


def rate_limits(per_minute: int, shared: SharedState | None, name: str) -> RateLimits:
    """Shared through Redis when it is configured, else this process's own."""
    if shared is None:
        return RateLimiter(per_minute)
    return SharedRateLimiter(per_minute, shared, name)
