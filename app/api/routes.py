"""The /v1 routes and /health: each parses, calls one service function, and returns."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app import services
from app.access.guard import scoring_caller, secured
from app.api.batch import BatchEncoder, parse_batch
from app.api.catalogue import instrument_detail, instrument_summary
from app.catalogue.schemas import GuidanceCatalogue, InstrumentDetail, InstrumentList, ProblemType
from app.health.schemas import Health, Liveness
from app.http.body import json_request_body, parse_json
from app.http.language import Language, accept_language
from app.http.problems import problem_responses
from app.http.responses import json_response, localized
from app.http.schemas import Text
from app.http.state import AppState, app_state, state_of
from app.platform.errors import UnknownProblemTypeError, problem_types
from app.scoring.schemas import BatchScoreRequest, BatchScoreResponse, ScoreRequest, ScoreResult

router = APIRouter()
# The hot path, matched first (the app tries its routes in order).
scoring_router = APIRouter()
State = Annotated[AppState, Depends(app_state)]
Lang = Annotated[Language, Depends(accept_language)]
VersionQuery = Annotated[Text | None, Query(description="A loaded version; latest if absent.")]


@router.get(
    "/health/live",
    operation_id="getLiveness",
    tags=["health"],
    response_model=Liveness,
)
async def get_liveness() -> Response:
    """Liveness: the process answers (nothing else is checked, the database least of all:
    an outage must not get every process restarted)."""
    return json_response({"status": "ok"})


@router.get(
    "/health",
    operation_id="getHealth",
    tags=["health"],
    response_model=Health,
    responses=problem_responses(503),
    description="Readiness, as `/health/ready` (kept for the probes that call this path).",
)
@router.get(
    "/health/ready",
    operation_id="getReadiness",
    tags=["health"],
    response_model=Health,
    responses=problem_responses(503),
)
def get_readiness(state: State) -> Response:
    """Readiness: 200 when the database answers and is migrated to the revision this version
    needs, and the instruments are loaded; else a 503 problem saying which."""
    count = services.check_readiness(state.database, state.registry, state.migration_heads)
    return json_response({"status": "ok", "database": "ok", "instruments": count})


@router.get(
    "/problems/{code}",
    operation_id="getProblemType",
    tags=["problems"],
    response_model=ProblemType,
    responses=problem_responses(404, 422),
)
async def get_problem_type(code: str) -> Response:
    """What a problem `type` means: each problem's `type` is `/problems/{code}`."""
    kind = problem_types().get(code)
    if kind is None:
        raise UnknownProblemTypeError(f"no problem type {code!r}")
    description = " ".join((kind.__doc__ or kind.title).split())
    return json_response(
        {"code": kind.code, "title": kind.title, "status": kind.status, "description": description}
    )


@router.get(
    "/v1/guidance",
    operation_id="listGuidance",
    tags=["guidance"],
    response_model=GuidanceCatalogue,
    responses=problem_responses(422),
)
async def list_guidance(state: State, lang: Lang) -> Response:
    """The repair guidance catalogue, for front-ends that show it on their own, with the kinds
    of source its entries cite (strongest first) in the caller's language."""
    catalogue = state.records.guidance
    assert catalogue is not None  # create_app always loads it
    items = [
        {
            **catalogue.render([entry.id], lang)[0],
            "applies": entry.applies.model_dump(mode="json", exclude_defaults=True),
        }
        for entry in catalogue.entries
    ]
    body = {"version": catalogue.version, "source_kinds": catalogue.legend(lang), "items": items}
    return localized(body, lang)


@router.get(
    "/v1/instruments",
    operation_id="listInstruments",
    tags=["instruments"],
    response_model=InstrumentList,
    responses=problem_responses(422),
)
async def list_instruments(state: State, lang: Lang) -> Response:
    """The latest version of every instrument."""
    registry = state.registry
    items = [instrument_summary(registry, loaded, lang) for loaded in registry.latest()]
    return localized({"items": items, "next_cursor": None}, lang)


@router.get(
    "/v1/instruments/{instrument_id}",
    operation_id="getInstrument",
    tags=["instruments"],
    response_model=InstrumentDetail,
    responses=problem_responses(404, 422),
)
async def get_instrument(
    instrument_id: str,
    state: State,
    lang: Lang,
    version: VersionQuery = None,
) -> Response:
    """The full definition: items, scales, reverse keys, missing rules, cut-offs, rupture rules."""
    loaded = state.registry.get(instrument_id, version)
    return localized(instrument_detail(state.registry, loaded, lang), lang)


@scoring_router.post(
    "/v1/scores",
    operation_id="scoreResponses",
    tags=["scoring"],
    response_model=ScoreResult,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra={**json_request_body(ScoreRequest), **secured("scores")},
)
async def score_responses(request: Request) -> Response:
    """Score one administration. Nothing is stored."""
    await scoring_caller(request)
    payload = parse_json(ScoreRequest, await request.body(), request.headers.get("content-type"))
    result = services.score_responses(
        state_of(request).registry, payload.instrument, payload.version, payload.responses
    )
    return json_response(result)


@scoring_router.post(
    "/v1/scores/batch",
    operation_id="scoreBatch",
    tags=["scoring"],
    response_model=BatchScoreResponse,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra={**json_request_body(BatchScoreRequest), **secured("scores")},
)
async def score_batch(request: Request) -> Response:
    """Score many administrations of one instrument. A bad row gets its own problem."""
    await scoring_caller(request)
    body = await request.body()
    with paused_gc():
        content = _scored_batch(state_of(request), request, body)
    return Response(content, media_type="application/json")


def _scored_batch(state: AppState, request: Request, body: bytes) -> bytes:
    # Returns bytes, so that the rows' objects are freed before the collector resumes.
    instrument, version, rows = parse_batch(body, request.headers.get("content-type"))
    scorer = services.batch_scorer(
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
