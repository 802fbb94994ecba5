"""An organisation's own statistics of an instrument's scales: count, mean, SD and alpha.

Used by the rupture rules where the definition declares no norm (shared/spec/ruptures.md):
the SD of each scale over the administrations, and Cronbach's alpha from item-level data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

from app.instruments.definition import InstrumentDefinition


class ScaleSummary(TypedDict):
    count: int
    mean: float | None
    sd: float | None
    alpha: float | None
    alpha_count: int


def scale_summaries(
    definition: InstrumentDefinition,
    scores: Sequence[dict[str, float | None]],
    item_values: Sequence[Sequence[float | None]],
) -> dict[str, ScaleSummary]:
    """Per scale: statistics of `scores` (scale id -> score, one dict per administration)
    and Cronbach's alpha of the keyed `item_values` (definition order) of complete answers."""
    positions = {item.id: index for index, item in enumerate(definition.items)}
    summaries: dict[str, ScaleSummary] = {}
    for scale in definition.scales:
        values = [s[scale.id] for s in scores if s.get(scale.id) is not None]
        observed = [value for value in values if value is not None]
        indices = [positions[item_id] for item_id in scale.items]
        complete: list[list[float]] = []
        for row in item_values:
            answered = [value for index in indices if (value := row[index]) is not None]
            if len(answered) == len(indices):
                complete.append(answered)
        summaries[scale.id] = {
            "count": len(observed),
            "mean": _round(mean(observed)) if observed else None,
            "sd": _round(math.sqrt(variance(observed))) if len(observed) > 1 else None,
            "alpha": _round(cronbach_alpha(complete)),
            "alpha_count": len(complete),
        }
    return summaries


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def variance(values: Sequence[float]) -> float:
    """Sample variance, in floating point (the statistics module's exact fractions are
    a hundred times slower, for precision that scores do not have)."""
    centre = mean(values)
    return math.fsum((value - centre) ** 2 for value in values) / (len(values) - 1)


def cronbach_alpha(rows: Sequence[Sequence[float]]) -> float | None:
    """k / (k - 1) x (1 - sum of item variances / variance of the totals); None when it
    cannot be computed (fewer than 2 items or 2 answers, or no variance in the totals)."""
    if len(rows) < 2 or len(rows[0]) < 2:
        return None
    items = len(rows[0])
    item_variances = [variance(column) for column in zip(*rows, strict=True)]
    total_variance = variance([sum(row) for row in rows])
    if total_variance == 0:
        return None
    return float(items / (items - 1) * (1 - sum(item_variances) / total_variance))


def _round(number: float | None) -> float | None:
    return None if number is None else round(number, 6)
