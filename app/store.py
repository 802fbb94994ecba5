"""Every SQL query of the service, as plain functions over a session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.tables import InstrumentDefinitionRecord


def insert_definitions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert definitions not stored yet; concurrent start-ups insert each hash once."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(InstrumentDefinitionRecord)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["definition_hash"])
    )
    session.execute(statement)


def stored_hashes(session: Session, instrument_id: str, version: str) -> list[str]:
    statement = (
        select(InstrumentDefinitionRecord.definition_hash)
        .where(
            InstrumentDefinitionRecord.instrument_id == instrument_id,
            InstrumentDefinitionRecord.version == version,
        )
        .order_by(InstrumentDefinitionRecord.registered_at)
    )
    return list(session.scalars(statement))
