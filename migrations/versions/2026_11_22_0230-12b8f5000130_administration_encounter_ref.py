"""Administrations carry the caller's encounter reference (from FHIR or JSON).

Revision ID: 12b8f5000130
Revises: 6d95e8cd2a52
Create Date: 2026-11-22 02:07:44.494748+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "12b8f5000130"
down_revision: str | None = "6d95e8cd2a52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("administration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("encounter_ref", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("administration", schema=None) as batch_op:
        batch_op.drop_column("encounter_ref")
