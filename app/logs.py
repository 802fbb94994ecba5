"""Structured JSON logs: one object a line, each with the request id of the request it
belongs to. No patient data: request lines name the route template, never the query string
(which carries `patient_ref`) nor bodies; SQL logging is pinned off whatever LOG_LEVEL says,
since SQLAlchemy logs parameters."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Loggers that would write patient data (SQL parameters) or raw URLs: warnings only.
QUIET = ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "uvicorn.access", "httpx")
FIELDS = (
    "method", "route", "status", "duration_ms", "key_id", "organization_id",
    "jwt_issuer", "jwt_subject",  # a JWT caller: the calling system, never a patient
    # webhook deliveries: which event, to which endpoint; never the payload
    "event_id", "endpoint_id", "attempt", "lease_held",
)  # fmt: skip


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        for field in FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the whole process (called by the app's entry point)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
