"""The error hierarchy: each error has a stable code and HTTP status, rendered as an RFC 9457
problem by the HTTP layer (`app.http.problems`). Plain exceptions, no framework: the pure core
raises them too.

Each class's docstring documents its problem type, served at `GET /problems/{code}`. One
class lives elsewhere, beside what it needs: `QuestionnaireResponseMismatchError`
(`app.fhir.outcome`), whose problem carries FHIR OperationOutcome issues.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, TypedDict


class ItemError(TypedDict):
    """One offending item or field of a request: where (`loc`), a stable `code`, a message."""

    loc: list[str | int]
    code: str  # unknown_item, not_a_number, out_of_range, off_step (or a request field error)
    message: str


class DomainError(Exception):
    """A request the domain refuses. Subclasses name the problem; `detail` says this case."""

    status: ClassVar[int]
    code: ClassVar[str]
    title: ClassVar[str]

    def __init__(self, detail: str, errors: list[ItemError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers: dict[str, str] = {}
        # Extension members of the problem (RFC 9457 section 3.2), e.g. FHIR `issue`.
        self.members: dict[str, Any] = {}


class UnknownInstrumentError(DomainError):
    """No loaded instrument has this id, or it has no such version. `GET /v1/instruments`
    lists the instruments and their versions."""

    status = 404
    code = "unknown_instrument"
    title = "Unknown instrument"


class InvalidResponsesError(DomainError):
    """Some answers cannot be scored. `errors` has one entry per offending item, its `loc`
    ending with the item id and its `code` one of unknown_item, not_a_number (strings and
    booleans included), out_of_range, off_step. Nothing was scored."""

    status = 422
    code = "invalid_responses"
    title = "Invalid responses"

    def __init__(self, errors: list[ItemError]) -> None:
        items = ", ".join(str(error["loc"][-1]) for error in errors)
        super().__init__(f"{len(errors)} response(s) cannot be scored: item(s) {items}", errors)


class BatchTooLargeError(DomainError):
    """The batch has more rows than the service accepts at once (`MAX_BATCH_ROWS`); send it
    in several parts."""

    status = 413
    code = "batch_too_large"
    title = "Batch too large"


class MalformedJsonError(DomainError):
    """The request body is not valid JSON (UTF-8, no trailing commas, no lone surrogates)."""

    status = 400
    code = "malformed_json"
    title = "Malformed JSON"


class InvalidRequestError(DomainError):
    """The request is valid JSON but does not match the operation's schema; `errors` names
    each offending field with its path."""

    status = 422
    code = "invalid_request"
    title = "Invalid request"


class UnsupportedMediaTypeError(DomainError):
    """The operation takes `application/json` (or a `+json` type) and nothing else."""

    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


# How long a client should wait before it retries a request the service could not serve.
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableError(DomainError):
    """The database does not answer (refused or lost connections, a server shutting down or
    starting up, no free connection in time, a database file that cannot be opened or stays
    locked). Nothing was done; retry after `Retry-After` seconds. `GET /health/ready` says
    when the service is ready again."""

    status = 503
    code = "database_unavailable"
    title = "Database unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class SharedStateUnavailableError(DomainError):
    """The state the service's processes share (Redis: rate limits, revoked keys) does not
    answer. Nothing was done; retry after `Retry-After` seconds."""

    status = 503
    code = "shared_state_unavailable"
    title = "Shared state unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class UnhealthyError(DomainError):
    """The service is not ready to serve requests: its database does not answer, or is not
    migrated to the revision this version of the service needs (`alembic upgrade head`)."""

    status = 503
    code = "unhealthy"
    title = "Service unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class InternalServerError(DomainError):
    """An unexpected failure: a bug, logged under the problem's `request_id` (by its type
    and where it happened, never with the request's data). Nothing is known to have been
    done; quote the `request_id` when you report it."""

    status = 500
    code = "internal_error"
    title = "Internal Server Error"


class RouteNotFoundError(DomainError):
    """No route has this path. `/openapi.json` lists every path the service serves (all of
    them under `/v1`, but for the health probes, the catalogue of problem types and the
    documentation)."""

    status = 404
    code = "route_not_found"
    title = "Not Found"


class MethodNotAllowedError(DomainError):
    """The path exists, but not with this HTTP method: the `Allow` header lists the methods
    it takes."""

    status = 405
    code = "method_not_allowed"
    title = "Method Not Allowed"


class UnknownProblemTypeError(DomainError):
    """No problem type has this code; `GET /problems/{code}` documents the known ones."""

    status = 404
    code = "unknown_problem_type"
    title = "Unknown problem type"


class EpisodeNotFoundError(DomainError):
    """No episode of care with this id belongs to the caller's organisation."""

    status = 404
    code = "episode_not_found"
    title = "Episode not found"


class AdministrationNotFoundError(DomainError):
    """No administration with this id in this episode."""

    status = 404
    code = "administration_not_found"
    title = "Administration not found"


class SessionAlreadyRecordedError(DomainError):
    """This episode already holds an administration of this instrument by this rater for this
    session. Correct it (`POST .../administrations/{id}/corrections`) instead of recording it
    again; a retried request should carry the same Idempotency-Key to be replayed."""

    status = 409
    code = "session_already_recorded"
    title = "Session already recorded"


class RaterMismatchError(DomainError):
    """The rater kind cannot fill in this instrument: a client form is rated by the client,
    a therapist form by the therapist, a clinician's scale by the therapist or an observer."""

    status = 422
    code = "rater_mismatch"
    title = "Rater does not match the instrument"


class AlreadyWithdrawnError(DomainError):
    """The administration is already withdrawn; a correction can reinstate it."""

    status = 409
    code = "already_withdrawn"
    title = "Already withdrawn"


class EpisodeAlreadyEndedError(DomainError):
    """The episode has already ended, on another day or for another reason. Ending it again
    with the same day and reason changes nothing."""

    status = 409
    code = "episode_already_ended"
    title = "Episode already ended"


class ConsoleSignInRequiredError(DomainError):
    """The console needs a signed-in clinician: a browser is sent to the sign-in page."""

    status = 401
    code = "console_sign_in_required"
    title = "Sign in to the console"


class ConsoleForbiddenError(DomainError):
    """A console page refused to the signed-in clinician: a lead's page, or a form sent
    without the session's CSRF token (open the page again and resend it)."""

    status = 403
    code = "console_forbidden"
    title = "Not allowed in the console"


class FormLinkNotFoundError(DomainError):
    """No form link has this token: it may be mistyped or cut short. Ask for a new link."""

    status = 404
    code = "form_link_not_found"
    title = "Form link not found"


class FormLinkGoneError(DomainError):
    """This form link has served its purpose (every questionnaire was answered) or has
    expired: a link is used once. Ask for a new link."""

    status = 410
    code = "form_link_gone"
    title = "Form link no longer valid"


class IdempotencyKeyReusedError(DomainError):
    """This Idempotency-Key was used before with a different request; nothing was recorded.
    Use a new key for a new request."""

    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class InvalidCursorError(DomainError):
    """The `cursor` is not one this list returned; start again without it."""

    status = 422
    code = "invalid_cursor"
    title = "Invalid cursor"


class UnauthenticatedError(DomainError):
    """The request carries no valid API key: send `Authorization: Bearer <key>` with a key
    that is neither revoked nor expired."""

    status = 401
    code = "unauthenticated"
    title = "Authentication required"

    def __init__(self, detail: str, *, invalid: bool = True) -> None:
        super().__init__(detail)
        challenge = 'Bearer realm="bordin"'
        if invalid:
            challenge += ', error="invalid_token"'
        self.headers = {"WWW-Authenticate": challenge}


class ForbiddenError(DomainError):
    """The API key is valid but lacks the scope this operation needs, or asks to grant a new
    key a scope it does not hold itself (`errors` then names each such scope)."""

    status = 403
    code = "insufficient_scope"
    title = "Insufficient scope"


class RateLimitedError(DomainError):
    """This API key sent more requests than its rate allows, or this client address sent too
    many requests with unknown or invalid credentials; retry after `Retry-After` seconds."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}


class ApiKeyNotFoundError(DomainError):
    """No API key with this id belongs to the caller's organisation."""

    status = 404
    code = "api_key_not_found"
    title = "API key not found"


class AlertNotFoundError(DomainError):
    """No alert with this id belongs to the caller's organisation."""

    status = 404
    code = "alert_not_found"
    title = "Alert not found"


class WebhookNotFoundError(DomainError):
    """No webhook endpoint with this id belongs to the caller's organisation."""

    status = 404
    code = "webhook_not_found"
    title = "Webhook not found"


class InvalidWebhookUrlError(DomainError):
    """A webhook URL must be absolute, use `https://` (plain `http://` only to a loopback
    host: 127.0.0.1, ::1 or localhost), carry no user name, password, control characters or
    spaces (`errors` code `invalid_url`), and name a host that resolves to public internet
    addresses only, unless the deployment allows private networks; cloud metadata endpoints
    never (`errors` code `refused_address`, whether the host did not resolve or resolved to
    an address refused)."""

    status = 422
    code = "invalid_webhook_url"
    title = "Invalid webhook URL"


def problem_types() -> dict[str, type[DomainError]]:
    """Every problem type the service returns, by code."""
    found: dict[str, type[DomainError]] = {}
    pending = list(DomainError.__subclasses__())
    while pending:
        kind = pending.pop()
        found[kind.code] = kind
        pending.extend(kind.__subclasses__())
    return dict(sorted(found.items()))
