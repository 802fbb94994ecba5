"""Evaluating an episode: every series (one instrument, one rater) through the pure rupture
engine, with the organisation's statistics where a definition declares no norm; the alert
policy's change findings and the episode's alerts (`app.core.alert_grouping`); storing its
flags and alerts and writing the webhook events their changes call for; and reading the
alliance over time (trajectories, flags, statistics)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import orjson
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
from app.core.statistics import Sums, successive_from_sums, summaries_from_sums
from app.core.windows import first_affected, repair_reach
from app.instruments.definition import (
    Dimension,
    InstrumentDefinition,
    RaterDiscrepancyRule,
    ReliableDropRule,
    SuddenLossRule,
    VDropRule,
)
from app.platform import store, store_access, store_alerts
from app.platform.errors import UnknownInstrumentError
from app.platform.plain import plain_json
from app.platform.tables import (
    AlertRecord,
    Episode,
    RuptureFlagRecord,
)
from app.records.context import Json, Records, existing_episode
from app.records.statistics import Change, apply_change, counted, organisation_sums


def trajectory(records: Records, episode_id: uuid.UUID, *, instrument: str, rater: str) -> Json:
    """The series' scores by session, with its flags and the rules it could not evaluate."""
    records.registry.get(instrument)  # an unknown instrument is a 404, not an empty series
    with records.database.session() as session:
        episode = existing_episode(session, records, episode_id)
        rows = store.episode_results(session, records.organization_id, episode_id)
        evaluation = evaluate_episode(session, records, episode, rows)
    points = [
        {
            "session": row.session,
            "administered_at": row.administered_at,
            "administration_id": row.id,
            "scales": {
                scale_id: {key: scale[key] for key in ("score", "mean", "pomp")}
                for scale_id, scale in row.result["scales"].items()
            },
        }
        for row in rows
        if row.instrument_id == instrument and row.rater == rater and row.status != "withdrawn"
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
        episode = existing_episode(session, records, episode_id)
        evaluation = evaluate_episode(session, records, episode)
    return plain_json({"items": evaluation.flags, "not_evaluated": evaluation.not_evaluated})


def instrument_statistics(records: Records, instrument_id: str) -> Json:
    """The organisation's own count, mean, SD and Cronbach's alpha of each scale."""
    loaded = records.registry.get(instrument_id)
    with records.database.session() as session:
        sums = organisation_sums(session, records, instrument_id)
    return {"instrument": instrument_id, "scales": summaries_from_sums(loaded.definition, sums)}


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
    # The organisation's sums of each instrument read so far (one query each).
    sums: dict[str, Sums] = field(default_factory=dict)


Rows = list[store.EpisodeResult]


def evaluate_episode(
    session: Session,
    records: Records,
    episode: Episode,
    rows: Rows | None = None,
    since: int | None = None,
) -> EpisodeEvaluation:
    """Evaluate every series of the episode (current, non-withdrawn administrations; `rows`
    when the caller has just read them). With `since`, only the flags of that session and
    after are returned (the rules still read the whole series)."""
    if rows is None:
        rows = store.episode_results(session, records.organization_id, episode.id)
    series: dict[tuple[str, str], list[SeriesPoint]] = {}
    by_instrument: dict[str, list[SeriesPoint]] = {}
    times: dict[int, datetime] = {}
    for row in rows:
        if row.status == "withdrawn":
            continue
        earliest = times.get(row.session)
        if earliest is None or row.administered_at < earliest:
            times[row.session] = row.administered_at
        point = SeriesPoint(
            administration_id=str(row.id),
            session=row.session,
            administered_at=row.administered_at,
            scales=row.result["scales"],
            flags=row.result["flags"],
        )
        series.setdefault((row.instrument_id, row.rater), []).append(point)
        by_instrument.setdefault(row.instrument_id, []).append(point)
    flags: list[Json] = []
    not_evaluated: list[Json] = []
    scores: dict[SeriesKey, list[ScoredSession]] = {}
    scale_dimensions: dict[tuple[str, str], str | None] = {}
    statistics: dict[str, dict[str, ScaleStatistics]] = {}
    sums: dict[str, Sums] = {}
    setting = episode.setting
    ended = episode.ended_on is not None
    for (instrument_id, rater), points in sorted(series.items()):
        try:
            definition = records.registry.get(instrument_id).definition
        except UnknownInstrumentError:
            continue  # an instrument no longer loaded: its rules cannot be read
        if instrument_id not in statistics:
            statistics[instrument_id] = _organisation_statistics(session, records, definition, sums)
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
            if since is not None and flag["session"] < since:
                continue
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
        flags, not_evaluated, scores, scale_dimensions, times, ended=ended, setting=setting,
        sums=sums,
    )  # fmt: skip


def _dimension(dimension: Dimension | None) -> str | None:
    return dimension.value if dimension is not None else None


def episode_alerts_now(
    session: Session,
    records: Records,
    evaluation: EpisodeEvaluation,
    stored: list[AlertRecord],
    since: int | None = None,
) -> list[Alert]:
    """The episode's alerts as its evidence derives them now: the flags, the alert policy's
    change findings (the organisation's profile), and the clinicians' closures."""
    organisation = store_access.get_organization(session, records.organization_id)
    profile = PROFILES.get(
        organisation.alert_profile if organisation is not None else DEFAULT_PROFILE,
        PROFILES[DEFAULT_PROFILE],
    )
    spreads = _within_spreads(session, records, set(evaluation.scores), evaluation.sums)
    changes = change_findings({key: evaluation.scores[key] for key in spreads}, spreads, profile)
    if since is not None:
        # Before `since`, the findings stay as the stored alerts hold them (like the flags).
        changes = [
            *(
                change
                for row in stored
                if row.status != "withdrawn"
                for change in row.content.get("changes", [])
                if change["session"] < since
            ),
            *(change for change in changes if change["session"] >= since),
        ]
    if records.guidance is not None:
        for change in changes:
            if since is not None and change["session"] < since:
                continue
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
    session: Session,
    records: Records,
    episode: Episode,
    now: datetime,
    change: Change | None = None,
) -> Reevaluation:
    """Add the write's `change` to the organisation's statistics, evaluate the episode (its row
    locked by the caller) again from the first session the change can affect, and store what
    changed of its flags and alerts; without a change, the episode has just ended. The flags
    before that session stay as stored (`app.core.windows`). The events this write calls for
    go to the webhook outbox in this same transaction (`app.alerts`): at most one `alert.*`
    event per alert, and `rupture.*` events for endpoints that asked for them."""
    session.flush()
    rows = store.episode_results(session, records.organization_id, episode.id)
    if change is not None:
        apply_change(session, records, episode.id, change, rows, now)
    since = _first_affected(records, rows, change)
    stored_flags = store.episode_flags(session, records.organization_id, episode.id)
    kept = [row.flag for row in stored_flags if row.session < since]
    replaced = [row for row in stored_flags if row.session >= since]
    evaluation = evaluate_episode(session, records, episode, rows, since)
    _store_flags(session, records, episode, replaced, evaluation.flags, now)
    changes = flag_changes([row.flag for row in replaced], evaluation.flags)
    if changes:
        webhooks.enqueue_alerts(
            session, episode, changes, now, records.guidance, records.registry, records.english()
        )
    flags = sorted([*kept, *evaluation.flags], key=lambda f: f["session"])  # stable
    evaluation = replace(evaluation, flags=flags)
    stored = store_alerts.episode_alerts(session, records.organization_id, episode.id)
    derived = episode_alerts_now(session, records, evaluation, stored, since)
    changed = alerts.save_episode_alerts(
        session, records, episode, derived, evaluation.times, now, stored
    )
    return Reevaluation(flags, changed, episode)


def _first_affected(records: Records, rows: Rows, change: Change | None) -> int:
    """The first session whose flags the change can alter, over the episode's series (a
    client/therapist gap reads the other series of its session); for the end of the
    episode (no change), the first whose flags the end can alter."""
    series: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        if row.status != "withdrawn":
            series.setdefault((row.instrument_id, row.rater), []).append(row.session)
    first: int | None = None
    for (instrument_id, rater), sessions in series.items():
        try:
            definition = records.registry.get(instrument_id).definition
        except UnknownInstrumentError:
            continue
        if change is None:
            candidate = first_affected(definition, sessions, sessions, sessions[-1] + 1)
        elif (instrument_id, rater) == (change.instrument_id, change.rater):
            others = [number for number in sessions if number != change.session]
            before = sorted([*others, change.session] if counted(change.before) else others)
            candidate = first_affected(definition, before, sessions, change.session)
        else:
            continue
        first = candidate if first is None else min(first, candidate)
    if change is not None and first is None:  # the series is empty now: its last one went
        first = change.session - max(
            (repair_reach(loaded.definition) for loaded in records.registry), default=0
        )
    return first if first is not None else 0


def _store_flags(
    session: Session,
    records: Records,
    episode: Episode,
    stored: Sequence[RuptureFlagRecord],
    flags: Sequence[Json],
    now: datetime,
) -> None:
    """Make the stored flags the evaluation's: those unchanged stay as they are, the others
    are deleted or added (a write to a long episode touches the few flags it changed)."""
    kept: dict[bytes, list[RuptureFlagRecord]] = {}
    for row in stored:
        kept.setdefault(_canonical(row.flag), []).append(row)
    added: list[RuptureFlagRecord] = []
    for flag in flags:
        plain = plain_json(flag)
        same = kept.get(_canonical(plain))
        if same:
            same.pop()
            continue
        added.append(
            RuptureFlagRecord(
                id=uuid.uuid4(),
                organization_id=records.organization_id,
                episode_id=episode.id,
                administration_id=uuid.UUID(flag["administration_id"]),
                instrument_id=flag["instrument"],
                rater=flag["rater"],
                rule=flag["rule"],
                scale=flag["scale"],
                session=flag["session"],
                state=flag["state"],
                flag=plain,
                evaluated_at=now,
            )
        )
    store.delete_flags(session, [row.id for rows in kept.values() for row in rows])
    session.add_all(added)


def _canonical(flag: Json) -> bytes:
    return orjson.dumps(flag, option=orjson.OPT_SORT_KEYS)


_ORGANISATION_RULES = (ReliableDropRule, VDropRule, SuddenLossRule)


def _organisation_statistics(
    session: Session, records: Records, definition: InstrumentDefinition, sums: dict[str, Sums]
) -> dict[str, ScaleStatistics]:
    """Spread of each scale in the organisation's data, for rules without declared norms."""
    normed = {norm.scale for norm in definition.norms}
    needed = any(
        isinstance(rule, _ORGANISATION_RULES) and set(rule.scales) - normed
        for rule in definition.ruptures
    )
    if not needed:
        return {}
    summaries = summaries_from_sums(definition, _sums(session, records, definition.id, sums))
    return organisation_statistics(summaries)


def _sums(session: Session, records: Records, instrument_id: str, read: dict[str, Sums]) -> Sums:
    """The organisation's sums of an instrument, read once per evaluation."""
    if instrument_id not in read:
        read[instrument_id] = organisation_sums(session, records, instrument_id)
    return read[instrument_id]


# The scales the alert policy weighs: each instrument's overall alliance score.
POLICY_DIMENSION = "alliance"


def _within_spreads(
    session: Session, records: Records, keys: set[SeriesKey], sums: dict[str, Sums]
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
        successive = successive_from_sums(_sums(session, records, instrument_id, sums))
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
