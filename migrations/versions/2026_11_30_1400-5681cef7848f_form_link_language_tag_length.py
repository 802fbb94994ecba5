"""A form link's language holds any language tag the catalogues accept: up to 12 characters
(`LANGUAGE_TAG`: a primary language of 2 or 3 letters, then a subtag of up to 8), not 8.

Revision ID: 5681cef7848f
Revises: 79ab835b4437
Create Date: 2026-11-30 14:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5681cef7848f"
down_revision: str | None = "79ab835b4437"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.alter_column(
            "language",
            existing_type=sa.String(length=8),
            type_=sa.String(length=12),
            existing_nullable=True,
        )


def downgrade() -> None:
    # A tag longer than the old width cannot be kept: such a link falls back to the
    # patient's browser language, as a link made without one does.
    op.execute("UPDATE invitation SET language = NULL WHERE length(language) > 8")
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.alter_column(
            "language",
            existing_type=sa.String(length=12),
            type_=sa.String(length=8),
            existing_nullable=True,
        )
