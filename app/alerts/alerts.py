"""Alerts a clinician acts on: each episode's alerts stored as its evidence derives them
(`app.core.alert_grouping`), keeping what clinicians did with them; the worklist;
acknowledging and closing an alert.

An alert is identified by its episode and the session that opened it: deriving the episode
again after a write finds the same alert, with its acknowledgement and closure, or finds it
gone (its evidence was corrected away or withdrawn: status `withdrawn`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.alerts import webhooks
from app.catalogue.guidance import Guidance
from app.core.alert_grouping import PRIORITY_RANK, Alert, alert_events
from app.core.alert_policy import DEFAULT_PROFILE
from app.platform import store, store_access, store_alerts
from app.platform.cursors import decode_cursor, encode_cursor
from app.platform.errors import AlertNotFoundError, InvalidCursorError
from app.platform.plain import plain_json
from app.platform.tables import AlertRecord, Episode
from app.records.context import Records, audit_write, existing_episode

Json = dict[str, Any]
ACTIVE = ("open", "unrepaired")
STATUSES = ("open", "repaired", "unrepaired", "withdrawn", "closed")
NOTIFYING_RANKS = (1, 2)


# -- Deriving and storing ----------------------------------------------------------------------


def save_episode_alerts(
    session: Session,
    records: Records,
    episode: Episode,
    derived: Sequence[Alert],
    times: Mapping[int, datetime],
    now: datetime,
    existing: Sequence[AlertRecord],
) -> list[AlertRecord]:
    """Store the episode's alerts as `derived` now (same opening session, same alert), mark
    those no longer derived `withdrawn`, and write the webhook events the change calls for
    (at most one per alert). `existing` are the episode's stored alerts (the caller read
    them). Returns the alerts this write opened or changed."""
    rows = {row.opened_session: row for row in existing}
    stored = dict(rows)
    before = {key: _derived_state(row) for key, row in stored.items() if row.status != "withdrawn"}
    after: dict[int, Json] = {}
    changed: list[AlertRecord] = []
    for alert in derived:
        key = alert["opened_session"]
        row = stored.pop(key, None)
        content = _content(alert)
        fields = {
            "opened_at": times.get(key, now),
            "last_session": alert["last_session"],
            "status": alert["status"],
            "late": alert["late"],
            "priority": alert["priority"],
            "priority_rank": PRIORITY_RANK[alert["priority"]],
            "clinician_ref": episode.clinician_ref,
            "setting": episode.setting,
            "content": content,
            "back_session": alert["back_session"],
            "back_at": times.get(alert["back_session"]) if alert["back_session"] else None,
        }
        if row is None:
            row = AlertRecord(
                id=uuid.uuid4(),
                organization_id=records.organization_id,
                episode_id=episode.id,
                opened_session=key,
                created_at=now,
                updated_at=now,
                **fields,
            )
            session.add(row)
            rows[key] = row
            changed.append(row)
        elif any(getattr(row, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
            changed.append(row)
        after[key] = _derived_state(row)
    for row in stored.values():
        if row.status != "withdrawn":
            row.status = "withdrawn"
            row.updated_at = now
            changed.append(row)
    for key, event in alert_events(before, after).items():
        view = rendered(alert_view(rows[key], episode), records.guidance, "en")
        webhooks.enqueue_alert_event(
            session, episode, event, view, now, records.registry, records.english()
        )
    return changed


def closures(rows: Sequence[AlertRecord]) -> dict[int, int]:
    """The clinicians' closures, as the derivation takes them: opening session -> the last
    session the alert took evidence from."""
    return {
        row.opened_session: row.closed_after_session
        for row in rows
        if row.closed_after_session is not None
    }


def _content(alert: Alert) -> Json:
    return plain_json(
        {
            "dimensions": alert["dimensions"],
            "kinds": alert["kinds"],
            "evidence": alert["evidence"],
            "changes": alert["changes"],
            "guidance": alert["guidance"],
        }
    )


def _derived_state(row: AlertRecord) -> Json:
    """What `alert_events` compares: priority, status and evidence."""
    return {
        "priority": row.priority,
        "status": row.status,
        "evidence": row.content.get("evidence", []),
        "changes": row.content.get("changes", []),
    }


# -- Reading -----------------------------------------------------------------------------------


def list_alerts(
    records: Records,
    *,
    statuses: Sequence[str] | None,
    priorities: Sequence[str] | None,
    acknowledged: bool | None,
    clinician_ref: str | None,
    setting: str | None,
    episode_id: uuid.UUID | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[AlertRecord, Episode]], str | None]:
    """The worklist page: by default the active alerts (open, unrepaired) that notify
    (moderate, high), by priority then newest first."""
    after = _decode(cursor) if cursor is not None else None
    ranks = [PRIORITY_RANK[p] for p in (priorities or ("high", "moderate"))]
    with records.database.session() as session:
        rows = store_alerts.list_alerts(
            session,
            records.organization_id,
            statuses=list(statuses or ACTIVE),
            priority_ranks=ranks,
            acknowledged=acknowledged,
            clinician_ref=clinician_ref,
            setting=setting,
            episode_id=episode_id,
            since=since,
            after=after,
            limit=limit + 1,
        )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = encode_cursor([last.priority_rank, last.opened_at.isoformat(), str(last.id)])
    return page, next_cursor


def _decode(cursor: str) -> tuple[int, datetime, uuid.UUID]:
    rank, at, alert_id = decode_cursor(cursor, (int, str, str))
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or rank not in (0, 1, 2):
            raise ValueError("not a position of this list")
        return rank, when, uuid.UUID(alert_id)
    except (ValueError, OverflowError):
        raise InvalidCursorError(f"cursor {cursor!r} was not returned by this list") from None


def get_alert(records: Records, alert_id: uuid.UUID) -> tuple[AlertRecord, Episode]:
    with records.database.session() as session:
        found = store_alerts.get_alert(session, records.organization_id, alert_id)
    if found is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return found


def episode_alerts(records: Records, episode_id: uuid.UUID) -> tuple[list[AlertRecord], Episode]:
    """Every alert of the episode, whatever its status or priority, in the order they opened."""
    with records.database.session() as session:
        episode = existing_episode(session, records, episode_id)
        return store_alerts.episode_alerts(session, records.organization_id, episode_id), episode


# -- Acting ------------------------------------------------------------------------------------


def acknowledge(
    records: Records, alert_id: uuid.UUID, *, note: str | None
) -> tuple[AlertRecord, Episode]:
    """Record that a clinician has seen the alert: who and when. The same call again changes
    nothing (the first acknowledgement stays). Audited either way."""
    with records.database.session() as session:
        row, episode = _locked(session, records, alert_id)
        if row.acknowledged_at is None:
            now = records.now()
            row.acknowledged_at = now
            row.acknowledged_by = _who(session, records)
            row.acknowledgement_note = note
            row.updated_at = now
            if row.priority_rank in NOTIFYING_RANKS:
                webhooks.enqueue_alert_event(
                    session, episode, "alert.acknowledged",
                    rendered(alert_view(row, episode), records.guidance, "en"), now,
                    records.registry, records.english(),
                )  # fmt: skip
        audit_write(session, records, "acknowledgeAlert", "alert", row.id, 200)
        session.commit()
        return row, episode


def close(
    records: Records, alert_id: uuid.UUID, *, reason: str, note: str | None
) -> tuple[AlertRecord, Episode]:
    """Close the alert with a reason: it takes no evidence of later sessions (new evidence
    opens a new alert). Closing a closed alert again changes nothing. Audited either way."""
    with records.database.session() as session:
        row, episode = _locked(session, records, alert_id)
        if row.status != "closed" and row.status != "withdrawn":
            now = records.now()
            latest = store.latest_session(session, records.organization_id, episode.id)
            row.closed_after_session = max(row.last_session, latest or row.last_session)
            row.closed_at = now
            row.closed_by = _who(session, records)
            row.closure_reason = reason
            row.closure_note = note
            row.status = "closed"
            row.updated_at = now
            if row.priority_rank in NOTIFYING_RANKS:
                webhooks.enqueue_alert_event(
                    session, episode, "alert.closed",
                    rendered(alert_view(row, episode), records.guidance, "en"), now,
                    records.registry, records.english(),
                )  # fmt: skip
        audit_write(session, records, "closeAlert", "alert", row.id, 200)
        session.commit()
        return row, episode


def _locked(session: Session, records: Records, alert_id: uuid.UUID) -> tuple[AlertRecord, Episode]:
    found = store_alerts.get_alert(session, records.organization_id, alert_id, for_update=True)
    if found is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return found


def _who(session: Session, records: Records) -> str:
    """The key's name, or the JWT's subject."""
    caller = records.caller
    if caller is None:
        return "unknown"
    if caller.key_id is not None:
        key = store_access.get_key(session, records.organization_id, caller.key_id)
        if key is not None:
            return key.name
    return caller.jwt_subject or "unknown"


# -- The organisation's profile ---------------------------------------------------------------


def alert_profile(records: Records) -> str:
    with records.database.session() as session:
        organisation = store_access.get_organization(session, records.organization_id)
    return organisation.alert_profile if organisation is not None else DEFAULT_PROFILE


def set_alert_profile(records: Records, profile: str) -> str:
    """The organisation's alert profile from now on (audited)."""
    with records.database.session() as session:
        store_alerts.set_alert_profile(session, records.organization_id, profile)
        audit_write(
            session, records, "setAlertPolicy", "organization", records.organization_id, 200
        )
        session.commit()
    return profile


# -- Views -------------------------------------------------------------------------------------


def alert_view(row: AlertRecord, episode: Episode) -> Json:
    """An alert as the API shows it, its guidance as catalogue ids (`rendered` gives texts)."""
    content = row.content
    acknowledgement = None
    if row.acknowledged_at is not None:
        acknowledgement = {
            "by": row.acknowledged_by,
            "at": row.acknowledged_at,
            "note": row.acknowledgement_note,
        }
    return plain_json(
        {
            "id": row.id,
            "episode_id": row.episode_id,
            "patient_ref": episode.patient_ref,
            "clinician_ref": episode.clinician_ref,
            "setting": episode.setting,
            "status": row.status,
            "late": row.late,
            "priority": row.priority,
            "opened_session": row.opened_session,
            "opened_at": row.opened_at,
            "last_session": row.last_session,
            "dimensions": content.get("dimensions", []),
            "kinds": content.get("kinds", []),
            "evidence": content.get("evidence", []),
            "changes": [
                {key: value for key, value in change.items() if key != "guidance"}
                for change in content.get("changes", [])
            ],
            "guidance": content.get("guidance", []),
            "acknowledgement": acknowledgement,
            "resolution": _resolution(row),
            "updated_at": row.updated_at,
        }
    )


def rendered(view: Json, catalogue: Guidance | None, language: str) -> Json:
    """The alert view with its guidance, and its flags', as texts in `language`."""

    def render(ids: Sequence[str]) -> list[Json]:
        return catalogue.render(list(ids), language) if catalogue is not None else []

    return {
        **view,
        "evidence": [
            {**flag, "guidance": render(flag.get("guidance", []))} for flag in view["evidence"]
        ],
        "guidance": render(view["guidance"]),
    }


def _resolution(row: AlertRecord) -> Json | None:
    if row.status == "closed":
        return {
            "status": "closed",
            "session": row.closed_after_session,
            "at": row.closed_at,
            "reason": row.closure_reason,
            "note": row.closure_note,
            "by": row.closed_by,
        }
    if row.status == "repaired":
        return {"status": "repaired", "session": row.back_session, "at": row.back_at}
    if row.status == "withdrawn":
        return {"status": "withdrawn", "session": None, "at": row.updated_at}
    if row.status == "unrepaired":
        return {"status": "unrepaired", "session": None, "at": None}
    return None
