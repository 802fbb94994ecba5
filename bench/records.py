"""Records figures, each against a floor measured in the same run, on PostgreSQL:

- rupture evaluation of a 500-session series (the pure engine, no floor: a duration);
- recording (POST …/administrations, 2 uvicorn workers, wrk 16 connections) against the bare
  FastAPI + SQLAlchemy endpoint of bench/floor_records.py (the issue's floor) and against
  bench/floor_records_same_work.py (the least of the same work, written plainly), alternating
  rounds, with each server's CPU per request and PostgreSQL's;
- history-independence: the same load on an organisation holding 100 000 stored WAI-SR
  administrations (seeded with bulk SQL) against an empty organisation, same server, same
  database, alternating rounds;
- a write to a 600-session episode against a write to a short one (sequential requests)."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.access.keys import create_organization
from app.catalogue.definitions import register_definitions
from app.core.ruptures import ScaleStatistics, SeriesPoint, detect_ruptures
from app.instruments.registry import load_registry
from app.platform.db import Database
from app.platform.settings import Settings
from app.records.statistics import seed_statistics
from bench.core import random_answers
from bench.cpu import CpuCost
from bench.http import BIN, ROOT, SERVER_PIDS, serve

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
EPISODES = 200
HISTORY = 100_000
LONG_EPISODE = 600
WAI_SR_ANSWERS = random_answers(1, 12, 5)[0]


def series_evaluation(sessions: int = 500) -> float:
    """Seconds per evaluation of one WAI-SR series of `sessions` sessions (best of 5)."""
    registry = load_registry(Settings().instruments_dir)
    loaded = registry.get("wai-sr")
    start = time.time()
    points = []
    for number, answers in enumerate(random_answers(sessions, 12, 5), start=1):
        result = loaded.scorer.score(answers)
        points.append(
            SeriesPoint(f"a{number}", number, _at(start, number), result["scales"], result["flags"])
        )
    statistics_ = {
        scale: ScaleStatistics(sd=3.0, reliability=0.85, source="bench", count=1000)
        for scale in ("goal", "task", "bond", "total")
    }
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        detect_ruptures(loaded.definition, points, statistics_by_scale=statistics_)
        best = min(best, time.perf_counter() - started)
    return best


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database migrated to head, dropped at the end."""
    server = make_url(
        Settings(database_url=os.environ.get("BENCH_POSTGRES_URL", POSTGRES)).database_url
    )
    name = f"bordin_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        subprocess.run(
            [str(BIN / "alembic"), "upgrade", "head"],
            cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, check=True, capture_output=True,
        )  # fmt: skip
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def new_organisation(url: str, name: str) -> tuple[uuid.UUID, str]:
    database = Database.from_url(url)
    try:
        return create_organization(database, name, datetime.now(UTC))
    finally:
        database.dispose()


def create_episodes(url: str, organization_id: uuid.UUID, count: int) -> list[str]:
    """`count` new episodes of the organisation, inserted in one statement."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO episode (id, organization_id, patient_ref, clinician_ref, created_at)"
                " SELECT CAST(e AS uuid), :org, 'bench-' || e, 'c', now()"
                " FROM unnest(CAST(:ids AS text[])) AS e"
            ),
            {"org": organization_id, "ids": ids},
        )
    engine.dispose()
    return ids


def seed_history(
    url: str, organization_id: uuid.UUID, administrations: int, per_episode: int
) -> list[str]:
    """Stored WAI-SR administrations, with bulk SQL (not through the API): `per_episode`
    sessions in each of administrations / per_episode episodes, scored as the scorer scores
    varied answers (a few answer sets, so that the organisation's SD is not zero)."""
    registry = load_registry(Settings().instruments_dir)
    loaded = registry.get("wai-sr")
    database = Database.from_url(url)
    register_definitions(database, registry, datetime.now(UTC))  # as the app does at start
    database.dispose()
    answer_sets = random_answers(8, 12, 5)
    results = [loaded.scorer.score(answers) for answers in answer_sets]
    engine = create_engine(url)
    episodes = create_episodes(url, organization_id, administrations // per_episode)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TEMP TABLE bench_answers (n int, responses json, result json)")
        )
        connection.execute(
            text("INSERT INTO bench_answers VALUES (:n, :responses, :result)"),
            [
                {"n": n, "responses": json.dumps(a), "result": json.dumps(r)}
                for n, (a, r) in enumerate(zip(answer_sets, results, strict=True))
            ],
        )
        connection.execute(
            text(
                "CREATE TEMP TABLE bench_admin AS SELECT gen_random_uuid() AS id,"
                " CAST(e AS uuid) AS episode_id, s AS session, (s + i) % 8 AS n"
                " FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS t(e, i),"
                " generate_series(1, :per) AS s"
            ),
            {"ids": episodes, "per": per_episode},
        )
        connection.execute(
            text(
                "INSERT INTO administration (id, organization_id, episode_id, instrument_id,"
                " rater, session, created_at) SELECT id, :org, episode_id, 'wai-sr', 'client',"
                " session, now() FROM bench_admin"
            ),
            {"org": organization_id},
        )
        connection.execute(
            text(
                "INSERT INTO administration_revision (id, organization_id, administration_id,"
                " revision, status, instrument_version, definition_hash, administered_at,"
                " responses, result, created_at) SELECT gen_random_uuid(), :org, a.id, 1,"
                " 'recorded', :version, :hash, now(), b.responses, b.result, now()"
                " FROM bench_admin a JOIN bench_answers b USING (n)"
            ),
            {"org": organization_id, "version": loaded.version, "hash": loaded.definition_hash},
        )
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return episodes


def wrk_record(
    base: str,
    episodes: list[str],
    key: str,
    first_session: int,
    *,
    seconds: int,
    connections: int,
    workdir: Path,
) -> dict[str, float]:
    """Requests/s and latency percentiles of recording sessions first_session, +1, … of each
    episode in turn (never the same session twice)."""
    script = workdir / "record.lua"
    script.write_text(_record_script(episodes, key, first_session), encoding="utf-8")
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-s", str(script), f"{base}/v1/episodes",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", output)
    count = re.search(r"(\d+) requests in", output)
    if rate is None or p50 is None or p99 is None or count is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return {
        "requests": float(count.group(1)),
        "requests/s": float(rate.group(1)),
        "p50 ms": _milliseconds(p50.group(1), p50.group(2)),
        "p99 ms": _milliseconds(p99.group(1), p99.group(2)),
    }


SERVER_ENV = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_PER_MINUTE": "0"}
WORKERS = ["--workers", "2"]


# Recording's servers, ours first (its first write seeds the statistics the others read).
SERVERS = {
    "ours": ["--factory", "app.main:app_factory"],
    "floor": ["bench.floor_records:app"],
    "same work": ["bench.floor_records_same_work:app"],
}
FLOOR = "floor (bare FastAPI + SQLAlchemy: validate, lock the episode, insert, commit)"
SAME_WORK = (
    "floor doing the least of the same work (key look-up, lock, inserts, statistics shard,"
    " series, sums, rules, stored flags and alerts, audit event)"
)


def recording_against_floor(seconds: int, connections: int, rounds: int, workdir: Path) -> None:
    """Ours against the issue's floor (bench/floor_records.py) and against a floor doing the
    least of the same work (bench/floor_records_same_work.py), alternating rounds."""
    with fresh_database() as url:
        organization_id, key = new_organisation(url, "bench")
        episodes = {name: create_episodes(url, organization_id, EPISODES) for name in SERVERS}
        env = {**SERVER_ENV, "DATABASE_URL": url}
        loads: dict[str, list[dict[str, float]]] = {name: [] for name in SERVERS}
        costs = {name: CpuCost() for name in SERVERS}
        with ExitStack() as servers:
            urls = {
                name: servers.enter_context(serve([*target, *WORKERS], env))
                for name, target in SERVERS.items()
            }
            load = partial(wrk_record, connections=connections, workdir=workdir)
            for name in SERVERS:  # warm up each (ours first: it seeds the statistics)
                load(urls[name], episodes[name], key, 1, seconds=1)
            for number in range(1, rounds + 1):
                for name in SERVERS:
                    run = partial(
                        load, urls[name], episodes[name], key, 1000 * number, seconds=seconds
                    )
                    loads[name].append(costs[name].add(SERVER_PIDS[urls[name]], run, _served))
    ours = loads["ours"]
    print(
        f"  POST …/administrations ({EPISODES} episodes, 2 workers, {connections} connections):"
        f" {_median(ours, 'requests/s'):,.0f} requests/s, p99 {_median(ours, 'p99 ms'):.1f} ms;"
        f" CPU per request {_cpu(costs['ours'])}"
    )
    for name, floor in (("floor", FLOOR), ("same work", SAME_WORK)):
        ratios = [o["requests/s"] / f["requests/s"] for o, f in zip(ours, loads[name], strict=True)]
        cpu = costs[name].total_ms / costs["ours"].total_ms
        print(
            f"  {floor}: {_median(loads[name], 'requests/s'):,.0f} requests/s,"
            f" p99 {_median(loads[name], 'p99 ms'):.1f} ms; CPU per request {_cpu(costs[name])}"
        )
        print(
            f"    ratio (ours / {name}), median {statistics.median(ratios):.2f}"
            f"   (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)});"
            f" CPU ratio ({name} / ours) {cpu:.2f}"
        )


def _cpu(cost: CpuCost) -> str:
    return f"{cost.server_ms:.1f} ms (app) + {cost.postgres_ms:.1f} ms (PostgreSQL)"


def history_independence(seconds: int, connections: int, rounds: int, workdir: Path) -> None:
    with fresh_database() as url:
        empty_id, empty_key = new_organisation(url, "empty")
        seeded_id, seeded_key = new_organisation(url, "seeded")
        started = time.perf_counter()
        seed_history(url, seeded_id, HISTORY, 20)
        seeded_in = time.perf_counter() - started
        empty_episodes = create_episodes(url, empty_id, EPISODES)
        seeded_episodes = create_episodes(url, seeded_id, EPISODES)
        long_episode = seed_history(url, seeded_id, LONG_EPISODE, LONG_EPISODE)[0]
        short_episode = create_episodes(url, seeded_id, 1)[0]
        env = {**SERVER_ENV, "DATABASE_URL": url}
        empty: list[dict[str, float]] = []
        seeded: list[dict[str, float]] = []
        # `bordin migrate` seeds the statistics from the history once, before any request.
        started = time.perf_counter()
        database = Database.from_url(url)
        seed_statistics(database, load_registry(Settings().instruments_dir), datetime.now(UTC))
        database.dispose()
        statistics_in = time.perf_counter() - started
        with serve(["--factory", "app.main:app_factory", *WORKERS], env) as base:
            with httpx.Client(base_url=base, timeout=600) as client:
                first = time.perf_counter()
                _post(client, seeded_key, seeded_episodes[0], 1)
                first_write = time.perf_counter() - first
            load = partial(wrk_record, connections=connections, workdir=workdir)
            load(base, empty_episodes, empty_key, 2, seconds=1)  # warm up
            for number in range(1, rounds + 1):
                session = 1000 * number
                empty.append(load(base, empty_episodes, empty_key, session, seconds=seconds))
                seeded.append(load(base, seeded_episodes, seeded_key, session, seconds=seconds))
            long_ms, short_ms = _long_against_short(base, seeded_key, long_episode, short_episode)
    print(
        f"  an organisation holding {HISTORY:,} WAI-SR administrations (bulk SQL,"
        f" in {seeded_in:.0f} s); `bordin migrate` seeds its statistics from them in"
        f" {statistics_in:.1f} s, once; its first write then takes {first_write * 1000:.0f} ms"
    )
    print(
        f"  recording, empty organisation: {_median(empty, 'requests/s'):,.0f} requests/s,"
        f" p99 {_median(empty, 'p99 ms'):.1f} ms; with {HISTORY:,} administrations:"
        f" {_median(seeded, 'requests/s'):,.0f} requests/s, p99 {_median(seeded, 'p99 ms'):.1f} ms"
    )
    p99_ratios = [s["p99 ms"] / e["p99 ms"] for s, e in zip(seeded, empty, strict=True)]
    print(
        f"  p99 ratio (seeded / empty), median {statistics.median(p99_ratios):.2f}"
        f"   (rounds: {', '.join(f'{ratio:.2f}' for ratio in p99_ratios)})"
    )
    print(
        f"  one write to a {LONG_EPISODE}-session episode: {long_ms:.1f} ms; to a 3-session"
        f" episode: {short_ms:.1f} ms (median of 30 sequential writes each,"
        f" ratio {long_ms / short_ms:.2f})"
    )


def _served(load: dict[str, float]) -> int:
    return int(load["requests"])


def _long_against_short(
    base: str, key: str, long_episode: str, short_episode: str
) -> tuple[float, float]:
    """Median milliseconds of sequential writes to a long episode and to a short one."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for number in range(1, 4):
            _post(client, key, short_episode, number)
        long_times, short_times = [], []
        for number in range(1, 31):
            long_times.append(_timed_post(client, key, long_episode, LONG_EPISODE + number))
            short_times.append(_timed_post(client, key, short_episode, 3 + number))
    return statistics.median(long_times), statistics.median(short_times)


def _timed_post(client: httpx.Client, key: str, episode: str, session: int) -> float:
    started = time.perf_counter()
    _post(client, key, episode, session)
    return (time.perf_counter() - started) * 1000


def _post(client: httpx.Client, key: str, episode: str, session: int) -> None:
    response = client.post(
        f"/v1/episodes/{episode}/administrations",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "instrument": "wai-sr", "rater": "client", "session": session,
            "administered_at": "2026-03-01T10:00:00+01:00", "responses": WAI_SR_ANSWERS,
        },
    )  # fmt: skip
    response.raise_for_status()


def run(seconds: int = 10, connections: int = 16, rounds: int = 3) -> None:
    per_evaluation = series_evaluation()
    print(f"  rupture evaluation, one 500-session WAI-SR series: {per_evaluation * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as scratch:
        recording_against_floor(seconds, connections, rounds, Path(scratch))
        history_independence(seconds, connections, rounds, Path(scratch))


def _median(figures: list[dict[str, float]], name: str) -> float:
    return statistics.median(figure[name] for figure in figures)


def _record_script(episodes: list[str], key: str, first_session: int) -> str:
    """A wrk script that records sessions first_session, +1, … of each episode in turn."""
    answers = json.dumps(WAI_SR_ANSWERS)
    return (
        f"local episodes = {{{', '.join(json.dumps(e) for e in episodes)}}}\n"
        "local counter = 0\n"
        "request = function()\n"
        "  local episode = episodes[(counter % #episodes) + 1]\n"
        f"  local session = math.floor(counter / #episodes) + {first_session}\n"
        "  counter = counter + 1\n"
        '  local body = \'{"instrument": "wai-sr", "rater": "client", "session": \' .. session ..\n'
        f'    \', "administered_at": "2026-03-01T10:00:00+01:00", "responses": {answers}}}\'\n'
        '  return wrk.format("POST", "/v1/episodes/" .. episode .. "/administrations",\n'
        '    {["Content-Type"] = "application/json",\n'
        f'     ["Authorization"] = "Bearer {key}"}}, body)\n'
        "end\n"
    )


def _milliseconds(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _at(start: float, number: int) -> datetime:
    """A weekly session."""
    return datetime.fromtimestamp(start + number * 604_800, tz=UTC)
