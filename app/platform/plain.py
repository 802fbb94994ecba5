"""Plain JSON values of records, as they are stored and as they are sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def plain_json(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` with UUIDs and datetimes as strings (RFC 3339), as orjson writes them."""
    plain: dict[str, Any] = orjson.loads(orjson.dumps(value))
    return plain
