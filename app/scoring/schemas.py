"""Wire schemas of stateless scoring: one administration or a batch, and their results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    JsonValue,
    WithJsonSchema,
    with_config,
)
from typing_extensions import TypeAliasType, TypedDict

from app.http.schemas import Problem, Text, WireModel, example, named

# The scoring core validates each answer itself (so that every bad item is named with a stable
# code); the schema still tells clients what an answer is.
Responses = TypeAliasType(
    "Responses",
    Annotated[
        dict[str, Any],
        WithJsonSchema(
            {
                "type": "object",
                "additionalProperties": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                "description": "Item id -> answer. null or a left-out item means not answered.",
                "example": {"1": 4, "2": 5, "12": None},
            }
        ),
    ],
)
UnscoredReason = TypeAliasType(
    "UnscoredReason",
    Annotated[
        Literal["too_many_missing", "not_applicable"],
        named("too_many_missing", "Why a scale has no score."),
    ],
)
RuptureKind = TypeAliasType(
    "RuptureKind",
    Annotated[
        Literal["withdrawal", "confrontation"],
        named("withdrawal", "Rupture kind (Safran & Muran): moving away or against."),
    ],
)

WAI_SR_EXAMPLE: dict[str, JsonValue] = {
    "1": 4, "2": 5, "3": 4, "4": 3, "5": 5, "6": 4,
    "7": 4, "8": 3, "9": 5, "10": 4, "11": 3, "12": None,
}  # fmt: skip


SCALE_EXAMPLE: dict[str, JsonValue] = {
    "score": 14.0, "mean": 3.5, "pomp": 62.5, "min": 4.0, "max": 20.0,
    "answered": 4, "expected": 4, "prorated": False, "reason": None,
}  # fmt: skip
SCORE_RESULT_EXAMPLE: dict[str, JsonValue] = {
    "instrument": "wai-sr",
    "version": "1.1.0",
    "definition_hash": "sha256:…",
    "scales": {"task": SCALE_EXAMPLE},
    "flags": [],
    "warnings": [],
}


class ScoreRequest(WireModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"instrument": "wai-sr", "responses": WAI_SR_EXAMPLE}}
    )

    instrument: Text = Field(description="Instrument id, e.g. wai-sr.")
    version: Text | None = Field(default=None, description="Definition version; latest if absent.")
    responses: Responses


class ScaleScore(WireModel):
    """A scale's score; `score`, `mean` and `pomp` are null together, with a `reason`."""

    model_config = example(SCALE_EXAMPLE)

    score: float | None = Field(description="Sum after reversal (prorated when allowed).")
    mean: float | None = Field(description="Mean of the answered items after reversal.")
    pomp: float | None = Field(description="Percent of maximum possible: (score-min)/(max-min).")
    min: float
    max: float
    answered: int
    expected: int
    prorated: bool
    reason: UnscoredReason | None


RuptureDetails = TypeAliasType(
    "RuptureDetails",
    Annotated[
        dict[str, float | None],
        named({"intensity": 4.0, "resolution": 2.0}, "Answers behind a reported rupture."),
    ],
)


class RuptureFlag(WireModel):
    """A rupture flag: which rule fired, on which scale, against which threshold."""

    model_config = example(
        {
            "rule": "below_cutoff",
            "scale": "total",
            "value": 34.5,
            "threshold": 36.0,
            "alert_zone": "at_or_below",
            "citation": "Duncan, Miller et al. 2003",
        }
    )

    rule: str = Field(description="below_cutoff, reported_rupture, ...")
    scale: str
    value: float = Field(description="The observed score.")
    threshold: float
    citation: str
    severity: str | None = Field(
        default=None,
        description=(
            "How strong the evidence is within its rule: v_drop strict or lenient;"
            " reported_rupture direct (said, or a direct sign) or marker (a withdrawal or"
            " confrontation marker)."
        ),
    )
    alert_zone: str | None = Field(default=None, description="below_cutoff: the alerting side.")
    kinds: list[RuptureKind] | None = Field(
        default=None,
        description=(
            "reported_rupture: rupture kinds of the markers present (a marker flag: of its"
            " own scale's markers)."
        ),
    )
    details: RuptureDetails | None = Field(
        default=None, description="reported_rupture: e.g. intensity and resolution."
    )


class ScoreWarning(WireModel):
    model_config = example(
        {
            "code": "not_assessed",
            "item": "1",
            "message": "0 means not assessed; counted as unanswered",
        }
    )

    code: Literal["not_assessed", "not_applicable", "gate_unanswered"] = Field(
        description=(
            "not_assessed: a 'not assessed' code, counted as unanswered; not_applicable: an"
            " answer to an item that does not apply, ignored; gate_unanswered: an answer to an"
            " item whose gate (e.g. 'any tension?') was left blank."
        )
    )
    item: str
    message: str


class ScoreResult(WireModel):
    model_config = example(SCORE_RESULT_EXAMPLE)

    instrument: str
    version: str
    definition_hash: str = Field(description="Hash of the definition that computed this result.")
    scales: dict[str, ScaleScore]
    flags: list[RuptureFlag]
    warnings: list[ScoreWarning]


@with_config(example({"ref": "a1", "responses": WAI_SR_EXAMPLE}))
class BatchRow(TypedDict):
    """One administration of a batch (a typed dict: 10 000 of them parse fast)."""

    ref: Annotated[
        Text, Field(max_length=200, description="The caller's opaque reference for this row.")
    ]
    responses: Responses


class BatchScoreRequest(WireModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "instrument": "wai-sr",
                "rows": [
                    {"ref": "a1", "responses": WAI_SR_EXAMPLE},
                    {"ref": "a2", "responses": {"1": 9}},
                ],
            }
        }
    )

    instrument: Text
    version: Text | None = None
    rows: list[BatchRow]


class BatchRowResult(WireModel):
    """Either `result` or `error` (a problem) for one row."""

    model_config = example(
        {
            "ref": "a2",
            "error": {
                "type": "/problems/invalid_responses",
                "title": "Invalid responses",
                "status": 422,
                "detail": "1 response(s) cannot be scored: item(s) 1",
                "code": "invalid_responses",
                "errors": [
                    {
                        "loc": ["rows", 1, "responses", "1"],
                        "code": "out_of_range",
                        "message": "9 is outside 1..5",
                    }
                ],
            },
        }
    )

    ref: str
    result: ScoreResult | None = None
    error: Problem | None = None


class BatchScoreResponse(WireModel):
    model_config = example({"results": [{"ref": "a1", "result": SCORE_RESULT_EXAMPLE}]})

    results: list[BatchRowResult]
