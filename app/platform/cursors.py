"""Opaque list cursors: a position (a few JSON values) as URL-safe text, checked on the way
back in so that a cursor this list did not give is a 422, not a crash."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from app.platform.errors import InvalidCursorError


def encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    """The position a cursor encodes, checked against the types this list puts in it."""
    try:
        position = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        position = None
    if (
        not isinstance(position, list)
        or len(position) != len(types)
        or not all(type(value) is kind for value, kind in zip(position, types, strict=True))
    ):
        raise InvalidCursorError(f"cursor {cursor!r} was not returned by this list")
    return position


def encode_time_cursor(at: datetime, row_id: uuid.UUID) -> str:
    """The cursor after a row of a list ordered by (time, id)."""
    return encode_cursor([at.isoformat(), str(row_id)])


def decode_time_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (time, id) after which a page starts: an RFC 3339 time with its offset, which
    converts to UTC (as the database compares it), and a UUID."""
    at, row_id = decode_cursor(cursor, (str, str))
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("a cursor's time carries its offset")
        return when.astimezone(UTC), uuid.UUID(row_id)
    except (ValueError, OverflowError):
        raise InvalidCursorError(f"cursor {cursor!r} was not returned by this list") from None
