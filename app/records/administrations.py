"""Use cases of administrations: record, correct, withdraw and list them, each evaluating the
episode's series again.

Each use case opens one session and commits once, at its end, so that a failed commit can
never follow a 201. Uniqueness (one administration per episode, instrument, rater and
session; one record per idempotency key) is left to the database's constraints, so that
several processes on one PostgreSQL stay correct.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.alerts.alerts import alert_view
from app.catalogue.definitions import definition_row
from app.instruments.definition import InstrumentDefinition, Respondent
from app.platform import store
from app.platform.cursors import decode_cursor, encode_cursor
from app.platform.errors import (
    AdministrationNotFoundError,
    AlreadyWithdrawnError,
    IdempotencyKeyReusedError,
    RaterMismatchError,
    SessionAlreadyRecordedError,
)
from app.platform.plain import plain_json
from app.platform.tables import Administration, AdministrationRevision, Episode, IdempotencyRecord
from app.records.context import Json, Records, audit_write, existing_episode
from app.records.evaluation import reevaluate
from app.records.statistics import Change
from app.records.views import administration_view


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
            episode = existing_episode(session, records, episode_id, for_update=True)
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
            store.ensure_definition(
                session, loaded.definition_hash, partial(definition_row, loaded, now),
                records.stored_definitions,
            )  # fmt: skip
            session.add(administration)
            session.flush()  # the session's uniqueness is the database's to enforce
            revision = _revision(
                records, administration, 1, "recorded", None, loaded.version,
                loaded.definition_hash, new.administered_at, new.responses, result, now,
            )  # fmt: skip
            session.add(revision)
            change = Change(loaded.id, new.rater, new.session, None, revision)
            changed = reevaluate(session, records, episode, now, change)
            raised = [f for f in changed.flags if f["administration_id"] == str(administration.id)]
            body = plain_json(
                {
                    **administration_view(administration, [revision]),
                    "ruptures": raised,
                    "alerts": [alert_view(row, changed.episode) for row in changed.alerts],
                }
            )
            if idempotency_key is not None:
                _forget_expired_keys(session, records, now)
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
            audit_write(session, records, "recordAdministration", "episode", episode.id, 201)
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
        episode, administration, history = _administration(
            session, records, episode_id, administration_id
        )
        current = history[-1]
        loaded = records.registry.get(
            administration.instrument_id,
            version or _loaded_version(records, administration, current),
        )
        result = loaded.scorer.score(responses)
        now = records.now()
        known = records.stored_definitions
        row = partial(definition_row, loaded, now)
        store.ensure_definition(session, loaded.definition_hash, row, known)
        revision = _revision(
            records, administration, current.revision + 1, "corrected", reason, loaded.version,
            loaded.definition_hash, administered_at or current.administered_at, responses,
            result, now,
        )  # fmt: skip
        session.add(revision)
        change = _change(administration, current, revision)
        changed = reevaluate(session, records, episode, now, change)
        body = plain_json(
            {
                **administration_view(administration, [*history, revision]),
                "ruptures": [
                    f for f in changed.flags if f["administration_id"] == str(administration.id)
                ],
                "alerts": [alert_view(row, changed.episode) for row in changed.alerts],
            }
        )
        audit_write(
            session, records, "correctAdministration", "administration", administration.id, 200
        )
        session.commit()
        return body


def withdraw_administration(
    records: Records, episode_id: uuid.UUID, administration_id: uuid.UUID, *, reason: str
) -> Json:
    """Withdraw an administration (kept in the history) and re-evaluate the episode."""
    with records.database.session() as session:
        episode, administration, history = _administration(
            session, records, episode_id, administration_id
        )
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
        change = _change(administration, current, revision)
        changed = reevaluate(session, records, episode, now, change)
        body = plain_json(
            {
                **administration_view(administration, [*history, revision]),
                "ruptures": [],
                "alerts": [alert_view(row, changed.episode) for row in changed.alerts],
            }
        )
        audit_write(
            session, records, "withdrawAdministration", "administration", administration.id, 200
        )
        session.commit()
        return body


def list_administrations(
    records: Records, episode_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Json:
    """The episode's administrations in their current state, by session."""
    with records.database.session() as session:
        existing_episode(session, records, episode_id)
        rows = store.current_administrations(session, records.organization_id, episode_id)
        ordered = sorted(rows, key=lambda row: _administration_key(row[0]))
        if cursor is not None:
            after = tuple(decode_cursor(cursor, (int, str, str)))
            ordered = [row for row in ordered if _administration_key(row[0]) > after]
        page = ordered[:limit]
        items = [
            administration_view(administration, store.revisions(session, administration.id))
            for administration, _ in page
        ]
    next_cursor = None
    if len(ordered) > limit:
        next_cursor = encode_cursor(list(_administration_key(page[-1][0])))
    return plain_json({"items": items, "next_cursor": next_cursor})


def _administration(
    session: Session, records: Records, episode_id: uuid.UUID, administration_id: uuid.UUID
) -> tuple[Episode, Administration, list[AdministrationRevision]]:
    episode = existing_episode(session, records, episode_id, for_update=True)
    administration = store.get_administration(
        session, records.organization_id, episode_id, administration_id
    )
    if administration is None:
        raise AdministrationNotFoundError(f"no administration {administration_id} in this episode")
    return episode, administration, store.revisions(session, administration.id)


def _change(
    administration: Administration,
    before: AdministrationRevision,
    after: AdministrationRevision,
) -> Change:
    return Change(
        administration.instrument_id, administration.rater, administration.session, before, after
    )


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
    """The stored response to this key (its replay is audited), or None if the key is new
    or its lifetime is over (it is then forgotten, and used again by this request)."""
    stored = store.get_idempotency(session, records.organization_id, key)
    if stored is None:
        return None
    expired = records.now() - records.idempotency_lifetime
    if stored.created_at <= expired:
        store.delete_idempotency(session, records.organization_id, key=key, before=expired)
        session.expunge(stored)
        return None
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used with a different request; nothing was recorded"
        )
    audit_write(session, records, "recordAdministration", "episode", episode_id, stored.status_code)
    session.commit()
    return stored.status_code, stored.response


# How often each process forgets an organisation's expired idempotency records in bulk (a
# key past its lifetime is forgotten at once when it comes back; this bounds what the others
# keep of patients' answers).
_PURGE_EVERY = timedelta(hours=1)


def _forget_expired_keys(session: Session, records: Records, now: datetime) -> None:
    last = records.idempotency_purged.get(records.organization_id)
    if last is not None and now - last < _PURGE_EVERY:
        return
    records.idempotency_purged[records.organization_id] = now
    store.delete_idempotency(
        session, records.organization_id, before=now - records.idempotency_lifetime
    )


def _request_hash(episode_id: uuid.UUID, new: NewAdministration) -> str:
    fields = dict(new.__dict__)
    if fields["encounter_ref"] is None:
        del fields["encounter_ref"]  # so that keys stored before it existed still replay
    canonical = orjson.dumps({"episode": str(episode_id), **fields}, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _administration_key(administration: Administration) -> tuple[int, str, str]:
    return administration.session, administration.instrument_id, administration.rater
