"""Several processes: `bordin serve` as real server processes (one with two workers) sharing
one database and one Redis, their /metrics listener, and `bordin migrate` run twice at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from app.access import keys
from app.platform.db import Database, migration_heads
from app.platform.settings import PROJECT_ROOT
from app.platform.tables import LOCAL_ORGANIZATION_ID
from tests.conftest import INSTRUMENTS, postgres_database
from tests.redis_support import RedisForTests, redis_prefix
from tests.server_support import free_port

BORDIN = Path(sys.executable).parent / "bordin"
SCORE = {"instrument": "srs", "responses": {"1": 9.1, "2": 8.7, "3": 9.3, "4": 7.9}}
LIMIT = 10  # requests a minute per key, for every process together
# A worker builds the whole app before it answers; on a busy machine that takes a while.
START_SECONDS = 300


@dataclass(frozen=True)
class Server:
    url: str
    metrics_url: str | None
    log: Path


@contextmanager
def bordin_serve(environment: dict[str, str], log: Path, *, metrics: bool) -> Iterator[Server]:
    """`bordin serve` with `environment`, on free ports; stopped (SIGTERM) at the end."""
    port = free_port()
    metrics_port = free_port() if metrics else None
    env = {**os.environ, **environment, "HOST": "127.0.0.1", "PORT": str(port)}
    if metrics_port is not None:
        env["METRICS_PORT"] = str(metrics_port)
    with log.open("wb") as output:
        process = subprocess.Popen([str(BORDIN), "serve"], env=env, stderr=output)
    server = Server(
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else None,
        log,
    )
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=60)


def wait_ready(server: Server, workers: int) -> None:
    """Until a worker answers /health/ready, and with metrics, until every worker has
    started (each adds its pool's capacity, 15 connections by default)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(server.url + "/health/ready", timeout=2).status_code == 200
            if ready and server.metrics_url is not None:
                found = re.search(
                    r"^bordin_database_pool_capacity (\S+)$",
                    httpx.get(server.metrics_url, timeout=2).text,
                    re.MULTILINE,
                )
                ready = found is not None and float(found.group(1)) == 15 * workers
            if ready:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{server.url} not ready: {server.log.read_text()[-2000:]}")


@dataclass(frozen=True)
class Replicas:
    """A (2 workers, /metrics) and B (1 worker), one database, one Redis."""

    two_workers: Server
    one_worker: Server
    redis: RedisForTests


@pytest.fixture(scope="module")
def replicas(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    folder = tmp_path_factory.mktemp("replicas")
    with ExitStack() as stack:
        shared = stack.enter_context(redis_prefix())
        environment = {
            "DATABASE_URL": database_url,
            "INSTRUMENTS_DIR": str(INSTRUMENTS),
            "REDIS_URL": shared.url,
            "REDIS_PREFIX": shared.prefix,
            "RATE_LIMIT_PER_MINUTE": str(LIMIT),
            # Reused authentications live a minute: only the shared revocation ends one.
            "AUTH_CACHE_SECONDS": "60",
            "WEBHOOK_DISPATCH": "false",
            "LOG_LEVEL": "INFO",
        }
        first = stack.enter_context(
            bordin_serve({**environment, "WORKERS": "2"}, folder / "a.log", metrics=True)
        )
        second = stack.enter_context(
            bordin_serve({**environment, "WORKERS": "1"}, folder / "b.log", metrics=False)
        )
        with ThreadPoolExecutor(2) as pool:  # they start side by side
            list(pool.map(wait_ready, (first, second), (2, 1)))
        yield Replicas(first, second, shared)


def new_key(engine: Engine, *scopes: str) -> dict[str, str]:
    created = keys.create_key(
        Database(engine), LOCAL_ORGANIZATION_ID, "replicas", scopes, None, datetime.now(UTC)
    )
    return {"id": str(created["id"]), "key": created["key"]}


def score(server: Server, key: str) -> int:
    # A new connection each time, as separate clients would come.
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(server.url + "/v1/scores", json=SCORE, headers=headers).status_code


def test_three_worker_processes_on_one_redis_allow_a_key_its_limit_once_between_them(
    replicas: Replicas, engine: Engine
) -> None:
    key = new_key(engine, "scores")["key"]
    servers = (replicas.two_workers, replicas.one_worker)
    statuses = [score(servers[n % 2], key) for n in range(2 * LIMIT)]
    assert statuses == [200] * LIMIT + [429] * LIMIT


def test_a_key_revoked_through_one_process_is_refused_by_another_at_once(
    replicas: Replicas, engine: Engine, api_key: str
) -> None:
    tablet = new_key(engine, "scores")
    admin = new_key(engine, "admin")["key"]
    assert score(replicas.one_worker, tablet["key"]) == 200  # its authentication is reused
    revoked = httpx.delete(
        f"{replicas.two_workers.url}/v1/api-keys/{tablet['id']}",
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert revoked.status_code == 200
    assert score(replicas.one_worker, tablet["key"]) == 401


def test_metrics_add_up_both_workers_on_a_port_of_their_own_and_never_on_the_api(
    replicas: Replicas,
) -> None:
    server = replicas.two_workers
    assert server.metrics_url is not None
    with ThreadPoolExecutor(4) as pool:  # side by side: both workers may take some
        answers = list(pool.map(lambda _: httpx.get(server.url + "/v1/instruments"), range(8)))
    assert {answer.status_code for answer in answers} == {200}
    text = httpx.get(server.metrics_url).text
    samples = dict(re.findall(r"^(bordin_\S+) (\S+)$", text, re.MULTILINE))
    labels = 'method="GET",route="/v1/instruments",status="200"'
    assert float(samples[f"bordin_http_request_duration_seconds_count{{{labels}}}"]) == 8
    # Each worker's pool: 5 connections and 10 more under load (the defaults), both counted.
    assert float(samples["bordin_database_pool_capacity"]) == 2 * 15
    for name in ("pending", "failed", "lag_seconds"):
        assert f"bordin_webhook_outbox_{name}" in samples
    assert "bordin_alerts_opened_total" in samples
    assert httpx.get(server.url + "/metrics").status_code == 404


def test_the_server_logs_json_lines_only(replicas: Replicas) -> None:
    for server in (replicas.two_workers, replicas.one_worker):
        httpx.get(server.url + "/health/live")
    for server in (replicas.two_workers, replicas.one_worker):
        deadline = time.monotonic() + 15  # the writer threads write what has gathered
        while True:
            lines = server.log.read_text(encoding="utf-8").splitlines()
            if any('"route":"/health/live"' in line for line in lines):
                break
            assert time.monotonic() < deadline, lines[-5:]
            time.sleep(0.05)
        assert all(line.startswith('{"time":') for line in lines), lines[:5]


def migrate(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BORDIN), "migrate"],
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_two_migrations_at_once_on_postgresql_both_succeed_and_leave_it_at_head() -> None:
    """Replicas started together each run `bordin migrate`: the advisory lock makes the
    second wait, then find nothing to do (without it, both would create the same tables)."""
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    if not server.startswith("postgres"):
        pytest.fail("TEST_DATABASE_URL names no PostgreSQL server")
    with postgres_database(server) as url:
        jobs = [migrate(url), migrate(url)]
        outputs = [job.communicate(timeout=300)[0].decode() for job in jobs]
        assert [job.returncode for job in jobs] == [0, 0], outputs
        database = Database.from_url(url)
        try:
            assert database.revisions() == migration_heads(PROJECT_ROOT / "migrations")
        finally:
            database.dispose()
    # One of them ran the migrations, the other found them done.
    assert sum("Running upgrade" in output for output in outputs) == 1, outputs


def test_bordin_migrate_on_sqlite_migrates_a_new_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    job = migrate(url)
    output = job.communicate(timeout=300)[0].decode()
    assert job.returncode == 0, output
    database = Database.from_url(url)
    try:
        assert database.revisions() == migration_heads(PROJECT_ROOT / "migrations")
    finally:
        database.dispose()


def test_a_server_process_leaves_what_it_loaded_out_of_the_collectors_walks(
    tmp_path: Path,
) -> None:
    """The app factory freezes the heap it built (modules, instruments, catalogues, the app):
    a full garbage collection under load then walks only what requests made (unfrozen, each
    took 190-250 ms of a recording worker, about 10 ms frozen)."""
    script = (
        "import gc\n"
        "from app.main import app_factory\n"
        "app_factory()\n"
        "print(gc.get_freeze_count(), sum(gc.get_count()))\n"
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bordin.db'}"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=PROJECT_ROOT, capture_output=True,
        text=True, check=True, timeout=START_SECONDS,
    )  # fmt: skip
    frozen, young = (int(number) for number in done.stdout.split())
    assert frozen > 100_000, done.stdout  # the whole app, not a handful of objects
    assert young < 1_000, done.stdout
