"""Use cases of the service: each one is called by one route and owns its transaction."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from app.core.results import ScoreResult
from app.core.scoring import Scorer
from app.instruments.registry import InstrumentRegistry, LoadedInstrument
from app.platform import store
from app.platform.db import Database
from app.platform.errors import BatchTooLargeError, UnhealthyError

logger = logging.getLogger("bordin.services")


def score_responses(
    registry: InstrumentRegistry,
    instrument_id: str,
    version: str | None,
    responses: Mapping[str, object],
) -> ScoreResult:
    """Score one administration without storing anything."""
    return registry.get(instrument_id, version).scorer.score(responses)


def batch_scorer(
    registry: InstrumentRegistry,
    instrument_id: str,
    version: str | None,
    row_count: int,
    max_rows: int,
) -> Scorer:
    """The scorer of a batch, once the batch is known to fit the limit."""
    if row_count > max_rows:
        raise BatchTooLargeError(f"{row_count} rows; at most {max_rows} per batch")
    return registry.get(instrument_id, version).scorer


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


def check_readiness(database: Database, registry: InstrumentRegistry, heads: frozenset[str]) -> int:
    """The number of loaded instrument versions, once the database answers and is migrated
    to `heads` (the revisions this code's migrations end at); else `UnhealthyError`."""
    try:
        revisions = database.revisions()
    except SQLAlchemyError as error:
        logger.warning("not ready: the database does not answer", exc_info=error)
        raise UnhealthyError("the database does not answer") from error
    if revisions != heads:
        raise UnhealthyError(
            f"the database is at migration {_revisions(revisions)}; this version of the"
            f" service needs {_revisions(heads)} (run `alembic upgrade head`)"
        )
    return len(registry)


def _revisions(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "none"
