"""Structured JSON logs: one object a line, each with the request id of the request it
belongs to. No patient data: request lines name the route template, never the query string
(which carries `patient_ref`) nor bodies; SQL logging is pinned off whatever LOG_LEVEL says,
since SQLAlchemy logs parameters; and an error is logged by its type and where it happened,
never by its message or traceback text, which can quote SQL parameters or the values a
database refused.

A line costs its thread microseconds: it is formatted straight into JSON and queued, and a
writer thread of the process writes whatever has queued in one write (`LineWriter`). The
request's line skips logging's generic machinery (record, caller lookup, handler chain) when
the process logs through that one handler alone (`log_fields`); under any other handler (a
test's capture, an embedding application's own) it goes through logging as every other
line does, with the same fields."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import IO

import orjson

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Loggers that would write patient data (SQL parameters) or raw URLs: warnings only.
QUIET = ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "uvicorn.access", "httpx")
# Uvicorn's own loggers, which its default configuration gives plain-text handlers of their
# own: they go through the JSON handler instead, once each.
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
FIELDS = (
    "method", "route", "status", "duration_ms", "key_id", "organization_id",
    "jwt_issuer", "jwt_subject",  # a JWT caller: the calling system, never a patient
    # webhook deliveries: which event, to which endpoint; never the payload
    "event_id", "endpoint_id", "attempt", "lease_held",
    # a failure: its type, its cause's type, the database's error code, where it happened
    "error_type", "error_cause", "error_code", "error_at", "error_origin",
)  # fmt: skip
APP_PACKAGE = "app"


def describe_error(error: BaseException) -> dict[str, str]:
    """What a log line may say about an exception: its type (and its cause's), the database's
    error code (an SQLSTATE, or SQLite's error name), the deepest frame of our own code and
    the deepest frame of all, as `module:function:line`. Never its message."""
    described = {"error_type": _qualified_name(type(error))}
    cause = error.__cause__ or getattr(error, "orig", None)
    if isinstance(cause, BaseException):
        described["error_cause"] = _qualified_name(type(cause))
    code = _database_code(cause if isinstance(cause, BaseException) else error)
    if code:
        described["error_code"] = code
    frames = _frames(error.__traceback__)
    ours = [where for module, where in frames if module.split(".")[0] == APP_PACKAGE]
    if ours:
        described["error_at"] = ours[-1]
    if frames and frames[-1][1] not in ours[-1:]:
        described["error_origin"] = frames[-1][1]
    return described


def json_line(
    created: float, level: str, logger: str, message: str, fields: Mapping[str, object]
) -> str:
    """One log line: time, level, logger, message, request id, then the known `FIELDS`."""
    entry: dict[str, object] = {
        "time": _iso_time(created),
        "level": level,
        "logger": logger,
        "message": message,
        "request_id": fields.get("request_id") or request_id.get(),
    }
    for field in FIELDS:
        if field in fields:
            entry[field] = fields[field]
    return orjson.dumps(entry, default=str).decode()


_second: tuple[int, str] = (-1, "")


def _iso_time(created: float) -> str:
    """`datetime.fromtimestamp(created, UTC).isoformat()`, with the date and time of the
    second formatted once a second rather than once a line."""
    global _second  # a cache of one entry, replaced whole
    whole = int(created)
    cached = _second
    if cached[0] != whole:
        cached = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        _second = cached
    micros = round((created - whole) * 1_000_000)
    if micros >= 1_000_000:  # rounded up into the next second
        return datetime.fromtimestamp(created, UTC).isoformat()
    return f"{cached[1]}.{micros:06d}+00:00" if micros else f"{cached[1]}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {name: getattr(record, name) for name in FIELDS if hasattr(record, name)}
        if record.exc_info and record.exc_info[1] is not None:
            fields = {**describe_error(record.exc_info[1]), **fields}
        fields["request_id"] = getattr(record, "request_id", None)
        return json_line(record.created, record.levelname, record.name, record.getMessage(), fields)


class LineWriter:
    """Writes lines to a stream from a thread of its own. A thread that logs only appends
    its line (no system call while the writer is busy); the writer takes every line queued
    by then and writes them with one write. What is still queued when the process exits is
    written before it does."""

    # Once woken, the writer lets lines gather this long: under load, one write carries
    # many lines and the writer wakes at most this often; a line logged alone waits this.
    GATHER_SECONDS = 0.01

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lines: deque[str] = deque()
        self._idle = False  # the writer waits for `_wake`: the next line must set it
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._started_in: int | None = None  # the process whose writer thread runs
        self._start_lock = threading.Lock()

    def put(self, line: str) -> None:
        if self._started_in != os.getpid():
            self._start()
        self._lines.append(line)
        if self._idle:
            self._idle = False
            self._wake.set()

    def flush(self) -> None:
        """Write every line queued so far, from the calling thread."""
        self._write(self._drain())

    def _start(self) -> None:
        with self._start_lock:
            if self._started_in == os.getpid():
                return
            if self._started_in is not None:  # a forked child: the parent's writer stays there
                self._wake = threading.Event()
                self._write_lock = threading.Lock()
            threading.Thread(target=self._run, name="log-writer", daemon=True).start()
            atexit.register(self.flush)
            self._started_in = os.getpid()

    def _run(self) -> None:
        while True:
            self._idle = True
            if not self._lines:  # checked after saying so: a line put since sets `_wake`
                self._wake.wait()
            self._idle = False
            self._wake.clear()
            time.sleep(self.GATHER_SECONDS)
            self._write(self._drain())

    def _drain(self) -> list[str]:
        lines = []
        while True:
            try:
                lines.append(self._lines.popleft())
            except IndexError:
                return lines

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._write_lock:
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed stream: nowhere left to log
                pass


class JsonLineHandler(logging.Handler):
    """The process's one handler: each record as a JSON line, handed to a `LineWriter`."""

    def __init__(self, writer: LineWriter) -> None:
        super().__init__()
        self.writer = writer
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.put(self.format(record))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.writer.flush()


def log_fields(
    logger: logging.Logger, level: int, message: str, fields: Mapping[str, object]
) -> None:
    """Log `message` with `fields` (among `FIELDS`) at `level`: straight to the process's
    `JsonLineHandler` when it is the only one that would see the line, else through logging
    (`extra`), which gives the same line."""
    if not logger.isEnabledFor(level):
        return
    handler = _sole_handler(logger)
    if handler is None:
        logger.log(level, message, extra=dict(fields))
        return
    name = logging.getLevelName(level)
    handler.writer.put(json_line(time.time(), name, logger.name, message, fields))


def _sole_handler(logger: logging.Logger) -> JsonLineHandler | None:
    """The handler a line of `logger` would reach, if it reaches that one alone and no filter
    could stop it: the root's `JsonLineHandler` (as `configure_logging` leaves a process)."""
    root = logging.root
    handlers = root.handlers
    if len(handlers) != 1 or type(handlers[0]) is not JsonLineHandler:
        return None
    handler = handlers[0]
    if root.filters or handler.filters or handler.level > logging.NOTSET:
        return None
    node: logging.Logger | None = logger
    while node is not None and node is not root:
        if node.handlers or node.filters or not node.propagate:
            return None
        node = node.parent
    return handler


def configure_logging(level: str, stream: IO[str] | None = None) -> None:
    """JSON lines on stderr (or `stream`) for the whole process (called by the app's entry
    point, after uvicorn has configured its loggers)."""
    handler = JsonLineHandler(LineWriter(stream or sys.stderr))
    root = logging.getLogger()
    for previous in root.handlers:
        if isinstance(previous, JsonLineHandler):
            previous.flush()
    root.handlers = [handler]
    root.setLevel(level)
    for name in UVICORN:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)  # LOG_LEVEL decides, as for every other
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def _qualified_name(kind: type[BaseException]) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _database_code(error: BaseException) -> str | None:
    """psycopg's SQLSTATE or sqlite3's error name: a class of error, never a value."""
    for attribute in ("sqlstate", "sqlite_errorname"):
        code = getattr(error, attribute, None)
        if isinstance(code, str):
            return code
    return None


def _frames(tb: TracebackType | None) -> list[tuple[str, str]]:
    """Each frame of a traceback as (module, `module:function:line`), outermost first."""
    frames = []
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", "?"))
        frames.append((module, f"{module}:{tb.tb_frame.f_code.co_name}:{tb.tb_lineno}"))
        tb = tb.tb_next
    return frames
