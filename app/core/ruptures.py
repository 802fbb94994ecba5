# Over 600 lines: every declared rupture rule over one series, each a short function.
"""The rupture engine: evaluates an instrument's declared rupture rules over one series.

A series is the administrations of one instrument, by one rater kind, in one episode of care
(shared/spec/ruptures.md). `detect_ruptures` is a pure function of the series, the statistics
it may need and the counterpart series: it reads no database and no clock, and sorts the
series itself, so the flags never depend on the order in which administrations arrived.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NotRequired, TypedDict

from app.core.results import Flag, ScaleResult
from app.core.statistics import ScaleSummary, mean, variance
from app.instruments.definition import (
    MAX_RELIABILITY,
    BelowCutoffRule,
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
# Rules whose flag waits for the score to come back (a repair window): a later flag of the
# same rule and scale before that repair continues the same rupture.
REPAIRABLE_RULES = ("drop_from_previous", "reliable_drop", "v_drop", "sudden_loss")
# Rules that flag a condition session by session: a flag at the next compared session
# continues the one before it.
CONDITION_RULES = ("below_cutoff", "rater_discrepancy")
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
    """Spread of a scale across clients, with where it comes from.

    `count` is the number of scores behind the SD; `reliability_count` the number of complete
    administrations behind the reliability (Cronbach's alpha needs every item answered).
    Organisation estimates are used only past a rule's minimum count; declared norms are used
    as published, whatever their n (the flag names the norm, its source and its n).
    """

    sd: float | None
    reliability: float | None
    source: str
    count: int | None = None
    from_organisation: bool = True
    reliability_count: int | None = None


class RepairPoint(TypedDict):
    session: int
    administration_id: str


class RuptureFlag(TypedDict):
    """One rule, one scale, one administration. `continuing` marks a flag that continues an
    earlier, not yet repaired rupture of the same rule and scale (a drop that persists, a
    score that stays below the cut-off); `continues` names the flag that opened it."""

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
    continuing: bool
    continues: RepairPoint | None
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
    ended: bool = False,
) -> SeriesEvaluation:
    """Every flag of the series, in session order, with its repair state.

    `statistics_by_scale` gives the between-client SD and reliability of each scale when the
    definition declares no norm for it (the organisation's own data); `counterparts` gives, by
    instrument id, the series a `rater_discrepancy` rule compares with. `ended` says that the
    series can have no later session (the episode ended): what waits for later sessions is
    settled with the sessions there are (a repair still pending is unrepaired; a sudden loss
    is judged on the sessions after it that exist).
    """
    points = sorted(series, key=_chronological)
    spreads = _spreads(definition, statistics_by_scale or {})
    evaluation = _Evaluation(definition, points, spreads, ended)
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
    for rule in definition.ruptures:
        if isinstance(rule, BelowCutoffRule):
            for scale_id in rule.scales:
                evaluation.compared[(rule.rule, scale_id)] = [
                    point.session for point, _ in evaluation.scores(scale_id)
                ]
    order = {scale.id: position for position, scale in enumerate(definition.scales)}
    flags = sorted(
        evaluation.flags,
        key=lambda f: (f["session"], f["administration_id"], f["rule"], order[f["scale"]]),
    )
    _mark_continuing(flags, evaluation.compared)
    return {"flags": flags, "not_evaluated": evaluation.not_evaluated}


def organisation_statistics(summaries: Mapping[str, ScaleSummary]) -> dict[str, ScaleStatistics]:
    """The organisation's own spread of each scale, as the rules read it: the SD of its
    scores and Cronbach's alpha of its complete administrations, each with its count."""
    return {
        scale_id: ScaleStatistics(
            sd=summary["sd"],
            reliability=summary["alpha"],
            source=(
                f"organisation ({summary['count']} administrations,"
                f" {summary['alpha_count']} complete)"
            ),
            count=summary["count"],
            reliability_count=summary["alpha_count"],
        )
        for scale_id, summary in summaries.items()
    }


def reliable_change(sd: float, reliability: float, z: float = 1.96) -> float:
    """Jacobson & Truax (1991): z x S_diff, with S_diff = sqrt(2) x SD x sqrt(1 - r)."""
    return z * math.sqrt(2) * sd * math.sqrt(1 - reliability)


def _chronological(point: SeriesPoint) -> tuple[int, datetime, str]:
    return point.session, point.administered_at, point.administration_id


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
    n = f"n = {norm.n}" if norm.n is not None else "n not given"
    return ScaleStatistics(
        sd=sd,
        reliability=reliability,
        source=f"norms ({n}): {norm.source}",
        count=norm.n,
        from_organisation=False,
        reliability_count=norm.n,
    )


def _mark_continuing(
    flags: list[RuptureFlag], compared: Mapping[tuple[str, str], list[int]]
) -> None:
    """Mark each flag that continues an earlier rupture of the same rule and scale.

    - A drop (rules with a repair window) continues an earlier flag of its rule and scale that
      had not been repaired by its session: 40, 41, 40, 32, 33, 32 is one V-drop that persists,
      not three ruptures.
    - A condition (below the cut-off, a client/therapist gap) continues the flag of the
      previous session at which the rule was evaluated, when that session was flagged too.
    - Reports are events: each stands on its own.
    `flags` must be in session order; each flag names the flag that opened its run.
    """
    openers: dict[tuple[str, str], list[RuptureFlag]] = {}
    for flag in flags:
        key = (flag["rule"], flag["scale"])
        earlier = openers.setdefault(key, [])
        continued = None
        if flag["rule"] in REPAIRABLE_RULES:
            continued = next(
                (e for e in reversed(earlier) if _unrepaired_at(e, flag["session"])), None
            )
        elif flag["rule"] in CONDITION_RULES and earlier:
            sessions = compared.get(key, [])
            previous = [s for s in sessions if s < flag["session"]]
            if previous and earlier[-1]["session"] == previous[-1]:
                continued = earlier[-1]
        if continued is not None:
            opener = continued["continues"] or {
                "session": continued["session"],
                "administration_id": continued["administration_id"],
            }
            flag["continuing"] = True
            flag["continues"] = opener
        earlier.append(flag)


def _unrepaired_at(flag: RuptureFlag, session: int) -> bool:
    """The flag, raised before `session`, had not been repaired by then."""
    if flag["session"] >= session:
        return False
    repaired_at = flag["repaired_at"]
    return repaired_at is None or repaired_at["session"] > session


class _Evaluation:
    def __init__(
        self,
        definition: InstrumentDefinition,
        points: list[SeriesPoint],
        spreads: dict[str, ScaleStatistics],
        ended: bool,
    ) -> None:
        self.definition = definition
        self.points = points
        self.spreads = spreads
        self.ended = ended
        self.flags: list[RuptureFlag] = []
        self.not_evaluated: list[NotEvaluated] = []
        # (rule, scale) -> the sessions at which a condition rule could be evaluated.
        self.compared: dict[tuple[str, str], list[int]] = {}
        self._scored: dict[str, list[tuple[SeriesPoint, float]]] = {}
        self._sessions: dict[str, list[int]] = {}  # the sessions of `_scored`, for bisect

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
            "continuing": False,
            "continues": None,
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
        reference; unrepaired once the window has passed without that, or the series has
        ended; else pending."""
        last = point.session + window
        scored = self.scores(scale_id)
        sessions = self._sessions.get(scale_id)
        if sessions is None:
            sessions = self._sessions[scale_id] = [p.session for p, _ in scored]
        for later, score in scored[bisect_right(sessions, point.session) :]:
            if later.session > last:
                break  # in session order: the window is over
            if score >= reference - EPSILON:
                flag["repaired"] = True
                flag["repaired_at"] = {
                    "session": later.session,
                    "administration_id": later.administration_id,
                }
                flag["state"] = "repaired"
                return
        passed = self.ended or (bool(self.points) and self.points[-1].session > last)
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
            severity=scored.get("severity"),
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
        if isinstance(known, str):
            self.skip(rule.rule, scale_id, [point.session for point, _ in scored[1:]], known)
            return
        change = reliable_change(known.sd, known.reliability, rule.z)
        for (_, before), (point, score) in itertools.pairwise(scored):
            # A drop, and a reliable one: no change is never a reliable drop, whatever r says.
            if before - score > EPSILON and before - score >= change - EPSILON:
                self.flag(
                    rule.rule, scale_id, point, score, before, change, rule.citation,
                    spread_source=known.source, repair_window=rule.repair_window,
                )  # fmt: skip

    def v_drop(self, rule: VDropRule, scale_id: str) -> None:
        scored = self.scores(scale_id)
        between = self.between_client_sd(scale_id, rule.min_organisation_n)
        short = [point.session for point, _ in scored[: rule.min_history]]
        self.skip(
            rule.rule, scale_id, short,
            f"fewer than {rule.min_history} earlier administrations in the series",
        )  # fmt: skip
        if not scored:
            return
        first = scored[0][0].scales[scale_id]
        floor = rule.min_spread_pomp / 100 * (first["max"] - first["min"])
        # The history's mean and SD, kept up to date in one pass (Welford 1962).
        running_mean, squares = 0.0, 0.0
        for earlier, (point, score) in enumerate(scored):
            if earlier >= rule.min_history:
                own_sd = math.sqrt(squares / (earlier - 1))
                self._v_drop_at(rule, scale_id, point, score, running_mean, own_sd, between, floor)
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
        between: _Spread | str,
        floor: float,
    ) -> None:
        if isinstance(between, _Spread):
            width = max(own_sd, between.sd)
            source = f"client_history and between_client ({between.source})"
        else:
            width = own_sd
            source = "client_history (no between-client SD yet)"
        if floor > width:
            width = floor
            source += f"; floor of {_number(rule.min_spread_pomp)} POMP points"
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
        if isinstance(known, str):
            sessions = [
                self.points[index].session
                for index in range(1, len(values))
                if values[index - 1] is not None and values[index] is not None
            ]
            self.skip(rule.rule, scale_id, sessions, known)
            return
        change = reliable_change(known.sd, known.reliability)
        pending: list[int] = []
        for index in range(1, len(values)):
            before, score = values[index - 1], values[index]
            if before is None or score is None:
                continue
            drop = before - score
            floor = self.points[index].scales[scale_id]["min"]
            # (a) a reliable loss; (b) at least min_fraction of the score above the floor
            if drop <= EPSILON or drop < change - EPSILON:
                continue
            if drop < rule.min_fraction * (before - floor) - EPSILON:
                continue
            point = self.points[index]
            post_window = values[index : index + 3]
            if len(post_window) < 3 and not self.ended:
                pending.append(point.session)
                continue
            # Sessions after the end of the series are missing values of criterion (c).
            pre = [value for value in values[max(0, index - 3) : index] if value is not None]
            post = [value for value in post_window if value is not None]
            # (c) the means around the drop differ by more than t x pooled SD
            critical = _critical_value(rule, 3 - len(pre), 3 - len(post))
            if critical is None:
                reason = "too few sessions around the drop for the third criterion"
                if len(post_window) < 3:
                    reason += " (the series ended before the two following sessions)"
                self.skip(rule.rule, scale_id, [point.session], reason)
                continue
            pooled = _pooled_sd(pre, post)
            if mean(pre) - mean(post) > critical * pooled + EPSILON:
                self.flag(
                    rule.rule, scale_id, point, score, before, change, rule.citation,
                    spread_source=known.source, repair_window=rule.repair_window,
                )  # fmt: skip
        self.skip(
            rule.rule, scale_id, pending,
            "settled once the two following sessions are recorded, or when the episode ends",
        )  # fmt: skip

    def rater_discrepancy(
        self, rule: RaterDiscrepancyRule, scale_id: str, other: Sequence[SeriesPoint]
    ) -> None:
        """Each administration against the counterpart's rating of the same session. When the
        counterpart rated a session more than once, the latest rating counts (by time, then
        id), whatever the order the ratings came in."""
        theirs: dict[int, SeriesPoint] = {}
        for rating in sorted(other, key=_chronological):
            theirs[rating.session] = rating
        compared = self.compared.setdefault((rule.rule, scale_id), [])
        for point in self.points:
            counterpart = theirs.get(point.session)
            if counterpart is None:
                continue
            mine = point.scales[scale_id]["pomp"]
            their_pomp = counterpart.scales[scale_id]["pomp"]
            if mine is None or their_pomp is None:
                continue
            compared.append(point.session)
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

    # -- spreads ---------------------------------------------------------------------------

    def between_client_sd(self, scale_id: str, minimum: int) -> _Spread | str:
        """The scale's between-client SD (norms, or organisation data past `minimum`), or
        why there is none."""
        known = self.spreads.get(scale_id)
        if known is None:
            return _too_few(0, minimum)
        if known.from_organisation and (known.count or 0) < minimum:
            return _too_few(known.count or 0, minimum)
        if known.sd is None or known.sd <= 0:
            where = "the organisation's scores" if known.from_organisation else "the norm"
            return f"{where} give no between-client SD greater than zero ({known.source})"
        return _Spread(known.sd, None, known.source)

    def reliability(self, scale_id: str, minimum: int) -> _Reliable | str:
        """SD and reliability for Jacobson & Truax, or why they cannot be used.

        An organisation's Cronbach's alpha counts only when it rests on at least `minimum`
        complete administrations; any reliability must lie in (0, MAX_RELIABILITY]."""
        spread = self.between_client_sd(scale_id, minimum)
        if isinstance(spread, str):
            return spread
        known = self.spreads[scale_id]
        if known.from_organisation:
            complete = known.reliability_count or 0
            if complete < minimum:
                return (
                    f"Cronbach's alpha of the organisation rests on {complete} complete"
                    f" administrations of the {minimum} needed"
                )
        if known.reliability is None:
            where = "the organisation's answers" if known.from_organisation else "the norm"
            return f"{where} give no reliability for this scale ({known.source})"
        if not 0 < known.reliability <= MAX_RELIABILITY:
            return (
                f"reliability {_number(known.reliability)} lies outside (0, {MAX_RELIABILITY}]:"
                " such a value comes from straight-lined or duplicated answers, and would"
                " make no change at all a reliable drop"
            )
        return _Reliable(spread.sd, known.reliability, spread.source)


@dataclass(frozen=True, slots=True)
class _Spread:
    sd: float
    reliability: None
    source: str


@dataclass(frozen=True, slots=True)
class _Reliable:
    sd: float
    reliability: float
    source: str


def _too_few(count: int, minimum: int) -> str:
    return (
        "no SD in the definition's norms, and the organisation holds"
        f" {count} administrations of the {minimum} needed to estimate it"
    )


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


def _number(number: float) -> str:
    return f"{number:g}"
