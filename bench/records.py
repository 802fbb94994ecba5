"""Records figures: rupture evaluation of a 500-session series, and recording administrations
on PostgreSQL under concurrent load (wrk, loopback), rupture evaluation included."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.ruptures import ScaleStatistics, SeriesPoint, detect_ruptures
from app.instruments.registry import load_registry
from app.platform.settings import Settings
from bench.core import random_answers
from bench.http import BIN, ROOT, scoring_key, serve

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
EPISODES = 200


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
    statistics = {
        scale: ScaleStatistics(sd=3.0, reliability=0.85, source="bench", count=1000)
        for scale in ("goal", "task", "bond", "total")
    }
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        detect_ruptures(loaded.definition, points, statistics_by_scale=statistics)
        best = min(best, time.perf_counter() - started)
    return best


def recording_under_load(seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    """Requests/s and latency percentiles of POST .../administrations on a fresh database."""
    server = make_url(
        Settings(database_url=os.environ.get("BENCH_POSTGRES_URL", POSTGRES)).database_url
    )
    name = f"bordin_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    env = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING", "RATE_LIMIT_PER_MINUTE": "0"}
    try:
        subprocess.run(
            [str(BIN / "alembic"), "upgrade", "head"],
            cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True,
        )  # fmt: skip
        key = scoring_key(url)
        with serve(["--factory", "app.main:app_factory", "--workers", "2"], env) as base:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
                episodes = [
                    client.post(
                        "/v1/episodes", json={"patient_ref": f"bench-{n}", "clinician_ref": "c"}
                    ).json()["id"]
                    for n in range(EPISODES)
                ]
            script = workdir / "record.lua"
            script.write_text(_record_script(episodes, key), encoding="utf-8")
            command = [
                "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                "-s", str(script), f"{base}/v1/episodes",
            ]  # fmt: skip
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", output)
    if rate is None or p50 is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return {
        "requests/s": float(rate.group(1)),
        "p50 ms": _milliseconds(p50.group(1), p50.group(2)),
        "p99 ms": _milliseconds(p99.group(1), p99.group(2)),
    }


def run(seconds: int = 10, connections: int = 16) -> None:
    per_evaluation = series_evaluation()
    print(f"  rupture evaluation, one 500-session WAI-SR series: {per_evaluation * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as scratch:
        figures = recording_under_load(seconds, connections, Path(scratch))
    print(
        f"  recording WAI-SR administrations on PostgreSQL ({EPISODES} episodes, 2 workers,"
        f" {connections} connections): {figures['requests/s']:,.0f} requests/s,"
        f" p50 {figures['p50 ms']:.1f} ms, p99 {figures['p99 ms']:.1f} ms"
    )


def _record_script(episodes: list[str], key: str) -> str:
    """A wrk script that records session 1, 2, ... of each episode in turn, never twice."""
    answers = json.dumps(random_answers(1, 12, 5)[0])
    return (
        f"local episodes = {{{', '.join(json.dumps(e) for e in episodes)}}}\n"
        "local counter = 0\n"
        "request = function()\n"
        "  local episode = episodes[(counter % #episodes) + 1]\n"
        "  local session = math.floor(counter / #episodes) + 1\n"
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
