"""The OpenAPI document: what FastAPI's generation of it would lose."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter


def keep_examples(app: FastAPI, wire_schemas: Sequence[ModuleType]) -> None:
    """Put back the examples of the named schemas as the `wire_schemas` modules write them.

    FastAPI writes the document without any null value, examples included: an example whose
    nullable field is null would lose that field and contradict its own schema.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            source = next(
                (vars(module)[name] for module in wire_schemas if name in vars(module)), None
            )
            if source is not None and "example" in schema:
                schema["example"] = _example(source, name)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _example(source: Any, name: str) -> Any:
    generated: dict[str, Any] = TypeAdapter(source).json_schema()
    return generated.get("$defs", {}).get(name, generated)["example"]


# Headers the service sends, declared once in the components and referred to by responses.
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id in the service's logs (also `request_id` of a"
        " problem); a valid incoming X-Request-ID is kept.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where the created resource is (a relative URI); a replay of the same"
        " Idempotency-Key names the same one.",
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "WWW-Authenticate": {
        "description": 'The scheme to authenticate with: Bearer realm="bordin".',
        "schema": {"type": "string"},
    },
    "Content-Language": {
        "description": "The language of the response's texts, negotiated from Accept-Language.",
        "schema": {"type": "string"},
    },
}


def declare_headers(app: FastAPI) -> None:
    """Declare the response headers every operation sends: `X-Request-ID` on every
    response, `Location` on every 201, `WWW-Authenticate` on every 401, and
    `Content-Language` on the successes of every operation that reads Accept-Language."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        document.setdefault("components", {})["headers"] = RESPONSE_HEADERS
        for methods in document.get("paths", {}).values():
            for operation in methods.values():
                localized = any(
                    parameter.get("in") == "header" and parameter["name"] == "accept-language"
                    for parameter in operation.get("parameters", [])
                )
                for status, response in operation.get("responses", {}).items():
                    names = ["X-Request-ID"]
                    names += {"201": ["Location"], "401": ["WWW-Authenticate"]}.get(status, [])
                    if status.startswith("2") and localized:
                        names.append("Content-Language")
                    headers = response.setdefault("headers", {})
                    for name in names:
                        headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})
        return document

    app.openapi = openapi  # type: ignore[method-assign]
