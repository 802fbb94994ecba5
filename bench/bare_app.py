"""The yardstick: a bare FastAPI endpoint that accepts the same JSON as POST /v1/scores and
returns a body of the same shape, written the way FastAPI's tutorial writes one."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class ScoreRequest(BaseModel):
    instrument: str
    version: str | None = None
    responses: dict[str, float | None]


def _scale(score: float, low: float, high: float) -> dict[str, Any]:
    return {
        "score": score, "mean": score / 4, "pomp": (score - low) / (high - low) * 100,
        "min": low, "max": high, "answered": 4, "expected": 4, "prorated": False, "reason": None,
    }  # fmt: skip


@app.post("/v1/scores")
async def score(request: ScoreRequest) -> dict[str, Any]:
    total = sum(value or 0 for value in request.responses.values())
    return {
        "instrument": request.instrument,
        "version": "1.1.0",
        "definition_hash": "sha256:" + "0" * 64,
        "scales": {
            "goal": _scale(14.0, 4, 20),
            "task": _scale(15.0, 4, 20),
            "bond": _scale(16.0, 4, 20),
            "total": _scale(total, 12, 60),
        },
        "flags": [],
        "warnings": [],
    }
