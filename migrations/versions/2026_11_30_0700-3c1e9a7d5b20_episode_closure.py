"""An episode can end: the day it ended and why, so that rules waiting for later sessions
settle.

Revision ID: 3c1e9a7d5b20
Revises: f4ceb534ee5a
Create Date: 2026-11-30 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1e9a7d5b20"
down_revision: str | None = "f4ceb534ee5a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.drop_column("end_reason")
        batch_op.drop_column("ended_on")
