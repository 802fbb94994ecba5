"""State shared by every process of the service through Redis (`REDIS_URL`): the clients
(asynchronous ones for the event loop's hot path, one set per event loop; a synchronous one
for threads), the key prefix that keeps this deployment's keys apart, and the one error that
a Redis that does not answer becomes (a 503, never a 500)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar
from weakref import WeakKeyDictionary

import redis
import redis.asyncio
from limits.errors import StorageError

from app.platform.errors import SharedStateUnavailableError

T = TypeVar("T")
# Redis's failures: refused, dropped or timed out (raised as such by both clients), and the
# `limits` package's wrapping of them.
_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, StorageError)


class SharedState:
    """A Redis server shared by the processes, and `prefix` before every key written there.
    Short timeouts: a Redis that does not answer costs a request `timeout_seconds`, then a
    503."""

    def __init__(self, url: str, prefix: str, timeout_seconds: float) -> None:
        self.url = url
        self.prefix = prefix
        self._timeouts = {
            "socket_timeout": timeout_seconds,
            "socket_connect_timeout": timeout_seconds,
        }
        self.pool = redis.ConnectionPool.from_url(url, **self._timeouts)
        self.client = redis.Redis(connection_pool=self.pool)
        # A connection belongs to the event loop that opened it: one pool per loop (a server
        # process has one loop; tests may run several).
        self._pools: WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.ConnectionPool]
        self._pools = WeakKeyDictionary()

    def loop_pool(self) -> redis.asyncio.ConnectionPool:
        """The asynchronous connection pool of the running event loop."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = redis.asyncio.ConnectionPool.from_url(self.url, **self._timeouts)
            self._pools[loop] = pool
        return pool

    def loop_client(self) -> redis.asyncio.Redis:
        return redis.asyncio.Redis(connection_pool=self.loop_pool())

    def call(self, action: Callable[[], T]) -> T:
        """`action()` (from a thread), with Redis's failures as
        `SharedStateUnavailableError`."""
        try:
            return action()
        except _UNAVAILABLE as error:
            raise _unavailable() from error

    async def call_async(self, action: Callable[[], Awaitable[T]]) -> T:
        """`await action()` (on the event loop), with Redis's failures as
        `SharedStateUnavailableError`."""
        try:
            return await action()
        except _UNAVAILABLE as error:
            raise _unavailable() from error

    async def close_loop(self) -> None:
        """Close the running loop's connections (when the app stops)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.disconnect()

    def close(self) -> None:
        self.pool.disconnect()


def _unavailable() -> SharedStateUnavailableError:
    return SharedStateUnavailableError("the shared state (Redis) does not answer; retry later")
