"""The stored copy of every loaded instrument definition, by hash, so that any stored score
can be recomputed."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from app.instruments.registry import InstrumentRegistry, LoadedInstrument
from app.platform import store
from app.platform.db import Database

# The use cases of scoring, definitions and readiness shared this logger: log lines keep its name.
logger = logging.getLogger("bordin.services")


def register_definitions(database: Database, registry: InstrumentRegistry, now: datetime) -> None:
    """Keep a copy of every loaded definition, by hash, so any stored score can be recomputed.

    A definition whose content changed without a new version is logged: its scores are
    still told apart by hash, but the author should have bumped the version. A change of
    its words alone (titles and labels: a reworded label, or the French that moved to the
    language catalogues) scores nothing differently: it is logged as information only.
    """
    rows = [definition_row(loaded, now) for loaded in registry]
    with database.session() as session:
        store.insert_definitions(session, rows)
        session.commit()
        for loaded in registry:
            others = [
                definition
                for digest, definition in store.stored_definitions(
                    session, loaded.id, loaded.version
                )
                if digest != loaded.definition_hash
            ]
            if not others:
                continue
            current = without_words(loaded.definition.model_dump(mode="json"))
            if all(without_words(other) == current for other in others):
                logger.info(
                    "instrument %s %s: only its words changed since it was first registered"
                    " (%d other hash(es)); its scoring did not",
                    loaded.id, loaded.version, len(others),
                )  # fmt: skip
                continue
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


def without_words(definition: Any) -> Any:
    """A stored definition without its titles and labels: what scores, and how."""
    if isinstance(definition, dict):
        return {
            key: without_words(value)
            for key, value in definition.items()
            if key not in ("title", "label")
        }
    if isinstance(definition, list):
        return [without_words(value) for value in definition]
    return definition
