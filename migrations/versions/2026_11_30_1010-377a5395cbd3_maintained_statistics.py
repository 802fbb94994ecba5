"""Maintained statistics: running sums of each organisation's administrations of an
instrument, in shards (app/platform/tables.py, InstrumentStatistic). Empty at first: the first
write of each instrument under a definition seeds them from the stored history.

Revision ID: 377a5395cbd3
Revises: 184337b8bb70
Create Date: 2026-11-30 10:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "377a5395cbd3"
down_revision: str | None = "184337b8bb70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instrument_statistic",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("definition_hash", sa.String(length=71), nullable=False),
        sa.Column("sums", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_instrument_statistic_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "instrument_id", "shard", name=op.f("pk_instrument_statistic")
        ),
    )


def downgrade() -> None:
    op.drop_table("instrument_statistic")
