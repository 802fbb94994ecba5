"""The /v1 wire schemas: what clients send and receive (see shared/spec/api.md).

Separate from the YAML definition models and the database tables, so that changing one never
silently changes another. Every schema has a stable name and an example for the OpenAPI
document that client generators read.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    with_config,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType, TypedDict

Language = Literal["en", "fr"]

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


def _in_utc_range(value: datetime) -> datetime:
    # Stored in UTC: year 1 at +01:00 or year 9999 at -01:00 would fall outside the calendar.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "Input should fall between years 1 and 9999 in UTC"
        ) from None
    return value


CalendarDate = Annotated[date, BeforeValidator(_date_text)]
Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_in_utc_range)
]
# Session numbers: whole numbers, never 5.0, "5" or true.
SessionNumber = Annotated[StrictInt, Field(ge=0, le=100_000)]


def named(example: JsonValue, description: str) -> Any:
    """Metadata of a type alias that the OpenAPI document names as a component of its own.

    A `TypeAliasType` becomes `#/components/schemas/<name>`, so that generated clients get one
    `Rater` type instead of one anonymous enum per field that uses it.
    """
    return Field(description=description, json_schema_extra={"example": example})


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
Respondent = TypeAliasType(
    "Respondent",
    Annotated[
        Literal["client", "therapist", "observer", "clinician"],
        named("client", "Who fills the instrument in."),
    ],
)
KeyStatus = TypeAliasType(
    "KeyStatus",
    Annotated[
        Literal["confirmed", "single-source", "derived"],
        named("confirmed", "How well the scoring key is sourced."),
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
            "version": "1.1.0",
            "versions": ["1.1.0"],
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
    respondent: Respondent
    key_status: KeyStatus
    item_count: int
    scales: list[str]
    definition_hash: str


class InstrumentList(WireModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "items": [
                    {
                        "id": "wai-sr", "version": "1.1.0", "versions": ["1.1.0"],
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
            "version": "1.1.0",
            "versions": ["1.1.0"],
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
    respondent: Respondent
    care_settings: list[str]
    references: list[ReferenceView]
    key_status: KeyStatus
    key_note: str | None
    definition_hash: str
    response_scale: ResponseScaleView
    items: list[ItemView]
    scales: list[ScaleView]
    cutoffs: list[CutoffView]
    norms: list[dict[str, Any]]
    ruptures: list[dict[str, Any]] = Field(description="Declared rupture rules and parameters.")


class Liveness(WireModel):
    """The process answers."""

    model_config = example({"status": "ok"})

    status: Literal["ok"]


class Health(WireModel):
    """Ready: the database answers and is migrated, the instruments are loaded."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"status": "ok", "database": "ok", "instruments": 10}}
    )

    status: Literal["ok"]
    database: Literal["ok"]
    instruments: int = Field(description="Loaded instrument versions.")


# -- Records: episodes of care and administrations -------------------------------------------

Rater = TypeAliasType(
    "Rater",
    Annotated[
        Literal["client", "therapist", "observer"],
        named("client", "Who rated: a clinician's scale is rated by the therapist or an observer."),
    ],
)
EXAMPLE_ID = "4b7c3a2e-1d0f-4c8a-9e21-6f0b2d7e5a10"
CareSetting = TypeAliasType(
    "CareSetting",
    Annotated[
        Literal["psychotherapy", "nursing", "physiotherapy"],
        named("psychotherapy", "The episode's care setting; repair guidance depends on it."),
    ],
)
AdministrationStatus = TypeAliasType(
    "AdministrationStatus",
    Annotated[
        Literal["recorded", "corrected", "withdrawn"],
        named("recorded", "An administration's current state; revisions keep the earlier ones."),
    ],
)
RepairState = TypeAliasType(
    "RepairState",
    Annotated[
        Literal["repaired", "unrepaired", "pending"],
        named("repaired", "Whether a later session within the repair window got back."),
    ],
)
Reference = Annotated[Text, Field(min_length=1, max_length=200)]


class EpisodeCreate(WireModel):
    """The caller's own opaque references: no names or other identifying data."""

    model_config = example(
        {"patient_ref": "ehr-8841", "clinician_ref": "staff-17", "setting": "psychotherapy"}
    )

    patient_ref: Reference
    clinician_ref: Reference
    setting: CareSetting | None = None
    started_on: CalendarDate | None = None
    label: Annotated[Text, Field(max_length=200)] | None = None


EpisodeEndReason = TypeAliasType(
    "EpisodeEndReason",
    Annotated[
        Literal["completed", "dropped_out", "referred", "other"],
        named("completed", "Why an episode of care ended."),
    ],
)


class EpisodeView(WireModel):
    model_config = example(
        {
            "id": "0b7e4c3e-4d0a-4a8e-9d43-0f1f5b6c2a11", "patient_ref": "ehr-8841",
            "clinician_ref": "staff-17", "setting": "psychotherapy", "started_on": None,
            "label": None, "created_at": "2026-11-22T09:00:00Z", "ended_on": None,
            "end_reason": None,
        }
    )  # fmt: skip

    id: UUID
    patient_ref: str
    clinician_ref: str
    setting: CareSetting | None
    started_on: date | None
    label: str | None
    created_at: AwareDatetime
    ended_on: date | None = Field(
        default=None, description="The day the episode ended; null while it goes on."
    )
    end_reason: EpisodeEndReason | None = None


class EpisodeClosure(WireModel):
    """The end of an episode of care: no later session will come."""

    model_config = example({"ended_on": "2026-06-30", "reason": "completed"})

    ended_on: date
    reason: EpisodeEndReason


class EpisodeList(WireModel):
    model_config = example({"items": [], "next_cursor": None})

    items: list[EpisodeView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class AdministrationCreate(WireModel):
    model_config = example(
        {
            "instrument": "wai-sr", "rater": "client", "session": 5,
            "administered_at": "2026-11-22T10:30:00+01:00", "responses": WAI_SR_EXAMPLE,
        }
    )  # fmt: skip

    instrument: Text
    version: Text | None = Field(default=None, description="Definition version; latest if absent.")
    rater: Rater
    session: SessionNumber
    administered_at: Timestamp = Field(description="RFC 3339 with a time zone offset.")
    responses: Responses
    encounter_ref: Reference | None = Field(
        default=None,
        description="The caller's opaque reference of the encounter (visit), e.g. an EHR id.",
    )


class AdministrationCorrection(WireModel):
    model_config = example({"responses": WAI_SR_EXAMPLE, "reason": "item 8 was keyed in wrong"})

    responses: Responses
    reason: Annotated[Text, Field(min_length=1, max_length=2000)]
    administered_at: Timestamp | None = Field(default=None, description="Unchanged if absent.")
    version: Text | None = Field(default=None, description="Unchanged if absent.")


class AdministrationWithdrawal(WireModel):
    model_config = example({"reason": "administered to the wrong patient"})

    reason: Annotated[Text, Field(min_length=1, max_length=2000)]


class RevisionView(WireModel):
    model_config = example(
        {
            "revision": 1, "status": "recorded", "reason": None, "version": "1.1.0",
            "administered_at": "2026-11-22T09:30:00Z", "created_at": "2026-11-22T09:31:00Z",
        }
    )  # fmt: skip

    revision: int
    status: AdministrationStatus
    reason: str | None
    version: str
    administered_at: AwareDatetime
    created_at: AwareDatetime


SourceKind = TypeAliasType(
    "SourceKind",
    Annotated[
        Literal[
            "meta-analysis", "systematic-review", "empirical-study", "consensus-or-manual",
            "theory", "practice-text",
        ],
        named(
            "meta-analysis",
            "What kind of work a guidance source is, strongest support first: meta-analysis,"
            " systematic-review (no pooling), empirical-study (one study with data: a trial, a"
            " cohort, a secondary analysis), consensus-or-manual (expert consensus, treatment or"
            " rating manual, textbook), theory (explains, tests nothing), practice-text (blogs,"
            " practice texts, student work, unverified references).",
        ),
    ],
)  # fmt: skip
GUIDANCE_REFERENCE_EXAMPLE: dict[str, JsonValue] = {
    "id": "muran-et-al-2009",
    "citation": "Muran, J. C., Safran, J. D., Gorman, B. S., Samstag, L. W., Eubanks-Carter, C.,"
    " & Winston, A. (2009). The relationship of early alliance ruptures and their resolution to"
    " process and outcome in three time-limited psychotherapies for personality disorders."
    " Psychotherapy: Theory, Research, Practice, Training, 46(2), 233–248.",  # noqa: RUF001
    "kind": "empirical-study",
    "doi": "10.1037/a0016085",
}
GUIDANCE_EXAMPLE: dict[str, JsonValue] = {
    "id": "rater-gap",
    "text": "Client and clinician saw this session differently; clients report fewer ruptures…",
    "support": "empirical-study",
    "support_label": "backed by an empirical study",
    "sources": [GUIDANCE_REFERENCE_EXAMPLE["citation"]],
    "references": [GUIDANCE_REFERENCE_EXAMPLE],
}


class GuidanceReference(WireModel):
    """A source a guidance entry rests on: its full reference and what kind of work it is."""

    model_config = example(GUIDANCE_REFERENCE_EXAMPLE)

    id: str = Field(description="Stable id of the source in the catalogue.")
    citation: str = Field(
        description="Full reference (authors, year, title, journal or publisher, volume, pages);"
        " a practice text whose full reference is unknown says so."
    )
    kind: SourceKind
    doi: str | None = Field(default=None, description="Present when one was verified.")
    url: str | None = Field(default=None, description="Present when one was verified.")


class GuidanceView(WireModel):
    """A next clinical step for a flag, in the caller's language, with what backs it."""

    model_config = example(GUIDANCE_EXAMPLE)

    id: str
    text: str
    support: SourceKind = Field(
        description="The strongest kind of source the entry cites: how strong its support is."
    )
    support_label: str = Field(description="`support` in words, in the caller's language.")
    sources: list[str] = Field(
        description="The full citations of `references`, in the same order (strongest first)."
    )
    references: list[GuidanceReference] = Field(description="The sources, strongest first.")


class GuidanceEntryView(GuidanceView):
    """A catalogue entry: its text, its sources, and the flags it applies to."""

    model_config = example(
        {
            **GUIDANCE_EXAMPLE,
            "applies": {"rules": ["rater_discrepancy"]},
        }
    )

    applies: dict[str, Any]


class SourceKindView(WireModel):
    """A kind of source, in the caller's language: what `support` and `kind` mean."""

    model_config = example(
        {
            "id": "meta-analysis",
            "label": "backed by a meta-analysis",
            "definition": "Pools the results of many studies quantitatively.",
        }
    )

    id: SourceKind
    label: str
    definition: str


class GuidanceCatalogue(WireModel):
    model_config = example({"version": "1.1.0", "source_kinds": [], "items": []})

    version: str
    source_kinds: list[SourceKindView] = Field(description="The kinds of source, strongest first.")
    items: list[GuidanceEntryView]


class RepairPoint(WireModel):
    """The session whose score got back to a flag's reference."""

    model_config = example({"session": 8, "administration_id": EXAMPLE_ID})

    session: int
    administration_id: str


class FlagPoint(WireModel):
    """The session and administration of a flag."""

    model_config = example({"session": 4, "administration_id": EXAMPLE_ID})

    session: int
    administration_id: str


class CounterpartScore(WireModel):
    """rater_discrepancy: the other rater's administration of the same session."""

    model_config = example(
        {"instrument": "wai-therapist", "administration_id": EXAMPLE_ID, "pomp": 81.25}
    )

    instrument: str
    administration_id: str
    pomp: float | None


class EpisodeRuptureFlag(RuptureFlag):
    """A rupture flag of an episode's series, with its repair state."""

    model_config = example(
        {
            "rule": "v_drop", "scale": "bond", "session": 6, "instrument": "wai-sr",
            "rater": "client", "administration_id": EXAMPLE_ID, "value": 9.0, "reference": 15.5,
            "threshold": 2.8, "severity": "strict",
            "spread_source": "client_history and between_client (norms: …)",
            "citation": "Stiles et al. 2004; Gumz et al. 2012", "repaired": True,
            "repaired_at": {"session": 8, "administration_id": EXAMPLE_ID}, "state": "repaired",
        }
    )  # fmt: skip

    instrument: str
    rater: Rater
    session: int
    administration_id: str
    reference: float | None = None
    spread_source: str | None = None
    repaired: bool | None = None
    repaired_at: RepairPoint | None = None
    state: RepairState | None = None
    continuing: bool = Field(
        default=False,
        description=(
            "This flag continues an earlier rupture of the same rule and scale that was not"
            " repaired by this session (a drop that persists, a score that stays below the"
            " cut-off): evidence of the same rupture, not a new one."
        ),
    )
    continues: FlagPoint | None = Field(
        default=None, description="The flag that opened the rupture this one continues."
    )
    counterpart: CounterpartScore | None = None
    guidance: list[GuidanceView] = Field(
        default=[], description="Next clinical steps for this flag, in the caller's language."
    )


class NotEvaluatedView(WireModel):
    model_config = example(
        {
            "instrument": "wai-sr", "rater": "client", "rule": "v_drop", "scale": "bond",
            "sessions": [1, 2, 3], "reason": "fewer than 3 earlier administrations in the series",
        }
    )  # fmt: skip

    instrument: str
    rater: Rater
    rule: str
    scale: str
    sessions: list[int]
    reason: str


ADMINISTRATION_EXAMPLE: dict[str, JsonValue] = {
    "id": EXAMPLE_ID,
    "episode_id": "0b7e4c3e-4d0a-4a8e-9d43-0f1f5b6c2a11",
    "instrument": "wai-sr", "version": "1.1.0", "definition_hash": "sha256:…",
    "rater": "client", "session": 5, "administered_at": "2026-11-22T09:30:00Z",
    "status": "recorded", "revision": 1, "responses": WAI_SR_EXAMPLE,
    "result": SCORE_RESULT_EXAMPLE, "history": [], "created_at": "2026-11-22T09:31:00Z",
}  # fmt: skip


class AdministrationView(WireModel):
    model_config = example(ADMINISTRATION_EXAMPLE)

    id: UUID
    episode_id: UUID
    instrument: str
    version: str
    definition_hash: str
    rater: Rater
    session: int
    encounter_ref: str | None = None
    administered_at: AwareDatetime
    status: AdministrationStatus
    revision: int
    responses: Responses
    result: ScoreResult
    history: list[RevisionView] = Field(description="Earlier revisions, oldest first.")
    created_at: AwareDatetime


class AdministrationRecorded(AdministrationView):
    """The stored administration and the rupture flags it raised."""

    model_config = example({**ADMINISTRATION_EXAMPLE, "ruptures": []})

    ruptures: list[EpisodeRuptureFlag]


class AdministrationList(WireModel):
    model_config = example({"items": [], "next_cursor": None})

    items: list[AdministrationView]
    next_cursor: str | None


class PointScore(WireModel):
    """A scale's score at one session of a trajectory; null together when not scored."""

    model_config = example({"score": 16.0, "mean": 4.0, "pomp": 75.0})

    score: float | None
    mean: float | None
    pomp: float | None


class TrajectoryPoint(WireModel):
    model_config = example(
        {
            "session": 5, "administered_at": "2026-11-22T09:30:00Z",
            "administration_id": EXAMPLE_ID,
            "scales": {"bond": {"score": 16.0, "mean": 4.0, "pomp": 75.0}},
        }
    )  # fmt: skip

    session: int
    administered_at: AwareDatetime
    administration_id: UUID
    scales: dict[str, PointScore]


class Trajectory(WireModel):
    model_config = example(
        {
            "instrument": "wai-sr",
            "rater": "client",
            "points": [],
            "ruptures": [],
            "not_evaluated": [],
        }
    )

    instrument: str
    rater: Rater
    points: list[TrajectoryPoint]
    ruptures: list[EpisodeRuptureFlag]
    not_evaluated: list[NotEvaluatedView]


class EpisodeRuptures(WireModel):
    model_config = example({"items": [], "not_evaluated": []})

    items: list[EpisodeRuptureFlag]
    not_evaluated: list[NotEvaluatedView]


class ScaleStatisticsView(WireModel):
    model_config = example(
        {"count": 120, "mean": 44.1, "sd": 7.9, "alpha": 0.88, "alpha_count": 117}
    )

    count: int
    mean: float | None
    sd: float | None
    alpha: float | None = Field(description="Cronbach's alpha of complete item-level answers.")
    alpha_count: int


class InstrumentStatistics(WireModel):
    model_config = example(
        {
            "instrument": "wai-sr",
            "scales": {
                "total": {"count": 120, "mean": 44.1, "sd": 7.9, "alpha": 0.88, "alpha_count": 117}
            },
        }
    )

    instrument: str
    scales: dict[str, ScaleStatisticsView]


# -- API keys ----------------------------------------------------------------------------------

Scope = TypeAliasType(
    "Scope",
    Annotated[
        Literal["scores", "records:read", "records:write", "submit", "admin"],
        named("records:read", "What an API key opens."),
    ],
)
KEY_EXAMPLE: dict[str, JsonValue] = {
    "id": EXAMPLE_ID, "name": "kiosk, waiting room 2", "prefix": "3f9c0a7b12de",
    "scopes": ["submit"], "created_at": "2026-11-22T09:00:00Z", "expires_at": None,
    "last_used_at": None, "revoked_at": None,
}  # fmt: skip


class ApiKeyCreate(WireModel):
    model_config = example({"name": "kiosk, waiting room 2", "scopes": ["submit"]})

    name: Annotated[Text, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1)]
    expires_at: Timestamp | None = None


class ApiKeyView(WireModel):
    """An API key as listed: never its secret."""

    model_config = example(KEY_EXAMPLE)

    id: UUID
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: AwareDatetime
    expires_at: AwareDatetime | None
    last_used_at: AwareDatetime | None
    revoked_at: AwareDatetime | None


class ApiKeyCreated(ApiKeyView):
    """A new key: `key` is shown this once and never again."""

    model_config = example({**KEY_EXAMPLE, "key": "bordin_3f9c0a7b12de_…"})

    key: str


class ApiKeyList(WireModel):
    model_config = example({"items": [KEY_EXAMPLE], "next_cursor": None})

    items: list[ApiKeyView]
    next_cursor: str | None = Field(default=None, description="Always null: one page.")


class AdministrationAcknowledgement(WireModel):
    """What a `submit` key gets back: the record was stored, and nothing of its content."""

    model_config = example(
        {
            "id": EXAMPLE_ID, "episode_id": EXAMPLE_ID, "instrument": "wai-sr",
            "rater": "client", "session": 5, "status": "recorded",
        }
    )  # fmt: skip

    id: UUID
    episode_id: UUID
    instrument: str
    rater: Rater
    session: int
    status: AdministrationStatus


class AuditEventView(WireModel):
    """One access to patient data: who (an API key, or a JWT's issuer and subject), what
    (action, resource), how it ended."""

    model_config = example(
        {
            "id": EXAMPLE_ID, "at": "2026-11-22T09:31:00Z", "key_id": EXAMPLE_ID,
            "jwt_issuer": None, "jwt_subject": None, "action": "recordAdministration",
            "resource_type": "episode",
            "resource_id": EXAMPLE_ID, "request_id": "9f1c2d3e4b5a69788796a5b4c3d2e1f0",
            "outcome": "success", "status": 201,
        }
    )  # fmt: skip

    id: UUID
    at: AwareDatetime
    key_id: UUID | None = Field(description="The API key that called; null for a JWT.")
    jwt_issuer: str | None = Field(description="A JWT caller's `iss`; null for a key.")
    jwt_subject: str | None = Field(description="A JWT caller's `sub`: the calling system.")
    action: str
    resource_type: str
    resource_id: str | None
    request_id: str
    outcome: Literal["success", "denied", "not_found", "conflict", "invalid", "error"]
    status: int


class AuditEventList(WireModel):
    model_config = example({"items": [], "next_cursor": None})

    items: list[AuditEventView]
    next_cursor: str | None


# FHIR R4 resources. Their elements are FHIR's (camelCase, as the FHIR specification names
# them), validated against the FHIR models in the test suite; the schemas list the elements
# that Bordin reads or always writes.
FHIR_RESPONSE_EXAMPLE: dict[str, JsonValue] = {
    "resourceType": "QuestionnaireResponse",
    "questionnaire": "https://bordin.dev/fhir/Questionnaire/wai-sr|1.1.0",
    "status": "completed",
    "subject": {"identifier": {"system": "urn:example:ehr", "value": "patient-0042"}},
    "encounter": {"identifier": {"system": "urn:example:ehr", "value": "visit-7"}},
    "authored": "2026-11-22T10:30:00+01:00",
    "extension": [
        {"url": "https://bordin.dev/fhir/StructureDefinition/session-number", "valuePositiveInt": 5}
    ],
    "item": [
        {
            "linkId": "1",
            "answer": [
                {
                    "valueCoding": {
                        "system": "https://bordin.dev/fhir/CodeSystem/wai-sr-answers",
                        "code": "4",
                    }
                }
            ],
        }
    ],
}


class FhirResource(BaseModel):
    """Any FHIR R4 resource; its elements are those of its `resourceType`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"example": {"resourceType": "Observation", "status": "final"}},
    )

    resourceType: str  # noqa: N815 - FHIR's own name


class FhirQuestionnaireResponse(FhirResource):
    """A FHIR R4 QuestionnaireResponse to one of Bordin's Questionnaires."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": FHIR_RESPONSE_EXAMPLE})

    resourceType: Literal["QuestionnaireResponse"]  # noqa: N815
    questionnaire: str = Field(description="Canonical url, optionally `|version`.")
    status: Literal["completed", "amended", "in-progress", "entered-in-error", "stopped"]
    item: list[dict[str, Any]] = Field(default=[], description="linkId = the item id.")
    authored: str | None = None
    subject: dict[str, Any] | None = None
    encounter: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    extension: list[dict[str, Any]] = []


class FhirQuestionnaire(FhirResource):
    """A FHIR R4 Questionnaire: one instrument version."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "resourceType": "Questionnaire",
                "url": "https://bordin.dev/fhir/Questionnaire/wai-sr",
                "version": "1.1.0",
                "status": "active",
                "item": [{"linkId": "1", "text": "Clearer how I might change", "type": "choice"}],
            }
        },
    )

    resourceType: Literal["Questionnaire"]  # noqa: N815
    url: str
    version: str
    status: str
    item: list[dict[str, Any]]


class FhirCodeSystem(FhirResource):
    """Bordin's FHIR CodeSystem: scale scores, score components and rupture rules."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "resourceType": "CodeSystem",
                "url": "https://bordin.dev/fhir/CodeSystem/bordin",
                "version": "1.1.0",
                "status": "active",
                "content": "complete",
                "concept": [{"code": "wai-sr.bond", "display": "WAI-SR: Bond score"}],
            }
        },
    )

    resourceType: Literal["CodeSystem"]  # noqa: N815
    url: str
    version: str
    status: str
    content: str
    concept: list[dict[str, Any]]


class FhirBundleEntry(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "fullUrl": "urn:uuid:3f1c2b1e-8d4a-5b7e-9c1a-0e2f4d6b8a10",
                "resource": {"resourceType": "Observation", "status": "final"},
            }
        },
    )

    fullUrl: str | None = None  # noqa: N815
    resource: FhirResource


class FhirBundle(FhirResource):
    """A FHIR R4 collection Bundle: a QuestionnaireResponse, its Observations and Flags."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "fullUrl": "urn:uuid:3f1c2b1e-8d4a-5b7e-9c1a-0e2f4d6b8a10",
                        "resource": {"resourceType": "Observation", "status": "final"},
                    }
                ],
            }
        },
    )

    resourceType: Literal["Bundle"]  # noqa: N815
    type: str
    entry: list[FhirBundleEntry] = []


# -- Webhooks ----------------------------------------------------------------------------------

EventType = TypeAliasType(
    "EventType",
    Annotated[
        Literal["rupture.raised", "rupture.repaired", "rupture.unrepaired", "rupture.withdrawn"],
        named("rupture.raised", "What happened to a rupture flag, as a webhook event says."),
    ],
)
WEBHOOK_EXAMPLE: dict[str, JsonValue] = {
    "id": EXAMPLE_ID, "url": "https://ehr.example.org/bordin/alerts",
    "description": "EHR rupture inbox",
    "event_types": ["rupture.raised", "rupture.repaired", "rupture.unrepaired",
                    "rupture.withdrawn"],
    "include_fhir_flag": False, "enabled": True, "created_at": "2026-11-22T09:00:00Z",
    "disabled_at": None,
}  # fmt: skip


class WebhookCreate(WireModel):
    model_config = example(
        {"url": "https://ehr.example.org/bordin/alerts", "description": "EHR rupture inbox"}
    )

    url: Annotated[
        Text,
        Field(
            min_length=1,
            max_length=2000,
            description="https:// (plain http:// only to 127.0.0.1, ::1 or localhost), to a"
            " host that resolves to public internet addresses only (unless the deployment"
            " allows private networks); no user name, password or control characters.",
        ),
    ]
    description: Annotated[Text | None, Field(max_length=200)] = None
    event_types: Annotated[
        list[EventType] | None,
        Field(min_length=1, description="The events to send; all of them if left out."),
    ] = None
    include_fhir_flag: StrictBool = Field(
        default=False, description="Each alert also carries the flag as a FHIR R4 Flag."
    )


class WebhookView(WireModel):
    """A webhook endpoint as listed: never its secret."""

    model_config = example(WEBHOOK_EXAMPLE)

    id: UUID
    url: str
    description: str | None
    event_types: list[EventType]
    include_fhir_flag: bool
    enabled: bool
    created_at: AwareDatetime
    disabled_at: AwareDatetime | None


class WebhookCreated(WebhookView):
    """A new endpoint: `secret` (Standard Webhooks `whsec_…`) is shown this once; verify each
    delivery's `webhook-signature` with it."""

    model_config = example({**WEBHOOK_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})

    secret: str


class WebhookList(WireModel):
    model_config = example({"items": [WEBHOOK_EXAMPLE], "next_cursor": None})

    items: list[WebhookView]
    next_cursor: str | None = Field(default=None, description="Always null: one page.")


class WebhookDeliveryView(WireModel):
    """One attempt to deliver an event: the receiver's status code, and for a failed attempt
    a coarse reason: `http_<status>`, `timeout`, `connect_error`, `transport_error`,
    `refused_address` (the host no longer resolves to addresses alerts may go to),
    `invalid_url` or `internal_error`."""

    model_config = example(
        {
            "id": EXAMPLE_ID, "event_id": EXAMPLE_ID, "event_type": "rupture.raised",
            "event_status": "delivered", "attempt": 1, "attempted_at": "2026-11-22T09:31:02Z",
            "status_code": 204, "error": None, "duration_ms": 87,
        }
    )  # fmt: skip

    id: UUID
    event_id: UUID = Field(description="The `webhook-id` header of the delivery.")
    event_type: EventType
    event_status: Literal["pending", "delivered", "failed", "cancelled"]
    attempt: int
    attempted_at: AwareDatetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookDeliveryList(WireModel):
    model_config = example({"items": [], "next_cursor": None})

    items: list[WebhookDeliveryView]
    next_cursor: str | None


ALERT_FLAG_EXAMPLE: dict[str, JsonValue] = {
    "rule": "v_drop", "scale": "bond", "session": 4, "instrument": "wai-sr", "rater": "client",
    "administration_id": EXAMPLE_ID, "value": 10.0, "reference": 16.333333, "threshold": 4.0,
    "severity": "strict", "spread_source": "between_client (organisation (100 administrations))",
    "citation": "Stiles et al. 2004; Gumz et al. 2012", "repaired": False, "repaired_at": None,
    "state": "pending", "guidance": [],
}  # fmt: skip
ALERT_DATA_EXAMPLE: dict[str, JsonValue] = {
    "episode_id": EXAMPLE_ID, "patient_ref": "ehr-4711", "clinician_ref": "staff-17",
    "setting": "psychotherapy", "flag": ALERT_FLAG_EXAMPLE,
}  # fmt: skip


class RuptureAlertData(WireModel):
    """The episode (by the caller's own references: no names) and the flag, as
    `GET /v1/episodes/{episode_id}/ruptures` shows it, guidance in English."""

    model_config = example(ALERT_DATA_EXAMPLE)

    episode_id: UUID
    patient_ref: str
    clinician_ref: str
    setting: str | None
    flag: EpisodeRuptureFlag
    fhir_flag: FhirResource | None = Field(
        default=None,
        description=(
            "With `include_fhir_flag`: the flag as a FHIR R4 Flag (status entered-in-error"
            " when withdrawn), its guidance as narrative text and extensions."
        ),
    )


class RuptureAlert(WireModel):
    """The body of a webhook delivery. `rupture.withdrawn` carries the flag as it was last."""

    model_config = example(
        {
            "type": "rupture.raised",
            "timestamp": "2026-11-22T09:31:00Z",
            "data": ALERT_DATA_EXAMPLE,
        }
    )

    type: EventType
    timestamp: AwareDatetime
    data: RuptureAlertData
