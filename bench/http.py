"""HTTP figures on loopback, all under wrk: POST /v1/scores against a bare FastAPI endpoint,
and POST /v1/scores/batch with 10 000 WAI-SR rows end to end. Both servers run under the same
uvicorn settings, one worker each, and are measured in the same run, alternating."""

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
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from app.access import keys
from app.platform.db import Database
from app.platform.settings import Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID
from bench.core import questionnaire_response, random_answers

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


@contextmanager
def serve(target: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run uvicorn with `target` on a free loopback port until the block ends."""
    port = free_port()
    command = [str(BIN / "uvicorn"), *target, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
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
        process.terminate()
        process.wait(timeout=15)


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
    script = workdir / "post.lua"
    authorization = f'wrk.headers["Authorization"] = "Bearer {key}"\n' if key else ""
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n' + authorization,
        encoding="utf-8",
    )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url + path]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"no rate in wrk output:\n{output}")
    return float(match.group(1))


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
        env = {
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_MINUTE": "0",
        }
        subprocess.run(
            [str(BIN / "alembic"), "upgrade", "head"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        key = scoring_key(env["DATABASE_URL"])
        ours: list[float] = []
        bare: list[float] = []
        batches: list[float] = []
        fhir: list[float] = []
        batch = batch_body(BATCH_ROWS)
        with (
            serve(["--factory", "app.main:app_factory"], env) as ours_url,
            serve(["bench.bare_app:app"], env) as bare_url,
        ):
            wrk_rate(ours_url, "/v1/scores", WAI_SR_BODY, 1, workdir, key=key)  # warm up both
            wrk_rate(bare_url, "/v1/scores", WAI_SR_BODY, 1, workdir)
            for _ in range(rounds):
                bare.append(wrk_rate(bare_url, "/v1/scores", WAI_SR_BODY, seconds, workdir))
                ours.append(
                    wrk_rate(ours_url, "/v1/scores", WAI_SR_BODY, seconds, workdir, key=key)
                )
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
    ratios = [mine / theirs for mine, theirs in zip(ours, bare, strict=True)]
    rows = [rate * BATCH_ROWS for rate in batches]
    figures = {
        "bare FastAPI endpoint": statistics.median(bare),
        "POST /v1/scores": statistics.median(ours),
        "ratio": statistics.median(ratios),
        "batch rows/s": statistics.median(rows),
        "POST /v1/scores/fhir": statistics.median(fhir),
    }
    print(f"  bare FastAPI endpoint            {figures['bare FastAPI endpoint']:>12,.0f} req/s")
    print(f"  POST /v1/scores                  {figures['POST /v1/scores']:>12,.0f} req/s")
    print(
        f"  ratio (ours / bare), median      {figures['ratio']:>12.2f}"
        f"   (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})"
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
