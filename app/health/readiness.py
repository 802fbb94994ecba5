"""Readiness: the database answers and is migrated to the revision this code needs, and the
Redis the processes share (REDIS_URL), if any, answers."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from app.instruments.registry import InstrumentRegistry
from app.platform.db import Database
from app.platform.errors import SharedStateUnavailableError, UnhealthyError
from app.platform.shared import SharedState

# The use cases of scoring, definitions and readiness shared this logger: log lines keep its name.
logger = logging.getLogger("bordin.services")


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


def check_shared_state(shared: SharedState | None) -> str:
    """ "ok" once the shared Redis answers a ping, "unused" without one; else
    `UnhealthyError` (a process that cannot count rate limits or see revoked keys must not
    get traffic)."""
    if shared is None:
        return "unused"
    try:
        shared.call(shared.client.ping)
    except SharedStateUnavailableError as error:
        logger.warning("not ready: the shared Redis does not answer", exc_info=error)
        raise UnhealthyError("the shared state (Redis) does not answer") from error
    return "ok"


def _revisions(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "none"
