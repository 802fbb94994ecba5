"""Who is calling: API-key authentication and scope checks, as route dependencies.

Routes with patient data look the key up on every request (a revoked key is refused at
once). Stateless scoring, which touches no patient data, may reuse an authentication for
`AUTH_CACHE_SECONDS` so that it pays for no database round trip or thread on most requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from app import keys
from app.api.state import state_of
from app.errors import ForbiddenError
from app.keys import Principal

# Declares the scheme in the OpenAPI document; the header itself is read below.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="`Authorization: Bearer bordin_…` with an API key of the caller's organisation.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


def caller(*scopes: str) -> Callable[[Request, HTTPAuthorizationCredentials | None], Principal]:
    """A dependency: the caller, who must hold one of `scopes` (looked up on every request)."""

    def dependency(request: Request, _credentials: Credentials) -> Principal:
        state = state_of(request)
        header = request.headers.get("authorization")
        principal = keys.authenticate(state.database, header, datetime.now(UTC))
        _check(principal, scopes)
        return principal

    return dependency


def cached_caller(
    *scopes: str,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A dependency like `caller`, reusing recent authentications (no patient data only)."""

    async def dependency(request: Request, _credentials: Credentials) -> Principal:
        state = state_of(request)
        header = request.headers.get("authorization")
        principal = state.auth_cache.get(header) if header else None
        if principal is None:
            now = datetime.now(UTC)
            principal = await run_in_threadpool(keys.authenticate, state.database, header, now)
            state.auth_cache.put(header or "", principal)
        _check(principal, scopes)
        return principal

    return dependency


def _check(principal: Principal, scopes: tuple[str, ...]) -> None:
    if principal.scopes.isdisjoint(scopes):
        raise ForbiddenError(f"this operation needs the scope {' or '.join(scopes)}")
