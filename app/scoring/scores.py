"""Stateless scoring: one administration, or the scorer of a batch; nothing is stored."""

from __future__ import annotations

from collections.abc import Mapping

from app.core.results import ScoreResult
from app.core.scoring import Scorer
from app.instruments.registry import InstrumentRegistry
from app.platform.errors import BatchTooLargeError


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
