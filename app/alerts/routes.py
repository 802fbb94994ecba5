"""The /v1 routes of alerts: the worklist, one alert, an episode's alerts, acknowledging and
closing an alert, the organisation's alert profile; webhook endpoints: register (the secret
shown once), list, read, disable, and the delivery log (admin scope); and the events they
receive, as OpenAPI webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from app.access.guard import caller
from app.access.keys import Principal
from app.alerts import alerts, webhooks
from app.alerts.schemas import (
    AlertAcknowledgementCreate,
    AlertClosureCreate,
    AlertEvent,
    AlertList,
    AlertPolicyUpdate,
    AlertPolicyView,
    AlertPriority,
    AlertStatus,
    AlertView,
    RuptureAlert,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryList,
    WebhookList,
    WebhookView,
)
from app.core.alert_policy import PROFILES
from app.http.body import json_request_body
from app.http.language import Lang
from app.http.problems import problem_responses
from app.http.responses import json_response, localized
from app.http.schemas import Text, Timestamp
from app.http.state import AppState, State
from app.platform.tables import AlertRecord, Episode
from app.records.routes import records_of
from app.records.schemas import CareSetting

router = APIRouter(tags=["webhooks"])
alert_router = APIRouter(tags=["alerts"])
Admin = Annotated[Principal, Depends(caller("admin"))]
Reader = Annotated[Principal, Depends(caller("records:read"))]
Writer = Annotated[Principal, Depends(caller("records:write"))]


@router.post(
    "/v1/webhooks",
    operation_id="createWebhook",
    status_code=201,
    response_model=WebhookCreated,
    responses=problem_responses(400, 401, 403, 422),
)
def create_webhook(body: WebhookCreate, state: State, admin: Admin) -> Response:
    """Register an endpoint for rupture alerts. Its signing secret is in this response only.
    The URL's host must resolve to public addresses only (unless the deployment allows
    private networks); it is checked again at each delivery."""
    created = webhooks.create_webhook(
        state.database, admin.organization_id, **body.model_dump(), now=datetime.now(UTC),
        egress=state.egress,
    )  # fmt: skip
    return json_response(created, {"Location": f"/v1/webhooks/{created['id']}"}, 201)


@router.get(
    "/v1/webhooks",
    operation_id="listWebhooks",
    response_model=WebhookList,
    responses=problem_responses(401, 403),
)
def list_webhooks(state: State, admin: Admin) -> Response:
    """The organisation's endpoints, disabled ones included; never their secrets."""
    items = webhooks.list_webhooks(state.database, admin.organization_id)
    return json_response({"items": items, "next_cursor": None})


@router.get(
    "/v1/webhooks/{webhook_id}",
    operation_id="getWebhook",
    response_model=WebhookView,
    responses=problem_responses(401, 403, 404, 422),
)
def get_webhook(webhook_id: UUID, state: State, admin: Admin) -> Response:
    return json_response(webhooks.get_webhook(state.database, admin.organization_id, webhook_id))


@router.delete(
    "/v1/webhooks/{webhook_id}",
    operation_id="deleteWebhook",
    response_model=WebhookView,
    responses=problem_responses(401, 403, 404, 422),
)
def delete_webhook(webhook_id: UUID, state: State, admin: Admin) -> Response:
    """Disable an endpoint for good: its undelivered events are cancelled. It stays listed,
    with its delivery log."""
    disabled = webhooks.disable_webhook(
        state.database, admin.organization_id, webhook_id, datetime.now(UTC)
    )
    return json_response(disabled)


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=WebhookDeliveryList,
    responses=problem_responses(401, 403, 404, 422),
)
def list_webhook_deliveries(
    webhook_id: UUID,
    state: State,
    admin: Admin,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> Response:
    """Every attempt to deliver an event to this endpoint, newest first."""
    page = webhooks.list_deliveries(
        state.database, admin.organization_id, webhook_id, limit=limit, cursor=cursor
    )
    return json_response(page)


# What Bordin sends (OpenAPI 3.1 `webhooks`), for the receivers' client generators. Declared
# by hand: FastAPI would add a 422 of its own to a route with parameters, and Bordin receives
# nothing here.
webhook_events = APIRouter()
F = TypeVar("F", bound=Callable[..., Any])
_SIGNATURE_HEADERS = [
    ("webhook-id", "string", "The event's id, the same on every retry: dedupe by it."),
    ("webhook-timestamp", "integer", "Unix seconds of this attempt."),
    (
        "webhook-signature",
        "string",
        "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed"
        " by the bytes of the endpoint's secret after `whsec_` (Standard Webhooks).",
    ),
]


def _webhook(name: str, operation_id: str, body: type[BaseModel]) -> Callable[[F], F]:
    """Declare a webhook Bordin sends: its signed JSON body, no credentials (the receiver
    checks the signature headers), and the receiver's 204."""
    return webhook_events.post(
        name,
        operation_id=operation_id,
        status_code=204,
        response_class=Response,
        responses={204: {"description": "Received: any 2xx. Anything else is retried."}},
        openapi_extra={
            **json_request_body(body),
            "security": [],
            "parameters": [
                {
                    "name": header,
                    "in": "header",
                    "required": True,
                    "schema": {"type": kind},
                    "description": description,
                }
                for header, kind, description in _SIGNATURE_HEADERS
            ],
        },
    )


@_webhook("ruptureAlert", "receiveRuptureAlert", RuptureAlert)
def rupture_alert() -> Response:  # pragma: no cover - documentation only
    """A rupture flag of one of the organisation's episodes was raised, repaired, became
    unrepaired, or was withdrawn. Bordin POSTs this to every enabled endpoint subscribed to
    the type, signed as Standard Webhooks specifies."""
    return Response(status_code=204)  # documentation only: Bordin serves no such route


@_webhook("alertEvent", "receiveAlertEvent", AlertEvent)
def alert_event() -> Response:  # pragma: no cover - documentation only
    """An alert of one of the organisation's episodes was opened, updated (new evidence joined,
    or its priority rose), repaired, became unrepaired, was withdrawn, acknowledged or closed:
    at most one event per alert per write. Only alerts of moderate or high priority notify.
    Signed as Standard Webhooks specifies, like every delivery."""
    return Response(status_code=204)  # documentation only: Bordin serves no such route


# -- Alerts ---------------------------------------------------------------------------------


@alert_router.get(
    "/v1/alerts",
    operation_id="listAlerts",
    response_model=AlertList,
    responses=problem_responses(401, 403, 422),
)
def list_alerts(
    state: State,
    principal: Reader,
    lang: Lang,
    status: Annotated[
        list[AlertStatus] | None, Query(description="Default: open and unrepaired.")
    ] = None,
    priority: Annotated[
        list[AlertPriority] | None,
        Query(description="Default: high and moderate (low alerts notify no one)."),
    ] = None,
    acknowledged: Annotated[bool | None, Query()] = None,
    clinician_ref: Annotated[Text | None, Query(max_length=200)] = None,
    setting: Annotated[CareSetting | None, Query()] = None,
    episode_id: Annotated[UUID | None, Query()] = None,
    since: Annotated[
        Timestamp | None, Query(description="Alerts opened at or after this time (RFC 3339).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> Response:
    """The worklist: the organisation's alerts by priority, then newest first. By default the
    active ones (open, unrepaired) that notify (high, moderate)."""
    page, next_cursor = alerts.list_alerts(
        records_of(state, principal),
        statuses=status, priorities=priority, acknowledged=acknowledged,
        clinician_ref=clinician_ref, setting=setting, episode_id=episode_id,
        since=_utc(since), limit=limit, cursor=cursor,
    )  # fmt: skip
    items = [_shown(row, episode, state, lang) for row, episode in page]
    return localized({"items": items, "next_cursor": next_cursor}, lang)


@alert_router.get(
    "/v1/alerts/{alert_id}",
    operation_id="getAlert",
    response_model=AlertView,
    responses=problem_responses(401, 403, 404, 422),
)
def get_alert(alert_id: UUID, state: State, principal: Reader, lang: Lang) -> Response:
    row, episode = alerts.get_alert(records_of(state, principal), alert_id)
    return localized(_shown(row, episode, state, lang), lang)


@alert_router.get(
    "/v1/episodes/{episode_id}/alerts",
    operation_id="listEpisodeAlerts",
    tags=["episodes"],
    response_model=AlertList,
    responses=problem_responses(401, 403, 404, 422),
)
def list_episode_alerts(episode_id: UUID, state: State, principal: Reader, lang: Lang) -> Response:
    """Every alert of the episode, whatever its status or priority, in the order they opened."""
    rows, episode = alerts.episode_alerts(records_of(state, principal), episode_id)
    items = [_shown(row, episode, state, lang) for row in rows]
    return localized({"items": items, "next_cursor": None}, lang)


@alert_router.post(
    "/v1/alerts/{alert_id}/acknowledgement",
    operation_id="acknowledgeAlert",
    response_model=AlertView,
    responses=problem_responses(400, 401, 403, 404, 413, 422),
)
def acknowledge_alert(
    alert_id: UUID, body: AlertAcknowledgementCreate, state: State, principal: Writer, lang: Lang
) -> Response:
    """Record that a clinician has seen the alert (who: the key's name or the token's subject;
    when). The same call again changes nothing."""
    row, episode = alerts.acknowledge(records_of(state, principal), alert_id, note=body.note)
    return localized(_shown(row, episode, state, lang), lang)


@alert_router.post(
    "/v1/alerts/{alert_id}/closure",
    operation_id="closeAlert",
    response_model=AlertView,
    responses=problem_responses(400, 401, 403, 404, 413, 422),
)
def close_alert(
    alert_id: UUID, body: AlertClosureCreate, state: State, principal: Writer, lang: Lang
) -> Response:
    """Close the alert with a reason. It takes no evidence of later sessions: new evidence
    opens a new alert. Closing it again changes nothing."""
    row, episode = alerts.close(
        records_of(state, principal), alert_id, reason=body.reason, note=body.note
    )
    return localized(_shown(row, episode, state, lang), lang)


@alert_router.get(
    "/v1/alert-policy",
    operation_id="getAlertPolicy",
    response_model=AlertPolicyView,
    responses=problem_responses(401, 403),
)
def get_alert_policy(state: State, principal: Reader) -> Response:
    """The organisation's alert profile and what each profile's thresholds are."""
    return localized(_policy(alerts.alert_profile(records_of(state, principal))), "en")


@alert_router.put(
    "/v1/alert-policy",
    operation_id="setAlertPolicy",
    response_model=AlertPolicyView,
    responses=problem_responses(400, 401, 403, 413, 422),
)
def set_alert_policy(body: AlertPolicyUpdate, state: State, admin: Admin) -> Response:
    """Choose the organisation's alert profile: more sensitive or more specific than the
    default (`balanced`). It applies to alerts derived from the next write on."""
    profile = alerts.set_alert_profile(records_of(state, admin), body.profile)
    return localized(_policy(profile), "en")


def _policy(profile: str) -> dict[str, Any]:
    return {
        "profile": profile,
        "profiles": [
            {"name": p.name, "moderate": p.moderate, "high": p.high} for p in PROFILES.values()
        ],
    }


def _shown(row: AlertRecord, episode: Episode, state: AppState, lang: str) -> dict[str, Any]:
    return alerts.rendered(alerts.alert_view(row, episode), state.records.guidance, lang)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None
