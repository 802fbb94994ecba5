"""The log line's fast path: as the process logs in production (one JsonLineHandler), a
request's line skips logging's machinery and still says what logging would say; the writer
thread writes every line, also those queued when the process exits."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.platform import logs
from app.platform.settings import Settings
from tests.server_support import logging_restored

SRS = {"1": 9.1, "2": 8.7, "3": 9.3, "4": 7.9}
FIELDS = {
    "method": "POST", "route": "/v1/scores", "status": 200, "duration_ms": 0.31,
    "key_id": "k", "organization_id": "o", "jwt_issuer": None, "jwt_subject": None,
}  # fmt: skip


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_fast_path_writes_the_line_logging_would_write() -> None:
    requests = logging.getLogger("bordin.requests")
    with logging_restored():
        fast = io.StringIO()
        logs.configure_logging("INFO", fast)
        assert logs._sole_handler(requests) is not None
        logs.log_fields(requests, logging.INFO, "request", FIELDS)
        logging.root.handlers[0].flush()
        generic = io.StringIO()
        logs.configure_logging("INFO", generic)
        extra = logging.StreamHandler(io.StringIO())  # a second handler: logging's own path
        logging.root.addHandler(extra)
        assert logs._sole_handler(requests) is None
        logs.log_fields(requests, logging.INFO, "request", FIELDS)
        logging.root.handlers[0].flush()
    (fast_line,) = lines_of(fast)
    (generic_line,) = lines_of(generic)
    assert fast_line.keys() == generic_line.keys()
    for line in (fast_line, generic_line):
        assert {name: line[name] for name in FIELDS} == FIELDS
        assert (line["level"], line["logger"], line["message"]) == (
            "INFO", "bordin.requests", "request",
        )  # fmt: skip
        assert abs(datetime.fromisoformat(line["time"]) - datetime.now(UTC)).total_seconds() < 60


def test_times_are_the_iso_format_of_datetime_to_the_microsecond() -> None:
    for created in (0.0, 1.5, 1764495000.0, 1764495000.000001, 1764495000.9999996, 2e9 + 0.25):
        assert logs._iso_time(created) == datetime.fromtimestamp(created, UTC).isoformat()


def test_requests_through_the_fast_path_have_their_request_id_and_caller(
    settings: Settings, api_key: str
) -> None:
    app = create_app(settings)
    with logging_restored():
        stream = io.StringIO()
        logs.configure_logging("INFO", stream)
        with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
            scored = client.post("/v1/scores", json={"instrument": "srs", "responses": SRS})
            missing = client.get("/v1/episodes/not-an-id")
        logging.root.handlers[0].flush()
    requests = [line for line in lines_of(stream) if line["logger"] == "bordin.requests"]
    ids = {line["request_id"]: line for line in requests}
    line = ids[scored.headers["x-request-id"]]
    assert (line["route"], line["status"], line["method"]) == ("/v1/scores", 200, "POST")
    assert line["key_id"] is not None
    assert line["organization_id"] is not None
    assert ids[missing.headers["x-request-id"]]["status"] == 422
    assert "not-an-id" not in stream.getvalue()


def test_lines_still_queued_when_the_process_exits_are_written() -> None:
    program = (
        "import logging, sys\n"
        "from app.platform import logs\n"
        "logs.configure_logging('INFO')\n"
        "requests = logging.getLogger('bordin.requests')\n"
        "for n in range(2000):\n"
        "    logs.log_fields(requests, logging.INFO, 'request', {'status': n})\n"
        "logging.getLogger('bordin.services').warning('last')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["status"] for line in lines[:-1]] == list(range(2000))
    assert lines[-1]["message"] == "last"
