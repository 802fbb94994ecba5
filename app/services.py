"""Use cases of the service: each one is called by one route and owns its transaction."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from app import store
from app.core.results import ScoreResult
from app.db import Database
from app.errors import BatchTooLargeError, InvalidResponsesError
from app.instruments.registry import InstrumentRegistry

logger = logging.getLogger("bordin.services")


class BatchRowOutcome(NamedTuple):
    ref: str
    result: ScoreResult | None
    error: InvalidResponsesError | None


def score_responses(
    registry: InstrumentRegistry,
    instrument_id: str,
    version: str | None,
    responses: Mapping[str, object],
) -> ScoreResult:
    """Score one administration without storing anything."""
    return registry.get(instrument_id, version).scorer.score(responses)


def score_batch(
    registry: InstrumentRegistry,
    instrument_id: str,
    version: str | None,
    rows: Sequence[tuple[str, Mapping[str, object]]],
    max_rows: int,
) -> list[BatchRowOutcome]:
    """Score many administrations of one instrument; a row that fails fails alone."""
    if len(rows) > max_rows:
        raise BatchTooLargeError(f"{len(rows)} rows; at most {max_rows} per batch")
    score = registry.get(instrument_id, version).scorer.score
    outcomes: list[BatchRowOutcome] = []
    for ref, responses in rows:
        try:
            outcomes.append(BatchRowOutcome(ref, score(responses), None))
        except InvalidResponsesError as error:
            outcomes.append(BatchRowOutcome(ref, None, error))
    return outcomes


def register_definitions(database: Database, registry: InstrumentRegistry, now: datetime) -> None:
    """Keep a copy of every loaded definition, by hash, so any stored score can be recomputed.

    A definition whose content changed without a new version is logged: its scores are
    still told apart by hash, but the author should have bumped the version.
    """
    rows = [
        {
            "definition_hash": loaded.definition_hash,
            "instrument_id": loaded.id,
            "version": loaded.version,
            "definition": loaded.definition.model_dump(mode="json"),
            "registered_at": now,
        }
        for loaded in registry
    ]
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


def check_health(database: Database, registry: InstrumentRegistry) -> int:
    """Raise if the database does not answer; return the number of loaded instrument versions."""
    database.ping()
    return len(registry)
