"""What the records' use cases share: `Records` (the database, the instruments, whose records,
a clock, who is calling), the episode a use case works on, and the audit event a write
appends in its own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.access import audit
from app.catalogue.guidance import Guidance
from app.instruments.registry import InstrumentRegistry
from app.languages.catalogues import SOURCE_LANGUAGE, Catalogues, Words
from app.platform import store
from app.platform.db import Database
from app.platform.errors import EpisodeNotFoundError
from app.platform.tables import Episode

Json = dict[str, Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Records:
    """What the use cases need: the database, the instruments, whose records, and a clock."""

    database: Database
    registry: InstrumentRegistry
    organization_id: uuid.UUID
    now: Callable[[], datetime] = field(default=_utc_now)

    # How long an Idempotency-Key replays its first response (then it may be used again),
    # and when this process last forgot each organisation's expired keys.
    idempotency_lifetime: timedelta = timedelta(hours=24)
    idempotency_purged: dict[uuid.UUID, datetime] = field(
        default_factory=dict, repr=False, compare=False
    )

    # Definition hashes this process has seen stored (they are never deleted).
    stored_definitions: set[str] = field(default_factory=set, repr=False, compare=False)

    # Who is calling, for the audit events that writes append in their own transaction.
    caller: audit.Caller | None = None
    # The repair guidance each flag is given (ids; the API renders them in a language).
    guidance: Guidance | None = None
    # What the service says, in every language it speaks (webhooks speak English).
    languages: Catalogues | None = None

    def english(self) -> Words | None:
        """The words of events sent to systems (webhooks): English, the source language."""
        return self.languages.words(SOURCE_LANGUAGE) if self.languages is not None else None

    def for_caller(self, organization_id: uuid.UUID, caller: audit.Caller) -> Records:
        """The records of the caller's organisation; writes audit themselves as `caller`."""
        return replace(self, organization_id=organization_id, caller=caller)


def audit_write(
    session: Session,
    records: Records,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID,
    status: int,
) -> None:
    """Append the audit event of a write in the write's own transaction: both or neither."""
    if records.caller is not None:
        audit.add_event(
            session, records.organization_id, records.caller, action, resource_type,
            str(resource_id), status, records.now(),
        )  # fmt: skip


def existing_episode(
    session: Session, records: Records, episode_id: uuid.UUID, *, for_update: bool = False
) -> Episode:
    """The episode of the caller's organisation; another organisation's answers exactly as a
    missing one does (`EpisodeNotFoundError`). `for_update` locks its row (`store.get_episode`)."""
    episode = store.get_episode(session, records.organization_id, episode_id, for_update=for_update)
    if episode is None:
        raise EpisodeNotFoundError(f"no episode {episode_id}")
    return episode
