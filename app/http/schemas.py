"""The wire types every /v1 schema shares: what a request may hold (text, dates, times,
session numbers), named aliases, the base model, and the RFC 9457 problem.

Wire schemas are separate from the YAML definition models and the database tables, so that
changing one never silently changes another. Every schema has a stable name and an example
for the OpenAPI document that client generators read (see shared/spec/api.md); each part of
the service keeps its own in its `schemas.py`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictInt,
)
from pydantic_core import PydanticCustomError

# -- What a request may hold -------------------------------------------------------------------
# The types of what clients send, checked before anything else touches a request (and shared by
# bodies, query parameters and headers): each refusal is a 422 naming the field.


def _without_nul(text: str) -> str:
    # PostgreSQL refuses NUL in text: refused here, on both databases, naming the field.
    if "\x00" in text:
        raise PydanticCustomError("nul_character", "Text must not contain NUL (U+0000)")
    return text


Text = Annotated[
    str, AfterValidator(_without_nul), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})
]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _date_text(value: object) -> object:
    # JSON has no dates: a date is a string, never a number (0 is not 1970-01-01).
    if isinstance(value, date) or (isinstance(value, str) and _DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_type", "Input should be a date as YYYY-MM-DD")


def _date_time_text(value: object) -> object:
    # Never a number or a numeric string (pydantic would read them as Unix time).
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_TIME.match(value)):
        return value
    raise PydanticCustomError(
        "datetime_type", "Input should be an RFC 3339 date-time with a time zone offset"
    )


def _in_utc(value: datetime) -> datetime:
    # Stored and echoed in UTC, as every time the API gives (one form everywhere); year 1 at
    # +01:00 or year 9999 at -01:00 would fall outside the calendar.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "Input should fall between years 1 and 9999 in UTC"
        ) from None


CalendarDate = Annotated[date, BeforeValidator(_date_text)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_in_utc)]
# Session numbers: whole numbers, never 5.0, "5" or true.
SessionNumber = Annotated[StrictInt, Field(ge=0, le=100_000)]


def named(example: JsonValue, description: str) -> Any:
    """Metadata of a type alias that the OpenAPI document names as a component of its own.

    A `TypeAliasType` becomes `#/components/schemas/<name>`, so that generated clients get one
    `Rater` type instead of one anonymous enum per field that uses it.
    """
    return Field(description=description, json_schema_extra={"example": example})


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def example(data: dict[str, Any]) -> ConfigDict:
    """A wire model's config with the example that the OpenAPI document shows."""
    return ConfigDict(extra="forbid", json_schema_extra={"example": data})


class ProblemItemError(WireModel):
    model_config = example(
        {"loc": ["responses", "3"], "code": "out_of_range", "message": "9 is outside 1..5"}
    )

    loc: list[str | int] = Field(description="Path of the offending field; ends with the item id.")
    code: str = Field(description="Stable error code, e.g. out_of_range, unknown_item.")
    message: str


class OperationOutcomeIssue(WireModel):
    """One error of a FHIR request, as an issue of a FHIR OperationOutcome."""

    model_config = example(
        {
            "severity": "error",
            "code": "not-found",
            "details": {"text": "unknown_item"},
            "diagnostics": "wai-sr has no item '13'",
            "expression": ["QuestionnaireResponse.item.where(linkId='13')"],
        }
    )

    severity: Literal["error"]
    code: str = Field(description="FHIR issue type: not-found, structure, required, value, ...")
    details: dict[str, str] = Field(description="`text` is the error's code in `errors`.")
    diagnostics: str
    expression: list[str] = Field(description="FHIRPath of the offending element.")


class Problem(WireModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "/problems/invalid_responses",
                "title": "Invalid responses",
                "status": 422,
                "detail": "1 response(s) cannot be scored: item(s) 3",
                "code": "invalid_responses",
                "instance": "/v1/scores",
                "errors": [
                    {
                        "loc": ["responses", "3"],
                        "code": "out_of_range",
                        "message": "9 is outside 1..5",
                    }
                ],
                "request_id": "9f1c2d3e4b5a69788796a5b4c3d2e1f0",
            }
        },
    )

    type: str
    title: str
    status: int
    detail: str
    code: str | None = Field(default=None, description="Stable code; `type` is /problems/{code}.")
    instance: str | None = None
    errors: list[ProblemItemError] | None = Field(
        default=None, description="Invalid input: one entry per offending field or item."
    )
    request_id: str | None = Field(
        default=None, description="The request's id in the service's logs (X-Request-ID)."
    )
    issue: list[OperationOutcomeIssue] | None = Field(
        default=None,
        description=(
            "FHIR routes: `errors` again as OperationOutcome issues, so that"
            ' {"resourceType": "OperationOutcome", "issue": issue} is a valid OperationOutcome.'
        ),
    )


EXAMPLE_ID = "4b7c3a2e-1d0f-4c8a-9e21-6f0b2d7e5a10"
