"""JSON request bodies validated by pydantic-core straight from bytes.

FastAPI's own body handling decodes JSON in Python and then validates the objects; for the
scoring routes, where the body is most of the work, parsing and validating in one pass in
Rust is several times faster. The OpenAPI document still names each body schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from app.platform.errors import (
    InvalidRequestError,
    ItemError,
    MalformedJsonError,
    UnsupportedMediaTypeError,
)

Model = TypeVar("Model", bound=BaseModel)
REF = "#/components/schemas/{model}"


def is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def parse_json(model: type[Model], body: bytes, content_type: str | None) -> Model:
    """The body as `model`, or a 415, 400 or 422 problem naming what is wrong."""
    if not is_json(content_type):
        raise UnsupportedMediaTypeError(f"send application/json, not {content_type or 'nothing'}")
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        errors = error.errors(include_url=False, include_input=False)
        if any(entry["type"] == "json_invalid" for entry in errors):
            raise MalformedJsonError("the request body is not valid JSON") from None
        located: list[ItemError] = [
            {"loc": list(entry["loc"]) or ["body"], "code": entry["type"], "message": entry["msg"]}
            for entry in errors
        ]
        raise InvalidRequestError(
            f"{len(located)} field(s) of the request are invalid", located
        ) from None


def json_request_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` of a route that reads `model` with `parse_json`."""
    schema = {"$ref": REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def add_body_schemas(app: FastAPI, models: Iterable[type[BaseModel]]) -> None:
    """Put the schemas of bodies read with `parse_json` into the OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        _, definitions = models_json_schema(
            [(model, "validation") for model in models], ref_template=REF
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in definitions.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
