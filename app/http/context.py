"""Per-request context as plain ASGI middleware: a request id, security headers, the audit
event, one structured log line per request (route template, status, duration; never query
or body), and the answer to any exception nothing else handled."""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access import audit
from app.http.docs import DOCS_CSP, DOCS_PATHS
from app.http.problems import failure_response
from app.platform.db import Database
from app.platform.logs import describe_error, log_fields, request_id

if TYPE_CHECKING:  # prometheus-client is imported only where METRICS_PORT is set
    from app.platform.metrics import Metrics

logger = logging.getLogger("bordin.requests")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Every response: no sniffing, no framing, no referrer, not stored by caches on the way.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
]
# The API's content runs nothing; the interactive docs run scripts of their own origin only.
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS_CSP_HEADER = (b"content-security-policy", DOCS_CSP.encode())
# The patient form and the console: the app's own style sheet, scripts and forms, nothing else
# (no inline script or style, no frame, nothing from another origin).
PAGES = ("/f/", "/console", "/static/")
PAGES_CSP_HEADER = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    b" connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
)


Auditor = Callable[[Scope, int], Awaitable[None]]


def new_request_id() -> str:
    """32 random hex digits, as `uuid4().hex` reads, without its system call per request:
    an id to find a request by in the logs, not a secret (Python's generator is reseeded in
    every new process)."""
    return f"{random.getrandbits(128):032x}"


class RequestContext:
    """The request layer: every response, including the answer to an unexpected exception,
    goes out through it with the request id, the security headers and its audit event.

    This is the one place where an exception that nothing else handled becomes a problem
    (`failure_response`: 503 when the database is unavailable, else 500). It is logged on
    the request's own line, by type and place, never by its message; it is not raised
    further, so the server neither logs it again nor drops the connection.
    """

    def __init__(
        self, app: ASGIApp, auditor: Auditor | None = None, metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.auditor = auditor
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _INCOMING_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        responded = False
        failure: Exception | None = None
        docs = scope["path"].startswith(DOCS_PATHS)
        pages = scope["path"].startswith(PAGES)

        async def send_with_headers(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                if self.auditor is not None:
                    # The trace is written before the caller sees the outcome.
                    await self.auditor(scope, status)
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                headers.extend(SECURITY_HEADERS)
                headers.append(DOCS_CSP_HEADER if docs else PAGES_CSP_HEADER if pages else API_CSP)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            failure = error
            if not responded:  # else the response is under way: all that is left is the log
                response = failure_response(error, scope["path"])
                await response(scope, receive, send_with_headers)
        finally:
            _log_request(scope, status, started, failure)
            if self.metrics is not None:
                route = getattr(scope.get("route"), "path", "unmatched")
                seconds = time.perf_counter() - started
                self.metrics.observe_request(scope["method"], route, status, seconds)
            request_id.reset(token)


def _log_request(scope: Scope, status: int, started: float, failure: Exception | None) -> None:
    """The request's one log line: route template, status, duration, key and organisation;
    for a failure, also what failed and where (at ERROR; WARNING for an unavailable
    database, which is no bug)."""
    level = logging.INFO
    if failure is not None:
        level = logging.WARNING if status == 503 else logging.ERROR
    if not logger.isEnabledFor(level):
        return
    route = scope.get("route")
    state = scope.get("state", {})
    log_fields(
        logger,
        level,
        "request" if failure is None else "request failed",
        {
            "method": scope["method"],
            "route": getattr(route, "path", "unmatched"),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "key_id": state.get("key_id"),
            "organization_id": state.get("organization_id"),
            "jwt_issuer": state.get("jwt_issuer"),  # a JWT caller (no key)
            "jwt_subject": state.get("jwt_subject"),
            **(describe_error(failure) if failure is not None else {}),
        },
    )


# Routes whose every call is audited: they read or write patient data (or keys, where
# alerts about patients are sent, what the patient form says), with the resource type of a
# call that names no resource.
AUDITED_TAGS = {
    "episodes": "episode",
    "api keys": "api_key",
    "webhooks": "webhook",
    "alerts": "alert",
    "console": "console",
    "forms": "organization",  # the organisation's form settings
}
# Writes that append their own event in their own transaction when they succeed.
SELF_AUDITED = frozenset(
    {
        "createEpisode",
        "recordAdministration",
        "recordQuestionnaireResponse",  # audited by the use case as recordAdministration
        "correctAdministration",
        "withdrawAdministration",
        "eraseEpisode",
        "closeEpisode",
        "acknowledgeAlert",
        "closeAlert",
        "setAlertPolicy",
        "setFormSettings",
        "createInvitation",
        "consoleAcknowledgeAlert",  # audited by the use case as acknowledgeAlert
        "consoleCloseAlert",  # audited by the use case as closeAlert
        "consoleCreateInvitation",  # audited by the use case as createInvitation
    }
)
RESOURCE_ID_LENGTH = 64  # audit_event.resource_id
_RESOURCES = (
    ("alert_id", "alert"),
    ("administration_id", "administration"),
    ("episode_id", "episode"),
    ("key_id", "api_key"),
    ("webhook_id", "webhook"),
    ("instrument_id", "instrument_statistics"),
)


def database_auditor(database: Database) -> Auditor:
    """Appends an audit event for each call of an audited route by an authenticated caller
    (an unauthenticated one has no organisation to file it under: the request log has it)."""

    async def record(scope: Scope, status: int) -> None:
        route = scope.get("route")
        if not isinstance(route, APIRoute):
            return
        audited = [
            AUDITED_TAGS[tag] for tag in route.tags if isinstance(tag, str) and tag in AUDITED_TAGS
        ]
        if not audited:
            return
        if status < 400 and route.operation_id in SELF_AUDITED:
            return
        if status == 429:  # refused before any access: not an audited access
            return
        state = scope.get("state", {})
        if state.get("organization_id") is None:
            return
        params = scope.get("path_params", {})
        resource_type, resource_id = next(
            ((kind, _stored_id(params[name])) for name, kind in _RESOURCES if name in params),
            (audited[0], None),
        )
        caller = audit.Caller(
            key_id=uuid.UUID(state["key_id"]) if state.get("key_id") else None,
            request_id=state["request_id"],
            jwt_issuer=state.get("jwt_issuer"),
            jwt_subject=state.get("jwt_subject"),
        )
        access = audit.Access(
            organization_id=uuid.UUID(state["organization_id"]),
            caller=caller,
            action=route.operation_id or route.name,
            resource_type=resource_type,
            resource_id=resource_id,
            status=status,
            at=datetime.now(UTC),
        )
        try:
            await run_in_threadpool(audit.record_access, database, access)
        except Exception:  # the response must still go out; say so, without any data
            logger.exception("audit event not written for %s", access.action)

    return record


def _stored_id(value: object) -> str:
    """A path parameter as the audit trail can store it, even when the request was refused
    for it: no NUL (PostgreSQL refuses them in text), at most the column's 64 characters."""
    return str(value).replace("\x00", "")[:RESOURCE_ID_LENGTH]
