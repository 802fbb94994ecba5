"""The /v1 routes of webhook endpoints: register (the secret shown once), list, read, disable,
and the delivery log (admin scope); and the alert they receive, as an OpenAPI webhook."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app.access.guard import caller
from app.access.keys import Principal
from app.alerts import webhooks
from app.alerts.schemas import (
    RuptureAlert,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryList,
    WebhookList,
    WebhookView,
)
from app.http.body import json_request_body
from app.http.problems import problem_responses
from app.http.responses import json_response
from app.http.state import State

router = APIRouter(tags=["webhooks"])
Admin = Annotated[Principal, Depends(caller("admin"))]


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
alerts = APIRouter()
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


@alerts.post(
    "ruptureAlert",
    operation_id="receiveRuptureAlert",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Received: any 2xx. Anything else is retried."}},
    openapi_extra={
        **json_request_body(RuptureAlert),
        # Bordin sends no credentials: the receiver checks the signature headers.
        "security": [],
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": True,
                "schema": {"type": kind},
                "description": description,
            }
            for name, kind, description in _SIGNATURE_HEADERS
        ],
    },
)
def rupture_alert() -> Response:
    """A rupture flag of one of the organisation's episodes was raised, repaired, became
    unrepaired, or was withdrawn. Bordin POSTs this to every enabled endpoint subscribed to
    the type, signed as Standard Webhooks specifies."""
    return Response(status_code=204)  # documentation only: Bordin serves no such route
