"""Alerts: one per rupture, derived from each episode's evidence, with what clinicians did with
them; and each organisation's alert profile.

Revision ID: 184337b8bb70
Revises: 3c1e9a7d5b20
Create Date: 2026-11-30 08:17:14.982344+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "184337b8bb70"
down_revision: str | None = "3c1e9a7d5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The worklist's default page: active alerts that notify (as app/platform/tables.py says).
ACTIVE_ALERTS = "status IN ('open', 'unrepaired') AND priority_rank >= 1"


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("opened_session", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_session", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("clinician_ref", sa.String(length=200), nullable=False),
        sa.Column("setting", sa.String(length=32), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("back_session", sa.Integer(), nullable=True),
        sa.Column("back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement_note", sa.String(length=1000), nullable=True),
        sa.Column("closed_after_session", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("closure_reason", sa.String(length=32), nullable=True),
        sa.Column("closure_note", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episode.id"],
            name=op.f("fk_alert_episode_id_episode"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_alert_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint(
            "episode_id", "opened_session", name=op.f("uq_alert_episode_id_opened_session")
        ),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_active",
            ["organization_id", "priority_rank", "opened_at", "id"],
            unique=False,
            postgresql_where=sa.text(ACTIVE_ALERTS),
            sqlite_where=sa.text(ACTIVE_ALERTS),
        )
        batch_op.create_index(
            "ix_alert_worklist",
            ["organization_id", "status", "priority_rank", "opened_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "alert_profile", sa.String(length=16), server_default="balanced", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("alert_profile")

    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_worklist")
        batch_op.drop_index("ix_alert_active")

    op.drop_table("alert")
