"""RFC 9457 problem details: the one shape of every error the API returns."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from app.languages.catalogues import Catalogues
from app.platform.db import is_unavailable
from app.platform.errors import (
    DatabaseUnavailableError,
    DomainError,
    InternalServerError,
    ItemError,
    MethodNotAllowedError,
    RouteNotFoundError,
)
from app.platform.logs import request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The language catalogues' domain of problem titles (`languages/<tag>/problems.yaml`, by code).
PROBLEMS = "problems"


def problem_type(code: str) -> str:
    """Problem types are relative URIs; `GET /problems/{code}` documents each one."""
    return f"/problems/{code}"


def problem_body(
    status: int,
    *,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: Sequence[ItemError] = (),
    instance: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(code) if code else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
    }
    if code:
        body["code"] = code
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    if (current := request_id.get()) is not None:
        body["request_id"] = current  # the id of this request in the service's logs
    return body


def domain_problem(error: DomainError, instance: str | None = None) -> dict[str, Any]:
    body = problem_body(
        error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        instance=instance,
    )
    return {**body, **error.members}


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=body["status"],
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the problem responses an operation can return.

    Only `application/problem+json` is declared (a `model` would add a JSON twin); the
    Problem schema is in the components because the batch result refers to it.
    """
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def declare_failures(app: FastAPI) -> None:
    """Declare, in the OpenAPI document, the problems an operation can answer whatever it
    does: 500 on every operation (a bug can be anywhere); 400 (malformed JSON) and 413 (body
    too large) on every operation that takes a body; 429 (rate limit) and 503 (the database
    is unavailable), both with `Retry-After`, on every operation that takes a key, since
    authenticating it reads the database. Readiness declares its own 503."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for methods in document.get("paths", {}).values():
            for operation in methods.values():
                statuses = [500]
                if "requestBody" in operation:
                    statuses += [400, 413]
                if operation.get("security"):
                    statuses += [429, 503]
                declared = operation.setdefault("responses", {})
                for status, response in problem_responses(*statuses).items():
                    declared.setdefault(str(status), response)
                for status in ("429", "503"):
                    if status in declared:
                        declared[status].setdefault("headers", RETRY_AFTER_HEADER)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def failure_response(error: Exception, instance: str) -> Response:
    """The answer to an unexpected exception: 503 with `Retry-After` when the database is
    unavailable (not a bug: the client may retry), else 500 (a bug), never its internals."""
    if is_unavailable(error):
        unavailable = DatabaseUnavailableError("the database does not answer; retry later")
        return problem_response(domain_problem(unavailable, instance), unavailable.headers)
    bug = InternalServerError("an unexpected error; it is logged under this request_id")
    return problem_response(domain_problem(bug, instance))


def localized(
    request: Request, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """The problem with its `title` in the language of the request's `Accept-Language`
    (RFC 9457 lets a title be localized), saying which in `Content-Language`; the `detail`
    stays in English: it names fields and values. Without the header, as it is, in English."""
    header = request.headers.get("accept-language")
    catalogues: Catalogues | None = getattr(
        getattr(request.app.state, "bordin", None), "languages", None
    )
    if header is None or catalogues is None:
        return problem_response(body, headers)
    language = catalogues.negotiate(header)
    if "code" in body:
        body = {
            **body,
            "title": catalogues.texts(PROBLEMS, language).get(body["code"], body["title"]),
        }
    localized_headers = {**(headers or {}), "Content-Language": language, "Vary": "Accept-Language"}
    return problem_response(body, localized_headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Render every expected error as problem JSON, its title in the caller's language."""

    async def on_domain_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, DomainError)
        body = domain_problem(error, request.url.path)
        return localized(request, body, headers=error.headers)

    async def on_validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        raw = error.errors()
        if any(entry.get("type") == "json_invalid" for entry in raw):
            body = problem_body(
                400,
                code="malformed_json",
                title="Malformed JSON",
                detail="the request body is not valid JSON",
                instance=request.url.path,
            )
            return localized(request, body)
        body = problem_body(
            422,
            code="invalid_request",
            title="Invalid request",
            detail=f"{len(raw)} field(s) of the request are invalid",
            errors=[_item_error(entry) for entry in raw],
            instance=request.url.path,
        )
        return localized(request, body)

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        detail = error.detail if isinstance(error.detail, str) else None
        routing = ROUTING_ERRORS.get(error.status_code)
        if routing is not None and detail == HTTPStatus(error.status_code).phrase:
            # Starlette's own answer when no route matches the path, or not with this method.
            found = routing(routing_detail(error.status_code, request))
            body = domain_problem(found, request.url.path)
        else:
            body = problem_body(error.status_code, detail=detail, instance=request.url.path)
        return localized(request, body, headers=dict(error.headers or {}))

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    # Any other exception reaches the request layer (`app.http.context`), which answers with
    # `failure_response` inside it: request id, security headers, audit event, one log line.


# The problems of routing: no route for the path (404), or not with this method (405).
ROUTING_ERRORS: dict[int, type[DomainError]] = {
    404: RouteNotFoundError,
    405: MethodNotAllowedError,
}


def routing_detail(status: int, request: Request) -> str:
    if status == 404:
        return f"no route {request.url.path}"
    return f"{request.url.path} does not take {request.method}"


def _item_error(entry: Any) -> ItemError:
    loc = [part for part in entry["loc"] if part != "body"] or ["body"]
    return {"loc": loc, "code": entry["type"], "message": entry["msg"]}
