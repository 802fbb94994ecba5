"""Webhook endpoints and rupture alerts: registering endpoints, writing alerts to the outbox
in the transaction that caused them, their payload, and their signature.

Signatures follow the Standard Webhooks convention (standardwebhooks.com): every delivery
carries `webhook-id` (the event's id: the same on every retry, so receivers dedupe by it),
`webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
`"{id}.{timestamp}.{body}"`, keyed by the bytes the endpoint's `whsec_` secret encodes.
The service keeps each secret to sign with; it is shown to the admin once, at creation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.alerts.egress import EgressPolicy, RefusedUrlError
from app.catalogue.guidance import Guidance
from app.core.flag_events import RUPTURE_EVENT_TYPES as RUPTURE_TYPES
from app.core.flag_events import FlagChange
from app.fhir.alerts import alert_resources
from app.fhir.observations import Context, flag_resource
from app.instruments.registry import InstrumentRegistry
from app.languages.catalogues import Words
from app.platform import store, store_webhooks
from app.platform.cursors import decode_time_cursor, encode_time_cursor
from app.platform.db import Database
from app.platform.errors import InvalidWebhookUrlError, UnknownInstrumentError, WebhookNotFoundError
from app.platform.plain import plain_json
from app.platform.tables import Episode, WebhookDelivery, WebhookEndpoint, WebhookEvent

Json = dict[str, Any]
# Alert events: at most one per alert per write (app.core.alert_grouping), and what
# clinicians do with an alert. The flag-level rupture events go only to endpoints that ask
# for them by name.
ALERT_EVENT_TYPES = (
    "alert.opened",
    "alert.updated",
    "alert.repaired",
    "alert.unrepaired",
    "alert.withdrawn",
    "alert.acknowledged",
    "alert.closed",
)
EVENT_TYPES = (*ALERT_EVENT_TYPES, *RUPTURE_TYPES)
DEFAULT_EVENT_TYPES = ALERT_EVENT_TYPES
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
_SECRET_BYTES = 32


# -- Endpoints -------------------------------------------------------------------------------


def check_url(url: str, egress: EgressPolicy) -> str:
    """The URL if alerts may be sent to it (`app.alerts.egress`: its form, and the addresses
    its host resolves to now; they are resolved and checked again at each delivery).
    Credentials in the URL are refused: the URL is listed back to every admin. An
    unresolvable host and a refused one get the same answer, so that registering URLs maps
    no internal names."""
    try:
        egress.destination(url)
    except RefusedUrlError as refused:
        raise InvalidWebhookUrlError(
            f"the webhook URL must be {refused.expected}",
            [{"loc": ["url"], "code": refused.reason, "message": f"expected {refused.expected}"}],
        ) from None
    return url


def new_secret() -> str:
    """`whsec_` and the base64 of 32 random bytes (Standard Webhooks' secret format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def create_webhook(
    database: Database,
    organization_id: uuid.UUID,
    *,
    url: str,
    description: str | None,
    event_types: Sequence[str] | None,
    include_fhir_flag: bool = False,
    now: datetime,
    egress: EgressPolicy,
) -> Json:
    """Register an endpoint for the given event types (the `alert.*` ones by default; the
    flag-level `rupture.*` ones only when named). The returned `secret` is the only time it
    is shown."""
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        organization_id=organization_id,
        url=check_url(url, egress),
        description=description,
        secret=new_secret(),
        event_types=[
            kind for kind in EVENT_TYPES if kind in set(event_types or DEFAULT_EVENT_TYPES)
        ],
        include_fhir_flag=include_fhir_flag,
        enabled=True,
        created_at=now,
        disabled_at=None,
    )
    with database.session() as session:
        session.add(endpoint)
        session.commit()
    return {**webhook_view(endpoint), "secret": endpoint.secret}


def list_webhooks(database: Database, organization_id: uuid.UUID) -> list[Json]:
    with database.session() as session:
        return [webhook_view(row) for row in store_webhooks.list_webhooks(session, organization_id)]


def get_webhook(database: Database, organization_id: uuid.UUID, webhook_id: uuid.UUID) -> Json:
    with database.session() as session:
        return webhook_view(_endpoint(session, organization_id, webhook_id))


def disable_webhook(
    database: Database, organization_id: uuid.UUID, webhook_id: uuid.UUID, now: datetime
) -> Json:
    """Disable an endpoint for good: no new event is written for it, and its undelivered
    events are cancelled (one already being delivered at that moment may still arrive). It
    stays listed, with its delivery log."""
    with database.session() as session:
        endpoint = _endpoint(session, organization_id, webhook_id)
        if endpoint.enabled:
            endpoint.enabled = False
            endpoint.disabled_at = now
            store_webhooks.cancel_pending_events(session, endpoint.id)
        view = webhook_view(endpoint)
        session.commit()
    return view


def list_deliveries(
    database: Database,
    organization_id: uuid.UUID,
    webhook_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> Json:
    """The endpoint's delivery attempts, newest first, with the state of their event."""
    before = decode_time_cursor(cursor) if cursor is not None else None
    with database.session() as session:
        _endpoint(session, organization_id, webhook_id)
        rows = store_webhooks.list_webhook_deliveries(
            session, organization_id, webhook_id, before=before, limit=limit + 1
        )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = encode_time_cursor(last.attempted_at, last.id)
    items = [delivery_view(delivery, event) for delivery, event in page]
    return plain_json({"items": items, "next_cursor": next_cursor})


def webhook_view(endpoint: WebhookEndpoint) -> Json:
    """An endpoint as listed: never its secret."""
    return plain_json(
        {
            "id": endpoint.id,
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
            "include_fhir_flag": endpoint.include_fhir_flag,
            "enabled": endpoint.enabled,
            "created_at": endpoint.created_at,
            "disabled_at": endpoint.disabled_at,
        }
    )


def delivery_view(delivery: WebhookDelivery, event: WebhookEvent) -> Json:
    return {
        "id": delivery.id,
        "event_id": event.id,
        "event_type": event.event_type,
        "event_status": event.status,
        "attempt": delivery.attempt,
        "attempted_at": delivery.attempted_at,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "duration_ms": delivery.duration_ms,
    }


def _endpoint(
    session: Session, organization_id: uuid.UUID, webhook_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = store_webhooks.get_webhook(session, organization_id, webhook_id)
    if endpoint is None:
        raise WebhookNotFoundError(f"no webhook {webhook_id}")
    return endpoint


# -- Alerts ----------------------------------------------------------------------------------


def enqueue_alerts(
    session: Session,
    episode: Episode,
    changes: Iterable[FlagChange],
    now: datetime,
    catalogue: Guidance | None,
    registry: InstrumentRegistry | None = None,
    words: Words | None = None,
) -> int:
    """Write one outbox event per alert and enabled endpoint of the episode's organisation
    subscribed to its type, in the caller's transaction: the alert exists if and only if the
    write that caused it is committed. Endpoints that asked for it also get the flag as a
    FHIR Flag (needs `registry`, and `words`, English, for its narrative). Returns the
    number of events written."""
    changes = list(changes)
    if not changes:
        return 0
    endpoints = store_webhooks.enabled_webhooks(session, episode.organization_id)
    written = 0
    for change in changes:
        payloads: dict[bool, Json] = {}
        for endpoint in endpoints:
            if change.type not in endpoint.event_types:
                continue
            fhir = endpoint.include_fhir_flag and registry is not None and words is not None
            if fhir not in payloads:
                resource = (
                    _fhir_flag(session, episode, change, now, catalogue, registry, words)
                    if fhir and registry is not None and words is not None
                    else None
                )
                payloads[fhir] = event_payload(change, episode, now, catalogue, resource)
            session.add(_outbox_event(episode, endpoint, change.type, payloads[fhir], now))
            written += 1
    return written


def enqueue_alert_event(
    session: Session,
    episode: Episode,
    event_type: str,
    alert: Json,
    now: datetime,
    registry: InstrumentRegistry | None = None,
    words: Words | None = None,
) -> int:
    """Write the event about an alert (`alert` as the API shows it, in English) to the outbox
    of every enabled endpoint of the organisation subscribed to its type, in the caller's
    transaction. Endpoints that asked for FHIR also get the alert as a FHIR `Flag` and a
    `DetectedIssue` (their texts in `words`, English; none without). Returns the number of
    events written."""
    endpoints = [
        endpoint
        for endpoint in store_webhooks.enabled_webhooks(session, episode.organization_id)
        if event_type in endpoint.event_types
    ]
    if not endpoints:
        return 0
    data: Json = {
        "episode_id": episode.id,
        "patient_ref": episode.patient_ref,
        "clinician_ref": episode.clinician_ref,
        "setting": episode.setting,
        "alert": alert,
    }
    plain = plain_json({"type": event_type, "timestamp": now, "data": data})
    with_fhir: Json | None = None
    for endpoint in endpoints:
        payload = plain
        if endpoint.include_fhir_flag and words is not None:
            if with_fhir is None:
                resources = alert_resources(alert, now.isoformat(), words, registry)
                with_fhir = plain_json(
                    {
                        "type": event_type,
                        "timestamp": now,
                        "data": {**data, "fhir_flag": resources[0],
                                 "fhir_detected_issue": resources[1]},
                    }
                )  # fmt: skip
            payload = with_fhir
        session.add(_outbox_event(episode, endpoint, event_type, payload, now))
    return len(endpoints)


def _outbox_event(
    episode: Episode, endpoint: WebhookEndpoint, event_type: str, payload: Json, now: datetime
) -> WebhookEvent:
    return WebhookEvent(
        id=uuid.uuid4(),
        organization_id=episode.organization_id,
        endpoint_id=endpoint.id,
        episode_id=episode.id,
        event_type=event_type,
        payload=payload,
        created_at=now,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        locked_until=None,
        lease_token=None,
        delivered_at=None,
        last_error=None,
    )


def event_payload(
    change: FlagChange,
    episode: Episode,
    at: datetime,
    catalogue: Guidance | None,
    fhir_flag: Json | None = None,
) -> Json:
    """The JSON body of an alert: its type, when it happened, and the episode's references
    and the flag as `GET /v1/episodes/{id}/ruptures` shows it (guidance in English).

    The patient is named only by the caller's own opaque `patient_ref`. This is the one
    place the body is built: further representations of the flag belong here.
    """
    data: Json = {
        "episode_id": episode.id,
        "patient_ref": episode.patient_ref,
        "clinician_ref": episode.clinician_ref,
        "setting": episode.setting,
        "flag": _rendered(change.flag, catalogue),
    }
    if fhir_flag is not None:
        data["fhir_flag"] = fhir_flag
    return plain_json({"type": change.type, "timestamp": at, "data": data})


def _rendered(flag: Mapping[str, Any], catalogue: Guidance | None) -> Json:
    """The flag with its guidance ids rendered as texts, in English."""
    rendered = dict(flag)
    if catalogue is not None:
        rendered["guidance"] = catalogue.render(list(flag.get("guidance", [])), "en")
    return rendered


def _fhir_flag(
    session: Session,
    episode: Episode,
    change: FlagChange,
    now: datetime,
    catalogue: Guidance | None,
    registry: InstrumentRegistry,
    words: Words,
) -> Json | None:
    """The flag as a FHIR Flag about the episode's patient, at the flagged administration's
    encounter and time, its guidance in English; None if its instrument is no longer loaded."""
    flag = _rendered(change.flag, catalogue)
    try:
        definition = registry.get(str(flag["instrument"])).definition
    except UnknownInstrumentError:
        return None
    administration_id = uuid.UUID(str(flag["administration_id"]))
    administration = store.get_administration(
        session, episode.organization_id, episode.id, administration_id
    )
    history = store.revisions(session, administration_id) if administration else []
    encounter = administration.encounter_ref if administration else None
    context = Context(
        seed=administration_id,
        subject={"identifier": {"value": episode.patient_ref}},
        encounter={"identifier": {"value": encounter}} if encounter else None,
        effective=history[-1].administered_at.isoformat() if history else None,
        issued=now.isoformat(),
    )
    resource = flag_resource(definition, flag, context, words)
    if change.type == "rupture.withdrawn":
        resource["status"] = "entered-in-error"
    return resource


# -- Signatures ------------------------------------------------------------------------------


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed by the secret's
    bytes (Standard Webhooks, symmetric signatures)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery of an event."""
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, event_id, timestamp, body),
    }
