"""Wire schemas of the health probes."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
)

from app.http.schemas import WireModel, example


class Liveness(WireModel):
    """The process answers."""

    model_config = example({"status": "ok"})

    status: Literal["ok"]


class Health(WireModel):
    """Ready: the database answers and is migrated, the instruments are loaded, the shared
    Redis answers (when the processes share one)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {"status": "ok", "database": "ok", "redis": "unused", "instruments": 10}
        }
    )

    status: Literal["ok"]
    database: Literal["ok"]
    redis: Literal["ok", "unused"] = Field(
        description="`ok`: the Redis the processes share (REDIS_URL) answers; `unused`: none."
    )
    instruments: int = Field(description="Loaded instrument versions.")
