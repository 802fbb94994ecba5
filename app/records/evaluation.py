"""Evaluating an episode: every series (one instrument, one rater) through the pure rupture
engine, with the organisation's statistics where a definition declares no norm; the alert
policy's change findings and the episode's alerts (`app.core.alert_grouping`); storing its
flags and alerts and writing the webhook events their changes call for; and reading the
alliance over time (trajectories, flags, statistics)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.alerts import alerts, webhooks
from app.catalogue.guidance import flag_state
from app.core.alert_grouping import Alert, derive_alerts
from app.core.alert_policy import (
    DEFAULT_PROFILE,
    PROFILES,
    ScoredSession,
    SeriesKey,
    WithinSpread,
    change_findings,
    within_spread,
)
from app.core.flag_events import flag_changes
from app.core.ruptures import ScaleStatistics, SeriesPoint, detect_ruptures, organisation_statistics
from app.core.statistics import scale_summaries
from app.instruments.definition import (
    Dimension,
    InstrumentDefinition,
    RaterDiscrepancyRule,
    ReliableDropRule,
    SuddenLossRule,
    VDropRule,
)
from app.platform import store
from app.platform.errors import InvalidResponsesError, UnknownInstrumentError
from app.platform.plain import plain_json
from app.platform.tables import AlertRecord, Episode, RuptureFlagRecord
from app.records.context import Json, Records, existing_episode


def trajectory(records: Records, episode_id: uuid.UUID, *, instrument: str, rater: str) -> Json:
    """The series' scores by session, with its flags and the rules it could not evaluate."""
    records.registry.get(instrument)  # an unknown instrument is a 404, not an empty series
    with records.database.session() as session:
        existing_episode(session, records, episode_id)
        evaluation = evaluate_episode(session, records, episode_id)
        rows = store.current_administrations(session, records.organization_id, episode_id)
    points = [
        {
            "session": administration.session,
            "administered_at": revision.administered_at,
            "administration_id": administration.id,
            "scales": {
                scale_id: {key: scale[key] for key in ("score", "mean", "pomp")}
                for scale_id, scale in revision.result["scales"].items()
            },
        }
        for administration, revision in rows
        if administration.instrument_id == instrument
        and administration.rater == rater
        and revision.status != "withdrawn"
    ]

    def in_series(entry: Json) -> bool:
        return bool(entry["instrument"] == instrument and entry["rater"] == rater)

    return plain_json(
        {
            "instrument": instrument,
            "rater": rater,
            "points": points,
            "ruptures": [flag for flag in evaluation.flags if in_series(flag)],
            "not_evaluated": [entry for entry in evaluation.not_evaluated if in_series(entry)],
        }
    )


def episode_ruptures(records: Records, episode_id: uuid.UUID) -> Json:
    """Every flag of the episode in its current state (repairs settled so far)."""
    with records.database.session() as session:
        existing_episode(session, records, episode_id)
        evaluation = evaluate_episode(session, records, episode_id)
    return plain_json({"items": evaluation.flags, "not_evaluated": evaluation.not_evaluated})


def instrument_statistics(records: Records, instrument_id: str) -> Json:
    """The organisation's own count, mean, SD and Cronbach's alpha of each scale."""
    loaded = records.registry.get(instrument_id)
    with records.database.session() as session:
        summaries = _organisation_summaries(session, records, loaded.definition)
    return {"instrument": instrument_id, "scales": summaries}


@dataclass(frozen=True)
class EpisodeEvaluation:
    flags: list[Json]
    not_evaluated: list[Json]
    # Each series' scores by scale, and each (instrument, scale)'s Bordin dimension.
    scores: dict[SeriesKey, list[ScoredSession]] = field(default_factory=dict)
    dimensions: dict[tuple[str, str], str | None] = field(default_factory=dict)
    # When each session took place (its earliest administration).
    times: dict[int, datetime] = field(default_factory=dict)
    ended: bool = False
    setting: str | None = None


def evaluate_episode(
    session: Session, records: Records, episode_id: uuid.UUID
) -> EpisodeEvaluation:
    """Evaluate every series of the episode (current, non-withdrawn administrations)."""
    rows = store.current_administrations(session, records.organization_id, episode_id)
    series: dict[tuple[str, str], list[SeriesPoint]] = {}
    by_instrument: dict[str, list[SeriesPoint]] = {}
    times: dict[int, datetime] = {}
    for administration, revision in rows:
        if revision.status == "withdrawn":
            continue
        earliest = times.get(administration.session)
        if earliest is None or revision.administered_at < earliest:
            times[administration.session] = revision.administered_at
        point = SeriesPoint(
            administration_id=str(administration.id),
            session=administration.session,
            administered_at=revision.administered_at,
            scales=revision.result["scales"],
            flags=revision.result["flags"],
        )
        series.setdefault((administration.instrument_id, administration.rater), []).append(point)
        by_instrument.setdefault(administration.instrument_id, []).append(point)
    flags: list[Json] = []
    not_evaluated: list[Json] = []
    scores: dict[SeriesKey, list[ScoredSession]] = {}
    scale_dimensions: dict[tuple[str, str], str | None] = {}
    statistics: dict[str, dict[str, ScaleStatistics]] = {}
    episode = store.get_episode(session, records.organization_id, episode_id)
    setting = episode.setting if episode is not None else None
    ended = episode is not None and episode.ended_on is not None
    for (instrument_id, rater), points in sorted(series.items()):
        try:
            definition = records.registry.get(instrument_id).definition
        except UnknownInstrumentError:
            continue  # an instrument no longer loaded: its rules cannot be read
        if instrument_id not in statistics:
            statistics[instrument_id] = _organisation_statistics(session, records, definition)
        counterparts = {
            rule.counterpart: by_instrument.get(rule.counterpart, [])
            for rule in definition.ruptures
            if isinstance(rule, RaterDiscrepancyRule)
        }
        evaluation = detect_ruptures(
            definition,
            points,
            statistics_by_scale=statistics[instrument_id],
            counterparts=counterparts,
            ended=ended,
        )
        labels = {"instrument": instrument_id, "rater": rater}
        dimensions = {scale.id: scale.dimension for scale in definition.scales}
        for scale in definition.scales:
            scale_dimensions[(instrument_id, scale.id)] = _dimension(scale.dimension)
            scores[(instrument_id, rater, scale.id)] = [
                ScoredSession(point.session, point.administration_id, score)
                for point in points
                if scale.id in point.scales
                and (score := point.scales[scale.id]["score"]) is not None
            ]
        for flag in evaluation["flags"]:
            entry: Json = {**labels, **flag}
            if records.guidance is not None:
                dimension = dimensions.get(flag["scale"])
                entry["guidance"] = records.guidance.select(
                    dimension=dimension.value if dimension else None,
                    kinds=list(flag.get("kinds", [])),
                    rule=flag["rule"],
                    state=flag_state(flag["state"]),
                    setting=setting,
                    session=flag["session"],
                )
            flags.append(entry)
        not_evaluated.extend({**labels, **entry} for entry in evaluation["not_evaluated"])
    flags.sort(key=lambda flag: (flag["session"], flag["instrument"], flag["rater"]))
    return EpisodeEvaluation(
        flags, not_evaluated, scores, scale_dimensions, times, ended=ended, setting=setting
    )


def _dimension(dimension: Dimension | None) -> str | None:
    return dimension.value if dimension is not None else None


def episode_alerts_now(
    session: Session,
    records: Records,
    evaluation: EpisodeEvaluation,
    stored: list[AlertRecord],
) -> list[Alert]:
    """The episode's alerts as its evidence derives them now: the flags, the alert policy's
    change findings (the organisation's profile), and the clinicians' closures."""
    organisation = store.get_organization(session, records.organization_id)
    profile = PROFILES.get(
        organisation.alert_profile if organisation is not None else DEFAULT_PROFILE,
        PROFILES[DEFAULT_PROFILE],
    )
    spreads = _within_spreads(session, records, set(evaluation.scores))
    changes = change_findings({key: evaluation.scores[key] for key in spreads}, spreads, profile)
    if records.guidance is not None:
        for change in changes:
            change["guidance"] = records.guidance.select(
                dimension="alliance", kinds=[], rule="alliance_change", state="new",
                setting=evaluation.setting, session=change["session"],
            )  # fmt: skip
    return derive_alerts(
        evaluation.flags,
        changes,
        evaluation.scores,
        dimensions=evaluation.dimensions,
        closures=alerts.closures(stored),
        ended=evaluation.ended,
    )


@dataclass(frozen=True)
class Reevaluation:
    """What a write changed: the episode's flags now, and the alerts it opened or changed."""

    flags: list[Json]
    alerts: list[AlertRecord]
    episode: Episode


def reevaluate(
    session: Session, records: Records, episode_id: uuid.UUID, now: datetime
) -> Reevaluation:
    """Evaluate the episode again and store its flags and alerts. The events this write calls
    for go to the webhook outbox in this same transaction (`app.alerts`): at most one
    `alert.*` event per alert, and `rupture.*` events for endpoints that asked for them."""
    session.flush()
    before = [row.flag for row in store.episode_flags(session, records.organization_id, episode_id)]
    evaluation = evaluate_episode(session, records, episode_id)
    store.replace_flags(
        session,
        records.organization_id,
        episode_id,
        [
            RuptureFlagRecord(
                id=uuid.uuid4(),
                organization_id=records.organization_id,
                episode_id=episode_id,
                administration_id=uuid.UUID(flag["administration_id"]),
                instrument_id=flag["instrument"],
                rater=flag["rater"],
                rule=flag["rule"],
                scale=flag["scale"],
                session=flag["session"],
                state=flag["state"],
                flag=plain_json(flag),
                evaluated_at=now,
            )
            for flag in evaluation.flags
        ],
    )
    episode = existing_episode(session, records, episode_id)
    changes = flag_changes(before, evaluation.flags)
    if changes:
        webhooks.enqueue_alerts(
            session, episode, changes, now, records.guidance, records.registry, records.english()
        )
    stored = store.episode_alerts(session, records.organization_id, episode_id)
    derived = episode_alerts_now(session, records, evaluation, stored)
    changed = alerts.save_episode_alerts(session, records, episode, derived, evaluation.times, now)
    return Reevaluation(evaluation.flags, changed, episode)


_ORGANISATION_RULES = (ReliableDropRule, VDropRule, SuddenLossRule)


def _organisation_statistics(
    session: Session, records: Records, definition: InstrumentDefinition
) -> dict[str, ScaleStatistics]:
    """Spread of each scale in the organisation's data, for rules without declared norms."""
    normed = {norm.scale for norm in definition.norms}
    needed = any(
        isinstance(rule, _ORGANISATION_RULES) and set(rule.scales) - normed
        for rule in definition.ruptures
    )
    if not needed:
        return {}
    now = records.now()
    cache_key = (records.organization_id, definition.id)
    cached = records.statistics_cache.get(cache_key)
    if cached is not None and now - cached[0] < records.statistics_max_age:
        return cached[1]
    fresh = organisation_statistics(_organisation_summaries(session, records, definition))
    records.statistics_cache[cache_key] = (now, fresh)
    return fresh


# The scales the alert policy weighs: each instrument's overall alliance score.
POLICY_DIMENSION = "alliance"


def _within_spreads(
    session: Session, records: Records, keys: set[SeriesKey]
) -> dict[SeriesKey, WithinSpread]:
    """The within-client spread of each series' overall alliance scale: the organisation's own
    (successive sessions of its episodes) once it rests on enough pairs, else a declared
    norm's SD x sqrt(1 - test-retest r) (app/core/alert_policy.py)."""
    spreads: dict[SeriesKey, WithinSpread] = {}
    for instrument_id in sorted({key[0] for key in keys}):
        try:
            definition = records.registry.get(instrument_id).definition
        except UnknownInstrumentError:
            continue
        alliance = [s.id for s in definition.scales if _dimension(s.dimension) == POLICY_DIMENSION]
        if not alliance:
            continue
        successive = _successive_differences(session, records, instrument_id)
        norms = {norm.scale: norm for norm in definition.norms}
        for key in sorted(keys):
            if key[0] != instrument_id or key[2] not in alliance:
                continue
            pairs, squares = successive.get((key[1], key[2]), (0, 0.0))
            norm = norms.get(key[2])
            retest = norm.reliability if norm is not None else None
            spread = within_spread(
                organisation_pairs=pairs,
                organisation_msd=squares / pairs if pairs else None,
                norm_sd=norm.sd if norm is not None else None,
                norm_test_retest=(
                    retest.value if retest is not None and retest.kind == "test_retest" else None
                ),
                norm_source=norm.source if norm is not None else None,
            )
            if spread is not None:
                spreads[key] = spread
    return spreads


def _successive_differences(
    session: Session, records: Records, instrument_id: str
) -> dict[tuple[str, str], tuple[int, float]]:
    """(rater, scale) -> (pairs of successive sessions, sum of their squared differences),
    over the organisation's episodes. Computed at most once per `statistics_max_age` in this
    process, like the other statistics."""
    now = records.now()
    cache_key = (records.organization_id, instrument_id)
    cached = records.successive_cache.get(cache_key)
    if cached is not None and now - cached[0] < records.statistics_max_age:
        return cached[1]
    totals: dict[tuple[str, str], tuple[int, float]] = {}
    previous: tuple[uuid.UUID, str, dict[str, Any]] | None = None
    for episode_id, rater, _, result in store.series_results(
        session, records.organization_id, instrument_id
    ):
        scales = result["scales"]
        if previous is not None and previous[:2] == (episode_id, rater):
            for scale_id, scale in scales.items():
                before = previous[2].get(scale_id, {}).get("score")
                score = scale["score"]
                if before is not None and score is not None:
                    pairs, squares = totals.get((rater, scale_id), (0, 0.0))
                    totals[(rater, scale_id)] = (pairs + 1, squares + (score - before) ** 2)
        previous = (episode_id, rater, scales)
    records.successive_cache[cache_key] = (now, totals)
    return totals


def _organisation_summaries(
    session: Session, records: Records, definition: InstrumentDefinition
) -> dict[str, Any]:
    rows = store.current_results(session, records.organization_id, definition.id)
    scorer = records.registry.get(definition.id).scorer
    scores: list[dict[str, float | None]] = []
    item_values: list[list[float | None]] = []
    for responses, result in rows:
        try:
            keyed = scorer.keyed_values(responses)
        except InvalidResponsesError:
            continue  # answers to another version's items: not comparable item by item
        scores.append({scale_id: scale["score"] for scale_id, scale in result["scales"].items()})
        item_values.append(keyed)
    return dict(scale_summaries(definition, scores, item_values))
