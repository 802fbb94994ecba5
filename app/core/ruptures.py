"""The rupture engine: evaluates an instrument's declared rupture rules over one series.

A series is the administrations of one instrument, by one rater kind, in one episode of care
(shared/spec/ruptures.md). `detect_ruptures` is a pure function of the series, the statistics
it may need and the counterpart series: it reads no database and no clock, and sorts the
series itself, so the flags never depend on the order in which administrations arrived.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NotRequired, TypedDict

from app.core.results import Flag, ScaleResult
from app.core.statistics import mean, variance
from app.instruments.definition import (
    DropFromPreviousRule,
    InstrumentDefinition,
    Norm,
    RaterDiscrepancyRule,
    ReliableDropRule,
    SuddenLossRule,
    VDropRule,
)

# Rules 1 and 6 need one administration: the scorer raises them, the engine dates them.
SCORER_RULES = ("below_cutoff", "reported_rupture")
EPSILON = 1e-9

RepairState = Literal["repaired", "unrepaired", "pending"]


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One administration of the series, as scored."""

    administration_id: str
    session: int
    administered_at: datetime
    scales: Mapping[str, ScaleResult]
    flags: Sequence[Flag] = ()


@dataclass(frozen=True, slots=True)
class ScaleStatistics:
    """Spread of a scale across clients, with where it comes from."""

    sd: float | None
    reliability: float | None
    source: str
    count: int | None = None
    from_organisation: bool = True


class RepairPoint(TypedDict):
    session: int
    administration_id: str


class RuptureFlag(TypedDict):
    rule: str
    scale: str
    session: int
    administration_id: str
    value: float
    reference: float | None
    threshold: float
    severity: str | None
    spread_source: str | None
    citation: str
    repaired: bool | None
    repaired_at: RepairPoint | None
    state: RepairState | None
    alert_zone: NotRequired[str]
    kinds: NotRequired[list[str]]
    details: NotRequired[dict[str, float | None]]
    counterpart: NotRequired[dict[str, object]]


class NotEvaluated(TypedDict):
    rule: str
    scale: str
    sessions: list[int]
    reason: str


class SeriesEvaluation(TypedDict):
    flags: list[RuptureFlag]
    not_evaluated: list[NotEvaluated]


def detect_ruptures(
    definition: InstrumentDefinition,
    series: Sequence[SeriesPoint],
    *,
    statistics_by_scale: Mapping[str, ScaleStatistics] | None = None,
    counterparts: Mapping[str, Sequence[SeriesPoint]] | None = None,
) -> SeriesEvaluation:
    """Every flag of the series, in session order, with its repair state.

    `statistics_by_scale` gives the between-client SD and reliability of each scale when the
    definition declares no norm for it (the organisation's own data); `counterparts` gives, by
    instrument id, the series a `rater_discrepancy` rule compares with.
    """
    points = sorted(series, key=lambda p: (p.session, p.administered_at, p.administration_id))
    spreads = _spreads(definition, statistics_by_scale or {})
    evaluation = _Evaluation(definition, points, spreads)
    for point in points:
        for flag in point.flags:
            if flag["rule"] in SCORER_RULES:
                evaluation.add_scored_flag(point, flag)
    for rule in definition.ruptures:
        for scale_id in rule.scales:
            if isinstance(rule, DropFromPreviousRule):
                evaluation.drop_from_previous(rule, scale_id)
            elif isinstance(rule, ReliableDropRule):
                evaluation.reliable_drop(rule, scale_id)
            elif isinstance(rule, VDropRule):
                evaluation.v_drop(rule, scale_id)
            elif isinstance(rule, SuddenLossRule):
                evaluation.sudden_loss(rule, scale_id)
            elif isinstance(rule, RaterDiscrepancyRule):
                other = (counterparts or {}).get(rule.counterpart, ())
                evaluation.rater_discrepancy(rule, scale_id, other)
    order = {scale.id: position for position, scale in enumerate(definition.scales)}
    flags = sorted(
        evaluation.flags,
        key=lambda f: (f["session"], f["administration_id"], f["rule"], order[f["scale"]]),
    )
    return {"flags": flags, "not_evaluated": evaluation.not_evaluated}


def reliable_change(sd: float, reliability: float, z: float = 1.96) -> float:
    """Jacobson & Truax (1991): z x S_diff, with S_diff = sqrt(2) x SD x sqrt(1 - r)."""
    return z * math.sqrt(2) * sd * math.sqrt(1 - reliability)


def _spreads(
    definition: InstrumentDefinition, organisation: Mapping[str, ScaleStatistics]
) -> dict[str, ScaleStatistics]:
    """Per scale: the declared norm when there is one, else the organisation's statistics."""
    sizes = {scale.id: len(scale.items) for scale in definition.scales}
    spreads = dict(organisation)
    for norm in definition.norms:
        spreads[norm.scale] = _norm_statistics(norm, sizes[norm.scale])
    return spreads


def _norm_statistics(norm: Norm, size: int) -> ScaleStatistics:
    # Scores are sums: an item-mean SD is scaled by the item count.
    sd = None if norm.sd is None else norm.sd * (size if norm.basis == "item_mean" else 1)
    reliability = norm.reliability.value if norm.reliability else None
    return ScaleStatistics(
        sd=sd, reliability=reliability, source=f"norms: {norm.source}", count=norm.n
    )


class _Evaluation:
    def __init__(
        self,
        definition: InstrumentDefinition,
        points: list[SeriesPoint],
        spreads: dict[str, ScaleStatistics],
    ) -> None:
        self.definition = definition
        self.points = points
        self.spreads = spreads
        self.flags: list[RuptureFlag] = []
        self.not_evaluated: list[NotEvaluated] = []
        self._scored: dict[str, list[tuple[SeriesPoint, float]]] = {}

    # -- helpers -------------------------------------------------------------------------

    def scores(self, scale_id: str) -> list[tuple[SeriesPoint, float]]:
        """The points of the series where the scale has a score, in order."""
        scored = self._scored.get(scale_id)
        if scored is None:
            scored = []
            for point in self.points:
                score = point.scales[scale_id]["score"]
                if score is not None:
                    scored.append((point, score))
            self._scored[scale_id] = scored
        return scored

    def skip(self, rule: str, scale_id: str, sessions: list[int], reason: str) -> None:
        if sessions:
            self.not_evaluated.append(
                {"rule": rule, "scale": scale_id, "sessions": sessions, "reason": reason}
            )

    def flag(
        self,
        rule: str,
        scale_id: str,
        point: SeriesPoint,
        value: float,
        reference: float | None,
        threshold: float,
        citation: str,
        *,
        severity: str | None = None,
        spread_source: str | None = None,
        repair_window: int | None = None,
    ) -> RuptureFlag:
        flag: RuptureFlag = {
            "rule": rule,
            "scale": scale_id,
            "session": point.session,
            "administration_id": point.administration_id,
            "value": value,
            "reference": reference,
            "threshold": _rounded(threshold),
            "severity": severity,
            "spread_source": spread_source,
            "citation": citation,
            "repaired": None,
            "repaired_at": None,
            "state": None,
        }
        if repair_window is not None and reference is not None:
            self.settle_repair(flag, scale_id, point, reference, repair_window)
        self.flags.append(flag)
        return flag

    def settle_repair(
        self,
        flag: RuptureFlag,
        scale_id: str,
        point: SeriesPoint,
        reference: float,
        window: int,
    ) -> None:
        """Repaired when a later administration within `window` sessions gets back to the
        reference; unrepaired once the window has passed without that; else pending."""
        last = point.session + window
        for later, score in self.scores(scale_id):
            if later.session <= point.session or later.session > last:
                continue
            if score >= reference - EPSILON:
                flag["repaired"] = True
                flag["repaired_at"] = {
                    "session": later.session,
                    "administration_id": later.administration_id,
                }
                flag["state"] = "repaired"
                return
        passed = bool(self.points) and self.points[-1].session > last
        flag["repaired"] = False
        flag["state"] = "unrepaired" if passed else "pending"

    # -- rules -----------------------------------------------------------------------------

    def add_scored_flag(self, point: SeriesPoint, scored: Flag) -> None:
        flag = self.flag(
            scored["rule"],
            scored["scale"],
            point,
            scored["value"],
            None,
            scored["threshold"],
            scored["citation"],
        )
        for key in ("alert_zone", "kinds", "details"):
            if key in scored:
                flag[key] = scored[key]

    def drop_from_previous(self, rule: DropFromPreviousRule, scale_id: str) -> None:
        scored = self.scores(scale_id)
        for (_, before), (point, score) in itertools.pairwise(scored):
            if before - score >= rule.points - EPSILON:
                self.flag(
                    rule.rule, scale_id, point, score, before, rule.points, rule.citation,
                    repair_window=rule.repair_window,
                )  # fmt: skip

    def reliable_drop(self, rule: ReliableDropRule, scale_id: str) -> None:
        scored = self.scores(scale_id)
        known = self.reliability(scale_id, rule.min_organisation_n)
        if known is None:
            sessions = [point.session for point, _ in scored[1:]]
            self.skip_missing_spread(rule.rule, scale_id, sessions, rule.min_organisation_n)
            return
        sd, reliability, source = known
        change = reliable_change(sd, reliability, rule.z)
        for (_, before), (point, score) in itertools.pairwise(scored):
            if score - before <= -change + EPSILON:
                self.flag(
                    rule.rule, scale_id, point, score, before, change, rule.citation,
                    spread_source=source, repair_window=rule.repair_window,
                )  # fmt: skip

    def v_drop(self, rule: VDropRule, scale_id: str) -> None:
        scored = self.scores(scale_id)
        between = self.between_client_sd(scale_id, rule.min_organisation_n)
        short = [point.session for point, _ in scored[: rule.min_history]]
        self.skip(
            rule.rule, scale_id, short,
            f"fewer than {rule.min_history} earlier administrations in the series",
        )  # fmt: skip
        # The history's mean and SD, kept up to date in one pass (Welford 1962).
        running_mean, squares = 0.0, 0.0
        for earlier, (point, score) in enumerate(scored):
            if earlier >= rule.min_history:
                own_sd = math.sqrt(squares / (earlier - 1))
                self._v_drop_at(rule, scale_id, point, score, running_mean, own_sd, between)
            delta = score - running_mean
            running_mean += delta / (earlier + 1)
            squares += delta * (score - running_mean)

    def _v_drop_at(
        self,
        rule: VDropRule,
        scale_id: str,
        point: SeriesPoint,
        score: float,
        reference: float,
        own_sd: float,
        between: tuple[float, str] | None,
    ) -> None:
        if between is not None:
            width = max(own_sd, between[0])
            source = f"client_history and between_client ({between[1]})"
        else:
            width = own_sd
            source = "client_history (no between-client SD yet)"
        width = max(width, rule.min_spread)
        levels = [("strict", rule.thresholds.strict)]
        if rule.thresholds.lenient is not None:
            levels.append(("lenient", rule.thresholds.lenient))
        for severity, k in levels:
            if reference - score > k * width + EPSILON:
                self.flag(
                    rule.rule, scale_id, point, score, _rounded(reference), k * width,
                    rule.citation, severity=severity, spread_source=source,
                    repair_window=rule.repair_window,
                )  # fmt: skip
                return

    def sudden_loss(self, rule: SuddenLossRule, scale_id: str) -> None:
        """Tang & DeRubeis (1999), mirrored: a loss between consecutive administrations."""
        values = [point.scales[scale_id]["score"] for point in self.points]
        known = self.reliability(scale_id, rule.min_organisation_n)
        if known is None:
            sessions = [
                self.points[index].session
                for index in range(1, len(values))
                if values[index - 1] is not None and values[index] is not None
            ]
            self.skip_missing_spread(rule.rule, scale_id, sessions, rule.min_organisation_n)
            return
        sd, reliability, source = known
        change = reliable_change(sd, reliability)
        pending: list[int] = []
        for index in range(1, len(values)):
            before, score = values[index - 1], values[index]
            if before is None or score is None:
                continue
            drop = before - score
            floor = self.points[index].scales[scale_id]["min"]
            # (a) a reliable loss; (b) at least min_fraction of the score above the floor
            if drop < change - EPSILON or drop < rule.min_fraction * (before - floor) - EPSILON:
                continue
            point = self.points[index]
            post_window = values[index : index + 3]
            if len(post_window) < 3:
                pending.append(point.session)
                continue
            pre = [value for value in values[max(0, index - 3) : index] if value is not None]
            post = [value for value in post_window if value is not None]
            # (c) the means around the drop differ by more than t x pooled SD
            critical = _critical_value(rule, 3 - len(pre), 3 - len(post))
            if critical is None:
                self.skip(
                    rule.rule, scale_id, [point.session],
                    "too few sessions around the drop for the third criterion",
                )  # fmt: skip
                continue
            pooled = _pooled_sd(pre, post)
            if mean(pre) - mean(post) > critical * pooled + EPSILON:
                self.flag(
                    rule.rule, scale_id, point, score, before, change, rule.citation,
                    spread_source=source, repair_window=rule.repair_window,
                )  # fmt: skip
        self.skip(
            rule.rule, scale_id, pending,
            "settled once the two following sessions are recorded",
        )  # fmt: skip

    def rater_discrepancy(
        self, rule: RaterDiscrepancyRule, scale_id: str, other: Sequence[SeriesPoint]
    ) -> None:
        theirs = {point.session: point for point in other}
        for point in self.points:
            counterpart = theirs.get(point.session)
            if counterpart is None:
                continue
            mine = point.scales[scale_id]["pomp"]
            their_pomp = counterpart.scales[scale_id]["pomp"]
            if mine is None or their_pomp is None:
                continue
            if abs(mine - their_pomp) > rule.max_gap_pomp + EPSILON:
                flag = self.flag(
                    rule.rule, scale_id, point, mine, their_pomp, rule.max_gap_pomp,
                    rule.citation,
                )  # fmt: skip
                flag["counterpart"] = {
                    "instrument": rule.counterpart,
                    "administration_id": counterpart.administration_id,
                    "pomp": their_pomp,
                }

    def usable(self, scale_id: str, minimum: int) -> ScaleStatistics | None:
        """The scale's between-client statistics: norms, or organisation data past `minimum`."""
        known = self.spreads.get(scale_id)
        if known is None or known.sd is None:
            return None
        if known.from_organisation and (known.count or 0) < minimum:
            return None
        return known

    def between_client_sd(self, scale_id: str, minimum: int) -> tuple[float, str] | None:
        known = self.usable(scale_id, minimum)
        if known is None or known.sd is None:
            return None
        return known.sd, known.source

    def reliability(self, scale_id: str, minimum: int) -> tuple[float, float, str] | None:
        """(SD, reliability, source) for Jacobson & Truax, when both are known."""
        known = self.usable(scale_id, minimum)
        if known is None or known.sd is None or known.reliability is None:
            return None
        return known.sd, known.reliability, known.source

    def skip_missing_spread(
        self, rule: str, scale_id: str, sessions: list[int], minimum: int
    ) -> None:
        known = self.spreads.get(scale_id)
        count = known.count if known is not None and known.count else 0
        self.skip(
            rule, scale_id, sessions,
            "no SD and reliability in the definition's norms, and the organisation holds"
            f" {count} administrations of the {minimum} needed to estimate them",
        )  # fmt: skip


def _critical_value(rule: SuddenLossRule, missing_pre: int, missing_post: int) -> float | None:
    """Tang & DeRubeis's t critical values for 6, 5, or 4 (one missing each side) values."""
    values = rule.critical_values
    if missing_pre == 0 and missing_post == 0:
        return values.none_missing
    if missing_pre + missing_post == 1:
        return values.one_missing
    if missing_pre == 1 and missing_post == 1:
        return values.one_missing_each_side
    return None


def _pooled_sd(first: list[float], second: list[float]) -> float:
    n1, n2 = len(first), len(second)
    v1 = variance(first) if n1 > 1 else 0.0
    v2 = variance(second) if n2 > 1 else 0.0
    return math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))


def _rounded(number: float) -> float:
    return round(number, 6)
