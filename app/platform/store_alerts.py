"""The SQL of alerts: an episode's, the worklist, and the organisation's alert profile."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    Select,
    bindparam,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from app.platform.tables import (
    ACTIVE_ALERTS,
    AlertRecord,
    Episode,
    Organization,
    UTCDateTime,
)


def episode_alerts(session: Session, organization_id: UUID, episode_id: UUID) -> list[AlertRecord]:
    """The episode's alerts, in the order they opened."""
    parameters = {"organization_id": organization_id, "episode_id": episode_id}
    return list(session.scalars(_EPISODE_ALERTS, parameters))


_EPISODE_ALERTS = (
    select(AlertRecord)
    .where(
        AlertRecord.organization_id == bindparam("organization_id"),
        AlertRecord.episode_id == bindparam("episode_id"),
    )
    .order_by(AlertRecord.opened_session)
)


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


def set_alert_profile(session: Session, organization_id: UUID, profile: str) -> None:
    session.execute(
        update(Organization).where(Organization.id == organization_id).values(alert_profile=profile)
    )
