"""An organisation's own statistics of an instrument's scales: count, mean, SD and alpha.

Used by the rupture rules where the definition declares no norm (shared/spec/ruptures.md):
the SD of each scale over the administrations, and Cronbach's alpha from item-level data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

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


# -- Maintained sums ---------------------------------------------------------------------------
# What the statistics above need, kept as running sums so that a write adds (or subtracts) its
# own administration instead of re-reading the organisation's history (app/records/statistics.py):
#   {"scales": {scale: {"n", "sum", "squares",                     # the scale's scores
#                       "complete", "items", "item_squares",       # its complete rows' items
#                       "total", "total_squares"}},                # and their totals
#    "successive": {"rater/scale": [pairs, sum of squared differences]}}
# Sums of several parts (shards, a change) add up key by key, list by list.

Sums = dict[str, Any]

# Below this (relative to the squared mean), a variance from running sums is rounding: zero.
_ROUNDING = 1e-9


def administration_sums(
    definition: InstrumentDefinition,
    scores: Mapping[str, float | None],
    item_values: Sequence[float | None],
) -> Sums:
    """One administration's part of the sums: its scale scores and, per scale whose items it
    answered in full, its keyed item values (definition order) and their total."""
    positions = {item.id: index for index, item in enumerate(definition.items)}
    scales: dict[str, Any] = {}
    for scale in definition.scales:
        score = scores.get(scale.id)
        part: dict[str, Any] = {}
        if score is not None:
            part.update(n=1, sum=score, squares=score * score)
        answered = [
            v for item_id in scale.items if (v := item_values[positions[item_id]]) is not None
        ]
        if len(answered) == len(scale.items):
            total = sum(answered)
            part.update(
                complete=1,
                items=answered,
                item_squares=[value * value for value in answered],
                total=total,
                total_squares=total * total,
            )
        if part:
            scales[scale.id] = part
    return {"scales": scales}


def pair_sums(rater: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> Sums:
    """Two successive sessions of one series (their results' scales): one pair per scale
    scored in both, with its squared difference."""
    successive: dict[str, Any] = {}
    for scale_id, scale in after.items():
        first = before.get(scale_id, {}).get("score")
        second = scale.get("score")
        if first is not None and second is not None:
            successive[f"{rater}/{scale_id}"] = [1, (second - first) ** 2]
    return {"successive": successive}


def add_sums(total: Sums, part: Sums, sign: int = 1) -> Sums:
    """`total` + sign x `part`, key by key (a new dict; neither argument changes)."""
    combined: Sums = dict(total)
    for key, value in part.items():
        if key not in combined:
            combined[key] = _scaled(value, sign)
        elif isinstance(value, dict):
            combined[key] = add_sums(combined[key], value, sign)
        elif isinstance(value, list):
            combined[key] = [a + sign * b for a, b in zip(combined[key], value, strict=True)]
        else:
            combined[key] = combined[key] + sign * value
    return combined


def _scaled(value: Any, sign: int) -> Any:
    if isinstance(value, dict):
        return {key: _scaled(inner, sign) for key, inner in value.items()}
    if isinstance(value, list):
        return [sign * inner for inner in value]
    return sign * value


def summaries_from_sums(definition: InstrumentDefinition, sums: Sums) -> dict[str, ScaleSummary]:
    """What `scale_summaries` gives for the same administrations, read from their sums."""
    summaries: dict[str, ScaleSummary] = {}
    scales = sums.get("scales", {})
    for scale in definition.scales:
        part = scales.get(scale.id, {})
        count = round(part.get("n", 0))
        complete = round(part.get("complete", 0))
        centre = part.get("sum", 0.0) / count if count else None
        spread = _variance(count, part.get("sum", 0.0), part.get("squares", 0.0))
        summaries[scale.id] = {
            "count": count,
            "mean": _round(centre),
            "sd": _round(math.sqrt(spread)) if spread is not None else None,
            "alpha": _round(_alpha_from_sums(complete, part)) if complete else None,
            "alpha_count": complete,
        }
    return summaries


def successive_from_sums(sums: Sums) -> dict[tuple[str, str], tuple[int, float]]:
    """(rater, scale) -> (pairs of successive sessions, sum of their squared differences)."""
    result: dict[tuple[str, str], tuple[int, float]] = {}
    for key, (pairs, squares) in sums.get("successive", {}).items():
        rater, scale_id = key.split("/", 1)
        if round(pairs) > 0:
            result[(rater, scale_id)] = (round(pairs), max(squares, 0.0))
    return result


def _variance(count: int, total: float, squares: float) -> float | None:
    """Sample variance from running sums; rounding-sized values are zero."""
    if count < 2:
        return None
    centre = total / count
    value = (squares - total * centre) / (count - 1)
    return 0.0 if value <= _ROUNDING * max(1.0, centre * centre) else value


def _alpha_from_sums(rows: int, part: Mapping[str, Any]) -> float | None:
    items = len(part.get("items", []))
    if rows < 2 or items < 2:
        return None
    item_variances = [
        _variance(rows, total, squares) or 0.0
        for total, squares in zip(part["items"], part["item_squares"], strict=True)
    ]
    total_variance = _variance(rows, part["total"], part["total_squares"])
    if not total_variance:
        return None
    return float(items / (items - 1) * (1 - sum(item_variances) / total_variance))
