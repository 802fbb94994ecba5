"""Structured JSON logs: one object a line, each with the request id of the request it
belongs to. No patient data: request lines name the route template, never the query string
(which carries `patient_ref`) nor bodies; SQL logging is pinned off whatever LOG_LEVEL says,
since SQLAlchemy logs parameters; and an error is logged by its type and where it happened,
never by its message or traceback text, which can quote SQL parameters or the values a
database refused."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType

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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            entry.update(describe_error(record.exc_info[1]))
        for field in FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the whole process (called by the app's entry point, after
    uvicorn has configured its loggers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
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
