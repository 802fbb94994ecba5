"""Use cases of episodes of care: record, correct and withdraw administrations, and keep each
episode's rupture flags current.

Each use case opens one session and commits once, at its end, so that a failed commit can
never follow a 201. Uniqueness (one administration per episode, instrument, rater and
session; one record per idempotency key) is left to the database's constraints, so that
several processes on one PostgreSQL stay correct.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.access import audit
from app.alerts import webhooks
from app.core.alerts import flag_changes
from app.core.ruptures import (
    ScaleStatistics,
    SeriesPoint,
    detect_ruptures,
    organisation_statistics,
)
from app.core.statistics import scale_summaries
from app.guidance import Catalogue, flag_state
from app.instruments.definition import (
    InstrumentDefinition,
    RaterDiscrepancyRule,
    ReliableDropRule,
    Respondent,
    SuddenLossRule,
    VDropRule,
)
from app.instruments.registry import InstrumentRegistry
from app.platform import store
from app.platform.cursors import (
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
)
from app.platform.db import Database
from app.platform.errors import (
    AdministrationNotFoundError,
    AlreadyWithdrawnError,
    EpisodeAlreadyEndedError,
    EpisodeNotFoundError,
    IdempotencyKeyReusedError,
    InvalidResponsesError,
    RaterMismatchError,
    SessionAlreadyRecordedError,
    UnknownInstrumentError,
)
from app.platform.plain import plain_json
from app.platform.tables import (
    Administration,
    AdministrationRevision,
    Episode,
    IdempotencyRecord,
    RuptureFlagRecord,
)
from app.services import definition_row

Json = dict[str, Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Records:
    """What the use cases need: the database, the instruments, whose records, and a clock.

    The organisation's statistics of an instrument (a full pass over its administrations) are
    computed at most once per `statistics_max_age` in this process and reused in between:
    a between-client SD estimated from hundreds of administrations barely moves with one more.
    """

    database: Database
    registry: InstrumentRegistry
    organization_id: uuid.UUID
    now: Callable[[], datetime] = field(default=_utc_now)
    statistics_max_age: timedelta = timedelta(seconds=60)
    statistics_cache: dict[tuple[uuid.UUID, str], tuple[datetime, dict[str, ScaleStatistics]]] = (
        field(default_factory=dict, repr=False, compare=False)
    )

    # Who is calling, for the audit events that writes append in their own transaction.
    caller: audit.Caller | None = None
    # The repair guidance each flag is given (ids; the API renders them in a language).
    guidance: Catalogue | None = None

    def for_caller(self, organization_id: uuid.UUID, caller: audit.Caller) -> Records:
        """The records of the caller's organisation (the statistics cache is shared, keyed by
        organisation); writes audit themselves as `caller`."""
        return replace(self, organization_id=organization_id, caller=caller)


# -- Episodes --------------------------------------------------------------------------------


def create_episode(
    records: Records,
    *,
    patient_ref: str,
    clinician_ref: str,
    setting: str | None,
    started_on: date | None,
    label: str | None,
) -> Json:
    episode = Episode(
        id=uuid.uuid4(),
        organization_id=records.organization_id,
        patient_ref=patient_ref,
        clinician_ref=clinician_ref,
        setting=setting,
        started_on=started_on,
        label=label,
        created_at=records.now(),
    )
    with records.database.session() as session:
        session.add(episode)
        _audit(session, records, "createEpisode", "episode", episode.id, 201)
        session.commit()
    return _episode_view(episode)


def get_episode(records: Records, episode_id: uuid.UUID) -> Json:
    with records.database.session() as session:
        return _episode_view(_episode(session, records, episode_id))


def erase_episode(records: Records, episode_id: uuid.UUID) -> None:
    """Right to erasure: the episode and everything recorded in it, for good. The audit
    trail keeps that it happened (the event), never what was erased."""
    with records.database.session() as session:
        if store.delete_episode(session, records.organization_id, episode_id) == 0:
            raise EpisodeNotFoundError(f"no episode {episode_id}")
        _audit(session, records, "eraseEpisode", "episode", episode_id, 204)
        session.commit()


def close_episode(records: Records, episode_id: uuid.UUID, *, ended_on: date, reason: str) -> Json:
    """End the episode: no session comes after it, so rules that wait for later sessions
    settle (a repair still pending is unrepaired; a sudden loss is judged on the sessions
    there are). Ending it again the same way changes nothing; another way is a conflict.
    Administrations of earlier sessions may still arrive late and are evaluated as ended."""
    with records.database.session() as session:
        episode = _episode(session, records, episode_id, for_update=True)
        if episode.ended_on is not None:
            if (episode.ended_on, episode.end_reason) != (ended_on, reason):
                raise EpisodeAlreadyEndedError(
                    f"episode {episode_id} ended on {episode.ended_on} ({episode.end_reason})"
                )
            return _episode_view(episode)
        episode.ended_on, episode.end_reason = ended_on, reason
        _reevaluate(session, records, episode_id, records.now())
        _audit(session, records, "closeEpisode", "episode", episode_id, 200)
        session.commit()
        return _episode_view(episode)


def list_episodes(
    records: Records, *, patient_ref: str | None, limit: int, cursor: str | None
) -> Json:
    after = decode_time_cursor(cursor) if cursor is not None else None
    with records.database.session() as session:
        episodes = store.list_episodes(
            session, records.organization_id, patient_ref=patient_ref, after=after, limit=limit + 1
        )
    page = episodes[:limit]
    next_cursor = None
    if len(episodes) > limit:
        last = page[-1]
        next_cursor = encode_time_cursor(last.created_at, last.id)
    return {"items": [_episode_view(episode) for episode in page], "next_cursor": next_cursor}


# -- Administrations -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAdministration:
    instrument: str
    version: str | None
    rater: str
    session: int
    administered_at: datetime
    responses: Mapping[str, object]
    encounter_ref: str | None = None


def record_administration(
    records: Records,
    episode_id: uuid.UUID,
    new: NewAdministration,
    idempotency_key: str | None,
) -> tuple[int, Json]:
    """Store an administration, re-evaluate the episode, and return (201, the stored state
    with the flags it raised). The same Idempotency-Key with the same request replays the
    first response; with another request it is refused.

    The instrument, rater and answers are checked before anything else reads the request
    (its hash included): every answer is then a finite number on its item's scale."""
    loaded = records.registry.get(new.instrument, new.version)
    check_rater(loaded.definition, new.rater)
    result = loaded.scorer.score(new.responses)
    request_hash = _request_hash(episode_id, new)
    try:
        with records.database.session() as session:
            if idempotency_key is not None:
                replay = _replay(session, records, idempotency_key, request_hash, episode_id)
                if replay is not None:
                    return replay
            episode = _episode(session, records, episode_id, for_update=True)
            now = records.now()
            administration = Administration(
                id=uuid.uuid4(),
                organization_id=records.organization_id,
                episode_id=episode.id,
                instrument_id=loaded.id,
                rater=new.rater,
                session=new.session,
                encounter_ref=new.encounter_ref,
                created_at=now,
            )
            store.ensure_definition(session, definition_row(loaded, now))
            session.add(administration)
            session.flush()  # the session's uniqueness is the database's to enforce
            revision = _revision(
                records, administration, 1, "recorded", None, loaded.version,
                loaded.definition_hash, new.administered_at, new.responses, result, now,
            )  # fmt: skip
            session.add(revision)
            flags = _reevaluate(session, records, episode.id, now)
            raised = [f for f in flags if f["administration_id"] == str(administration.id)]
            body = plain_json(
                {**_administration_view(administration, [revision]), "ruptures": raised}
            )
            if idempotency_key is not None:
                session.add(
                    IdempotencyRecord(
                        organization_id=records.organization_id,
                        key=idempotency_key,
                        episode_id=episode.id,
                        request_hash=request_hash,
                        status_code=201,
                        response=body,
                        created_at=now,
                    )
                )
            _audit(session, records, "recordAdministration", "episode", episode.id, 201)
            session.commit()
            return 201, body
    except IntegrityError:
        # Another request got there first: the same key replays it; else the session is taken.
        with records.database.session() as session:
            if idempotency_key is not None:
                replay = _replay(session, records, idempotency_key, request_hash, episode_id)
                if replay is not None:
                    return replay
            taken = store.find_administration(
                session, records.organization_id, episode_id, new.instrument, new.rater,
                new.session,
            )  # fmt: skip
        if taken is None:
            raise  # not a conflict we know: a bug must look like a bug
        raise SessionAlreadyRecordedError(
            f"session {new.session} of {new.instrument} by the {new.rater} is already recorded"
            " in this episode"
        ) from None


def correct_administration(
    records: Records,
    episode_id: uuid.UUID,
    administration_id: uuid.UUID,
    *,
    responses: Mapping[str, object],
    reason: str,
    administered_at: datetime | None,
    version: str | None,
) -> Json:
    """Add a corrected revision (the earlier ones stay) and re-evaluate the episode."""
    with records.database.session() as session:
        administration, history = _administration(session, records, episode_id, administration_id)
        current = history[-1]
        loaded = records.registry.get(
            administration.instrument_id,
            version or _loaded_version(records, administration, current),
        )
        result = loaded.scorer.score(responses)
        now = records.now()
        store.ensure_definition(session, definition_row(loaded, now))
        revision = _revision(
            records, administration, current.revision + 1, "corrected", reason, loaded.version,
            loaded.definition_hash, administered_at or current.administered_at, responses,
            result, now,
        )  # fmt: skip
        session.add(revision)
        flags = _reevaluate(session, records, episode_id, now)
        body = plain_json(
            {
                **_administration_view(administration, [*history, revision]),
                "ruptures": [f for f in flags if f["administration_id"] == str(administration.id)],
            }
        )
        _audit(session, records, "correctAdministration", "administration", administration.id, 200)
        session.commit()
        return body


def withdraw_administration(
    records: Records, episode_id: uuid.UUID, administration_id: uuid.UUID, *, reason: str
) -> Json:
    """Withdraw an administration (kept in the history) and re-evaluate the episode."""
    with records.database.session() as session:
        administration, history = _administration(session, records, episode_id, administration_id)
        current = history[-1]
        if current.status == "withdrawn":
            raise AlreadyWithdrawnError(f"administration {administration_id} is already withdrawn")
        now = records.now()
        revision = _revision(
            records, administration, current.revision + 1, "withdrawn", reason,
            current.instrument_version, current.definition_hash, current.administered_at,
            current.responses, current.result, now,
        )  # fmt: skip
        session.add(revision)
        _reevaluate(session, records, episode_id, now)
        body = plain_json(
            {**_administration_view(administration, [*history, revision]), "ruptures": []}
        )
        _audit(session, records, "withdrawAdministration", "administration", administration.id, 200)
        session.commit()
        return body


def list_administrations(
    records: Records, episode_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Json:
    """The episode's administrations in their current state, by session."""
    with records.database.session() as session:
        _episode(session, records, episode_id)
        rows = store.current_administrations(session, records.organization_id, episode_id)
        ordered = sorted(rows, key=lambda row: _administration_key(row[0]))
        if cursor is not None:
            after = tuple(decode_cursor(cursor, (int, str, str)))
            ordered = [row for row in ordered if _administration_key(row[0]) > after]
        page = ordered[:limit]
        items = [
            _administration_view(administration, store.revisions(session, administration.id))
            for administration, _ in page
        ]
    next_cursor = None
    if len(ordered) > limit:
        next_cursor = encode_cursor(list(_administration_key(page[-1][0])))
    return plain_json({"items": items, "next_cursor": next_cursor})


# -- Reading the alliance over time ----------------------------------------------------------


def trajectory(records: Records, episode_id: uuid.UUID, *, instrument: str, rater: str) -> Json:
    """The series' scores by session, with its flags and the rules it could not evaluate."""
    records.registry.get(instrument)  # an unknown instrument is a 404, not an empty series
    with records.database.session() as session:
        _episode(session, records, episode_id)
        evaluation = _evaluate_episode(session, records, episode_id)
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
        _episode(session, records, episode_id)
        evaluation = _evaluate_episode(session, records, episode_id)
    return plain_json({"items": evaluation.flags, "not_evaluated": evaluation.not_evaluated})


def instrument_statistics(records: Records, instrument_id: str) -> Json:
    """The organisation's own count, mean, SD and Cronbach's alpha of each scale."""
    loaded = records.registry.get(instrument_id)
    with records.database.session() as session:
        summaries = _organisation_summaries(session, records, loaded.definition)
    return {"instrument": instrument_id, "scales": summaries}


# -- Evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EpisodeEvaluation:
    flags: list[Json]
    not_evaluated: list[Json]


def _evaluate_episode(
    session: Session, records: Records, episode_id: uuid.UUID
) -> _EpisodeEvaluation:
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
    return _EpisodeEvaluation(flags, not_evaluated)


def _reevaluate(
    session: Session, records: Records, episode_id: uuid.UUID, now: datetime
) -> list[Json]:
    """Evaluate the episode again and store its flags; returns them. Each flag raised,
    repaired, made unrepaired or withdrawn by this write is an alert, written to the webhook
    outbox in this same transaction (`app.alerts.webhooks`)."""
    session.flush()
    before = [row.flag for row in store.episode_flags(session, records.organization_id, episode_id)]
    evaluation = _evaluate_episode(session, records, episode_id)
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
        episode = _episode(session, records, episode_id)
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


# -- Helpers ---------------------------------------------------------------------------------


def _audit(
    session: Session,
    records: Records,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID,
    status: int,
) -> None:
    """Append the audit event of a write in the write's own transaction: both or neither."""
    if records.caller is not None:
        audit.add_event(
            session, records.organization_id, records.caller, action, resource_type,
            str(resource_id), status, records.now(),
        )  # fmt: skip


def _episode(
    session: Session, records: Records, episode_id: uuid.UUID, *, for_update: bool = False
) -> Episode:
    episode = store.get_episode(session, records.organization_id, episode_id, for_update=for_update)
    if episode is None:
        raise EpisodeNotFoundError(f"no episode {episode_id}")
    return episode


def _administration(
    session: Session, records: Records, episode_id: uuid.UUID, administration_id: uuid.UUID
) -> tuple[Administration, list[AdministrationRevision]]:
    _episode(session, records, episode_id, for_update=True)
    administration = store.get_administration(
        session, records.organization_id, episode_id, administration_id
    )
    if administration is None:
        raise AdministrationNotFoundError(f"no administration {administration_id} in this episode")
    return administration, store.revisions(session, administration.id)


def _revision(
    records: Records,
    administration: Administration,
    number: int,
    status: str,
    reason: str | None,
    version: str,
    definition_hash: str,
    administered_at: datetime,
    responses: Mapping[str, object],
    result: Mapping[str, Any],
    now: datetime,
) -> AdministrationRevision:
    return AdministrationRevision(
        id=uuid.uuid4(),
        organization_id=records.organization_id,
        administration_id=administration.id,
        revision=number,
        status=status,
        reason=reason,
        instrument_version=version,
        definition_hash=definition_hash,
        administered_at=administered_at,
        responses=plain_json(dict(responses)),
        result=plain_json(dict(result)),
        created_at=now,
    )


# Who may fill in an instrument, by its declared respondent.
RATERS = {
    Respondent.client: {"client"},
    Respondent.therapist: {"therapist"},
    Respondent.clinician: {"therapist", "observer"},
    Respondent.observer: {"observer"},
}


def check_rater(definition: InstrumentDefinition, rater: str) -> None:
    allowed = RATERS[definition.respondent]
    if rater not in allowed:
        raise RaterMismatchError(
            f"{definition.id} is filled in by the {definition.respondent.value};"
            f" rater {rater!r} cannot record it",
            [
                {
                    "loc": ["rater"],
                    "code": "rater_mismatch",
                    "message": f"expected {' or '.join(sorted(allowed))}",
                }
            ],
        )


def _loaded_version(
    records: Records, administration: Administration, revision: AdministrationRevision
) -> str | None:
    """The version that scored the revision if it is still loaded, else None (the latest)."""
    loaded = records.registry.versions(administration.instrument_id)
    return revision.instrument_version if revision.instrument_version in loaded else None


def _replay(
    session: Session, records: Records, key: str, request_hash: str, episode_id: uuid.UUID
) -> tuple[int, Json] | None:
    """The stored response to this key (its replay is audited), or None if the key is new."""
    stored = store.get_idempotency(session, records.organization_id, key)
    if stored is None:
        return None
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used with a different request; nothing was recorded"
        )
    _audit(session, records, "recordAdministration", "episode", episode_id, stored.status_code)
    session.commit()
    return stored.status_code, stored.response


def _request_hash(episode_id: uuid.UUID, new: NewAdministration) -> str:
    fields = dict(new.__dict__)
    if fields["encounter_ref"] is None:
        del fields["encounter_ref"]  # so that keys stored before it existed still replay
    canonical = orjson.dumps({"episode": str(episode_id), **fields}, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _episode_view(episode: Episode) -> Json:
    return plain_json(
        {
            "id": episode.id,
            "patient_ref": episode.patient_ref,
            "clinician_ref": episode.clinician_ref,
            "setting": episode.setting,
            "started_on": episode.started_on,
            "label": episode.label,
            "created_at": episode.created_at,
            "ended_on": episode.ended_on,
            "end_reason": episode.end_reason,
        }
    )


def _administration_view(
    administration: Administration, history: list[AdministrationRevision]
) -> Json:
    current = history[-1]
    return {
        "id": administration.id,
        "episode_id": administration.episode_id,
        "instrument": administration.instrument_id,
        "version": current.instrument_version,
        "definition_hash": current.definition_hash,
        "rater": administration.rater,
        "session": administration.session,
        "encounter_ref": administration.encounter_ref,
        "administered_at": current.administered_at,
        "status": current.status,
        "revision": current.revision,
        "responses": current.responses,
        "result": current.result,
        "history": [
            {
                "revision": earlier.revision,
                "status": earlier.status,
                "reason": earlier.reason,
                "version": earlier.instrument_version,
                "administered_at": earlier.administered_at,
                "created_at": earlier.created_at,
            }
            for earlier in history[:-1]
        ],
        "created_at": administration.created_at,
    }


def _administration_key(administration: Administration) -> tuple[int, str, str]:
    return administration.session, administration.instrument_id, administration.rater
