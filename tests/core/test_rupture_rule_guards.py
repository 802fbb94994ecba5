"""The guards a clinical review asked of the rupture rules: reliabilities that cannot make no
change a reliable drop, a counterpart chosen whatever the order, a V-drop floor that means the
same on every scale, declared norms used as declared, and proration that counts only the
items that apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.core.results import ScaleResult
from app.core.ruptures import (
    ScaleStatistics,
    SeriesPoint,
    detect_ruptures,
    organisation_statistics,
)
from app.core.scoring import compile_scorer
from app.core.statistics import scale_summaries
from app.instruments.definition import InstrumentDefinition, VDropRule
from app.instruments.registry import InstrumentRegistry, load_registry
from tests.conftest import INSTRUMENTS

REGISTRY: InstrumentRegistry = load_registry(INSTRUMENTS)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def synthetic_point(
    definition: InstrumentDefinition, session: int, pomp: float, *, name: str = "a"
) -> SeriesPoint:
    """An administration whose every scale scores `pomp` percent of its range."""
    scales: dict[str, ScaleResult] = {}
    for scale in definition.scales:
        response = definition.scale_of(next(i for i in definition.items if i.id == scale.items[0]))
        size = len(scale.items)
        low, high = (
            (response.min, response.max)
            if scale.method == "mean"
            else (response.min * size, response.max * size)
        )
        score = low + (high - low) * pomp / 100
        scales[scale.id] = {
            "score": score, "mean": score / size, "pomp": pomp, "min": low, "max": high,
            "answered": size, "expected": size, "prorated": False, "reason": None,
        }  # fmt: skip
    return SeriesPoint(
        administration_id=f"{name}-{session}",
        session=session,
        administered_at=START + timedelta(weeks=session),
        scales=scales,
    )


def wai_sr_point(session: int, keyed: int) -> SeriesPoint:
    """A WAI-SR administration with every item answered `keyed` (no reverse items)."""
    result = REGISTRY.get("wai-sr").scorer.score({str(item): keyed for item in range(1, 13)})
    return SeriesPoint(
        administration_id=f"wai-sr-{session}",
        session=session,
        administered_at=START + timedelta(weeks=session),
        scales=result["scales"],
        flags=result["flags"],
    )


def reliable_drops(evaluation: Any) -> list[tuple[str, int]]:
    return [(f["scale"], f["session"]) for f in evaluation["flags"] if f["rule"] == "reliable_drop"]


def reasons(evaluation: Any, rule: str, scale: str) -> list[str]:
    return [
        entry["reason"]
        for entry in evaluation["not_evaluated"]
        if entry["rule"] == rule and entry["scale"] == scale
    ]


# -- 3. Reliability ------------------------------------------------------------------------


def test_straight_lined_answers_never_make_an_unchanged_score_a_reliable_drop() -> None:
    loaded = REGISTRY.get("wai-sr")
    # 40 administrations, each answering every item alike: Cronbach's alpha is exactly 1.
    rows = [
        loaded.scorer.keyed_values({str(i): 1 + n % 5 for i in range(1, 13)}) for n in range(40)
    ]
    scores = [
        {scale: result["score"] for scale, result in loaded.scorer.score(
            {str(i): 1 + n % 5 for i in range(1, 13)}
        )["scales"].items()}
        for n in range(40)
    ]  # fmt: skip
    summaries = scale_summaries(loaded.definition, scores, rows)
    assert summaries["bond"]["alpha"] == 1.0
    statistics = organisation_statistics(summaries)
    # Bond 12 -> 12 -> 11: no change, then a drop of one point.
    series = [wai_sr_point(1, 3), wai_sr_point(2, 3), wai_sr_point(3, 3)]
    evaluation = detect_ruptures(loaded.definition, series, statistics_by_scale=statistics)
    assert reliable_drops(evaluation) == []
    assert any("lies outside (0, 0.98]" in r for r in reasons(evaluation, "reliable_drop", "bond"))


@pytest.mark.parametrize(
    ("reliability", "evaluated"), [(0.98, True), (0.981, False), (1.0, False), (0.0, False)]
)
def test_an_organisation_reliability_is_used_only_inside_zero_to_98(
    reliability: float, evaluated: bool
) -> None:
    statistics = {
        "total": ScaleStatistics(
            sd=10.0, reliability=reliability, source="organisation", count=100,
            reliability_count=100,
        )
    }  # fmt: skip
    series = [wai_sr_point(1, 4), wai_sr_point(2, 3)]  # total 48 -> 36
    evaluation = detect_ruptures(
        REGISTRY.get("wai-sr").definition, series, statistics_by_scale=statistics
    )
    assert (("total", 2) in reliable_drops(evaluation)) is evaluated
    assert bool(reasons(evaluation, "reliable_drop", "total")) is not evaluated


def test_an_alpha_resting_on_too_few_complete_administrations_is_not_used() -> None:
    # 100 scores behind the SD, but only 12 complete administrations behind alpha.
    statistics = {
        "total": ScaleStatistics(
            sd=10.0, reliability=0.9, source="organisation", count=100, reliability_count=12
        )
    }
    series = [wai_sr_point(1, 4), wai_sr_point(2, 2)]
    evaluation = detect_ruptures(
        REGISTRY.get("wai-sr").definition, series, statistics_by_scale=statistics
    )
    assert reliable_drops(evaluation) == []
    assert reasons(evaluation, "reliable_drop", "total") == [
        "Cronbach's alpha of the organisation rests on 12 complete administrations of the 30 needed"
    ]


def test_a_declared_reliability_above_98_is_refused_when_the_definition_loads() -> None:
    document = REGISTRY.get("srs").definition.model_dump(mode="json")
    document["norms"][0]["reliability"]["value"] = 0.99
    with pytest.raises(ValueError, match=r"less than or equal to 0\.98"):
        InstrumentDefinition.model_validate(document)


# -- 7. Norms without n ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [None, 12])
def test_a_declared_norm_is_used_whatever_its_n_and_the_flag_says_which(n: int | None) -> None:
    document = REGISTRY.get("srs").definition.model_dump(mode="json")
    document["norms"][0]["n"] = n
    definition = InstrumentDefinition.model_validate(document)
    # SRS total 38.0 -> 30.0: a drop of 8 > 7.0 (SD 4.19, r .64).
    series = [synthetic_point(definition, 1, 95.0), synthetic_point(definition, 2, 75.0)]
    evaluation = detect_ruptures(definition, series)
    drop = next(f for f in evaluation["flags"] if f["rule"] == "reliable_drop")
    assert drop["session"] == 2
    assert drop["spread_source"] is not None
    assert ("n not given" if n is None else f"n = {n}") in drop["spread_source"]
    assert reasons(evaluation, "reliable_drop", "total") == []


# -- 4. Order of the counterparts ------------------------------------------------------------


def test_the_counterpart_rating_that_counts_is_the_latest_of_its_session_in_any_order() -> None:
    client = REGISTRY.get("wai-client").definition
    therapist = REGISTRY.get("wai-therapist").definition
    mine = [synthetic_point(client, 3, 80.0, name="client")]
    early = synthetic_point(therapist, 3, 78.0, name="therapist-early")  # gap 2: no flag
    late = SeriesPoint(
        administration_id="therapist-late",
        session=3,
        administered_at=early.administered_at + timedelta(hours=1),
        scales=synthetic_point(therapist, 3, 40.0).scales,  # gap 40 > 20: flag
    )
    results = [
        detect_ruptures(client, mine, counterparts={"wai-therapist": order})["flags"]
        for order in ([early, late], [late, early])
    ]
    assert results[0] == results[1]
    gaps = [f for f in results[0] if f["rule"] == "rater_discrepancy"]
    assert {f["scale"] for f in gaps} == {"goal", "task", "bond", "total"}
    assert all(f["counterpart"]["administration_id"] == "therapist-late" for f in gaps)


# -- 5. The V-drop floor ---------------------------------------------------------------------


def _v_drop_scales() -> list[Any]:
    return [
        pytest.param(loaded.id, scale, id=f"{loaded.id}.{scale}")
        for loaded in REGISTRY.latest()
        for rule in loaded.definition.ruptures
        if isinstance(rule, VDropRule)
        for scale in rule.scales
    ]


@pytest.mark.parametrize(("instrument", "scale"), _v_drop_scales())
@pytest.mark.parametrize(
    ("drop_pomp", "severity"), [(5.0, None), (10.0, "lenient"), (15.0, "strict")]
)
def test_a_dip_from_a_steady_history_means_the_same_on_every_scale(
    instrument: str, scale: str, drop_pomp: float, severity: str | None
) -> None:
    # Without norms (the SRS total declares a between-client SD of its own).
    definition = REGISTRY.get(instrument).definition.model_copy(update={"norms": []})
    # Three identical sessions (own SD 0, no between-client SD): only the floor of 6.25 POMP
    # points holds the spread, so a lenient V-drop needs more than 6.25 and a strict one
    # more than 12.5 percent of the scale's range, whatever its length.
    series = [synthetic_point(definition, s, 70.0) for s in (1, 2, 3)]
    series.append(synthetic_point(definition, 4, 70.0 - drop_pomp))
    flags = [
        f
        for f in detect_ruptures(definition, series)["flags"]
        if f["rule"] == "v_drop" and f["scale"] == scale
    ]
    assert [f["severity"] for f in flags] == ([severity] if severity else [])


# -- 7. Proration and items that do not apply ------------------------------------------------

GATED: dict[str, Any] = {
    "id": "gated", "version": "1.0.0", "title": "Gated",
    "respondent": "client", "care_settings": ["psychotherapy"],
    "references": [{"citation": "test"}], "key_status": "confirmed",
    "response_scale": {"min": 1, "max": 5, "step": 1},
    "items": [
        {"id": "1", "label": "a"},
        {"id": "2", "label": "b"},
        {"id": "3", "label": "c", "applies_when": {"item": "4", "equals": 1}},
        {"id": "4", "label": "gate",
         "response_scale": {"min": 0, "max": 1, "step": 1}},
    ],
    "scales": [
        {"id": "s", "label": "S", "items": ["1", "2", "3"],
         "missing": {"max_missing": 1, "basis": "test"}},
        {"id": "gate", "label": "G", "items": ["4"],
         "missing": {"max_missing": 0, "basis": "test"}},
    ],
}  # fmt: skip


def test_an_item_that_does_not_apply_is_not_a_missing_answer() -> None:
    scorer = compile_scorer(InstrumentDefinition.model_validate(GATED), "sha256:test")
    scale = scorer.score({"1": 4, "2": 2, "4": 0})["scales"]["s"]
    # Item 3 does not apply: the two that do are all answered, nothing is prorated; the score
    # is their mean on the scale's own range (3 x 3 = 9).
    assert (scale["answered"], scale["expected"], scale["prorated"]) == (2, 2, False)
    assert scale["score"] == 9.0
    # A missing item that applies is prorated.
    missing = scorer.score({"1": 4, "3": 2, "4": 1})["scales"]["s"]
    assert (missing["answered"], missing["expected"], missing["prorated"]) == (2, 3, True)


def test_a_scale_whose_only_applicable_item_is_blank_has_no_score() -> None:
    document = {**GATED, "scales": [
        {"id": "s", "label": "S", "items": ["1", "3"],
         "missing": {"max_missing": 1, "basis": "test"}},
        {"id": "gate", "label": "G", "items": ["2", "4"],
         "missing": {"max_missing": 1, "basis": "test"}},
    ]}  # fmt: skip
    document["items"] = [
        *GATED["items"][:3],
        {"id": "4", "label": "gate"},
    ]
    document["items"][2] = {**GATED["items"][2], "applies_when": {"item": "4", "equals": 5}}
    scorer = compile_scorer(InstrumentDefinition.model_validate(document), "sha256:test")
    scale = scorer.score({"2": 3, "4": 1})["scales"]["s"]
    assert (scale["score"], scale["reason"], scale["expected"]) == (None, "too_many_missing", 1)
