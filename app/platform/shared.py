"""State shared by every process of the service through Redis (`REDIS_URL`): one connection
pool per process, the key prefix that keeps this deployment's keys apart, and the one error
that a Redis that does not answer becomes (a 503, never a 500)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import redis
from limits.errors import StorageError

from app.platform.errors import SharedStateUnavailableError

T = TypeVar("T")


class SharedState:
    """A Redis server shared by the processes: `pool` for clients (the rate limits' storage
    among them), `prefix` before every key this service writes."""

    def __init__(self, url: str, prefix: str, timeout_seconds: float) -> None:
        self.url = url
        self.prefix = prefix
        # Short timeouts: a Redis that does not answer costs a request this long, then a 503.
        self.pool = redis.ConnectionPool.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self.client = redis.Redis(connection_pool=self.pool)

    def call(self, action: Callable[[], T]) -> T:
        """`action()`, with Redis's failures (refused, lost, timed out) as
        `SharedStateUnavailableError`."""
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError, StorageError) as error:
            raise SharedStateUnavailableError(
                "the shared state (Redis) does not answer; retry later"
            ) from error

    def close(self) -> None:
        self.pool.disconnect()
