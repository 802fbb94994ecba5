"""Evaluating an episode: every series (one instrument, one rater) through the pure rupture
engine, with the organisation's statistics where a definition declares no norm; storing its
flags and writing the alerts their changes call for; and reading the alliance over time
(trajectories, flags, statistics)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.alerts import webhooks
from app.catalogue.guidance import flag_state
from app.core.alerts import flag_changes
from app.core.ruptures import ScaleStatistics, SeriesPoint, detect_ruptures, organisation_statistics
from app.core.statistics import scale_summaries
from app.instruments.definition import (
    InstrumentDefinition,
    RaterDiscrepancyRule,
    ReliableDropRule,
    SuddenLossRule,
    VDropRule,
)
from app.platform import store
from app.platform.errors import InvalidResponsesError, UnknownInstrumentError
from app.platform.plain import plain_json
from app.platform.tables import RuptureFlagRecord
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


def evaluate_episode(
    session: Session, records: Records, episode_id: uuid.UUID
) -> EpisodeEvaluation:
    """Evaluate every series of the episode (current, non-withdrawn administrations)."""
    rows = store.current_administrations(session, records.organization_id, episode_id)
    series: dict[tuple[str, str], list[SeriesPoint]] = {}
    by_instrument: dict[str, list[SeriesPoint]] = {}
    for administration, revision in rows:
        if revision.status == "withdrawn":
            continue
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
    return EpisodeEvaluation(flags, not_evaluated)


def reevaluate(
    session: Session, records: Records, episode_id: uuid.UUID, now: datetime
) -> list[Json]:
    """Evaluate the episode again and store its flags; returns them. Each flag raised,
    repaired, made unrepaired or withdrawn by this write is an alert, written to the webhook
    outbox in this same transaction (`app.alerts.webhooks`)."""
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
    changes = flag_changes(before, evaluation.flags)
    if changes:
        episode = existing_episode(session, records, episode_id)
        webhooks.enqueue_alerts(session, episode, changes, now, records.guidance, records.registry)
    return evaluation.flags


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
