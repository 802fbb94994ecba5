"""A simulated caseload, to measure rupture signals like a diagnostic test: how many true
ruptures they catch, and how often they cry wolf.

The generative model (every parameter is a field of `Model`, with its source):

- Each episode has 12 weekly sessions; at each one the client fills in the SRS and the WAI-SR.
- The client's own alliance level is drawn once per episode, on each instrument, from the
  between-client spread; the two instruments' levels correlate (`level_correlation`).
- Each session's score is the client's level plus a session-to-session deviation, of the SD
  that the instrument's test-retest reliability implies: SD x sqrt(1 - r) (the SRS: 4.19 and
  .64, Bordin's instrument reference, shared/spec/instruments.md §5 and §9). The two
  instruments' deviations at one session correlate (`session_correlation`).
- A share of episodes has a true rupture (3 in 10, as in the review that asked for this),
  a share of those a second one. A rupture lowers the true alliance by `rupture_size`
  within-client SDs on both instruments from its session, for 1 or 2 sessions, or until the
  end of the episode (unrepaired).
- Items are drawn around the score and rounded to the answer scale (the SRS's 0.1 steps, the
  WAI-SR's 1..5), so ceilings and rounding are those of real answers.

Nothing in `Model` is tuned to the alert policy: the policy's parameters come from the same
published figures, not from this simulation.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

WAI_SR_DIMENSIONS = {"task": (1, 2, 10, 12), "bond": (3, 5, 7, 9), "goal": (4, 6, 8, 11)}
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Model:
    """The caseload's parameters, each with where it comes from."""

    episodes: int = 500
    sessions: int = 12
    seed: int = 20261130
    # The review's caseload: three episodes in ten have a true rupture.
    rupture_share: float = 0.3
    # Of those, a share has a second one (the spec: "one or two ruptures").
    second_rupture_share: float = 0.2
    # Sessions at which a rupture may start: after a history of 3 (the V-drop's minimum).
    first_rupture_session: int = 4
    # Size of a true rupture: the alliance drops by this many within-client SDs on each
    # instrument. A strict V-drop (Gumz et al. 2012) is 2 spreads; a rupture is at least that.
    rupture_size: float = 2.5
    # How long the dip lasts: 1 session, 2 sessions, or not repaired within the episode
    # (unrepaired ruptures go with drop-out, Eubanks, Muran & Safran 2018).
    duration_weights: tuple[float, float, float] = (0.5, 0.25, 0.25)
    # SRS total: French sample mean 36.91, SD 4.19 over 168 administrations; test-retest
    # .54-.70, .64 as Bordin's reference uses (shared/spec/instruments.md §5, §9).
    srs_mean: float = 36.91
    srs_sd: float = 4.19
    srs_retest: float = 0.64
    # WAI-SR item mean (1..5). No published SD for the 5-point WAI-SR was found
    # (shared/spec/instruments.md §9); assumed: mean 3.8, SD 0.70, session-to-session
    # reliability .70 (the top of the SRS's range: the WAI-SR has 12 items, alpha above .80,
    # Munder et al. 2010). `make bench` also prints the figures with other values.
    wai_mean: float = 3.8
    wai_sd: float = 0.70
    wai_retest: float = 0.70
    # Correlation of a client's SRS and WAI-SR levels (assumed; convergent validity of the
    # SRS with other alliance measures is moderate, .48 with the HAq-II, Duncan et al. 2003).
    level_correlation: float = 0.6
    # Correlation of the two instruments' session-to-session deviations (assumed: a session
    # that went worse than usual shows on both, partly).
    session_correlation: float = 0.3
    # Item-level spread around the client's WAI-SR item mean: a lasting offset per client and
    # item, and noise per answer, so that Cronbach's alpha of the simulated answers is about
    # .90 (published: above .80, Munder et al. 2010; about .9 for the WAI, Hanson et al. 2002).
    wai_item_offset_sd: float = 0.35
    wai_item_noise_sd: float = 0.35

    @property
    def srs_within(self) -> float:
        return self.srs_sd * math.sqrt(1 - self.srs_retest)

    @property
    def srs_between(self) -> float:
        return self.srs_sd * math.sqrt(self.srs_retest)

    @property
    def wai_within(self) -> float:
        return self.wai_sd * math.sqrt(1 - self.wai_retest)

    @property
    def wai_between(self) -> float:
        return self.wai_sd * math.sqrt(self.wai_retest)


@dataclass
class SimulatedSession:
    number: int
    administered_at: datetime
    srs: dict[str, float]
    wai_sr: dict[str, int]
    # The true rupture active at this session: its index in the episode, or None.
    rupture: int | None = None


@dataclass
class SimulatedEpisode:
    index: int
    sessions: list[SimulatedSession]
    # Onset session of each true rupture.
    rupture_onsets: list[int] = field(default_factory=list)


def simulate(model: Model) -> list[SimulatedEpisode]:
    rng = random.Random(model.seed)
    return [_episode(model, rng, index) for index in range(model.episodes)]


def _episode(model: Model, rng: random.Random, index: int) -> SimulatedEpisode:
    shared = rng.gauss(0, 1)
    own = rng.gauss(0, 1)
    srs_level = model.srs_mean + model.srs_between * shared
    wai_level = model.wai_mean + model.wai_between * (
        model.level_correlation * shared + math.sqrt(1 - model.level_correlation**2) * own
    )
    offsets = [rng.gauss(0, model.wai_item_offset_sd) for _ in range(12)]
    deficits = [0.0] * (model.sessions + 1)
    active: list[int | None] = [None] * (model.sessions + 1)
    onsets: list[int] = []
    if rng.random() < model.rupture_share:
        count = 2 if rng.random() < model.second_rupture_share else 1
        for _ in range(count):
            onset = _free_onset(model, rng, active)
            if onset is None:
                break
            duration = rng.choices((1, 2, model.sessions), weights=model.duration_weights)[0]
            for number in range(onset, min(model.sessions, onset + duration - 1) + 1):
                if active[number] is not None:
                    break
                deficits[number] = model.rupture_size
                active[number] = len(onsets)
            onsets.append(onset)
    sessions = []
    for number in range(1, model.sessions + 1):
        common = rng.gauss(0, 1)
        srs_noise = model.session_correlation**0.5 * common + (
            1 - model.session_correlation
        ) ** 0.5 * rng.gauss(0, 1)
        wai_noise = model.session_correlation**0.5 * common + (
            1 - model.session_correlation
        ) ** 0.5 * rng.gauss(0, 1)
        srs_total = srs_level + model.srs_within * (srs_noise - deficits[number])
        wai_mean = wai_level + model.wai_within * (wai_noise - deficits[number])
        sessions.append(
            SimulatedSession(
                number=number,
                administered_at=START + timedelta(weeks=number),
                srs=_srs_items(rng, srs_total),
                wai_sr=_wai_items(rng, wai_mean, offsets, model.wai_item_noise_sd),
                rupture=active[number],
            )
        )
    return SimulatedEpisode(index, sessions, onsets)


def _free_onset(model: Model, rng: random.Random, active: list[int | None]) -> int | None:
    """A session for a new rupture, not inside or right after another one."""
    candidates = [
        number
        for number in range(model.first_rupture_session, model.sessions + 1)
        if active[number] is None and active[number - 1] is None
    ]
    return rng.choice(candidates) if candidates else None


def _srs_items(rng: random.Random, total: float) -> dict[str, float]:
    """Four marks on 10 cm lines around a quarter of the total each, read to the mm."""
    return {
        str(item): round(min(10.0, max(0.0, total / 4 + rng.gauss(0, 0.3))), 1)
        for item in range(1, 5)
    }


def _wai_items(
    rng: random.Random, item_mean: float, offsets: list[float], noise: float
) -> dict[str, int]:
    """Twelve answers 1..5 around the item mean (each item with the client's lasting offset
    and its own noise); rounding with a uniform dither keeps the mean unbiased inside the
    scale (answers pile up at 5 above it, as real ones do)."""
    return {
        str(item): min(
            5,
            max(1, round(item_mean + offset + rng.gauss(0, noise) + rng.uniform(-0.5, 0.5))),
        )
        for item, offset in enumerate(offsets, start=1)
    }


def sessions_without_rupture(episodes: list[SimulatedEpisode]) -> Iterator[SimulatedSession]:
    for episode in episodes:
        yield from (session for session in episode.sessions if session.rupture is None)


# -- Measuring signals on the caseload ---------------------------------------------------------

INSTRUMENTS = (("srs", "srs"), ("wai-sr", "wai_sr"))  # instrument id, SimulatedSession field
ALLIANCE_SCALE = "total"


@dataclass
class Scored:
    """An episode's administrations as the service would store and evaluate them."""

    episode: SimulatedEpisode
    points: dict[str, list[Any]]  # instrument -> SeriesPoint per session


@dataclass(frozen=True)
class Figures:
    detection: float  # true ruptures signalled (moderate or high) at their session or the next
    false_alarms: float  # sessions without a rupture that open a notifying alert
    alerts_per_episode: float  # notifying alerts
    all_alerts_per_episode: float  # every alert, low included
    events_per_write: float  # webhook events a write sends (rupture.* before, alert.* after)
    ruptures: int
    sessions_without_rupture: int


def score_caseload(model: Model) -> tuple[list[Scored], Any, dict[str, Any]]:
    """Every administration scored, and the organisation's statistics over all of them."""
    from app.core.ruptures import SeriesPoint, organisation_statistics
    from app.core.statistics import scale_summaries
    from app.instruments.registry import load_registry

    registry = load_registry(_instruments_dir())
    episodes = simulate(model)
    scored: list[Scored] = []
    rows: dict[str, tuple[list[dict[str, float | None]], list[list[float | None]]]] = {
        instrument: ([], []) for instrument, _ in INSTRUMENTS
    }
    for episode in episodes:
        points: dict[str, list[Any]] = {}
        for instrument, attribute in INSTRUMENTS:
            scorer = registry.get(instrument).scorer
            series = []
            for session in episode.sessions:
                answers = getattr(session, attribute)
                result = scorer.score(answers)
                series.append(
                    SeriesPoint(
                        f"{episode.index}-{instrument}-{session.number}",
                        session.number,
                        session.administered_at,
                        result["scales"],
                        result["flags"],
                    )
                )
                rows[instrument][0].append(
                    {scale: value["score"] for scale, value in result["scales"].items()}
                )
                rows[instrument][1].append(scorer.keyed_values(answers))
            points[instrument] = series
        scored.append(Scored(episode, points))
    statistics = {
        instrument: organisation_statistics(
            scale_summaries(registry.get(instrument).definition, *rows[instrument])
        )
        for instrument, _ in INSTRUMENTS
    }
    return scored, registry, statistics


def within_spreads(scored: list[Scored], registry: Any) -> dict[tuple[str, str, str], Any]:
    """Each instrument's within-client spread of its alliance scale, as the organisation's
    mean squared successive difference gives it (app/core/alert_policy.py)."""
    from app.core.alert_policy import within_spread

    spreads = {}
    for instrument, _ in INSTRUMENTS:
        squares, pairs = 0.0, 0
        for row in scored:
            values = [p.scales[ALLIANCE_SCALE]["score"] for p in row.points[instrument]]
            for before, after in itertools.pairwise(values):
                if before is not None and after is not None:
                    squares += (after - before) ** 2
                    pairs += 1
        spread = within_spread(
            organisation_pairs=pairs,
            organisation_msd=squares / pairs if pairs else None,
            norm_sd=None,
            norm_test_retest=None,
            norm_source=None,
        )
        if spread is not None:
            spreads[(instrument, "client", ALLIANCE_SCALE)] = spread
    return spreads


def evaluate_episode(
    row: Scored,
    registry: Any,
    statistics: dict[str, Any],
    spreads: dict[tuple[str, str, str], Any],
    profile: Any,
    upto: int | None = None,
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Flags (as an episode lists them) and alerts of the episode's first `upto` writes
    (a write records one instrument of one session; None: all of them)."""
    from app.core.alert_grouping import derive_alerts
    from app.core.alert_policy import ScoredSession, change_findings
    from app.core.ruptures import detect_ruptures

    flags: list[dict[str, Any]] = []
    scores: dict[tuple[str, str, str], list[ScoredSession]] = {}
    dimensions: dict[tuple[str, str], str | None] = {}
    written = _written(row, upto)
    for instrument, _ in INSTRUMENTS:
        definition = registry.get(instrument).definition
        points = written[instrument]
        for scale in definition.scales:
            dimensions[(instrument, scale.id)] = scale.dimension.value if scale.dimension else None
            scores[(instrument, "client", scale.id)] = [
                ScoredSession(p.session, p.administration_id, p.scales[scale.id]["score"])
                for p in points
                if p.scales[scale.id]["score"] is not None
            ]
        evaluation = detect_ruptures(definition, points, statistics_by_scale=statistics[instrument])
        flags.extend(
            {"instrument": instrument, "rater": "client", **f} for f in evaluation["flags"]
        )
    series = {key: value for key, value in scores.items() if key in spreads}
    changes = change_findings(series, spreads, profile)
    alerts = derive_alerts(flags, changes, scores, dimensions=dimensions)
    return flags, alerts


def _written(row: Scored, upto: int | None) -> dict[str, list[Any]]:
    if upto is None:
        return dict(row.points)
    written: dict[str, list[Any]] = {instrument: [] for instrument, _ in INSTRUMENTS}
    for index in range(upto):
        session, which = divmod(index, len(INSTRUMENTS))
        instrument = INSTRUMENTS[which][0]
        written[instrument].append(row.points[instrument][session])
    return written


def measure(model: Model, profile_name: str, *, writes_sample: int = 60) -> tuple[Figures, Figures]:
    """(today's published rules, the alert policy) on the model's caseload."""
    from app.core.alert_grouping import NOTIFYING, alert_events
    from app.core.alert_policy import PROFILES
    from app.core.flag_events import flag_changes

    profile = PROFILES[profile_name]
    scored, registry, statistics = score_caseload(model)
    spreads = within_spreads(scored, registry)
    rule_detected = policy_detected = ruptures = 0
    rule_false = policy_false = quiet_sessions = 0
    rule_alerts = policy_alerts = all_alerts = 0
    for row in scored:
        flags, alerts = evaluate_episode(row, registry, statistics, spreads, profile)
        flagged = {f["session"] for f in flags}
        signalled: set[int] = set()
        opened: set[int] = set()
        for alert in alerts:
            all_alerts += 1
            notifying = [
                item["session"]
                for item in [*alert["evidence"], *alert["changes"]]
                if _notifies(item)
            ]
            signalled.update(notifying)
            if alert["priority"] in NOTIFYING:
                policy_alerts += 1
                opened.add(min(notifying))
        rule_alerts += len(flagged)
        for session in row.episode.sessions:
            if session.rupture is None:
                quiet_sessions += 1
                rule_false += session.number in flagged
                policy_false += session.number in opened
        for onset in row.episode.rupture_onsets:
            ruptures += 1
            rule_detected += bool({onset, onset + 1} & flagged)
            policy_detected += bool({onset, onset + 1} & signalled)
    writes = rule_events = policy_events = 0
    writes_sample = min(writes_sample, len(scored))
    for row in scored[:writes_sample]:
        before_flags: list[dict[str, Any]] = []
        before_alerts: dict[int, Any] = {}
        for upto in range(1, len(INSTRUMENTS) * model.sessions + 1):
            flags, alerts = evaluate_episode(row, registry, statistics, spreads, profile, upto)
            after_alerts = {alert["opened_session"]: alert for alert in alerts}
            writes += 1
            rule_events += len(flag_changes(before_flags, flags))
            policy_events += len(alert_events(before_alerts, after_alerts))
            before_flags, before_alerts = flags, after_alerts
    episodes = len(scored)
    return (
        Figures(
            rule_detected / ruptures, rule_false / quiet_sessions,
            rule_alerts / episodes, rule_alerts / episodes, rule_events / max(writes, 1),
            ruptures, quiet_sessions,
        ),
        Figures(
            policy_detected / ruptures, policy_false / quiet_sessions,
            policy_alerts / episodes, all_alerts / episodes, policy_events / max(writes, 1),
            ruptures, quiet_sessions,
        ),
    )  # fmt: skip


def _notifies(item: dict[str, Any]) -> bool:
    from app.core.alert_grouping import NOTIFYING, evidence_priority

    return evidence_priority(item) in NOTIFYING


def _instruments_dir() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "instruments"


def run() -> None:
    """Print, per profile, today's published rules against the alert policy."""
    from dataclasses import replace

    from app.core.alert_policy import PROFILES

    model = Model()
    print(
        f"  {model.episodes} episodes x {model.sessions} weekly sessions of SRS and WAI-SR;"
        f" {model.rupture_share:.0%} with a true rupture ({model.second_rupture_share:.0%} of"
        f" those two) of {model.rupture_size} within-client SDs (model: bench/caseload.py)"
    )
    header = (
        "detection", "false alarms", "alerts/episode", "(all, low incl.)", "events/write",
    )  # fmt: skip
    print("  " + " " * 28 + "".join(f"{h:>17}" for h in header))
    for name in PROFILES:
        before, after = measure(model, name)
        if name == next(iter(PROFILES)):
            _row("published rules (before)", before)
        _row(f"policy: {name}", after)
    print("  Sensitivity of the balanced profile to the model (detection / false alarms):")
    variants = [
        ("rupture of 2.0 within-client SDs", replace(model, rupture_size=2.0)),
        ("rupture of 3.0 within-client SDs", replace(model, rupture_size=3.0)),
        ("WAI-SR session reliability .60", replace(model, wai_retest=0.6)),
        ("WAI-SR session reliability .80", replace(model, wai_retest=0.8)),
        ("SRS test-retest .54", replace(model, srs_retest=0.54)),
        ("SRS test-retest .70", replace(model, srs_retest=0.70)),
        ("session deviations correlated .6", replace(model, session_correlation=0.6)),
    ]
    for label, variant in variants:
        _, after = measure(variant, "balanced", writes_sample=0)
        print(f"    {label:<36} {after.detection:>6.1%} / {after.false_alarms:.1%}")


def _row(label: str, figures: Figures) -> None:
    print(
        f"  {label:<28}{figures.detection:>17.1%}{figures.false_alarms:>17.1%}"
        f"{figures.alerts_per_episode:>17.2f}{figures.all_alerts_per_episode:>17.2f}"
        f"{figures.events_per_write:>17.2f}"
    )
