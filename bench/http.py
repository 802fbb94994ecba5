"""HTTP figures on loopback, all under wrk: POST /v1/scores against a bare FastAPI endpoint,
and POST /v1/scores/batch with 10 000 WAI-SR rows end to end. The servers run under the same
uvicorn settings, one worker each, and are measured in the same run, alternating.

Ours runs as deployed: every request authenticated (a key with the `scores` scope, through
the rate limiter, whose limit is set out of reach so that it counts without refusing), and
the default request logging on (LOG_LEVEL=INFO: one JSON line a request, written to a file as
a log collector would take it). The bare endpoint checks no key and logs nothing; a third
server, bench/bare_app_same_work.py, does the least of ours' work the way FastAPI's tutorial
writes it (a key, a rate limit, the security headers, a log line, the same scorer)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from app.access import keys
from app.platform.db import Database
from app.platform.settings import Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID
from bench.core import questionnaire_response, random_answers
from bench.cpu import CpuCost

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BATCH_ROWS = 10_000
WAI_SR_ANSWERS = random_answers(1, 12, 5)[0]
WAI_SR_BODY = {"instrument": "wai-sr", "responses": WAI_SR_ANSWERS}
FHIR_BODY = questionnaire_response("wai-sr", WAI_SR_ANSWERS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The process of each server `serve` runs, by its URL (its workers are its children).
SERVER_PIDS: dict[str, int] = {}


@contextmanager
def serve(target: list[str], env: dict[str, str], log: Path | None = None) -> Iterator[str]:
    """Run uvicorn with `target` on a free loopback port until the block ends (its stderr,
    where the service logs, to the file `log` if given); its process is `SERVER_PIDS[url]`."""
    port = free_port()
    command = [str(BIN / "uvicorn"), *target, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    with ExitStack() as files:
        stderr = files.enter_context(log.open("ab")) if log is not None else None
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS[url] = process.pid
    try:
        deadline = time.monotonic() + 120  # a loaded machine imports slowly
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"server {target} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        del SERVER_PIDS[url]
        process.terminate()
        process.wait(timeout=15)


@dataclass(frozen=True)
class Load:
    """What wrk measured: requests a second, the 99th percentile latency in ms, and how many
    requests it completed."""

    rate: float
    p99_ms: float
    requests: int


def wrk_load(
    url: str,
    path: str,
    body: Mapping[str, object],
    seconds: int,
    workdir: Path,
    connections: int = 32,
    key: str | None = None,
) -> Load:
    """What wrk (a C client, one thread) gets through in `seconds`, and its p99 latency."""
    script = workdir / "post.lua"
    authorization = f'wrk.headers["Authorization"] = "Bearer {key}"\n' if key else ""
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n' + authorization,
        encoding="utf-8",
    )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    output = subprocess.run([*command, url + path], capture_output=True, text=True, check=True)
    text = output.stdout
    if "Non-2xx" in text or "Socket errors" in text:
        raise RuntimeError(f"wrk saw errors:\n{text}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    count = re.search(r"(\d+) requests in", text)
    if rate is None or p99 is None or count is None:
        raise RuntimeError(f"no rate, p99 or count in wrk output:\n{text}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return Load(float(rate.group(1)), float(p99.group(1)) * scale, int(count.group(1)))


def wrk_rate(
    url: str,
    path: str,
    body: Mapping[str, object],
    seconds: int,
    workdir: Path,
    connections: int = 32,
    key: str | None = None,
) -> float:
    """Requests per second that wrk (a C client, one thread) gets through in `seconds`."""
    return wrk_load(url, path, body, seconds, workdir, connections, key).rate


def scoring_key(database_url: str) -> str:
    """A key with the `scores` scope in the bench's database (ours authenticates; the bare
    endpoint does not, so the comparison charges us for it)."""
    database = Database.from_url(Settings(database_url=database_url).database_url)
    try:
        created = keys.create_key(
            database, LOCAL_ORGANIZATION_ID, "bench", keys.SCOPES, None, datetime.now(UTC)
        )
    finally:
        database.dispose()
    return str(created["key"])


def batch_body(rows: int) -> dict[str, object]:
    answers = random_answers(rows, 12, 5)
    return {
        "instrument": "wai-sr",
        "rows": [{"ref": f"row-{n}", "responses": row} for n, row in enumerate(answers)],
    }


def run(seconds: int = 5, rounds: int = 3) -> dict[str, float]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk); `make bench` does it")
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        bare_env = {"DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}"}
        # Ours as deployed: default logging (INFO, one line a request); the rate limiter counts
        # every request, with a limit wrk cannot reach.
        env = {**bare_env, "LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": str(10**9)}
        subprocess.run(
            [str(BIN / "alembic"), "upgrade", "head"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        key = scoring_key(env["DATABASE_URL"])
        log = workdir / "requests.log"
        ours: list[Load] = []
        bare: list[Load] = []
        same: list[Load] = []
        ours_cpu, bare_cpu, same_cpu = CpuCost(), CpuCost(), CpuCost()
        batches: list[float] = []
        fhir: list[float] = []
        batch = batch_body(BATCH_ROWS)
        with (
            serve(["--factory", "app.main:app_factory"], env, log=log) as ours_url,
            serve(["bench.bare_app:app"], bare_env) as bare_url,
            serve(["bench.bare_app_same_work:app"], env, log=workdir / "same.log") as same_url,
        ):
            wrk_rate(ours_url, "/v1/scores", WAI_SR_BODY, 1, workdir, key=key)  # warm up all
            wrk_rate(bare_url, "/v1/scores", WAI_SR_BODY, 1, workdir)
            wrk_rate(same_url, "/v1/scores", WAI_SR_BODY, 1, workdir, key=key)
            for _ in range(rounds):
                bare_load = partial(wrk_load, bare_url, "/v1/scores", WAI_SR_BODY, seconds, workdir)
                ours_load = partial(
                    wrk_load, ours_url, "/v1/scores", WAI_SR_BODY, seconds, workdir, key=key
                )
                same_load = partial(
                    wrk_load, same_url, "/v1/scores", WAI_SR_BODY, seconds, workdir, key=key
                )
                bare.append(bare_cpu.add(SERVER_PIDS[bare_url], bare_load, _served))
                same.append(same_cpu.add(SERVER_PIDS[same_url], same_load, _served))
                ours.append(ours_cpu.add(SERVER_PIDS[ours_url], ours_load, _served))
            for _ in range(max(1, rounds // 2)):
                # One connection: each batch is sent, scored and read back before the next.
                batches.append(
                    wrk_rate(
                        ours_url, "/v1/scores/batch", batch, seconds, workdir, connections=1,
                        key=key,
                    )
                )  # fmt: skip
                fhir.append(
                    wrk_rate(ours_url, "/v1/scores/fhir", FHIR_BODY, seconds, workdir, key=key)
                )
        logged = _request_lines(log)
    ratios = [mine.rate / theirs.rate for mine, theirs in zip(ours, bare, strict=True)]
    rows = [rate * BATCH_ROWS for rate in batches]
    figures = {
        "bare FastAPI endpoint": statistics.median(load.rate for load in bare),
        "bare p99 ms": statistics.median(load.p99_ms for load in bare),
        "POST /v1/scores": statistics.median(load.rate for load in ours),
        "POST /v1/scores p99 ms": statistics.median(load.p99_ms for load in ours),
        "ratio": statistics.median(ratios),
        "bare CPU us": bare_cpu.server_ms * 1000,
        "POST /v1/scores CPU us": ours_cpu.server_ms * 1000,
        "batch rows/s": statistics.median(rows),
        "POST /v1/scores/fhir": statistics.median(fhir),
    }
    print(
        f"  bare FastAPI endpoint            {figures['bare FastAPI endpoint']:>12,.0f} req/s"
        f"   p99 {figures['bare p99 ms']:.1f} ms"
    )
    print(
        f"  POST /v1/scores (key, INFO logs) {figures['POST /v1/scores']:>12,.0f} req/s"
        f"   p99 {figures['POST /v1/scores p99 ms']:.1f} ms"
        f"   ({logged:,} request log lines written)"
    )
    print(
        f"  ratio (ours / bare), median      {figures['ratio']:>12.2f}"
        f"   (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})"
    )
    print(
        f"  CPU per request (the server's process): ours {ours_cpu.server_ms * 1000:.0f} us,"
        f" bare {bare_cpu.server_ms * 1000:.0f} us: ratio (bare / ours)"
        f" {bare_cpu.server_ms / ours_cpu.server_ms:.2f}"
    )
    same_ratios = [mine.rate / theirs.rate for mine, theirs in zip(ours, same, strict=True)]
    print(
        f"  the least of the same work, plain FastAPI (bench/bare_app_same_work.py):"
        f" {statistics.median(load.rate for load in same):,.0f} req/s,"
        f" p99 {statistics.median(load.p99_ms for load in same):.1f} ms,"
        f" CPU {same_cpu.server_ms * 1000:.0f} us a request"
    )
    print(
        f"  ratio (ours / same work), median {statistics.median(same_ratios):.2f}"
        f"   (rounds: {', '.join(f'{ratio:.2f}' for ratio in same_ratios)});"
        f" CPU ratio (same work / ours) {same_cpu.server_ms / ours_cpu.server_ms:.2f}"
    )
    print(
        f"  POST /v1/scores/batch, 10 000 WAI-SR rows: {figures['batch rows/s']:,.0f} rows/s median"
        f" ({1000 / statistics.median(batches):.0f} ms per batch;"
        f" rounds {min(rows):,.0f} to {max(rows):,.0f})"
    )
    print(
        f"  POST /v1/scores/fhir (WAI-SR QuestionnaireResponse -> Bundle of 4 Observations):"
        f" {figures['POST /v1/scores/fhir']:,.0f} req/s median"
    )
    return figures


def _served(load: Load) -> int:
    return load.requests


def _request_lines(log: Path) -> int:
    """The request log lines the server wrote: proof that it logged what it served."""
    with log.open("rb") as lines:
        return sum(1 for line in lines if b'"logger":"bordin.requests"' in line)
