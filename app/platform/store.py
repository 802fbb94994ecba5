# Over 600 lines: the one module of SQL (ARCHITECTURE.md), to split by part once issues 14-16 land.
"""Every SQL query of the service, as plain functions over a session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Select,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.platform.tables import (
    ACTIVE_ALERTS,
    Administration,
    AdministrationRevision,
    AlertRecord,
    ApiKey,
    AuditEvent,
    Episode,
    IdempotencyRecord,
    InstrumentDefinitionRecord,
    InstrumentStatistic,
    Organization,
    RuptureFlagRecord,
    UTCDateTime,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
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


def ensure_definition(session: Session, row: dict[str, object], known: set[str]) -> None:
    """Store a definition unless its hash is stored already: in `known` (hashes this process
    has seen stored; definitions are never deleted), else by a primary-key look-up."""
    definition_hash = str(row["definition_hash"])
    if definition_hash in known:
        return
    if session.get(InstrumentDefinitionRecord, definition_hash) is None:
        insert_definitions(session, [row])
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
    transactions already take the database's write lock when they begin.)"""
    statement = select(Episode).where(
        Episode.organization_id == organization_id, Episode.id == episode_id
    )
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement).one_or_none()


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
    statement = (
        _with_latest_revision(organization_id, Administration.episode_id == episode_id)
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
    return [EpisodeResult(*row) for row in session.execute(statement)]


def _with_latest_revision(
    organization_id: UUID, condition: ColumnElement[bool]
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
    statement = (
        select(RuptureFlagRecord)
        .where(
            RuptureFlagRecord.organization_id == organization_id,
            RuptureFlagRecord.episode_id == episode_id,
        )
        .order_by(RuptureFlagRecord.session, RuptureFlagRecord.instrument_id)
    )
    return list(session.scalars(statement))


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


def statistic_rows(
    session: Session, organization_id: UUID, instrument_id: str
) -> list[InstrumentStatistic]:
    """The shards of an instrument's maintained sums."""
    return list(
        session.scalars(
            select(InstrumentStatistic).where(
                InstrumentStatistic.organization_id == organization_id,
                InstrumentStatistic.instrument_id == instrument_id,
            )
        )
    )


def locked_statistic(
    session: Session, organization_id: UUID, instrument_id: str, shard: int, definition_hash: str
) -> InstrumentStatistic | None:
    """One shard, row-locked, if it holds sums under `definition_hash` (else none is locked)."""
    return session.scalars(
        select(InstrumentStatistic)
        .where(
            InstrumentStatistic.organization_id == organization_id,
            InstrumentStatistic.instrument_id == instrument_id,
            InstrumentStatistic.shard == shard,
            InstrumentStatistic.definition_hash == definition_hash,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


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


# -- Alerts ----------------------------------------------------------------------------------


def episode_alerts(session: Session, organization_id: UUID, episode_id: UUID) -> list[AlertRecord]:
    """The episode's alerts, in the order they opened."""
    statement = (
        select(AlertRecord)
        .where(AlertRecord.organization_id == organization_id, AlertRecord.episode_id == episode_id)
        .order_by(AlertRecord.opened_session)
    )
    return list(session.scalars(statement))


def get_alert(
    session: Session, organization_id: UUID, alert_id: UUID, *, for_update: bool = False
) -> tuple[AlertRecord, Episode] | None:
    """The alert and its episode; `for_update` locks the alert's row."""
    statement = (
        select(AlertRecord, Episode)
        .join(Episode, Episode.id == AlertRecord.episode_id)
        .where(AlertRecord.organization_id == organization_id, AlertRecord.id == alert_id)
    )
    if for_update:
        statement = statement.with_for_update(of=AlertRecord)
    row = session.execute(statement).one_or_none()
    return None if row is None else (row[0], row[1])


def list_alerts(
    session: Session,
    organization_id: UUID,
    *,
    statuses: Sequence[str],
    priority_ranks: Sequence[int],
    acknowledged: bool | None,
    clinician_ref: str | None,
    setting: str | None,
    episode_id: UUID | None,
    since: datetime | None,
    after: tuple[int, datetime, UUID] | None,
    limit: int,
) -> list[tuple[AlertRecord, Episode]]:
    """The worklist: alerts by priority, then newest first, from just after the `after`
    (priority rank, opened_at, id) position."""
    statement = worklist_statement(
        organization_id, statuses=statuses, priority_ranks=priority_ranks,
        acknowledged=acknowledged, clinician_ref=clinician_ref, setting=setting,
        episode_id=episode_id, since=since, after=after, limit=limit,
    )  # fmt: skip
    return [(row[0], row[1]) for row in session.execute(statement)]


def worklist_statement(
    organization_id: UUID,
    *,
    statuses: Sequence[str],
    priority_ranks: Sequence[int],
    acknowledged: bool | None,
    clinician_ref: str | None,
    setting: str | None,
    episode_id: UUID | None,
    since: datetime | None,
    after: tuple[int, datetime, UUID] | None,
    limit: int,
) -> Select[AlertRecord, Episode]:
    """The worklist's query. The default (active alerts that notify) reads the partial index
    `ix_alert_active` backwards; other filters `ix_alert_worklist`."""
    statement = (
        select(AlertRecord, Episode)
        .join(Episode, Episode.id == AlertRecord.episode_id)
        .where(AlertRecord.organization_id == organization_id)
    )
    if set(statuses) == {"open", "unrepaired"} and set(priority_ranks) <= {1, 2}:
        # The partial index's own condition, word for word, so that the planner may use it.
        statement = statement.where(text(f"alert.{ACTIVE_ALERTS.replace(' AND ', ' AND alert.')}"))
    statement = statement.where(
        AlertRecord.status.in_(statuses), AlertRecord.priority_rank.in_(priority_ranks)
    )
    if acknowledged is not None:
        statement = statement.where(
            AlertRecord.acknowledged_at.is_not(None)
            if acknowledged
            else AlertRecord.acknowledged_at.is_(None)
        )
    if clinician_ref is not None:
        statement = statement.where(AlertRecord.clinician_ref == clinician_ref)
    if setting is not None:
        statement = statement.where(AlertRecord.setting == setting)
    if episode_id is not None:
        statement = statement.where(AlertRecord.episode_id == episode_id)
    if since is not None:
        statement = statement.where(AlertRecord.opened_at >= since)
    if after is not None:
        rank, opened_at, alert_id = after
        statement = statement.where(
            tuple_(AlertRecord.priority_rank, AlertRecord.opened_at, AlertRecord.id)
            < tuple_(literal(rank), literal(opened_at, UTCDateTime), literal(alert_id))
        )
    return statement.order_by(
        AlertRecord.priority_rank.desc(), AlertRecord.opened_at.desc(), AlertRecord.id.desc()
    ).limit(limit)


def latest_session(session: Session, organization_id: UUID, episode_id: UUID) -> int | None:
    """The highest session recorded in the episode (withdrawn ones included)."""
    statement = select(func.max(Administration.session)).where(
        Administration.organization_id == organization_id, Administration.episode_id == episode_id
    )
    return session.scalar(statement)


def set_alert_profile(session: Session, organization_id: UUID, profile: str) -> None:
    session.execute(
        update(Organization).where(Organization.id == organization_id).values(alert_profile=profile)
    )


def count_keys(session: Session, organization_id: UUID) -> int:
    statement = (
        select(func.count()).select_from(ApiKey).where(ApiKey.organization_id == organization_id)
    )
    return session.scalar(statement) or 0


def key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()


def get_key(session: Session, organization_id: UUID, key_id: UUID) -> ApiKey | None:
    statement = select(ApiKey).where(ApiKey.organization_id == organization_id, ApiKey.id == key_id)
    return session.scalars(statement).one_or_none()


def list_keys(session: Session, organization_id: UUID) -> list[ApiKey]:
    statement = (
        select(ApiKey)
        .where(ApiKey.organization_id == organization_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(session.scalars(statement))


def list_audit_events(
    session: Session,
    organization_id: UUID,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
    if after is not None:
        at, event_id = after
        statement = statement.where(
            tuple_(AuditEvent.at, AuditEvent.id) > tuple_(literal(at, UTCDateTime), event_id)
        )
    statement = statement.order_by(AuditEvent.at, AuditEvent.id).limit(limit)
    return list(session.scalars(statement))


def delete_episode(session: Session, organization_id: UUID, episode_id: UUID) -> int:
    """Erase an episode; its administrations, revisions, flags and idempotency records go
    with it (ON DELETE CASCADE). Returns the number of episodes deleted (0 or 1)."""
    result = session.execute(
        delete(Episode).where(Episode.organization_id == organization_id, Episode.id == episode_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def get_organization(session: Session, organization_id: UUID) -> Organization | None:
    return session.get(Organization, organization_id)


def list_organizations(session: Session) -> list[tuple[Organization, int]]:
    """Every organisation, oldest first, with its number of usable keys (not revoked)."""
    usable = (
        select(ApiKey.organization_id, func.count().label("usable_keys"))
        .where(ApiKey.revoked_at.is_(None))
        .group_by(ApiKey.organization_id)
        .subquery()
    )
    statement = (
        select(Organization, func.coalesce(usable.c.usable_keys, 0))
        .outerjoin(usable, usable.c.organization_id == Organization.id)
        .order_by(Organization.created_at, Organization.id)
    )
    return [(organization, int(keys)) for organization, keys in session.execute(statement)]


def list_webhooks(session: Session, organization_id: UUID) -> list[WebhookEndpoint]:
    statement = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(session.scalars(statement))


def get_webhook(
    session: Session, organization_id: UUID, webhook_id: UUID
) -> WebhookEndpoint | None:
    statement = select(WebhookEndpoint).where(
        WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.id == webhook_id
    )
    return session.scalars(statement).one_or_none()


def enabled_webhooks(session: Session, organization_id: UUID) -> list[WebhookEndpoint]:
    statement = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.enabled)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(session.scalars(statement))


def cancel_pending_events(session: Session, endpoint_id: UUID) -> None:
    """The endpoint's undelivered events will not be delivered (it was disabled)."""
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.endpoint_id == endpoint_id, WebhookEvent.status == "pending")
        .values(status="cancelled", locked_until=None, lease_token=None)
    )


def outbox_figures(session: Session) -> tuple[int, int, datetime | None]:
    """Webhook events pending and failed, and when the pending one due soonest was due."""
    by_status = select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
    counts = dict(
        session.execute(by_status.where(WebhookEvent.status.in_(("pending", "failed")))).all()
    )
    due = select(func.min(WebhookEvent.next_attempt_at)).where(WebhookEvent.status == "pending")
    return counts.get("pending", 0), counts.get("failed", 0), session.scalar(due)


def claim_webhook_event(
    session: Session, now: datetime, locked_until: datetime, lease_token: UUID
) -> WebhookEvent | None:
    """Take the lease of the event that is due soonest, or None if none is due.

    `FOR UPDATE SKIP LOCKED` (PostgreSQL) lets several dispatchers claim at once, each
    passing over the rows another is claiming instead of waiting for them; the lease then
    keeps the row from them once this transaction commits. (SQLite has no row locks: its
    transactions take the database's write lock when they begin, so claims run one by one.)
    """
    statement = (
        select(WebhookEvent)
        .where(
            WebhookEvent.status == "pending",
            WebhookEvent.next_attempt_at <= literal(now, UTCDateTime),
            or_(
                WebhookEvent.locked_until.is_(None),
                WebhookEvent.locked_until <= literal(now, UTCDateTime),
            ),
        )
        .order_by(WebhookEvent.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    event = session.scalars(statement).one_or_none()
    if event is not None:
        event.locked_until = locked_until
        event.lease_token = lease_token
    return event


def get_webhook_by_id(session: Session, webhook_id: UUID) -> WebhookEndpoint | None:
    """Any organisation's endpoint: for the dispatcher, which serves them all."""
    return session.get(WebhookEndpoint, webhook_id)


def settle_webhook_event(
    session: Session, event_id: UUID, lease_token: UUID, values: dict[str, Any]
) -> bool:
    """Write the outcome of a delivery if this dispatcher still holds the event's lease (its
    lease may have expired and another taken it). Returns whether it did."""
    result = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.lease_token == lease_token)
        .values(**values, locked_until=None, lease_token=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def webhook_event_exists(session: Session, event_id: UUID) -> bool:
    statement = select(WebhookEvent.id).where(WebhookEvent.id == event_id)
    return session.scalar(statement) is not None


def list_webhook_deliveries(
    session: Session,
    organization_id: UUID,
    endpoint_id: UUID,
    *,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[tuple[WebhookDelivery, WebhookEvent]]:
    """An endpoint's delivery attempts, newest first, each with its event, from just before
    the `before` (attempted_at, id) position."""
    statement = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.organization_id == organization_id,
            WebhookDelivery.endpoint_id == endpoint_id,
        )
    )
    if before is not None:
        at, delivery_id = before
        statement = statement.where(
            tuple_(WebhookDelivery.attempted_at, WebhookDelivery.id)
            < tuple_(literal(at, UTCDateTime), delivery_id)
        )
    statement = statement.order_by(
        WebhookDelivery.attempted_at.desc(), WebhookDelivery.id.desc()
    ).limit(limit)
    return [(row[0], row[1]) for row in session.execute(statement)]
