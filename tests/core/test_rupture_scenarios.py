"""Rupture scenarios written as data (tests/cases/ruptures/*.yaml), and the engine's invariants.

A scenario records sessions step by step (and corrects or withdraws them), then says which
flags the series must carry. Sessions are given by the keyed sum of some scales
(`sums: {bond: 10}`, spread as evenly as the scale's steps allow) and a keyed `default` for
the other items; reverse items are answered so that their keyed value is the one given.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from app.core.ruptures import (
    ScaleStatistics,
    SeriesPoint,
    detect_ruptures,
    reliable_change,
)
from app.instruments.definition import InstrumentDefinition
from app.instruments.registry import InstrumentRegistry, load_registry
from tests.conftest import INSTRUMENTS
from tests.core.test_known_answers import _same

SCENARIOS = Path(__file__).resolve().parent.parent / "cases" / "ruptures"
REGISTRY: InstrumentRegistry = load_registry(INSTRUMENTS)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def answers(definition: InstrumentDefinition, session: dict[str, Any]) -> dict[str, float]:
    """Raw answers whose keyed values give the session's scale sums."""
    items = {item.id: item for item in definition.items}
    keyed: dict[str, float] = {}
    for scale_id, total in session.get("sums", {}).items():
        scale = next(scale for scale in definition.scales if scale.id == scale_id)
        response = definition.scale_of(items[scale.items[0]])
        units = round((total - response.min * len(scale.items)) / response.step)
        base, extra = divmod(units, len(scale.items))
        for position, item_id in enumerate(scale.items):
            keyed[item_id] = response.min + response.step * (base + (position < extra))
    for item in definition.items:
        keyed.setdefault(item.id, session.get("default", 4))
    raw: dict[str, float] = {}
    for item_id, value in keyed.items():
        response = definition.scale_of(items[item_id])
        value = response.min + response.max - value if items[item_id].reverse else value
        raw[item_id] = int(value) if response.step.is_integer() else round(value, 6)
    return raw


def point(instrument: str, session: dict[str, Any]) -> SeriesPoint:
    loaded = REGISTRY.get(instrument)
    result = loaded.scorer.score(answers(loaded.definition, session))
    number = session["session"]
    return SeriesPoint(
        administration_id=f"{instrument}-{number}-{session.get('revision', 1)}",
        session=number,
        administered_at=START + timedelta(weeks=number),
        scales=result["scales"],
        flags=result["flags"],
    )


def _scenarios() -> list[Any]:
    return [
        pytest.param(yaml.safe_load(path.read_text(encoding="utf-8")), id=path.stem)
        for path in sorted(SCENARIOS.glob("*.yaml"))
    ]


@pytest.mark.parametrize("scenario", _scenarios())
def test_the_rupture_scenario_gives_the_expected_flags(scenario: dict[str, Any]) -> None:
    instrument = scenario["instrument"]
    definition = REGISTRY.get(instrument).definition
    statistics = {
        scale_id: ScaleStatistics(
            sd=values["sd"],
            reliability=values.get("reliability"),
            source="organisation (scenario)",
            count=values["count"],
            reliability_count=values.get("complete", values["count"]),
        )
        for scale_id, values in scenario.get("statistics", {}).items()
    }
    counterparts: dict[str, list[SeriesPoint]] = {}
    if "counterpart" in scenario:
        other = scenario["counterpart"]["instrument"]
        counterparts[other] = [point(other, s) for s in scenario["counterpart"]["sessions"]]
    series: dict[int, SeriesPoint] = {}
    ended = False
    for number, step in enumerate(scenario["steps"], start=1):
        ended = ended or step.get("end", False)
        for session in [*step.get("record", []), *step.get("correct", [])]:
            revision = 2 if session in step.get("correct", []) else 1
            series[session["session"]] = point(instrument, {**session, "revision": revision})
        for withdrawn in step.get("withdraw", []):
            del series[withdrawn]
        evaluation = detect_ruptures(
            definition,
            list(series.values()),
            statistics_by_scale=statistics,
            counterparts=counterparts,
            ended=ended,
        )
        flags = [
            flag
            for flag in evaluation["flags"]
            if flag["rule"] in scenario.get("rules", [flag["rule"]])
            and flag["scale"] in scenario.get("scales", [flag["scale"]])
        ]
        expected = step["expect"]["flags"]
        found = [(f["rule"], f["scale"], f["session"]) for f in flags]
        assert found == [(f["rule"], f["scale"], f["session"]) for f in expected], (
            f"step {number}: {flags}"
        )
        for want, got in zip(expected, flags, strict=True):
            assert _same(want, got), f"step {number}: expected {want}, got {got}"
        for want in step["expect"].get("not_evaluated", []):
            assert any(_same(want, entry) for entry in evaluation["not_evaluated"]), (
                f"step {number}: {want} not in {evaluation['not_evaluated']}"
            )


def test_reliable_change_matches_the_suddengains_test_vector() -> None:
    # suddengains R package: SD 10.5, r .961 -> S_diff 2.93249, reliable change 5.747681
    assert abs(reliable_change(10.5, 0.961) / 1.96 - 2.93249) < 1e-5
    assert abs(reliable_change(10.5, 0.961) - 5.747681) < 1e-6


STATISTICS = {
    scale: ScaleStatistics(
        sd=3.0, reliability=0.85, source="organisation", count=100, reliability_count=100
    )
    for scale in ("goal", "task", "bond", "total")
}


@st.composite
def wai_sr_series(draw: st.DrawFn) -> list[SeriesPoint]:
    sessions = draw(st.integers(min_value=1, max_value=9))
    return [
        point(
            "wai-sr",
            {
                "session": number,
                "sums": {
                    "goal": draw(st.integers(4, 20)),
                    "task": draw(st.integers(4, 20)),
                    "bond": draw(st.integers(4, 20)),
                },
            },
        )
        for number in range(1, sessions + 1)
    ]


def _evaluate(series: list[SeriesPoint]) -> Any:
    return detect_ruptures(
        REGISTRY.get("wai-sr").definition, series, statistics_by_scale=STATISTICS
    )


@given(wai_sr_series(), st.randoms(use_true_random=False))
def test_the_order_of_arrival_never_changes_the_flags(
    series: list[SeriesPoint], shuffler: random.Random
) -> None:
    shuffled = list(series)
    shuffler.shuffle(shuffled)
    assert _evaluate(shuffled) == _evaluate(series)


@given(wai_sr_series())
def test_a_new_session_changes_earlier_flags_only_in_repair_state_and_sudden_loss(
    series: list[SeriesPoint],
) -> None:
    def settled(evaluation: Any, before: int) -> list[dict[str, Any]]:
        repair = {"repaired", "repaired_at", "state"}
        return [
            {key: value for key, value in flag.items() if key not in repair}
            for flag in evaluation["flags"]
            if flag["session"] <= before and flag["rule"] != "sudden_loss"
        ]

    last = series[-1].session
    assert settled(_evaluate(series), last - 1) == settled(_evaluate(series[:-1]), last - 1)
