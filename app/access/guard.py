"""Who is calling: API-key authentication and scope checks, as route dependencies.

Routes with patient data look the key up on every request (a revoked key is refused at
once). Stateless scoring, which touches no patient data, may reuse an authentication for
`AUTH_CACHE_SECONDS` so that it pays for no database round trip or thread on most requests.

Two rate limits: per client address before authentication, counting the requests whose
credentials were refused (so that guessing keys, or flooding the key lookup with unknown
ones, is cut off before any lookup), and per caller after it. The client address is the
ASGI server's (behind a proxy, let the server put the real client there, e.g. uvicorn's
`--forwarded-allow-ips`); no header of the request is trusted for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from app.access import keys
from app.access.keys import Principal
from app.http.state import state_of
from app.platform.errors import ForbiddenError, RateLimitedError, UnauthenticatedError

SCHEME = "apiKey"


def caller(*scopes: str) -> Callable[[Request], Principal]:
    """A dependency: the caller, who must hold one of `scopes` (looked up on every request)."""

    def dependency(request: Request) -> Principal:
        principal = _authenticate(request, request.headers.get("authorization"))
        _check(request, principal, scopes)
        return principal

    return dependency


async def scoring_caller(request: Request) -> Principal:
    """The caller of a stateless scoring route, who must hold `scores`. Called in the route
    itself, not as a dependency: scoring is the hot path, and a recent authentication is
    reused (`AuthenticationCache`) so that most requests touch neither database nor thread."""
    state = state_of(request)
    header = request.headers.get("authorization")
    principal = state.auth_cache.get(header) if header else None
    if principal is None:
        principal = await run_in_threadpool(_authenticate, request, header)
        state.auth_cache.put(header or "", principal)
    _check(request, principal, ("scores",))
    return principal


def secured(*scopes: str) -> dict[str, Any]:
    """`openapi_extra` of a route that needs a key with one of `scopes`."""
    return {"security": [{SCHEME: list(scopes)}]}


def add_security_scheme(app: FastAPI) -> None:
    """Declare the bearer API key in the OpenAPI document, for generated clients."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        components = document.setdefault("components", {})
        components.setdefault("securitySchemes", {})[SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer bordin_…`: an API key of the caller's"
            " organisation. Scopes: scores, records:read, records:write, submit, admin.",
        }
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _authenticate(request: Request, header: str | None) -> Principal:
    """The caller, unless its address sent too many refused credentials of late (429, before
    any lookup). Each refused credential counts against the address; a missing one does not
    (it costs no lookup)."""
    state = state_of(request)
    address = request.client.host if request.client else "unknown"
    wait = state.failed_auth_limiter.peek(address)
    if wait > 0:
        raise RateLimitedError(
            "too many requests with unknown or invalid credentials from this address;"
            f" retry in {wait:.1f} s",
            wait,
        )
    try:
        return keys.authenticate(state.database, header, datetime.now(UTC), state.tokens)
    except UnauthenticatedError:
        if header:
            state.failed_auth_limiter.wait_for(address)
        raise


def _check(request: Request, principal: Principal, scopes: tuple[str, ...]) -> None:
    # For the request's log line and audit: which key or token, never which patient.
    request.state.key_id = str(principal.key_id) if principal.key_id else None
    request.state.organization_id = str(principal.organization_id)
    request.state.jwt_issuer = principal.jwt_issuer
    request.state.jwt_subject = principal.jwt_subject
    wait = state_of(request).rate_limiter.wait_for(principal.subject)
    if wait > 0:
        raise RateLimitedError(f"too many requests with this API key; retry in {wait:.1f} s", wait)
    if principal.scopes.isdisjoint(scopes):
        raise ForbiddenError(f"this operation needs the scope {' or '.join(scopes)}")
