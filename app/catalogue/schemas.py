"""Wire schemas of the catalogue: instruments, repair guidance and problem types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    JsonValue,
)
from typing_extensions import TypeAliasType

from app.http.schemas import WireModel, example, named

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


class LanguageView(WireModel):
    """A language the service speaks: a folder of its language catalogues (or English)."""

    model_config = example(
        {"code": "fr", "name": "Français", "source": False, "missing": 0, "missing_keys": []}
    )

    code: str = Field(description="Its tag, as `Accept-Language` and `Content-Language` say it.")
    name: str = Field(description="Its own name for itself, for a language picker.")
    source: bool = Field(description="English, the language every text is written in first.")
    missing: int = Field(
        ge=0, description="Texts it does not translate: they are shown in English."
    )
    missing_keys: list[str] = Field(
        description="Which, as `<domain>: <key>` (domain: ui, guidance, problems or"
        " instruments/<id>/<version>), so that a translator knows what is left."
    )


class LanguageList(WireModel):
    model_config = example(
        {
            "source": "en",
            "items": [
                {"code": "en", "name": "English", "source": True, "missing": 0,
                 "missing_keys": []},
                {"code": "fr", "name": "Français", "source": False, "missing": 0,
                 "missing_keys": []},
            ],
        }
    )  # fmt: skip

    source: str = Field(description="The source language, and the fallback of every text.")
    items: list[LanguageView]
