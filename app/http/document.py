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
