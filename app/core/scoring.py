# Over 600 lines: one compiled scorer serves every instrument; plan and hot loop read together.
"""The scoring core: compiles an instrument definition once, then scores responses with it.

Pure functions over plain data: no web framework, no database, no clock. `compile_scorer`
turns a validated definition into flat tuples (item positions, bounds, reverse sums, scale
memberships) so that scoring one response parses nothing and looks nothing up twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter

from app.core.results import Flag, ScaleResult, ScoreResult, ScoreWarning
from app.instruments.definition import (
    AlertZone,
    BelowCutoffRule,
    InstrumentDefinition,
    ReportedRuptureRule,
)
from app.platform.errors import InvalidResponsesError, ItemError

# Item values in definition order, after reversal; None = not answered.
Values = Sequence[float | None]

# Comparisons with declared thresholds tolerate binary rounding of decimal answers
# (9.1 + 8.9 + 9.0 + 9.0 is 36.00000000000001 in floating point, and is 36).
EPSILON = 1e-9
# Means, POMP and prorated scores are rounded to 6 decimals: far below clinical precision,
# and free of binary noise (a POMP of 90.99999999999999 is 91).
DECIMALS = 6


@dataclass(frozen=True, slots=True)
class _ItemPlan:
    id: str
    index: int
    low: float
    high: float
    step: float
    integral: bool
    reverse_sum: float | None
    not_assessed: frozenset[float]

    @property
    def whole_numbers_on_step(self) -> bool:
        """Every whole number inside the scale is a valid answer (1..5 by 1, 0..10 by 0.1)."""
        return float(self.low).is_integer() and (1 / self.step).is_integer()


# item id -> (position, fast low, fast high, reverse sum or None, plan), unpacked in one step
# in the hot loop of `Scorer.score`. A whole number within fast low..fast high needs no other
# check; the range is empty where whole numbers need a step check.
_ItemEntry = tuple[int, float, float, float | None, _ItemPlan]


@dataclass(frozen=True, slots=True)
class _CompleteAnswers:
    """The short path for the usual administration: every item answered with a whole number
    on one shared scale. Checks run in C (itemgetter, min, max); anything else (a missing,
    decimal, invalid or 'not assessed' answer) falls back to the item-by-item path, which
    gives the same scores and names every problem."""

    size: int
    take: Callable[[Mapping[str, object]], tuple[object, ...]]
    low: int
    high: int
    reversed_positions: tuple[int, ...]
    reverse_sum: int

    def values(self, responses: Mapping[str, object]) -> Values | None:
        if len(responses) != self.size:
            return None
        try:
            answers = self.take(responses)
        except KeyError:
            return None
        if set(map(type, answers)) != _INT_ONLY:
            return None
        whole: tuple[int, ...] = answers  # type: ignore[assignment]
        if min(whole) < self.low or max(whole) > self.high:
            return None
        if not self.reversed_positions:
            return whole
        values = list(whole)
        for position in self.reversed_positions:
            values[position] = self.reverse_sum - whole[position]
        return values


_INT_ONLY = {int}


@dataclass(frozen=True, slots=True)
class CompleteScale:
    """A scale's result for every possible sum of a complete answer: `results[sum - offset]`."""

    id: str
    take: Callable[[Values], tuple[float | None, ...]]
    offset: int
    results: tuple[ScaleResult, ...]


@dataclass(frozen=True, slots=True)
class _Gate:
    """Item `index` applies only when item `on` was answered `equals`."""

    index: int
    item_id: str
    on: int
    on_id: str
    equals: float


@dataclass(frozen=True, slots=True)
class _ScalePlan:
    id: str
    indices: tuple[int, ...]
    take: Callable[[Values], tuple[float | None, ...]]
    size: int
    low: float
    high: float
    max_missing: int
    mean_method: bool
    digits: int
    gated: bool
    # For whole-number items: the result of every possible complete answer, indexed by
    # sum - smallest sum, so a complete answer needs no arithmetic beyond the sum.
    table: tuple[ScaleResult, ...] | None
    table_offset: int


@dataclass(frozen=True, slots=True)
class _CutoffCheck:
    scale: str
    threshold: float
    zone: AlertZone
    citation: str

    def alerts(self, score: float) -> bool:
        if self.zone is AlertZone.at_or_below:
            return score <= self.threshold + EPSILON
        if self.zone is AlertZone.below:
            return score < self.threshold - EPSILON
        if self.zone is AlertZone.at_or_above:
            return score >= self.threshold - EPSILON
        return score > self.threshold + EPSILON


@dataclass(frozen=True, slots=True)
class _ReportCheck:
    scale: str
    indices: tuple[int, ...]
    at_least: float
    details: tuple[tuple[str, str, int], ...]
    citation: str
    # direct: the kinds of every marked item; marker: the kinds of this scale's marked items.
    sign: str


class Scorer:
    """Scores responses to one instrument version. Build it with `compile_scorer`."""

    __slots__ = (
        "_complete",
        "_cutoffs",
        "_entries",
        "_gates",
        "_has_rules",
        "_item_count",
        "_kinded_items",
        "_lookup",
        "_reports",
        "_scale_scorers",
        "_scales",
        "definition_hash",
        "instrument_id",
        "version",
    )

    def __init__(
        self, definition: InstrumentDefinition, definition_hash: str, *, short_path: bool = True
    ) -> None:
        """`short_path=False` checks every answer item by item (tests compare both paths)."""
        self.instrument_id = definition.id
        self.version = definition.version
        self.definition_hash = definition_hash
        items: dict[str, _ItemPlan] = {}
        for index, item in enumerate(definition.items):
            scale = definition.scale_of(item)
            integral = scale.step.is_integer() and scale.min.is_integer()
            # Whole-number scales are kept as ints: exact sums, and fast comparisons.
            low, high = (int(scale.min), int(scale.max)) if integral else (scale.min, scale.max)
            items[item.id] = _ItemPlan(
                id=item.id,
                index=index,
                low=low,
                high=high,
                step=scale.step,
                integral=integral,
                # Reversal on a min..max scale is (min + max) - x (shared/spec/instruments.md).
                reverse_sum=low + high if item.reverse else None,
                not_assessed=frozenset(scale.not_assessed),
            )
        self._entries: dict[str, _ItemEntry] = {
            item_id: (
                plan.index,
                plan.low if plan.whole_numbers_on_step else math.inf,
                plan.high if plan.whole_numbers_on_step else -math.inf,
                plan.reverse_sum,
                plan,
            )
            for item_id, plan in items.items()
        }
        self._item_count = len(items)
        self._complete = _complete_answers(definition, items) if short_path else None
        self._gates = tuple(
            _Gate(
                index=items[item.id].index,
                item_id=item.id,
                on=items[item.applies_when.item].index,
                on_id=item.applies_when.item,
                equals=item.applies_when.equals,
            )
            for item in definition.items
            if item.applies_when is not None
        )
        gated = {gate.index for gate in self._gates}
        self._scales = tuple(
            _compile_scale(definition, scale_index, items, gated)
            for scale_index in range(len(definition.scales))
        )
        self._scale_scorers = tuple((plan.id, _scale_scorer(plan)) for plan in self._scales)
        scale_indices = {plan.id: plan.indices for plan in self._scales}
        cutoffs = {cutoff.scale: cutoff for cutoff in definition.cutoffs}
        self._cutoffs = tuple(
            _CutoffCheck(
                scale_id, cutoffs[scale_id].value, cutoffs[scale_id].alert_zone, rule.citation
            )
            for rule in definition.ruptures
            if isinstance(rule, BelowCutoffRule)
            for scale_id in rule.scales
        )
        self._reports = tuple(
            _ReportCheck(
                scale=scale_id,
                indices=scale_indices[scale_id],
                at_least=rule.at_least,
                details=tuple(
                    (name, item_id, items[item_id].index) for name, item_id in rule.details.items()
                ),
                citation=rule.citation,
                sign=rule.sign,
            )
            for rule in definition.ruptures
            if isinstance(rule, ReportedRuptureRule)
            for scale_id in rule.scales
        )
        self._kinded_items = tuple(
            (items[item.id].index, items[item.id].low, item.rupture_kind.value)
            for item in definition.items
            if item.rupture_kind is not None
        )
        self._has_rules = bool(self._cutoffs or self._reports)
        self._lookup: tuple[_CompleteAnswers, tuple[CompleteScale, ...]] | None = None
        tables = [plan.table for plan in self._scales]
        if self._complete is not None and not self._has_rules and None not in tables:
            complete_scales = tuple(
                CompleteScale(plan.id, plan.take, plan.table_offset, table)
                for plan, table in zip(self._scales, tables, strict=True)
                if table is not None
            )
            self._lookup = (self._complete, complete_scales)

    def score(self, responses: Mapping[str, object]) -> ScoreResult:
        """Validate, reverse and score one set of responses (item id -> number or null).

        An unanswered item is null or absent; a 'not assessed' code counts as unanswered
        and is reported as a warning. Any invalid answer raises `InvalidResponsesError`, naming
        every offending item, and nothing is scored.
        """
        warnings: list[ScoreWarning] = []
        complete = self._complete
        fast = complete.values(responses) if complete is not None else None
        values: Values
        inapplicable: frozenset[int] | None = None
        if fast is not None:
            values = fast
        else:
            values = checked = self._item_values(responses, warnings)
            if self._gates:
                inapplicable = self._apply_gates(checked, responses, warnings)
        scales: dict[str, ScaleResult] = {}
        for scale_id, score_scale in self._scale_scorers:
            scales[scale_id] = score_scale(values, inapplicable)
        flags = self._flags(scales, values, responses) if self._has_rules else []
        return {
            "instrument": self.instrument_id,
            "version": self.version,
            "definition_hash": self.definition_hash,
            "scales": scales,
            "flags": flags,
            "warnings": warnings,
        }

    def complete_sums(self, responses: Mapping[str, object]) -> list[int] | None:
        """Each scale's sum, in scale order, for a complete whole-number answer to an
        instrument whose single administration raises no flag; None for anything else.

        For callers that score many rows and look results up in `complete_scales` instead of
        building them (the batch encoder). `score` gives the same numbers.
        """
        if self._lookup is None:
            return None
        complete, scales = self._lookup
        values = complete.values(responses)
        if values is None:
            return None
        return [sum(scale.take(values)) for scale in scales]  # type: ignore[arg-type]

    @property
    def complete_scales(self) -> tuple[CompleteScale, ...] | None:
        """The scales' results of every complete answer, when `complete_sums` can be used."""
        return None if self._lookup is None else self._lookup[1]

    def keyed_values(self, responses: Mapping[str, object]) -> list[float | None]:
        """Each item's value after reversal, in definition order; None when not answered
        or not applicable. Raises `InvalidResponsesError` like `score`."""
        values = self._item_values(responses, [])
        if self._gates:
            self._apply_gates(values, responses, [])
        return values

    def _item_values(
        self, responses: Mapping[str, object], warnings: list[ScoreWarning]
    ) -> list[float | None]:
        """Check every answer on its own; raise naming every offending item."""
        values: list[float | None] = [None] * self._item_count
        errors: list[ItemError] = []
        entries = self._entries
        for item_id, raw in responses.items():
            entry = entries.get(item_id)
            if entry is None:
                errors.append(_error(item_id, "unknown_item", "no such item in this instrument"))
                continue
            index, fast_low, fast_high, reverse_sum, plan = entry
            if raw.__class__ is int and fast_low <= raw <= fast_high:
                # The common case, kept short: a whole number inside the scale.
                values[index] = raw if reverse_sum is None else reverse_sum - raw
            elif raw is not None:
                value = _checked_answer(plan, raw, errors, warnings)
                if value is not None:
                    values[index] = value if reverse_sum is None else reverse_sum - value
        if errors:
            raise InvalidResponsesError(errors)
        return values

    def _apply_gates(
        self,
        values: list[float | None],
        responses: Mapping[str, object],
        warnings: list[ScoreWarning],
    ) -> frozenset[int]:
        """Items whose gate was answered otherwise do not apply; an answer to them is ignored.

        Gates compare the answer as given, before any reversal.
        """
        inapplicable: set[int] = set()
        for gate in self._gates:
            if values[gate.on] is None:
                # The gate is blank: the item may apply and counts as given, but nothing that
                # depends on the gate (a reported rupture) can be known: say so.
                if values[gate.index] is not None:
                    warnings.append(
                        {
                            "code": "gate_unanswered",
                            "item": gate.item_id,
                            "message": (
                                f"answered while item {gate.on_id}, which says whether it"
                                " applies, was left blank; ask for that item"
                            ),
                        }
                    )
                continue
            gate_answer: float = responses[gate.on_id]  # type: ignore[assignment]
            if abs(gate_answer - gate.equals) <= EPSILON:
                continue
            inapplicable.add(gate.index)
            if values[gate.index] is not None:
                values[gate.index] = None
                warnings.append(
                    {
                        "code": "not_applicable",
                        "item": gate.item_id,
                        "message": "this item does not apply given an earlier answer; ignored",
                    }
                )
        return frozenset(inapplicable)

    def _flags(
        self,
        scales: dict[str, ScaleResult],
        values: Values,
        responses: Mapping[str, object],
    ) -> list[Flag]:
        flags: list[Flag] = []
        for cutoff in self._cutoffs:
            score = scales[cutoff.scale]["score"]
            if score is not None and cutoff.alerts(score):
                flags.append(
                    {
                        "rule": "below_cutoff",
                        "scale": cutoff.scale,
                        "value": score,
                        "threshold": cutoff.threshold,
                        "alert_zone": cutoff.zone.value,
                        "citation": cutoff.citation,
                    }
                )
        for report in self._reports:
            # The answered items count even when the scale cannot be scored: a box left
            # blank must not hide a rupture that was marked.
            answered = [values[index] for index in report.indices]
            score = sum(value for value in answered if value is not None)
            if score < report.at_least - EPSILON:
                continue
            in_scale = report.indices if report.sign == "marker" else None
            kinds = sorted(
                {
                    kind
                    for index, low, kind in self._kinded_items
                    if _present(values[index], low) and (in_scale is None or index in in_scale)
                }
            )
            details: dict[str, float | None] = {}
            for name, item_id, index in report.details:
                answer = responses.get(item_id)
                scored = values[index] is not None and isinstance(answer, int | float)
                details[name] = float(answer) if scored else None  # type: ignore[arg-type]
            flags.append(
                {
                    "rule": "reported_rupture",
                    "scale": report.scale,
                    "value": score,
                    "threshold": report.at_least,
                    "severity": report.sign,
                    "kinds": kinds,
                    "details": details,
                    "citation": report.citation,
                }
            )
        return flags


def compile_scorer(definition: InstrumentDefinition, definition_hash: str) -> Scorer:
    return Scorer(definition, definition_hash)


def _complete_answers(
    definition: InstrumentDefinition, items: dict[str, _ItemPlan]
) -> _CompleteAnswers | None:
    """The short path, for instruments whose items share one whole-number scale."""
    plans = list(items.values())
    first = plans[0]
    shared = {(plan.low, plan.high, plan.integral, plan.not_assessed) for plan in plans}
    if len(shared) > 1 or not first.integral or any(i.applies_when for i in definition.items):
        return None
    # Not-assessed codes lie outside the scale, so the range check already sends them away.
    return _CompleteAnswers(
        size=len(plans),
        take=itemgetter(*items) if len(plans) > 1 else (lambda answers: (answers[first.id],)),
        low=int(first.low),
        high=int(first.high),
        reversed_positions=tuple(plan.index for plan in plans if plan.reverse_sum is not None),
        reverse_sum=int(first.low + first.high),
    )


def _checked_answer(
    plan: _ItemPlan, raw: object, errors: list[ItemError], warnings: list[ScoreWarning]
) -> float | None:
    """The answer as a number on the item's scale, or None after recording why not."""
    if raw.__class__ is not int and raw.__class__ is not float:  # bool is not a number here
        errors.append(_error(plan.id, "not_a_number", "the answer must be a number"))
        return None
    value: float = raw
    if value.__class__ is float and not math.isfinite(value):  # NaN, Infinity
        errors.append(_error(plan.id, "not_a_number", "the answer must be a finite number"))
        return None
    if not plan.low <= value <= plan.high:
        if value in plan.not_assessed:
            warnings.append(_not_assessed(plan.id, value))
        else:
            errors.append(_out_of_range(plan, value))
        return None
    if plan.integral:
        if not value.is_integer():
            errors.append(_off_step(plan, value))
            return None
        return int(value)
    if not _on_step(value, plan):
        errors.append(_off_step(plan, value))
        return None
    return value


def _present(value: float | None, low: float) -> bool:
    return value is not None and value > low


def _compile_scale(
    definition: InstrumentDefinition,
    scale_index: int,
    items: dict[str, _ItemPlan],
    gated: set[int],
) -> _ScalePlan:
    scale = definition.scales[scale_index]
    plans = [items[item_id] for item_id in scale.items]
    first = plans[0]
    size = len(plans)
    mean_method = scale.method == "mean"
    low = float(first.low if mean_method else first.low * size)
    high = float(first.high if mean_method else first.high * size)
    indices = tuple(plan.index for plan in plans)
    table = None
    table_offset = int(first.low) * size
    if all(plan.integral for plan in plans):
        sums = range(table_offset, int(first.high) * size + 1)
        table = tuple(_complete_result(total, size, low, high, mean_method) for total in sums)
    return _ScalePlan(
        id=scale.id,
        indices=indices,
        take=_taker(indices),
        size=size,
        low=low,
        high=high,
        max_missing=scale.missing.max_missing,
        mean_method=mean_method,
        digits=max(_decimals(plan.step) + _decimals(plan.low) for plan in plans),
        gated=any(plan.index in gated for plan in plans),
        table=table,
        table_offset=table_offset,
    )


def _complete_result(
    total: int, size: int, low: float, high: float, mean_method: bool
) -> ScaleResult:
    mean = round(total / size, DECIMALS)
    score = mean if mean_method else float(total)
    return {
        "score": score,
        "mean": mean,
        "pomp": round((score - low) / (high - low) * 100, DECIMALS),
        "min": low,
        "max": high,
        "answered": size,
        "expected": size,
        "prorated": False,
        "reason": None,
    }


def _taker(indices: tuple[int, ...]) -> Callable[[Values], tuple[float | None, ...]]:
    """A C-speed `lambda values: tuple(values[i] for i in indices)`."""
    if len(indices) == 1:
        (only,) = indices
        return lambda values: (values[only],)
    return itemgetter(*indices)


_ScaleScorer = Callable[[Values, frozenset[int] | None], ScaleResult]


def _scale_scorer(plan: _ScalePlan) -> _ScaleScorer:
    """The function that scores one scale, with a short path for complete whole-number answers."""
    table = plan.table
    if table is None or plan.gated:
        return lambda values, inapplicable: _score_scale(plan, plan.take(values), inapplicable)
    take = plan.take
    offset = plan.table_offset

    def score_scale(values: Values, inapplicable: frozenset[int] | None) -> ScaleResult:
        taken = take(values)
        if None in taken:
            return _score_scale(plan, taken, inapplicable)
        return table[sum(taken) - offset].copy()  # type: ignore[arg-type]

    return score_scale


def _score_scale(
    plan: _ScalePlan, taken: tuple[float | None, ...], inapplicable: frozenset[int] | None
) -> ScaleResult:
    """Score a scale from its items' values, applying the declared missing-item rule."""
    answered_values = [value for value in taken if value is not None]
    total: float = sum(answered_values)
    answered = len(answered_values)
    expected = plan.size
    if plan.gated and inapplicable:
        expected -= sum(1 for index in plan.indices if index in inapplicable)
    if expected == 0 or answered == 0 or expected - answered > plan.max_missing:
        return {
            "score": None,
            "mean": None,
            "pomp": None,
            "min": plan.low,
            "max": plan.high,
            "answered": answered,
            "expected": expected,
            "prorated": False,
            "reason": "not_applicable" if expected == 0 else "too_many_missing",
        }
    mean = total / answered
    # Items that do not apply are neither answered nor missing: only a missing item that
    # applies makes a prorated score. A scale some of whose items do not apply is scored
    # from those that do, on the scale's own range (their mean x the item count).
    prorated = answered < expected
    if plan.mean_method:
        exact = mean
    elif answered < plan.size:
        exact = mean * plan.size
    else:
        exact = round(total, plan.digits)  # a sum of decimal answers, free of binary noise
    return {
        "score": float(round(exact, DECIMALS)),
        "mean": round(mean, DECIMALS),
        "pomp": round((exact - plan.low) / (plan.high - plan.low) * 100, DECIMALS),
        "min": plan.low,
        "max": plan.high,
        "answered": answered,
        "expected": expected,
        "prorated": prorated,
        "reason": None,
    }


def _on_step(value: float, plan: _ItemPlan) -> bool:
    steps = (value - plan.low) / plan.step
    return abs(steps - round(steps)) <= 1e-6


def _decimals(number: float) -> int:
    exponent = Decimal(repr(number)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _error(item_id: str, code: str, message: str) -> ItemError:
    return {"loc": ["responses", item_id], "code": code, "message": message}


def _out_of_range(plan: _ItemPlan, value: float) -> ItemError:
    return _error(
        plan.id, "out_of_range", f"{_shown(value)} is outside {_num(plan.low)}..{_num(plan.high)}"
    )


def _off_step(plan: _ItemPlan, value: float) -> ItemError:
    if plan.integral:
        allowed = f"whole numbers from {_num(plan.low)} to {_num(plan.high)}"
    else:
        allowed = f"{_num(plan.low)} to {_num(plan.high)} in steps of {_num(plan.step)}"
    return _error(plan.id, "off_step", f"{_shown(value)} is off the scale's steps: {allowed}")


def _not_assessed(item_id: str, value: float) -> ScoreWarning:
    return {
        "code": "not_assessed",
        "item": item_id,
        "message": f"{_num(value)} means not assessed; counted as unanswered",
    }


def _num(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _shown(value: float) -> str:
    """An answer as the client sent it, cut short: a number of a thousand digits is quoted
    by its first ones."""
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."
