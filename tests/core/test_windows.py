"""A change to a series alters no flag before `first_affected`: on random series whose
sessions arrive in a random order, are corrected, withdrawn, and whose episode ends, the flags
of a full evaluation before that session are the same before and after every change (repair
states, continuations and all). This is what lets a write evaluate again only the sessions
from there on (app/records/evaluation.py) and keep the stored flags before them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.core.ruptures import ScaleStatistics, SeriesPoint, detect_ruptures
from app.core.windows import first_affected
from app.instruments.definition import InstrumentDefinition
from app.instruments.registry import InstrumentRegistry, LoadedInstrument

INSTRUMENTS = ("wai-sr", "srs", "wai-s", "haq-ii-alliance", "wai-client")
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _answers(rng: random.Random, definition: InstrumentDefinition, level: float) -> dict[str, Any]:
    """Answers around `level` (0..1 of each item's range), so that scores rise and fall."""
    answers: dict[str, Any] = {}
    for item in definition.items:
        scale = definition.scale_of(item)
        value = scale.min + (scale.max - scale.min) * min(1.0, max(0.0, level + rng.gauss(0, 0.08)))
        steps = round((value - scale.min) / scale.step)
        answers[item.id] = round(scale.min + steps * scale.step, 6)
    return answers


def _point(
    loaded: LoadedInstrument, session: int, answers: dict[str, Any], tag: str
) -> SeriesPoint:
    result = loaded.scorer.score(answers)
    return SeriesPoint(
        f"a{session}-{tag}", session, START + timedelta(days=7 * session), result["scales"],
        result["flags"],
    )  # fmt: skip


def _flags(loaded: LoadedInstrument, points: dict[int, SeriesPoint], ended: bool) -> list[Any]:
    statistics = {
        scale.id: ScaleStatistics(sd=4.0, reliability=0.85, source="fixed", count=500,
                                  reliability_count=500)
        for scale in loaded.definition.scales
    }  # fmt: skip
    evaluation = detect_ruptures(
        loaded.definition, list(points.values()), statistics_by_scale=statistics, ended=ended
    )
    return evaluation["flags"]


@pytest.mark.parametrize("instrument", INSTRUMENTS)
@pytest.mark.parametrize("seed", range(12))
def test_no_flag_before_the_first_affected_session_changes(
    registry: InstrumentRegistry, instrument: str, seed: int
) -> None:
    rng = random.Random(f"{instrument}-{seed}")
    loaded = registry.get(instrument)
    pending = rng.sample(range(1, 40), k=rng.randint(8, 30))  # gaps, in a random order
    points: dict[int, SeriesPoint] = {}
    ended = False
    previous = _flags(loaded, points, ended)
    level = 0.7
    changes = 0
    while pending or changes < 5:
        changes += 1
        before = sorted(points)
        roll = rng.random()
        if points and roll < 0.15:
            changed = rng.choice(before)  # a correction
            level = rng.uniform(0.2, 0.95)
            points[changed] = _point(loaded, changed, _answers(rng, loaded.definition, level), "c")
        elif points and roll < 0.25:
            changed = rng.choice(before)  # a withdrawal
            del points[changed]
        elif not ended and points and roll < 0.28:
            ended = True  # the episode ends; late sessions may still arrive
            changed = before[-1] + 1
        elif pending:
            changed = pending.pop()
            level = min(0.98, max(0.05, level + rng.choice([-0.35, -0.2, 0.0, 0.05, 0.1, 0.25])))
            points[changed] = _point(loaded, changed, _answers(rng, loaded.definition, level), "r")
        else:
            continue
        current = _flags(loaded, points, ended)
        first = first_affected(loaded.definition, before, sorted(points), changed)
        assert [f for f in current if f["session"] < first] == [
            f for f in previous if f["session"] < first
        ], (changed, first)
        previous = current


def test_the_window_reaches_back_as_far_as_a_repair_window_and_two_sudden_loss_points(
    registry: InstrumentRegistry,
) -> None:
    definition = registry.get("wai-sr").definition
    sessions = list(range(1, 21))
    # An append after session 20: repairs of sessions 17..20 (window 3) may settle, and the
    # sudden losses of sessions 19 and 20 may be judged.
    assert first_affected(definition, sessions, [*sessions, 21], 21) == 17
    # A correction in the middle: from three sessions before it.
    assert first_affected(definition, sessions, sessions, 10) == 7
