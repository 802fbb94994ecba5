"""The SQL of access: organisations, API keys and the audit trail."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    bindparam,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from app.platform.tables import (
    ApiKey,
    AuditEvent,
    Organization,
    UTCDateTime,
)


def count_keys(session: Session, organization_id: UUID) -> int:
    statement = (
        select(func.count()).select_from(ApiKey).where(ApiKey.organization_id == organization_id)
    )
    return session.scalar(statement) or 0


def key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalars(_KEY_BY_PREFIX, {"prefix": prefix}).one_or_none()


_KEY_BY_PREFIX = select(ApiKey).where(ApiKey.prefix == bindparam("prefix"))


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
