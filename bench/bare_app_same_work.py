"""A second yardstick for POST /v1/scores: a plain FastAPI app doing the least of the same
work as ours, the way FastAPI's tutorial writes each part. A dependency authenticates the
`Authorization: Bearer` key (looked up in the database, then reused for 5 s, as ours does
with AUTH_CACHE_SECONDS) and counts a per-key rate limit; an `@app.middleware("http")` gives
each response a request id and the same security headers and logs one JSON line with the
`logging` module; the endpoint scores with the project's scorer and returns its result.
Everything runs on the event loop, as ours does (no thread pool).

`bench/bare_app.py` is the issue's yardstick (no key, no headers, no log, a fixed body); this
one says how far ours is from the least that its work takes."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.instruments.registry import load_registry
from app.platform.db import make_engine
from app.platform.settings import Settings
from app.platform.tables import ApiKey

settings = Settings()
engine = make_engine(os.environ.get("DATABASE_URL", settings.database_url))
REGISTRY = load_registry(settings.instruments_dir)
REUSE_SECONDS = 5.0
PER_MINUTE = 10**9  # counted, never reached (as `make bench` runs ours)
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}
logger = logging.getLogger("bare.requests")
logging.basicConfig(level=logging.INFO, format="%(message)s")
app = FastAPI()
_recent: dict[str, tuple[float, uuid.UUID]] = {}
_buckets: dict[uuid.UUID, tuple[float, float]] = {}


class ScoreRequest(BaseModel):
    instrument: str
    version: str | None = None
    responses: dict[str, float | None]


async def authenticated(authorization: Annotated[str, Header()]) -> uuid.UUID:
    """The key's id: reused for REUSE_SECONDS, else looked up (on the event loop: once every
    REUSE_SECONDS); then one request counted."""
    recent = _recent.get(authorization)
    if recent is None or time.monotonic() - recent[0] > REUSE_SECONDS:
        _, prefix, secret = authorization.removeprefix("Bearer ").split("_", 2)
        with Session(engine) as session:
            key = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
        digest = "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
        if key is None or key.revoked_at is not None:
            raise HTTPException(401)
        if not hmac.compare_digest(key.secret_hash, digest):
            raise HTTPException(401)
        recent = (time.monotonic(), key.id)
        _recent[authorization] = recent
    key_id = recent[1]
    now = time.monotonic()
    tokens, last = _buckets.get(key_id, (float(PER_MINUTE), now))
    tokens = min(float(PER_MINUTE), tokens + (now - last) * PER_MINUTE / 60)
    if tokens < 1:
        raise HTTPException(429)
    _buckets[key_id] = (tokens - 1, now)
    return key_id


@app.middleware("http")
async def request_context(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    request_id = uuid.uuid4().hex
    response = await call_next(request)
    response.headers["x-request-id"] = request_id
    response.headers.update(HEADERS)
    logger.info(
        json.dumps(
            {
                "message": "request",
                "request_id": request_id,
                "method": request.method,
                "route": request.url.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )
    )
    return response


@app.post("/v1/scores", dependencies=[Depends(authenticated)])
async def score(body: ScoreRequest) -> dict[str, Any]:
    return dict(REGISTRY.get(body.instrument, body.version).scorer.score(body.responses))
