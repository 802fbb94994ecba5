"""Redis for the tests: TEST_REDIS_URL (default: the local server, database 14, which the
service's own default of 0 leaves alone), each test with a key prefix of its own whose keys
are deleted after it (never the whole database: it may be shared). No Redis is a skip on a
developer's machine, and a failure in CI (CI=true), which starts one (.ci/run)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis

from tests.server_support import free_port

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@dataclass(frozen=True)
class RedisForTests:
    url: str
    prefix: str


@contextmanager
def redis_prefix() -> Iterator[RedisForTests]:
    """TEST_REDIS_URL and a key prefix of one's own; its keys are deleted at the end."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        if os.environ.get("CI"):
            pytest.fail(f"no Redis at {TEST_REDIS_URL}: .ci/run starts one")
        pytest.skip(f"no Redis at {TEST_REDIS_URL} (TEST_REDIS_URL; CI starts one)")
    prefix = f"bordin-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield RedisForTests(TEST_REDIS_URL, prefix)
    finally:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
        client.close()


@pytest.fixture
def test_redis() -> Iterator[RedisForTests]:
    with redis_prefix() as shared:
        yield shared


@contextmanager
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of the test's own on a free port (that it may stop), from the same
    redis-server binary as the shared one; yields its URL and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
