"""Every SQL query of the records (definitions, episodes, administrations, flags and the
organisation's statistics), as plain functions over a session. The other parts' queries are
beside it: `store_alerts`, `store_access`, `store_webhooks`, `store_console`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    delete,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.platform.tables import (
    Administration,
    AdministrationRevision,
    Episode,
    IdempotencyRecord,
    InstrumentDefinitionRecord,
    InstrumentStatistic,
    Organization,
    RuptureFlagRecord,
    UTCDateTime,
)


def insert_definitions(session: Session, rows: Sequence[dict[str, object]]) -> None:
    """Insert definitions not stored yet; concurrent start-ups insert each hash once."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(InstrumentDefinitionRecord)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["definition_hash"])
    )
    session.execute(statement)


def ensure_definition(
    session: Session,
    definition_hash: str,
    row: Callable[[], dict[str, object]],
    known: set[str],
) -> None:
    """Store a definition unless its hash is stored already: in `known` (hashes this process
    has seen stored; definitions are never deleted), else by a primary-key look-up. The row
    is made (the whole definition dumped to JSON) only when it has to be looked up."""
    if definition_hash in known:
        return
    if session.get(InstrumentDefinitionRecord, definition_hash) is None:
        insert_definitions(session, [row()])
    else:
        known.add(definition_hash)


def stored_definitions(
    session: Session, instrument_id: str, version: str
) -> list[tuple[str, dict[str, Any]]]:
    """Every stored definition of an instrument version, as (hash, definition), oldest first."""
    statement = (
        select(InstrumentDefinitionRecord.definition_hash, InstrumentDefinitionRecord.definition)
        .where(
            InstrumentDefinitionRecord.instrument_id == instrument_id,
            InstrumentDefinitionRecord.version == version,
        )
        .order_by(InstrumentDefinitionRecord.registered_at)
    )
    return [(digest, definition) for digest, definition in session.execute(statement)]


def stored_hashes(session: Session, instrument_id: str, version: str) -> list[str]:
    statement = (
        select(InstrumentDefinitionRecord.definition_hash)
        .where(
            InstrumentDefinitionRecord.instrument_id == instrument_id,
            InstrumentDefinitionRecord.version == version,
        )
        .order_by(InstrumentDefinitionRecord.registered_at)
    )
    return list(session.scalars(statement))


def get_episode(
    session: Session, organization_id: UUID, episode_id: UUID, *, for_update: bool = False
) -> Episode | None:
    """The episode; `for_update` locks its row until the transaction ends (PostgreSQL), so
    that two writes to one episode evaluate its series one after the other. (SQLite
    transactions already take the database's write lock when they begin.) A write reads its
    organisation with it (not locked), so that `get_organization` then finds it in the
    session: one round trip for both."""
    if not for_update:
        statement = select(Episode).where(
            Episode.organization_id == organization_id, Episode.id == episode_id
        )
        return session.scalars(statement).one_or_none()
    row = session.execute(
        _EPISODE_FOR_UPDATE, {"organization_id": organization_id, "episode_id": episode_id}
    ).one_or_none()
    if row is None:
        return None
    session.info["organization"] = row[1]  # held: the identity map keeps objects weakly
    return row[0]


# The statements of a write's every round trip, built once: SQLAlchemy then neither builds them
# nor computes their cache keys again (bound parameters by name).
_EPISODE_FOR_UPDATE = (
    select(Episode, Organization)
    .join(Organization, Organization.id == Episode.organization_id)
    .where(
        Episode.organization_id == bindparam("organization_id"),
        Episode.id == bindparam("episode_id"),
    )
    .with_for_update(of=Episode)
)


def list_episodes(
    session: Session,
    organization_id: UUID,
    *,
    patient_ref: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Episode]:
    """Episodes in creation order, from just after the `after` (created_at, id) position."""
    statement = select(Episode).where(Episode.organization_id == organization_id)
    if patient_ref is not None:
        statement = statement.where(Episode.patient_ref == patient_ref)
    if after is not None:
        created_at, episode_id = after
        statement = statement.where(
            tuple_(Episode.created_at, Episode.id)
            > tuple_(literal(created_at, UTCDateTime), episode_id)
        )
    statement = statement.order_by(Episode.created_at, Episode.id).limit(limit)
    return list(session.scalars(statement))


def get_idempotency(session: Session, organization_id: UUID, key: str) -> IdempotencyRecord | None:
    return session.get(IdempotencyRecord, (organization_id, key))


def delete_idempotency(
    session: Session, organization_id: UUID, *, key: str | None = None, before: datetime
) -> None:
    """Forget the organisation's idempotency records stored before `before` (only `key`'s,
    if given): past their lifetime, their keys may be used again."""
    statement = delete(IdempotencyRecord).where(
        IdempotencyRecord.organization_id == organization_id,
        IdempotencyRecord.created_at < before,
    )
    if key is not None:
        statement = statement.where(IdempotencyRecord.key == key)
    session.execute(statement)


def get_administration(
    session: Session, organization_id: UUID, episode_id: UUID, administration_id: UUID
) -> Administration | None:
    statement = select(Administration).where(
        Administration.organization_id == organization_id,
        Administration.episode_id == episode_id,
        Administration.id == administration_id,
    )
    return session.scalars(statement).one_or_none()


def find_administration(
    session: Session,
    organization_id: UUID,
    episode_id: UUID,
    instrument_id: str,
    rater: str,
    number: int,
) -> Administration | None:
    statement = select(Administration).where(
        Administration.organization_id == organization_id,
        Administration.episode_id == episode_id,
        Administration.instrument_id == instrument_id,
        Administration.rater == rater,
        Administration.session == number,
    )
    return session.scalars(statement).one_or_none()


def revisions(session: Session, administration_id: UUID) -> list[AdministrationRevision]:
    statement = (
        select(AdministrationRevision)
        .where(AdministrationRevision.administration_id == administration_id)
        .order_by(AdministrationRevision.revision)
    )
    return list(session.scalars(statement))


def current_administrations(
    session: Session, organization_id: UUID, episode_id: UUID
) -> list[tuple[Administration, AdministrationRevision]]:
    """Each administration of the episode with its latest revision, in session order."""
    statement = _with_latest_revision(
        organization_id, Administration.episode_id == episode_id
    ).order_by(
        Administration.session,
        AdministrationRevision.administered_at,
        Administration.instrument_id,
        Administration.rater,
    )
    return [(row[0], row[1]) for row in session.execute(statement)]


class EpisodeResult(NamedTuple):
    """What evaluating an episode reads of each administration: no answers, no ORM object."""

    id: UUID
    instrument_id: str
    rater: str
    session: int
    status: str
    administered_at: datetime
    result: dict[str, Any]


def episode_results(
    session: Session, organization_id: UUID, episode_id: UUID
) -> list[EpisodeResult]:
    """Each administration of the episode as its latest revision scored it, in session order."""
    parameters = {"organization_id": organization_id, "episode_id": episode_id}
    return [EpisodeResult(*row) for row in session.execute(_EPISODE_RESULTS, parameters)]


def _with_latest_revision(
    organization_id: UUID | BindParameter[UUID], condition: ColumnElement[bool]
) -> Select[Administration, AdministrationRevision]:
    """The organisation's administrations meeting `condition`, each with its latest revision."""
    latest = (
        select(
            AdministrationRevision.administration_id,
            func.max(AdministrationRevision.revision).label("revision"),
        )
        .join(Administration, Administration.id == AdministrationRevision.administration_id)
        .where(Administration.organization_id == organization_id, condition)
        .group_by(AdministrationRevision.administration_id)
        .subquery()
    )
    return (
        select(Administration, AdministrationRevision)
        .join(AdministrationRevision, AdministrationRevision.administration_id == Administration.id)
        .join(
            latest,
            (latest.c.administration_id == AdministrationRevision.administration_id)
            & (latest.c.revision == AdministrationRevision.revision),
        )
        .where(Administration.organization_id == organization_id, condition)
    )


_EPISODE_RESULTS = (
    _with_latest_revision(
        bindparam("organization_id"), Administration.episode_id == bindparam("episode_id")
    )
    .with_only_columns(
        Administration.id,
        Administration.instrument_id,
        Administration.rater,
        Administration.session,
        AdministrationRevision.status,
        AdministrationRevision.administered_at,
        AdministrationRevision.result,
    )
    .order_by(
        Administration.session,
        AdministrationRevision.administered_at,
        Administration.instrument_id,
        Administration.rater,
    )
)


def delete_flags(session: Session, flag_ids: Sequence[UUID]) -> None:
    """Delete these flags (by id: the caller read them from its own organisation's episode);
    the session's copies are not looked for (the caller no longer uses them)."""
    if flag_ids:
        session.execute(
            delete(RuptureFlagRecord).where(RuptureFlagRecord.id.in_(flag_ids)),
            execution_options={"synchronize_session": False},
        )


def episode_flags(
    session: Session, organization_id: UUID, episode_id: UUID
) -> list[RuptureFlagRecord]:
    parameters = {"organization_id": organization_id, "episode_id": episode_id}
    return list(session.scalars(_EPISODE_FLAGS, parameters))


_EPISODE_FLAGS = (
    select(RuptureFlagRecord)
    .where(
        RuptureFlagRecord.organization_id == bindparam("organization_id"),
        RuptureFlagRecord.episode_id == bindparam("episode_id"),
    )
    .order_by(RuptureFlagRecord.session, RuptureFlagRecord.instrument_id)
)


def series_results(
    session: Session, organization_id: UUID, instrument_id: str
) -> list[tuple[UUID, str, int, dict[str, Any], dict[str, Any]]]:
    """(episode, rater, session, responses, result) of every administration of an instrument in
    the organisation that is not withdrawn, in series order (episode, rater, session): what
    its maintained statistics are seeded from."""
    statement = (
        _with_latest_revision(organization_id, Administration.instrument_id == instrument_id)
        .where(AdministrationRevision.status != "withdrawn")
        .with_only_columns(
            Administration.episode_id,
            Administration.rater,
            Administration.session,
            AdministrationRevision.responses,
            AdministrationRevision.result,
        )
        .order_by(Administration.episode_id, Administration.rater, Administration.session)
    )
    return [(row[0], row[1], row[2], row[3], row[4]) for row in session.execute(statement)]


def statistic_sums(
    session: Session, organization_id: UUID, instrument_id: str
) -> list[tuple[str, dict[str, Any]]]:
    """The shards of an instrument's maintained sums: (definition hash, sums) each."""
    parameters = {"organization_id": organization_id, "instrument_id": instrument_id}
    return [(row[0], row[1]) for row in session.execute(_STATISTIC_SUMS, parameters)]


_STATISTIC_SUMS = select(InstrumentStatistic.definition_hash, InstrumentStatistic.sums).where(
    InstrumentStatistic.organization_id == bindparam("organization_id"),
    InstrumentStatistic.instrument_id == bindparam("instrument_id"),
)


def locked_statistic(
    session: Session, organization_id: UUID, instrument_id: str, shard: int, definition_hash: str
) -> InstrumentStatistic | None:
    """One shard, row-locked, if it holds sums under `definition_hash` (else none is locked)."""
    parameters = {
        "organization_id": organization_id, "instrument_id": instrument_id, "shard": shard,
        "definition_hash": definition_hash,
    }  # fmt: skip
    return session.scalars(_LOCKED_STATISTIC, parameters).first()


_LOCKED_STATISTIC = (
    select(InstrumentStatistic)
    .where(
        InstrumentStatistic.organization_id == bindparam("organization_id"),
        InstrumentStatistic.instrument_id == bindparam("instrument_id"),
        InstrumentStatistic.shard == bindparam("shard"),
        InstrumentStatistic.definition_hash == bindparam("definition_hash"),
    )
    .with_for_update()
    .execution_options(populate_existing=True)
)


def instruments_in_use(session: Session) -> list[tuple[UUID, str]]:
    """Each (organisation, instrument) with at least one administration."""
    statement = select(Administration.organization_id, Administration.instrument_id).distinct()
    return [(row[0], row[1]) for row in session.execute(statement)]


def lock_statistics(
    session: Session, organization_id: UUID, instrument_id: str, shards: int, now: datetime
) -> list[InstrumentStatistic]:
    """Every shard of an instrument's sums, made if missing (unseeded: no definition hash) and
    row-locked in shard order, as they stand once any concurrent seeder has committed."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "organization_id": organization_id, "instrument_id": instrument_id,
        "definition_hash": "", "sums": {}, "updated_at": now,
    }  # fmt: skip
    session.execute(
        insert(InstrumentStatistic)
        .values([{**values, "shard": shard} for shard in range(shards)])
        .on_conflict_do_nothing(index_elements=["organization_id", "instrument_id", "shard"])
    )
    statement = (
        select(InstrumentStatistic)
        .where(
            InstrumentStatistic.organization_id == organization_id,
            InstrumentStatistic.instrument_id == instrument_id,
        )
        .order_by(InstrumentStatistic.shard)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(statement))


def latest_session(session: Session, organization_id: UUID, episode_id: UUID) -> int | None:
    """The highest session recorded in the episode (withdrawn ones included)."""
    statement = select(func.max(Administration.session)).where(
        Administration.organization_id == organization_id, Administration.episode_id == episode_id
    )
    return session.scalar(statement)


def delete_episode(session: Session, organization_id: UUID, episode_id: UUID) -> int:
    """Erase an episode; its administrations, revisions, flags and idempotency records go
    with it (ON DELETE CASCADE). Returns the number of episodes deleted (0 or 1)."""
    result = session.execute(
        delete(Episode).where(Episode.organization_id == organization_id, Episode.id == episode_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
