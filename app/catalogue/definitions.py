"""The stored copy of every loaded instrument definition, by hash, so that any stored score
can be recomputed."""

from __future__ import annotations

import logging
from datetime import datetime

from app.instruments.registry import InstrumentRegistry, LoadedInstrument
from app.platform import store
from app.platform.db import Database

# The use cases of scoring, definitions and readiness shared this logger: log lines keep its name.
logger = logging.getLogger("bordin.services")


def register_definitions(database: Database, registry: InstrumentRegistry, now: datetime) -> None:
    """Keep a copy of every loaded definition, by hash, so any stored score can be recomputed.

    A definition whose content changed without a new version is logged: its scores are
    still told apart by hash, but the author should have bumped the version.
    """
    rows = [definition_row(loaded, now) for loaded in registry]
    with database.session() as session:
        store.insert_definitions(session, rows)
        session.commit()
        for loaded in registry:
            others = [
                digest
                for digest in store.stored_hashes(session, loaded.id, loaded.version)
                if digest != loaded.definition_hash
            ]
            if others:
                logger.warning(
                    "instrument %s %s changed since it was first registered (%d other hash(es));"
                    " bump its version when a key changes",
                    loaded.id,
                    loaded.version,
                    len(others),
                )


def definition_row(loaded: LoadedInstrument, now: datetime) -> dict[str, object]:
    """The stored copy of a loaded definition (inserted once per hash)."""
    return {
        "definition_hash": loaded.definition_hash,
        "instrument_id": loaded.id,
        "version": loaded.version,
        "definition": loaded.definition.model_dump(mode="json"),
        "registered_at": now,
    }
