"""The routes of stateless scoring: one administration, or a batch of one instrument; the hot
path, matched first."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.access.guard import caller
from app.http.body import json_request_body, parse_json
from app.http.problems import problem_responses
from app.http.responses import json_response
from app.http.state import AppState, state_of
from app.scoring import scores
from app.scoring.batch import BatchEncoder, parse_batch
from app.scoring.schemas import BatchScoreRequest, BatchScoreResponse, ScoreRequest, ScoreResult

# The hot path, matched first (the app tries its routes in order).
router = APIRouter()
# Scoring touches no patient data: a recent authentication of the key is reused.
SCORING_CALLER = Depends(caller("scores", reuse_recent=True))


@router.post(
    "/v1/scores",
    operation_id="scoreResponses",
    tags=["scoring"],
    response_model=ScoreResult,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=json_request_body(ScoreRequest),
    dependencies=[SCORING_CALLER],
)
async def score_responses(request: Request) -> Response:
    """Score one administration. Nothing is stored."""
    payload = parse_json(ScoreRequest, await request.body(), request.headers.get("content-type"))
    result = scores.score_responses(
        state_of(request).registry, payload.instrument, payload.version, payload.responses
    )
    return json_response(result)


@router.post(
    "/v1/scores/batch",
    operation_id="scoreBatch",
    tags=["scoring"],
    response_model=BatchScoreResponse,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=json_request_body(BatchScoreRequest),
    dependencies=[SCORING_CALLER],
)
async def score_batch(request: Request) -> Response:
    """Score many administrations of one instrument. A bad row gets its own problem."""
    body = await request.body()
    with paused_gc():
        content = _scored_batch(state_of(request), request, body)
    return Response(content, media_type="application/json")


def _scored_batch(state: AppState, request: Request, body: bytes) -> bytes:
    # Returns bytes, so that the rows' objects are freed before the collector resumes.
    instrument, version, rows = parse_batch(body, request.headers.get("content-type"))
    scorer = scores.batch_scorer(
        state.registry, instrument, version, len(rows), state.settings.max_batch_rows
    )
    return BatchEncoder(scorer, request.url.path).encode(rows)


# The routes that read their body with `parse_json`: their schemas go into the OpenAPI document.
BODY_MODELS = (ScoreRequest, BatchScoreRequest)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch builds its (acyclic) objects.

    10 000 rows make some 100 000 dicts; the collections they would trigger cost as much as
    the scoring itself and would free nothing. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
