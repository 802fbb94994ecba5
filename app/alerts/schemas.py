"""Wire schemas of alerts: the alerts of the worklist and what clinicians do with them, webhook
endpoints, their delivery log, and the events they receive."""

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

from app.catalogue.schemas import GuidanceView
from app.fhir.schemas import FhirResource
from app.http.schemas import EXAMPLE_ID, Text, WireModel, example, named
from app.records.schemas import AdministrationRecorded, CareSetting, EpisodeRuptureFlag, Rater
from app.scoring.schemas import RuptureKind

# -- Alerts ------------------------------------------------------------------------------------

AlertStatus = TypeAliasType(
    "AlertStatus",
    Annotated[
        Literal["open", "repaired", "unrepaired", "withdrawn", "closed"],
        named("open", "Where the alliance is now: open, repaired, unrepaired, withdrawn, closed."),
    ],
)
AlertPriority = TypeAliasType(
    "AlertPriority",
    Annotated[
        Literal["high", "moderate", "low"],
        named("high", "From the strongest evidence; moderate and high notify, low does not."),
    ],
)
Dimension = TypeAliasType(
    "Dimension",
    Annotated[Literal["goal", "task", "bond"], named("bond", "A dimension of Bordin's alliance.")],
)
ClosureReason = TypeAliasType(
    "ClosureReason",
    Annotated[
        Literal["discussed", "false_alarm", "episode_ended", "other"],
        named("discussed", "Why a clinician closed an alert."),
    ],
)
AlertProfile = TypeAliasType(
    "AlertProfile",
    Annotated[
        Literal["sensitive", "balanced", "specific"],
        named("balanced", "How readily a change alerts (README: each profile's measured rates)."),
    ],
)


class ChangeComponent(WireModel):
    """One series' part of a change finding: its drop from the client's own baseline, in
    units of its within-client noise."""

    model_config = example(
        {
            "instrument": "srs", "rater": "client", "scale": "total",
            "administration_id": EXAMPLE_ID, "value": 30.0, "baseline": 37.5,
            "baseline_sessions": 4, "within_sd": 2.514, "within_sd_source": "norm: …",
            "z": 2.67,
        }
    )  # fmt: skip

    instrument: str
    rater: Rater
    scale: str
    administration_id: str
    value: float
    baseline: float = Field(description="Mean of the client's last (up to 8) sessions.")
    baseline_sessions: int
    within_sd: float = Field(description="How much this score moves session to session.")
    within_sd_source: str
    z: float = Field(description="(baseline - value) / (within_sd x sqrt(1 + 1/n)).")


class ChangeFinding(WireModel):
    """The alert policy's finding at one session: the client's scores dropped beyond their
    usual variation, the series' evidence added up (Stouffer's sum)."""

    model_config = example(
        {
            "rule": "alliance_change", "session": 5, "z": 2.8, "threshold": 2.5,
            "level": "high", "profile": "balanced", "components": [],
        }
    )  # fmt: skip

    rule: Literal["alliance_change"]
    session: int
    z: float
    threshold: float
    level: Literal["moderate", "high"]
    profile: AlertProfile
    components: list[ChangeComponent]


class AlertAcknowledgement(WireModel):
    model_config = example({"by": "EHR ward 3", "at": "2026-11-22T10:02:00Z", "note": None})

    by: str = Field(description="The key's name, or the token's subject.")
    at: AwareDatetime
    note: str | None


class AlertResolution(WireModel):
    """How the alert ended: `repaired` (the evidence came back, at `session`), `unrepaired`
    (not back within its window; it may still come back, then `repaired` with `late`),
    `withdrawn` (its evidence was corrected away), or `closed` by a clinician."""

    model_config = example({"status": "repaired", "session": 7, "at": "2026-11-29T09:00:00Z"})

    status: Literal["repaired", "unrepaired", "withdrawn", "closed"]
    session: int | None = None
    at: AwareDatetime | None = None
    reason: ClosureReason | None = None
    note: str | None = None
    by: str | None = None


ALERT_EXAMPLE: dict[str, JsonValue] = {
    "id": EXAMPLE_ID, "episode_id": EXAMPLE_ID, "patient_ref": "ehr-4711",
    "clinician_ref": "staff-17", "setting": "psychotherapy", "status": "open", "late": False,
    "priority": "high", "opened_session": 5, "opened_at": "2026-11-22T09:00:00Z",
    "last_session": 5, "dimensions": ["bond"], "kinds": [], "evidence": [], "changes": [],
    "guidance": [], "acknowledgement": None, "resolution": None,
    "updated_at": "2026-11-22T09:00:00Z",
}  # fmt: skip


class AlertView(WireModel):
    """One rupture of an episode, as a clinician acts on it: its flags are the evidence."""

    model_config = example(ALERT_EXAMPLE)

    id: UUID
    episode_id: UUID
    patient_ref: str
    clinician_ref: str
    setting: CareSetting | None
    status: AlertStatus
    late: bool = Field(description="Repaired, but later than its window.")
    priority: AlertPriority
    opened_session: int
    opened_at: AwareDatetime = Field(description="When the session that opened it took place.")
    last_session: int = Field(description="The latest session with evidence.")
    dimensions: list[Dimension]
    kinds: list[RuptureKind]
    evidence: list[EpisodeRuptureFlag] = Field(
        description="The flags, as `GET /v1/episodes/{id}/ruptures` shows them."
    )
    changes: list[ChangeFinding] = Field(description="The alert policy's findings.")
    guidance: list[GuidanceView] = Field(
        description="One ranked list for the alert, in the caller's language."
    )
    acknowledgement: AlertAcknowledgement | None
    resolution: AlertResolution | None
    updated_at: AwareDatetime


# The answer of a recording lists the alerts it opened or changed.
AdministrationRecorded.model_rebuild(_types_namespace={"AlertView": AlertView})


class AlertList(WireModel):
    model_config = example({"items": [ALERT_EXAMPLE], "next_cursor": None})

    items: list[AlertView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class AlertAcknowledgementCreate(WireModel):
    model_config = example({"note": "Discussed at the start of session 6."})

    note: Annotated[Text, Field(max_length=1000)] | None = None


class AlertClosureCreate(WireModel):
    model_config = example({"reason": "discussed", "note": None})

    reason: ClosureReason
    note: Annotated[Text, Field(max_length=1000)] | None = None


class AlertPolicyProfile(WireModel):
    model_config = example({"name": "balanced", "moderate": 1.2, "high": 2.5})

    name: AlertProfile
    moderate: float = Field(description="Combined change Z that opens a moderate alert.")
    high: float = Field(description="Combined change Z that makes it high.")


class AlertPolicyView(WireModel):
    model_config = example({"profile": "balanced", "profiles": []})

    profile: AlertProfile = Field(description="The organisation's profile.")
    profiles: list[AlertPolicyProfile]


class AlertPolicyUpdate(WireModel):
    model_config = example({"profile": "specific"})

    profile: AlertProfile


# -- Webhooks ----------------------------------------------------------------------------------

EventType = TypeAliasType(
    "EventType",
    Annotated[
        Literal[
            "alert.opened",
            "alert.updated",
            "alert.repaired",
            "alert.unrepaired",
            "alert.withdrawn",
            "alert.acknowledged",
            "alert.closed",
            "rupture.raised",
            "rupture.repaired",
            "rupture.unrepaired",
            "rupture.withdrawn",
        ],
        named(
            "alert.opened",
            "What happened to an alert (alert.*), or to one rupture flag (rupture.*, sent only"
            " to endpoints that ask for them by name).",
        ),
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
        Field(
            min_length=1,
            description="The events to send; every alert.* event if left out.",
        ),
    ] = None
    include_fhir_flag: StrictBool = Field(
        default=False,
        description=(
            "Each event also carries FHIR R4 resources: an alert as a Flag and a"
            " DetectedIssue, a rupture flag as a Flag."
        ),
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


class AlertEventData(WireModel):
    """The episode (by the caller's own references: no names) and the alert, as
    `GET /v1/alerts/{id}` shows it, guidance in English."""

    model_config = example(
        {
            "episode_id": EXAMPLE_ID, "patient_ref": "ehr-4711", "clinician_ref": "staff-17",
            "setting": "psychotherapy", "alert": ALERT_EXAMPLE,
        }
    )  # fmt: skip

    episode_id: UUID
    patient_ref: str
    clinician_ref: str
    setting: str | None
    alert: AlertView
    fhir_flag: FhirResource | None = Field(
        default=None, description="With `include_fhir_flag`: the alert as a FHIR R4 Flag."
    )
    fhir_detected_issue: FhirResource | None = Field(
        default=None,
        description="With `include_fhir_flag`: the alert as a FHIR R4 DetectedIssue.",
    )


class AlertEvent(WireModel):
    """The body of a webhook delivery about an alert: at most one per alert per write."""

    model_config = example(
        {
            "type": "alert.opened",
            "timestamp": "2026-11-22T09:31:00Z",
            "data": {
                "episode_id": EXAMPLE_ID, "patient_ref": "ehr-4711",
                "clinician_ref": "staff-17", "setting": "psychotherapy",
                "alert": ALERT_EXAMPLE,
            },
        }
    )  # fmt: skip

    type: EventType
    timestamp: AwareDatetime
    data: AlertEventData


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
