"""Wire schemas of alerts: webhook endpoints, their delivery log, and the alert they receive."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    Field,
    JsonValue,
    StrictBool,
)
from typing_extensions import TypeAliasType

from app.fhir.schemas import FhirResource
from app.http.schemas import EXAMPLE_ID, Text, WireModel, example, named
from app.records.schemas import EpisodeRuptureFlag

# -- Webhooks ----------------------------------------------------------------------------------

EventType = TypeAliasType(
    "EventType",
    Annotated[
        Literal["rupture.raised", "rupture.repaired", "rupture.unrepaired", "rupture.withdrawn"],
        named("rupture.raised", "What happened to a rupture flag, as a webhook event says."),
    ],
)
WEBHOOK_EXAMPLE: dict[str, JsonValue] = {
    "id": EXAMPLE_ID, "url": "https://ehr.example.org/bordin/alerts",
    "description": "EHR rupture inbox",
    "event_types": ["rupture.raised", "rupture.repaired", "rupture.unrepaired",
                    "rupture.withdrawn"],
    "include_fhir_flag": False, "enabled": True, "created_at": "2026-11-22T09:00:00Z",
    "disabled_at": None,
}  # fmt: skip


class WebhookCreate(WireModel):
    model_config = example(
        {"url": "https://ehr.example.org/bordin/alerts", "description": "EHR rupture inbox"}
    )

    url: Annotated[
        Text,
        Field(
            min_length=1,
            max_length=2000,
            description="https:// (plain http:// only to 127.0.0.1, ::1 or localhost), to a"
            " host that resolves to public internet addresses only (unless the deployment"
            " allows private networks); no user name, password or control characters.",
        ),
    ]
    description: Annotated[Text | None, Field(max_length=200)] = None
    event_types: Annotated[
        list[EventType] | None,
        Field(min_length=1, description="The events to send; all of them if left out."),
    ] = None
    include_fhir_flag: StrictBool = Field(
        default=False, description="Each alert also carries the flag as a FHIR R4 Flag."
    )


class WebhookView(WireModel):
    """A webhook endpoint as listed: never its secret."""

    model_config = example(WEBHOOK_EXAMPLE)

    id: UUID
    url: str
    description: str | None
    event_types: list[EventType]
    include_fhir_flag: bool
    enabled: bool
    created_at: AwareDatetime
    disabled_at: AwareDatetime | None


class WebhookCreated(WebhookView):
    """A new endpoint: `secret` (Standard Webhooks `whsec_…`) is shown this once; verify each
    delivery's `webhook-signature` with it."""

    model_config = example({**WEBHOOK_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})

    secret: str


class WebhookList(WireModel):
    model_config = example({"items": [WEBHOOK_EXAMPLE], "next_cursor": None})

    items: list[WebhookView]
    next_cursor: str | None = Field(default=None, description="Always null: one page.")


class WebhookDeliveryView(WireModel):
    """One attempt to deliver an event: the receiver's status code, and for a failed attempt
    a coarse reason: `http_<status>`, `timeout`, `connect_error`, `transport_error`,
    `refused_address` (the host no longer resolves to addresses alerts may go to),
    `invalid_url` or `internal_error`."""

    model_config = example(
        {
            "id": EXAMPLE_ID, "event_id": EXAMPLE_ID, "event_type": "rupture.raised",
            "event_status": "delivered", "attempt": 1, "attempted_at": "2026-11-22T09:31:02Z",
            "status_code": 204, "error": None, "duration_ms": 87,
        }
    )  # fmt: skip

    id: UUID
    event_id: UUID = Field(description="The `webhook-id` header of the delivery.")
    event_type: EventType
    event_status: Literal["pending", "delivered", "failed", "cancelled"]
    attempt: int
    attempted_at: AwareDatetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookDeliveryList(WireModel):
    model_config = example({"items": [], "next_cursor": None})

    items: list[WebhookDeliveryView]
    next_cursor: str | None


ALERT_FLAG_EXAMPLE: dict[str, JsonValue] = {
    "rule": "v_drop", "scale": "bond", "session": 4, "instrument": "wai-sr", "rater": "client",
    "administration_id": EXAMPLE_ID, "value": 10.0, "reference": 16.333333, "threshold": 4.0,
    "severity": "strict", "spread_source": "between_client (organisation (100 administrations))",
    "citation": "Stiles et al. 2004; Gumz et al. 2012", "repaired": False, "repaired_at": None,
    "state": "pending", "guidance": [],
}  # fmt: skip
ALERT_DATA_EXAMPLE: dict[str, JsonValue] = {
    "episode_id": EXAMPLE_ID, "patient_ref": "ehr-4711", "clinician_ref": "staff-17",
    "setting": "psychotherapy", "flag": ALERT_FLAG_EXAMPLE,
}  # fmt: skip


class RuptureAlertData(WireModel):
    """The episode (by the caller's own references: no names) and the flag, as
    `GET /v1/episodes/{episode_id}/ruptures` shows it, guidance in English."""

    model_config = example(ALERT_DATA_EXAMPLE)

    episode_id: UUID
    patient_ref: str
    clinician_ref: str
    setting: str | None
    flag: EpisodeRuptureFlag
    fhir_flag: FhirResource | None = Field(
        default=None,
        description=(
            "With `include_fhir_flag`: the flag as a FHIR R4 Flag (status entered-in-error"
            " when withdrawn), its guidance as narrative text and extensions."
        ),
    )


class RuptureAlert(WireModel):
    """The body of a webhook delivery. `rupture.withdrawn` carries the flag as it was last."""

    model_config = example(
        {
            "type": "rupture.raised",
            "timestamp": "2026-11-22T09:31:00Z",
            "data": ALERT_DATA_EXAMPLE,
        }
    )

    type: EventType
    timestamp: AwareDatetime
    data: RuptureAlertData
