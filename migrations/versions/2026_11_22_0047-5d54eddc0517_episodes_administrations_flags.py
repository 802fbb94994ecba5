"""Episodes of care, append-only administrations, idempotency keys and rupture flags.

Every row belongs to an organisation; the local one is created here for the records made
before API keys exist.

Revision ID: 5d54eddc0517
Revises: fa9154120e0b
Create Date: 2026-11-22 00:47:24.732629+00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "5d54eddc0517"
down_revision: str | None = "fa9154120e0b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app.platform.tables.LOCAL_ORGANIZATION_ID: a migration keeps its own copy of what it writes.
LOCAL_ORGANIZATION_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def upgrade() -> None:
    organization = op.create_table(
        "organization",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
    )
    op.bulk_insert(
        organization,
        [{"id": LOCAL_ORGANIZATION_ID, "name": "Local", "created_at": datetime.now(UTC)}],
    )
    op.create_table(
        "episode",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("patient_ref", sa.String(length=200), nullable=False),
        sa.Column("clinician_ref", sa.String(length=200), nullable=False),
        sa.Column("setting", sa.String(length=32), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_episode_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episode")),
    )
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.create_index(
            "ix_episode_organization_created", ["organization_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_episode_organization_patient", ["organization_id", "patient_ref"], unique=False
        )

    op.create_table(
        "idempotency_key",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("request_hash", sa.String(length=71), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episode.id"],
            name=op.f("fk_idempotency_key_episode_id_episode"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_idempotency_key_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("organization_id", "key", name=op.f("pk_idempotency_key")),
    )
    op.create_table(
        "administration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("rater", sa.String(length=16), nullable=False),
        sa.Column("session", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episode.id"],
            name=op.f("fk_administration_episode_id_episode"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_administration_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_administration")),
        sa.UniqueConstraint(
            "episode_id",
            "instrument_id",
            "rater",
            "session",
            name=op.f("uq_administration_episode_id_instrument_id_rater_session"),
        ),
    )
    with op.batch_alter_table("administration", schema=None) as batch_op:
        batch_op.create_index(
            "ix_administration_organization_instrument",
            ["organization_id", "instrument_id"],
            unique=False,
        )

    op.create_table(
        "administration_revision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("administration_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("instrument_version", sa.String(length=32), nullable=False),
        sa.Column("definition_hash", sa.String(length=71), nullable=False),
        sa.Column("administered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responses", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administration.id"],
            name=op.f("fk_administration_revision_administration_id_administration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["definition_hash"],
            ["instrument_definition.definition_hash"],
            name=op.f("fk_administration_revision_definition_hash_instrument_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_administration_revision_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_administration_revision")),
        sa.UniqueConstraint(
            "administration_id",
            "revision",
            name=op.f("uq_administration_revision_administration_id_revision"),
        ),
    )
    op.create_table(
        "rupture_flag",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("administration_id", sa.Uuid(), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("rater", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("scale", sa.String(length=64), nullable=False),
        sa.Column("session", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("flag", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administration.id"],
            name=op.f("fk_rupture_flag_administration_id_administration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episode.id"],
            name=op.f("fk_rupture_flag_episode_id_episode"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_rupture_flag_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rupture_flag")),
    )
    with op.batch_alter_table("rupture_flag", schema=None) as batch_op:
        batch_op.create_index("ix_rupture_flag_episode", ["episode_id", "session"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rupture_flag", schema=None) as batch_op:
        batch_op.drop_index("ix_rupture_flag_episode")

    op.drop_table("rupture_flag")
    op.drop_table("administration_revision")
    with op.batch_alter_table("administration", schema=None) as batch_op:
        batch_op.drop_index("ix_administration_organization_instrument")

    op.drop_table("administration")
    op.drop_table("idempotency_key")
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.drop_index("ix_episode_organization_patient")
        batch_op.drop_index("ix_episode_organization_created")

    op.drop_table("episode")
    op.drop_table("organization")
