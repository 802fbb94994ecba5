"""The audit trail: every access to patient data leaves an event, never the data itself.

Events are appended by the request layer once an operation on patient data has an outcome
(success, denied, not found, ...), before the response is sent, and an admin pages through
them. They are never updated or deleted, not even when an episode is erased.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.platform import store_access
from app.platform.cursors import decode_time_cursor, encode_time_cursor
from app.platform.db import Database
from app.platform.plain import plain_json
from app.platform.tables import AuditEvent


@dataclass(frozen=True)
class Caller:
    """Who is making the request, as written into its audit events: its API key, or the
    issuer and subject of its JWT (which name the calling system, never a patient)."""

    key_id: uuid.UUID | None
    request_id: str
    jwt_issuer: str | None = None
    jwt_subject: str | None = None


@dataclass(frozen=True)
class Access:
    """One access to patient data, as the request layer saw it."""

    organization_id: uuid.UUID
    caller: Caller
    action: str
    resource_type: str
    resource_id: str | None
    status: int
    at: datetime


def outcome(status: int) -> str:
    if status < 400:
        return "success"
    return {401: "denied", 403: "denied", 404: "not_found", 409: "conflict"}.get(
        status, "invalid" if status < 500 else "error"
    )


def add_event(
    session: Session,
    organization_id: uuid.UUID,
    caller: Caller,
    action: str,
    resource_type: str,
    resource_id: str | None,
    status: int,
    at: datetime,
) -> None:
    """Add an event to a use case's own transaction (writes audit themselves)."""
    session.add(
        AuditEvent(
            id=uuid.uuid4(),
            organization_id=organization_id,
            key_id=caller.key_id,
            jwt_issuer=caller.jwt_issuer,
            jwt_subject=caller.jwt_subject,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            request_id=caller.request_id,
            outcome=outcome(status),
            status=status,
            at=at,
        )
    )


def record_access(database: Database, access: Access) -> None:
    """Append the event of a read, or of a refused or failed call, in a transaction of its own."""
    with database.session() as session:
        add_event(
            session,
            access.organization_id,
            access.caller,
            access.action,
            access.resource_type,
            access.resource_id,
            access.status,
            access.at,
        )
        session.commit()


def list_events(
    database: Database, organization_id: uuid.UUID, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    after = decode_time_cursor(cursor) if cursor is not None else None
    with database.session() as session:
        events = store_access.list_audit_events(
            session, organization_id, after=after, limit=limit + 1
        )
    page = events[:limit]
    next_cursor = None
    if len(events) > limit:
        last = page[-1]
        next_cursor = encode_time_cursor(last.at, last.id)
    items = [
        {
            "id": event.id,
            "at": event.at,
            "key_id": event.key_id,
            "jwt_issuer": event.jwt_issuer,
            "jwt_subject": event.jwt_subject,
            "action": event.action,
            "resource_type": event.resource_type,
            "resource_id": event.resource_id,
            "request_id": event.request_id,
            "outcome": event.outcome,
            "status": event.status,
        }
        for event in page
    ]
    return plain_json({"items": items, "next_cursor": next_cursor})
