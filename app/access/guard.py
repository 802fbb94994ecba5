"""Who may call a route: every route says it one way, with a dependency of this module.

- `Depends(public)`: anyone; no credentials are read, so none are refused (the catalogue,
  problem types, the health probes).
- `Depends(caller(scope, ...))`: an API key or JWT of an organisation that holds one of the
  scopes; the dependency's value is the caller (`Principal`).
- `Depends(clinician(role, ...))`: a clinician signed in to the console (its session cookie),
  with one of the roles if any are named; on a POST, the form's CSRF token must be the
  session's. The dependency's value is the clinician (`Clinician`); a browser without a
  session is sent to the sign-in page.

The same declaration writes the operation's `security` into the OpenAPI document
(`document_access`), so that what a route declares and what it enforces cannot part, and
`create_app` refuses to start with a route that declares nothing, or more than once
(`check_declared`).

Routes with patient data look the key up on every request (a revoked key is refused at
once). Stateless scoring, which touches no patient data, declares
`caller("scores", reuse_recent=True)`: an authentication is reused for
`AUTH_CACHE_SECONDS`, so that most of its requests pay for no database round trip and no
thread (the fast path is this option of the one mechanism, not a second one). With Redis
(REDIS_URL), a reused authentication is checked against the keys other processes revoked.

Two rate limits: per client address before authentication, counting the requests whose
credentials were refused (so that guessing keys, or flooding the key lookup with unknown
ones, is cut off before any lookup), and per caller after it. The client address is the
ASGI server's (behind a proxy, let the server put the real client there: FORWARDED_ALLOW_IPS
of `bordin serve`); no header of the request is trusted for it. Both are counted in each
process, or in Redis by all of them together (`app/access/limits.py`).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from app.access import console_sessions, keys
from app.access.console_sessions import Clinician
from app.access.keys import Principal
from app.http.state import AppState, state_of
from app.platform.errors import (
    ConsoleForbiddenError,
    ConsoleSignInRequiredError,
    ForbiddenError,
    RateLimitedError,
    UnauthenticatedError,
)

SCHEME = "apiKey"


async def public() -> None:
    """Anyone may call the route: no credentials are read."""


class CallerGuard:
    """The dependency `caller(...)` makes: the authenticated caller, who must hold one of
    `scopes` (401 without valid credentials, 403 without the scope, 429 past a rate)."""

    def __init__(self, scopes: tuple[str, ...], *, reuse_recent: bool) -> None:
        if not scopes:
            raise ValueError("a caller holds at least one scope; a route open to all is public")
        self.scopes = scopes
        self.reuse_recent = reuse_recent

    async def __call__(self, request: Request) -> Principal:
        state = state_of(request)
        header = request.headers.get("authorization")
        if self.reuse_recent and header:
            principal = await state.auth_cache.reuse(
                header, lambda: _authenticate(request, state, header)
            )
        else:
            principal = await _authenticate(request, state, header)
        _check(
            request, principal, self.scopes, await state.rate_limiter.wait_for(principal.subject)
        )
        return principal

    def __repr__(self) -> str:
        return f"caller{self.scopes!r}"


def caller(*scopes: str, reuse_recent: bool = False) -> CallerGuard:
    """Only a caller holding one of `scopes`, looked up on every request unless
    `reuse_recent` (for routes without patient data only: stateless scoring)."""
    return CallerGuard(scopes, reuse_recent=reuse_recent)


COOKIE = "bordin_console"


class ClinicianGuard:
    """The dependency `clinician(...)` makes: the signed-in console user."""

    scopes = ("console",)

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    async def __call__(self, request: Request) -> Clinician:
        state = state_of(request)
        who = await run_in_threadpool(
            console_sessions.signed_in, state.database, request.cookies.get(COOKIE),
            state.console_secret, datetime.now(UTC),
        )  # fmt: skip
        if who is None:
            raise ConsoleSignInRequiredError("sign in to the console first")
        # For the request's log line and audit: the console and the clinician, never a patient.
        request.state.organization_id = str(who.organization_id)
        request.state.jwt_issuer = "console"
        request.state.jwt_subject = who.clinician_ref
        if self.roles and who.role not in self.roles:
            raise ConsoleForbiddenError(f"this page is for the role {' or '.join(self.roles)}")
        if request.method == "POST":
            sent = (await request.form()).get("csrf")
            if not isinstance(sent, str) or not hmac.compare_digest(sent, who.csrf_token):
                raise ConsoleForbiddenError(
                    "the form's CSRF token is missing or not this session's"
                )
        return who

    def __repr__(self) -> str:
        return f"clinician{self.roles!r}"


def clinician(*roles: str) -> ClinicianGuard:
    """Only a clinician signed in to the console (with one of `roles`, if any are named)."""
    return ClinicianGuard(roles)


def declared_access(route: APIRoute) -> tuple[str, ...]:
    """The scopes a route declares, one of which opens it; () for a public route. A
    ValueError unless the route declares its access exactly once."""
    declared = [
        dependency.call
        for dependency in route.dependant.dependencies
        if dependency.call is public or isinstance(dependency.call, CallerGuard | ClinicianGuard)
    ]
    if len(declared) != 1:
        raise ValueError(
            f"{route.path} ({route.name}) must declare who may call it once, with"
            f" Depends(public), Depends(caller(...)) or Depends(clinician(...)); it declares it"
            f" {len(declared)} times"
        )
    (access,) = declared
    return access.scopes if isinstance(access, CallerGuard | ClinicianGuard) else ()


def check_declared(app: FastAPI) -> None:
    """Refuse an app with a route that does not say who may call it (fail fast, at start-up)."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            declared_access(route)


def document_access(app: FastAPI) -> None:
    """Declare the bearer scheme in the OpenAPI document, and on each operation the scopes
    its route declares (`security: []` on a public one), for generated clients."""
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
            " organisation. Scopes: scores, records:read, records:write, submit, admin,"
            " console:issue.",
        }
        for route in app.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            scopes = declared_access(route)
            for method in route.methods or ():
                operation = document["paths"][route.path_format][method.lower()]
                # A public operation says so: no scheme, rather than the document's default.
                operation["security"] = [{SCHEME: list(scopes)}] if scopes else []
        return document

    app.openapi = openapi  # type: ignore[method-assign]


async def _authenticate(request: Request, state: AppState, header: str | None) -> Principal:
    """The caller, unless its address sent too many refused credentials of late (429, before
    any lookup). Each refused credential counts against the address; a missing one does not
    (it costs no lookup). The lookup runs in a thread."""
    address = request.client.host if request.client else "unknown"
    wait = await state.failed_auth_limiter.peek(address)
    if wait > 0:
        raise RateLimitedError(
            "too many requests with unknown or invalid credentials from this address;"
            f" retry in {wait:.1f} s",
            wait,
        )
    try:
        return await run_in_threadpool(
            keys.authenticate, state.database, header, datetime.now(UTC), state.tokens
        )
    except UnauthenticatedError:
        if header:
            await state.failed_auth_limiter.wait_for(address)
        raise


def _check(request: Request, principal: Principal, scopes: tuple[str, ...], wait: float) -> None:
    # For the request's log line and audit: which key or token, never which patient.
    request.scope["state"].update(principal.log_fields)
    if wait > 0:
        raise RateLimitedError(f"too many requests with this API key; retry in {wait:.1f} s", wait)
    if principal.scopes.isdisjoint(scopes):
        raise ForbiddenError(f"this operation needs the scope {' or '.join(scopes)}")
