"""The health probes: liveness (the process answers) and readiness (the database answers and
is migrated, the shared Redis answers)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from app.access.guard import public
from app.health.readiness import check_readiness, check_shared_state
from app.health.schemas import Health, Liveness
from app.http.problems import problem_responses
from app.http.responses import json_response
from app.http.state import State

router = APIRouter()


@router.get(
    "/health/live",
    operation_id="getLiveness",
    tags=["health"],
    response_model=Liveness,
    dependencies=[Depends(public)],
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
    dependencies=[Depends(public)],
)
@router.get(
    "/health/ready",
    operation_id="getReadiness",
    tags=["health"],
    response_model=Health,
    responses=problem_responses(503),
    dependencies=[Depends(public)],
)
def get_readiness(state: State) -> Response:
    """Readiness: 200 when the database answers and is migrated to the revision this version
    needs, the instruments are loaded and the shared Redis (if REDIS_URL is set) answers;
    else a 503 problem saying which."""
    count = check_readiness(state.database, state.registry, state.migration_heads)
    redis = check_shared_state(state.shared)
    return json_response({"status": "ok", "database": "ok", "redis": redis, "instruments": count})
