"""Audit events name a JWT caller by its token's issuer and subject.

Revision ID: f4ceb534ee5a
Revises: 12b8f5000130
Create Date: 2026-11-23 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4ceb534ee5a"
down_revision: str | None = "12b8f5000130"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("jwt_issuer", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("jwt_subject", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("jwt_subject")
        batch_op.drop_column("jwt_issuer")
