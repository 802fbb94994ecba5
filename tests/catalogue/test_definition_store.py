"""Loaded definitions are kept by hash so any score can be recomputed from what computed it."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from app.catalogue import definitions
from app.instruments.registry import InstrumentRegistry
from app.platform import store
from app.platform.db import Database
from app.platform.tables import InstrumentDefinitionRecord

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _row(registry: InstrumentRegistry, instrument_id: str) -> dict[str, object]:
    return definitions.definition_row(registry.get(instrument_id), NOW)


def test_a_definition_is_stored_once_however_often_it_is_inserted(
    session: Session, registry: InstrumentRegistry
) -> None:
    hashes = [registry.get(name).definition_hash for name in ("wai-sr", "srs")]
    for _ in range(3):
        store.insert_definitions(session, [_row(registry, "wai-sr"), _row(registry, "srs")])
    count = session.scalar(
        select(func.count())
        .select_from(InstrumentDefinitionRecord)
        .where(InstrumentDefinitionRecord.definition_hash.in_(hashes))
    )
    assert count == 2
    stored = session.get(InstrumentDefinitionRecord, registry.get("wai-sr").definition_hash)
    assert stored is not None
    assert stored.definition == registry.get("wai-sr").definition.model_dump(mode="json")


def test_start_up_registers_every_loaded_definition(
    engine: Engine, registry: InstrumentRegistry
) -> None:
    database = Database(engine)
    definitions.register_definitions(database, registry, NOW)
    definitions.register_definitions(database, registry, NOW)  # a second process starting
    with database.session() as session:
        for loaded in registry:
            assert store.stored_hashes(session, loaded.id, loaded.version) == [
                loaded.definition_hash
            ]


def test_a_definition_changed_without_a_new_version_is_logged(
    engine: Engine, registry: InstrumentRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(engine)
    row = _row(registry, "cgi-i")
    changed = copy.deepcopy(row["definition"])
    assert isinstance(changed, dict)
    changed["items"][0]["reverse"] = True
    stale = {**row, "definition_hash": "sha256:" + "0" * 64, "definition": changed}
    with _stored(database, stale), caplog.at_level(logging.WARNING, logger="bordin.services"):
        definitions.register_definitions(database, registry, NOW)
    assert "instrument cgi-i 1.0.0 changed since it was first registered" in caplog.text


def test_a_definition_whose_words_alone_changed_is_no_warning(
    engine: Engine, registry: InstrumentRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """The stored 1.1.0 definitions held their French beside the English ({en, fr}); the
    French moved to the language catalogues, so the hash changed and the scoring did not."""
    database = Database(engine)
    row = _row(registry, "wai-sr")
    before = copy.deepcopy(row["definition"])
    assert isinstance(before, dict)
    before["title"] = {"en": before["title"], "fr": "Inventaire de l'alliance de travail"}
    for item in before["items"]:
        item["label"] = {"en": item["label"], "fr": "x"}
    stale = {**row, "definition_hash": "sha256:" + "1" * 64, "definition": before}
    with _stored(database, stale), caplog.at_level(logging.INFO, logger="bordin.services"):
        definitions.register_definitions(database, registry, NOW)
    assert "instrument wai-sr 1.1.0: only its words changed" in caplog.text
    assert "wai-sr 1.1.0 changed since" not in caplog.text


@contextmanager
def _stored(database: Database, row: dict[str, object]) -> Iterator[None]:
    """An earlier definition stored under its own hash while the block runs (shared database)."""
    with database.session() as session:
        store.insert_definitions(session, [row])
        session.commit()
    try:
        yield
    finally:
        with database.session() as session:
            session.execute(
                delete(InstrumentDefinitionRecord).where(
                    InstrumentDefinitionRecord.definition_hash == row["definition_hash"]
                )
            )
            session.commit()
