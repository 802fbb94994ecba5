"""Instrument definitions: a copy of every definition the service has loaded, by hash.

Revision ID: fa9154120e0b
Revises:
Create Date: 2026-11-22 00:07:30.698460+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fa9154120e0b"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instrument_definition",
        sa.Column("definition_hash", sa.String(length=71), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("definition_hash", name=op.f("pk_instrument_definition")),
    )
    with op.batch_alter_table("instrument_definition", schema=None) as batch_op:
        batch_op.create_index(
            "ix_instrument_definition_id_version",
            ["instrument_id", "version"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("instrument_definition", schema=None) as batch_op:
        batch_op.drop_index("ix_instrument_definition_id_version")

    op.drop_table("instrument_definition")
