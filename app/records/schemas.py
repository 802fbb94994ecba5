"""Wire schemas of records: episodes of care, administrations, trajectories, rupture flags
and the organisation's statistics."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, JsonValue
from typing_extensions import TypeAliasType

from app.catalogue.schemas import GuidanceView
from app.http.schemas import (
    EXAMPLE_ID,
    CalendarDate,
    SessionNumber,
    Text,
    Timestamp,
    WireModel,
    example,
    named,
)
from app.scoring.schemas import (
    SCORE_RESULT_EXAMPLE,
    WAI_SR_EXAMPLE,
    Responses,
    RuptureFlag,
    ScoreResult,
)

if TYPE_CHECKING:  # the alerts part's schema; it rebuilds AdministrationRecorded
    from app.alerts.schemas import AlertView

# -- Records: episodes of care and administrations -------------------------------------------

Rater = TypeAliasType(
    "Rater",
    Annotated[
        Literal["client", "therapist", "observer"],
        named("client", "Who rated: a clinician's scale is rated by the therapist or an observer."),
    ],
)
CareSetting = TypeAliasType(
    "CareSetting",
    Annotated[
        Literal["psychotherapy", "nursing", "physiotherapy"],
        named("psychotherapy", "The episode's care setting; repair guidance depends on it."),
    ],
)
AdministrationStatus = TypeAliasType(
    "AdministrationStatus",
    Annotated[
        Literal["recorded", "corrected", "withdrawn"],
        named("recorded", "An administration's current state; revisions keep the earlier ones."),
    ],
)
RepairState = TypeAliasType(
    "RepairState",
    Annotated[
        Literal["repaired", "unrepaired", "pending"],
        named("repaired", "Whether a later session within the repair window got back."),
    ],
)
Reference = Annotated[Text, Field(min_length=1, max_length=200)]


class EpisodeCreate(WireModel):
    """The caller's own opaque references: no names or other identifying data."""

    model_config = example(
        {"patient_ref": "ehr-8841", "clinician_ref": "staff-17", "setting": "psychotherapy"}
    )

    patient_ref: Reference
    clinician_ref: Reference
    setting: CareSetting | None = None
    started_on: CalendarDate | None = None
    label: Annotated[Text, Field(max_length=200)] | None = None


EpisodeEndReason = TypeAliasType(
    "EpisodeEndReason",
    Annotated[
        Literal["completed", "dropped_out", "referred", "other"],
        named("completed", "Why an episode of care ended."),
    ],
)


class EpisodeView(WireModel):
    model_config = example(
        {
            "id": "0b7e4c3e-4d0a-4a8e-9d43-0f1f5b6c2a11", "patient_ref": "ehr-8841",
            "clinician_ref": "staff-17", "setting": "psychotherapy", "started_on": None,
            "label": None, "created_at": "2026-11-22T09:00:00Z", "ended_on": None,
            "end_reason": None,
        }
    )  # fmt: skip

    id: UUID
    patient_ref: str
    clinician_ref: str
    setting: CareSetting | None
    started_on: date | None
    label: str | None
    created_at: AwareDatetime
    ended_on: date | None = Field(
        default=None, description="The day the episode ended; null while it goes on."
    )
    end_reason: EpisodeEndReason | None = None


class EpisodeClosure(WireModel):
    """The end of an episode of care: no later session will come."""

    model_config = example({"ended_on": "2026-06-30", "reason": "completed"})

    ended_on: date
    reason: EpisodeEndReason


class EpisodeList(WireModel):
    model_config = example({"items": [], "next_cursor": None})

    items: list[EpisodeView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class AdministrationCreate(WireModel):
    model_config = example(
        {
            "instrument": "wai-sr", "rater": "client", "session": 5,
            "administered_at": "2026-11-22T10:30:00+01:00", "responses": WAI_SR_EXAMPLE,
        }
    )  # fmt: skip

    instrument: Text
    version: Text | None = Field(default=None, description="Definition version; latest if absent.")
    rater: Rater
    session: SessionNumber
    administered_at: Timestamp = Field(description="RFC 3339 with a time zone offset.")
    responses: Responses
    encounter_ref: Reference | None = Field(
        default=None,
        description="The caller's opaque reference of the encounter (visit), e.g. an EHR id.",
    )


class AdministrationCorrection(WireModel):
    model_config = example({"responses": WAI_SR_EXAMPLE, "reason": "item 8 was keyed in wrong"})

    responses: Responses
    reason: Annotated[Text, Field(min_length=1, max_length=2000)]
    administered_at: Timestamp | None = Field(default=None, description="Unchanged if absent.")
    version: Text | None = Field(default=None, description="Unchanged if absent.")


class AdministrationWithdrawal(WireModel):
    model_config = example({"reason": "administered to the wrong patient"})

    reason: Annotated[Text, Field(min_length=1, max_length=2000)]


class RevisionView(WireModel):
    model_config = example(
        {
            "revision": 1, "status": "recorded", "reason": None, "version": "1.1.0",
            "administered_at": "2026-11-22T09:30:00Z", "created_at": "2026-11-22T09:31:00Z",
        }
    )  # fmt: skip

    revision: int
    status: AdministrationStatus
    reason: str | None
    version: str
    administered_at: AwareDatetime
    created_at: AwareDatetime


class RepairPoint(WireModel):
    """The session whose score got back to a flag's reference."""

    model_config = example({"session": 8, "administration_id": EXAMPLE_ID})

    session: int
    administration_id: str


class FlagPoint(WireModel):
    """The session and administration of a flag."""

    model_config = example({"session": 4, "administration_id": EXAMPLE_ID})

    session: int
    administration_id: str


class CounterpartScore(WireModel):
    """rater_discrepancy: the other rater's administration of the same session."""

    model_config = example(
        {"instrument": "wai-therapist", "administration_id": EXAMPLE_ID, "pomp": 81.25}
    )

    instrument: str
    administration_id: str
    pomp: float | None


class EpisodeRuptureFlag(RuptureFlag):
    """A rupture flag of an episode's series, with its repair state."""

    model_config = example(
        {
            "rule": "v_drop", "scale": "bond", "session": 6, "instrument": "wai-sr",
            "rater": "client", "administration_id": EXAMPLE_ID, "value": 9.0, "reference": 15.5,
            "threshold": 2.8, "severity": "strict",
            "spread_source": "client_history and between_client (norms: …)",
            "citation": "Stiles et al. 2004; Gumz et al. 2012", "repaired": True,
            "repaired_at": {"session": 8, "administration_id": EXAMPLE_ID}, "state": "repaired",
        }
    )  # fmt: skip

    instrument: str
    rater: Rater
    session: int
    administration_id: str
    reference: float | None = None
    spread_source: str | None = None
    repaired: bool | None = None
    repaired_at: RepairPoint | None = None
    state: RepairState | None = None
    continuing: bool = Field(
        default=False,
        description=(
            "This flag continues an earlier rupture of the same rule and scale that was not"
            " repaired by this session (a drop that persists, a score that stays below the"
            " cut-off): evidence of the same rupture, not a new one."
        ),
    )
    continues: FlagPoint | None = Field(
        default=None, description="The flag that opened the rupture this one continues."
    )
    counterpart: CounterpartScore | None = None
    guidance: list[GuidanceView] = Field(
        default=[], description="Next clinical steps for this flag, in the caller's language."
    )


class NotEvaluatedView(WireModel):
    model_config = example(
        {
            "instrument": "wai-sr", "rater": "client", "rule": "v_drop", "scale": "bond",
            "sessions": [1, 2, 3], "reason": "fewer than 3 earlier administrations in the series",
        }
    )  # fmt: skip

    instrument: str
    rater: Rater
    rule: str
    scale: str
    sessions: list[int]
    reason: str


ADMINISTRATION_EXAMPLE: dict[str, JsonValue] = {
    "id": EXAMPLE_ID,
    "episode_id": "0b7e4c3e-4d0a-4a8e-9d43-0f1f5b6c2a11",
    "instrument": "wai-sr", "version": "1.1.0", "definition_hash": "sha256:…",
    "rater": "client", "session": 5, "administered_at": "2026-11-22T09:30:00Z",
    "status": "recorded", "revision": 1, "responses": WAI_SR_EXAMPLE,
    "result": SCORE_RESULT_EXAMPLE, "history": [], "created_at": "2026-11-22T09:31:00Z",
}  # fmt: skip


class AdministrationView(WireModel):
    model_config = example(ADMINISTRATION_EXAMPLE)

    id: UUID
    episode_id: UUID
    instrument: str
    version: str
    definition_hash: str
    rater: Rater
    session: int
    encounter_ref: str | None = None
    administered_at: AwareDatetime
    status: AdministrationStatus
    revision: int
    responses: Responses
    result: ScoreResult
    history: list[RevisionView] = Field(description="Earlier revisions, oldest first.")
    created_at: AwareDatetime


class AdministrationRecorded(AdministrationView):
    """The stored administration, the rupture flags it raised, and the alerts this write
    opened or changed."""

    model_config = example({**ADMINISTRATION_EXAMPLE, "ruptures": [], "alerts": []})

    ruptures: list[EpisodeRuptureFlag]
    # AlertView is the alerts part's (app/alerts/schemas.py, which rebuilds this model).
    alerts: list[AlertView] = Field(
        default=[], description="The alerts this write opened or changed."
    )


class AdministrationList(WireModel):
    model_config = example({"items": [], "next_cursor": None})

    items: list[AdministrationView]
    next_cursor: str | None


class PointScore(WireModel):
    """A scale's score at one session of a trajectory; null together when not scored."""

    model_config = example({"score": 16.0, "mean": 4.0, "pomp": 75.0})

    score: float | None
    mean: float | None
    pomp: float | None


class TrajectoryPoint(WireModel):
    model_config = example(
        {
            "session": 5, "administered_at": "2026-11-22T09:30:00Z",
            "administration_id": EXAMPLE_ID,
            "scales": {"bond": {"score": 16.0, "mean": 4.0, "pomp": 75.0}},
        }
    )  # fmt: skip

    session: int
    administered_at: AwareDatetime
    administration_id: UUID
    scales: dict[str, PointScore]


class Trajectory(WireModel):
    model_config = example(
        {
            "instrument": "wai-sr",
            "rater": "client",
            "points": [],
            "ruptures": [],
            "not_evaluated": [],
        }
    )

    instrument: str
    rater: Rater
    points: list[TrajectoryPoint]
    ruptures: list[EpisodeRuptureFlag]
    not_evaluated: list[NotEvaluatedView]


class EpisodeRuptures(WireModel):
    model_config = example({"items": [], "not_evaluated": []})

    items: list[EpisodeRuptureFlag]
    not_evaluated: list[NotEvaluatedView]


class ScaleStatisticsView(WireModel):
    model_config = example(
        {"count": 120, "mean": 44.1, "sd": 7.9, "alpha": 0.88, "alpha_count": 117}
    )

    count: int
    mean: float | None
    sd: float | None
    alpha: float | None = Field(description="Cronbach's alpha of complete item-level answers.")
    alpha_count: int


class InstrumentStatistics(WireModel):
    model_config = example(
        {
            "instrument": "wai-sr",
            "scales": {
                "total": {"count": 120, "mean": 44.1, "sd": 7.9, "alpha": 0.88, "alpha_count": 117}
            },
        }
    )

    instrument: str
    scales: dict[str, ScaleStatisticsView]


class AdministrationAcknowledgement(WireModel):
    """What a `submit` key gets back: the record was stored, and nothing of its content."""

    model_config = example(
        {
            "id": EXAMPLE_ID, "episode_id": EXAMPLE_ID, "instrument": "wai-sr",
            "rater": "client", "session": 5, "status": "recorded",
        }
    )  # fmt: skip

    id: UUID
    episode_id: UUID
    instrument: str
    rater: Rater
    session: int
    status: AdministrationStatus
