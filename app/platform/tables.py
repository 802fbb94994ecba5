"""Database tables (SQLAlchemy 2 declarative). Wire schemas and YAML models live elsewhere.

Every row that holds patient data belongs to an organisation (`organization_id`); the store
scopes every query by it. Administrations are append-only: a correction or a withdrawal adds a
revision and keeps the earlier ones.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints keep migrations reviewable and portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The organisation that owns every record until API keys name one (the security issue).
LOCAL_ORGANIZATION_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back with its time zone (SQLite forgets it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class InstrumentDefinitionRecord(Base):
    """Every definition the service has loaded, by hash, so any score can be recomputed later."""

    __tablename__ = "instrument_definition"

    definition_hash: Mapped[str] = mapped_column(String(71), primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_instrument_definition_id_version", "instrument_id", "version"),)


class Organization(Base):
    __tablename__ = "organization"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The alert policy's profile (app/core/alert_policy.py PROFILES).
    alert_profile: Mapped[str] = mapped_column(String(16), server_default="balanced")
    # What the patient form's thank-you page says about where to find help at once, by
    # language ({"en": ..., "fr": ...}); none by default.
    crisis_text: Mapped[dict[str, str] | None] = mapped_column(JSON)


class Episode(Base):
    """One course of care between one patient and one clinician (or team)."""

    __tablename__ = "episode"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    patient_ref: Mapped[str] = mapped_column(String(200))
    clinician_ref: Mapped[str] = mapped_column(String(200))
    setting: Mapped[str | None] = mapped_column(String(32))
    started_on: Mapped[date | None] = mapped_column(Date)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # An ended episode has no later session: rules waiting for one settle.
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_episode_organization_patient", "organization_id", "patient_ref"),
        Index("ix_episode_organization_created", "organization_id", "created_at", "id"),
    )


class Administration(Base):
    """One instrument, rated by one rater kind, at one session of an episode."""

    __tablename__ = "administration"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    instrument_id: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(16))
    session: Mapped[int] = mapped_column(Integer)
    # The caller's opaque reference of the encounter (visit) it belongs to, e.g. an EHR id.
    encounter_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("episode_id", "instrument_id", "rater", "session"),
        Index("ix_administration_organization_instrument", "organization_id", "instrument_id"),
    )


class AdministrationRevision(Base):
    """A state of an administration: as recorded, as corrected, or withdrawn. Never updated."""

    __tablename__ = "administration_revision"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE")
    )
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    instrument_version: Mapped[str] = mapped_column(String(32))
    definition_hash: Mapped[str] = mapped_column(
        ForeignKey("instrument_definition.definition_hash")
    )
    administered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    responses: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("administration_id", "revision"),)


class IdempotencyRecord(Base):
    """The response given to a request with an Idempotency-Key, to replay it exactly."""

    __tablename__ = "idempotency_key"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The stored response holds patient data: erasing the episode erases it too.
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    request_hash: Mapped[str] = mapped_column(String(71))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RuptureFlagRecord(Base):
    """A rupture flag of an episode's current evaluation (replaced when its series changes)."""

    __tablename__ = "rupture_flag"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    administration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("administration.id", ondelete="CASCADE")
    )
    instrument_id: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(32))
    scale: Mapped[str] = mapped_column(String(64))
    session: Mapped[int] = mapped_column(Integer)
    state: Mapped[str | None] = mapped_column(String(16))
    flag: Mapped[dict[str, Any]] = mapped_column(JSON)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_rupture_flag_episode", "episode_id", "session"),)


ACTIVE_ALERTS = "status IN ('open', 'unrepaired') AND priority_rank >= 1"


class InstrumentStatistic(Base):
    """Running sums of an organisation's administrations of one instrument (the statistics of
    `app.core.statistics`), kept in shards so that writes to different episodes seldom wait
    for one another: the organisation's sums are the sum of its shards. Seeded from the
    stored history by the first write under a definition (`definition_hash`), then changed by
    each write in its own transaction (app/records/statistics.py). Sums, never answers."""

    __tablename__ = "instrument_statistic"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id"), primary_key=True
    )
    instrument_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_hash: Mapped[str] = mapped_column(String(71))
    sums: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertRecord(Base):
    """An episode's alert: one rupture, derived again from the episode's evidence on every
    write (`app.core.alert_grouping`), identified by the session that opened it. What a
    clinician did with it (acknowledgement, closure) is kept here and survives re-derivation."""

    __tablename__ = "alert"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    opened_session: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_session: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    late: Mapped[bool] = mapped_column(Boolean)
    priority: Mapped[str] = mapped_column(String(8))
    # 2 high, 1 moderate, 0 low: the worklist's order.
    priority_rank: Mapped[int] = mapped_column(Integer)
    # Copied from the episode so that the worklist filters with an index, not a join.
    clinician_ref: Mapped[str] = mapped_column(String(200))
    setting: Mapped[str | None] = mapped_column(String(32))
    # The derived content: dimensions, kinds, evidence (flags), changes, guidance ids, and
    # when it came back (back_session, back_at).
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    back_session: Mapped[int | None] = mapped_column(Integer)
    back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledgement_note: Mapped[str | None] = mapped_column(String(1000))
    closed_after_session: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closure_reason: Mapped[str | None] = mapped_column(String(32))
    closure_note: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("episode_id", "opened_session"),
        # The worklist's default page: the organisation's active alerts that notify, by
        # priority then newest first (read backwards). A partial index: it holds only them.
        Index(
            "ix_alert_active",
            "organization_id",
            "priority_rank",
            "opened_at",
            "id",
            postgresql_where=text(ACTIVE_ALERTS),
            sqlite_where=text(ACTIVE_ALERTS),
        ),
        # Any other status or priority asked for.
        Index("ix_alert_worklist", "organization_id", "status", "priority_rank", "opened_at", "id"),
    )


class ApiKey(Base):
    """A caller's key: only its public prefix and a hash of its secret are kept."""

    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(71))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who touched which patient record, when, and how it ended. Never the data itself."""

    __tablename__ = "audit_event"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # A JWT caller (no key): its token's issuer and subject (the calling system).
    jwt_issuer: Mapped[str | None] = mapped_column(String(255))
    jwt_subject: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_audit_event_organization_at", "organization_id", "at", "id"),)


class WebhookEndpoint(Base):
    """Where an organisation wants its rupture alerts pushed. The signing secret is kept in
    clear: the service needs it to sign every delivery (it is shown to the admin only once)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(64))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    # Whether each alert also carries the flag as a FHIR R4 Flag resource.
    include_fhir_flag: Mapped[bool] = mapped_column(Boolean)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_webhook_endpoint_organization", "organization_id", "created_at"),)


class WebhookEvent(Base):
    """The outbox: one event for one endpoint, written in the transaction that caused it, and
    delivered afterwards (its id is the `webhook-id` receivers dedupe by). A lease
    (`locked_until`) marks it as being delivered; once it expires the event is due again."""

    __tablename__ = "webhook_event"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoint.id"))
    # The payload names the patient (by reference): erasing the episode erases its events.
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_webhook_event_due", "status", "next_attempt_at"),
        Index("ix_webhook_event_endpoint", "endpoint_id", "status"),
        Index("ix_webhook_event_episode", "episode_id"),
    )


class WebhookDelivery(Base):
    """One attempt to deliver an event: when, how long, and the receiver's status or the
    error (short; never the receiver's body)."""

    __tablename__ = "webhook_delivery"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_event.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoint.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    duration_ms: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_webhook_delivery_endpoint", "endpoint_id", "attempted_at", "id"),
        Index("ix_webhook_delivery_event", "event_id"),
    )


class Invitation(Base):
    """A form link for one episode and session: its token is shown once (in the URL) and only
    a hash of it is kept. It serves until every instrument is answered, or it expires."""

    __tablename__ = "invitation"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(71), unique=True)
    instruments: Mapped[list[str]] = mapped_column(JSON)
    session: Mapped[int] = mapped_column(Integer)
    # A language tag (app/languages/catalogues.py LANGUAGE_TAG: 12 characters at most).
    language: Mapped[str | None] = mapped_column(String(12))
    kiosk: Mapped[bool] = mapped_column(Boolean)
    # The instruments answered so far (each recorded as soon as its page is sent).
    completed: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsoleAccount(Base):
    """A local sign-in to the clinician console (practices without an EHR): the password is
    kept as an Argon2id hash."""

    __tablename__ = "console_account"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    clinician_ref: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsoleLink(Base):
    """A one-time sign-in link an EHR asked for, for its signed-in clinician: valid a minute,
    used once; only a hash of its token is kept."""

    __tablename__ = "console_link"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    token_hash: Mapped[str] = mapped_column(String(71), unique=True)
    clinician_ref: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    next_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsoleSession(Base):
    """A signed-in clinician: the session cookie carries this id, signed; the CSRF token every
    console form must send back is kept here."""

    __tablename__ = "console_session"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    clinician_ref: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # How the clinician signed in: "link" (an EHR's one-time link) or "account".
    method: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
