"""The SQL of webhooks: endpoints, the outbox of events and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from app.platform.tables import (
    UTCDateTime,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


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
