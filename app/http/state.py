"""What the running application holds: settings, database, instruments, languages and the
services of each part."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from app.access.keys import AuthenticationCache
from app.access.limits import RateLimits
from app.access.tokens import TokenVerifier
from app.alerts.egress import EgressPolicy
from app.instruments.registry import InstrumentRegistry
from app.languages.catalogues import Catalogues
from app.platform.db import Database
from app.platform.settings import Settings
from app.records.context import Records

if TYPE_CHECKING:  # imported only where they are configured (REDIS_URL, METRICS_PORT)
    from app.platform.metrics import Metrics
    from app.platform.shared import SharedState


@dataclass(frozen=True)
class AppState:
    settings: Settings
    database: Database
    registry: InstrumentRegistry
    languages: Catalogues
    records: Records
    auth_cache: AuthenticationCache
    rate_limiter: RateLimits
    failed_auth_limiter: RateLimits
    egress: EgressPolicy
    tokens: TokenVerifier | None = None
    # Redis, when the processes share their rate limits and revoked keys (REDIS_URL).
    shared: SharedState | None = None
    # Prometheus samples of this process (METRICS_PORT), written for `bordin serve`'s listener.
    metrics: Metrics | None = None
    # The migration revisions this code needs the database at (readiness).
    migration_heads: frozenset[str] = frozenset()
    # The key that signs console session cookies.
    console_secret: bytes = b""


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.bordin
    return state


async def app_state(request: Request) -> AppState:
    """The dependency form of `state_of` (async, so FastAPI runs it without a thread)."""
    return state_of(request)


# A route's parameter: the application's state.
State = Annotated[AppState, Depends(app_state)]
