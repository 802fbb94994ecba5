"""The /v1 wire schemas: what clients send and receive (see shared/spec/api.md).

Separate from the YAML definition models and the database tables, so that changing one never
silently changes another. Every schema has a stable name and an example for the OpenAPI
document that client generators read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema, with_config
from typing_extensions import TypedDict

Language = Literal["en", "fr"]

# The scoring core validates each answer itself (so that every bad item is named with a stable
# code); the schema still tells clients what an answer is.
Responses = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "description": "Item id -> answer. null or a left-out item means not answered.",
        }
    ),
]

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
    "version": "1.0.0",
    "definition_hash": "sha256:…",
    "scales": {"task": SCALE_EXAMPLE},
    "flags": [],
    "warnings": [],
}

ITEM_VIEW_EXAMPLE: dict[str, JsonValue] = {
    "id": "1", "label": "Clearer how I might change", "reverse": False,
    "scales": ["task", "total"], "response_scale": None, "applies_when": None,
    "rupture_kind": None,
}  # fmt: skip
SCALE_VIEW_EXAMPLE: dict[str, JsonValue] = {
    "id": "task", "label": "Task", "items": ["1", "2", "10", "12"], "method": "sum",
    "dimension": "task", "min": 4.0, "max": 20.0,
    "missing": {"max_missing": 1, "basis": "Bordin default: no published rule"},
}  # fmt: skip


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
            }
        },
    )

    type: str
    title: str
    status: int
    detail: str
    code: str | None = None
    instance: str | None = None
    errors: list[ProblemItemError] | None = None


class ProblemType(WireModel):
    """What one problem `type` means."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "code": "batch_too_large",
                "title": "Batch too large",
                "status": 413,
                "description": "The batch has more rows than the service accepts at once.",
            }
        }
    )

    code: str
    title: str
    status: int
    description: str


class ScoreRequest(WireModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"instrument": "wai-sr", "responses": WAI_SR_EXAMPLE}}
    )

    instrument: str = Field(description="Instrument id, e.g. wai-sr.")
    version: str | None = Field(default=None, description="Definition version; latest if absent.")
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
    reason: Literal["too_many_missing", "not_applicable"] | None


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
    alert_zone: str | None = Field(default=None, description="below_cutoff: the alerting side.")
    kinds: list[Literal["withdrawal", "confrontation"]] | None = Field(
        default=None, description="reported_rupture: rupture kinds of the markers present."
    )
    details: dict[str, float | None] | None = Field(
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

    code: Literal["not_assessed", "not_applicable"]
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
        str, Field(max_length=200, description="The caller's opaque reference for this row.")
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

    instrument: str
    version: str | None = None
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


class LocalizedAnchor(WireModel):
    model_config = example({"value": 1.0, "label": "Seldom"})

    value: float
    label: str


class ResponseScaleView(WireModel):
    model_config = example(
        {
            "min": 1.0,
            "max": 5.0,
            "step": 1.0,
            "anchors": [{"value": 1.0, "label": "Seldom"}, {"value": 5.0, "label": "Always"}],
            "not_assessed": [],
        }
    )

    min: float
    max: float
    step: float
    anchors: list[LocalizedAnchor]
    not_assessed: list[float]


class ItemView(WireModel):
    model_config = example(ITEM_VIEW_EXAMPLE)

    id: str
    label: str
    reverse: bool
    scales: list[str]
    response_scale: ResponseScaleView | None = Field(
        default=None, description="Only when it differs from the instrument's."
    )
    applies_when: dict[str, Any] | None = None
    rupture_kind: str | None = None


class MissingRuleView(WireModel):
    model_config = example({"max_missing": 1, "basis": "Bordin default: no published rule"})

    max_missing: int
    basis: str


class ScaleView(WireModel):
    model_config = example(SCALE_VIEW_EXAMPLE)

    id: str
    label: str
    items: list[str]
    method: Literal["sum", "mean"]
    dimension: str | None
    min: float
    max: float
    missing: MissingRuleView


class CutoffView(WireModel):
    model_config = example(
        {
            "scale": "total",
            "value": 36.0,
            "alert_zone": "at_or_below",
            "label": "Alliance at risk",
            "source": "Duncan, Miller et al. 2003",
        }
    )

    scale: str
    value: float
    alert_zone: str
    label: str
    source: str


class ReferenceView(WireModel):
    model_config = example(
        {
            "citation": "Hatcher & Gillaspy (2006). Psychotherapy Research, 16(1), 12-25.",
            "doi": None,
            "url": None,
        }
    )

    citation: str
    doi: str | None = None
    url: str | None = None


class InstrumentSummary(WireModel):
    model_config = example(
        {
            "id": "wai-sr",
            "version": "1.0.0",
            "versions": ["1.0.0"],
            "title": "Working Alliance Inventory, short revised",
            "respondent": "client",
            "key_status": "confirmed",
            "item_count": 12,
            "scales": ["goal", "task", "bond", "total"],
            "definition_hash": "sha256:…",
        }
    )

    id: str
    version: str
    versions: list[str] = Field(description="Every loaded version, highest first.")
    title: str
    respondent: Literal["client", "therapist", "observer", "clinician"]
    key_status: Literal["confirmed", "single-source", "derived"]
    item_count: int
    scales: list[str]
    definition_hash: str


class InstrumentList(WireModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "items": [
                    {
                        "id": "wai-sr", "version": "1.0.0", "versions": ["1.0.0"],
                        "title": "Working Alliance Inventory, short revised",
                        "respondent": "client", "key_status": "confirmed", "item_count": 12,
                        "scales": ["goal", "task", "bond", "total"],
                        "definition_hash": "sha256:…",
                    }
                ],
                "next_cursor": None,
            }
        }
    )  # fmt: skip

    items: list[InstrumentSummary]
    next_cursor: str | None = Field(
        default=None, description="Always null: the catalogue fits in one page."
    )


class InstrumentDetail(WireModel):
    model_config = example(
        {
            "id": "wai-sr",
            "version": "1.0.0",
            "versions": ["1.0.0"],
            "title": "Working Alliance Inventory, short revised",
            "aliases": ["WAI-SR"],
            "respondent": "client",
            "care_settings": ["psychotherapy"],
            "references": [{"citation": "Hatcher & Gillaspy (2006)", "doi": None, "url": None}],
            "key_status": "confirmed",
            "key_note": None,
            "definition_hash": "sha256:…",
            "response_scale": {
                "min": 1.0,
                "max": 5.0,
                "step": 1.0,
                "anchors": [],
                "not_assessed": [],
            },
            "items": [ITEM_VIEW_EXAMPLE],
            "scales": [SCALE_VIEW_EXAMPLE],
            "cutoffs": [],
            "norms": [],
            "ruptures": [{"rule": "v_drop", "scales": ["task"], "min_history": 3}],
        }
    )

    id: str
    version: str
    versions: list[str] = Field(description="Every loaded version, highest first.")
    title: str
    aliases: list[str]
    respondent: Literal["client", "therapist", "observer", "clinician"]
    care_settings: list[str]
    references: list[ReferenceView]
    key_status: Literal["confirmed", "single-source", "derived"]
    key_note: str | None
    definition_hash: str
    response_scale: ResponseScaleView
    items: list[ItemView]
    scales: list[ScaleView]
    cutoffs: list[CutoffView]
    norms: list[dict[str, Any]]
    ruptures: list[dict[str, Any]] = Field(description="Declared rupture rules and parameters.")


class Health(WireModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"status": "ok", "database": "ok", "instruments": 10}}
    )

    status: Literal["ok"]
    database: Literal["ok"]
    instruments: int = Field(description="Loaded instrument versions.")
