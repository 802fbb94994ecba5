"""Round trips of a write, counted with SQLAlchemy's cursor events, so that they do not creep
back: recording an administration that changes no flag or alert in a running episode (its
statistics seeded, its definition known) takes at most 11 statements: the idempotency
look-up, the episode's lock (its organisation's alert profile read with it), two inserts, the
episode's administrations, the shard's lock and update, the stored flags, the organisation's
sums, the stored alerts and the idempotency record (through the API, the audit event too)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event

from app.instruments.registry import InstrumentRegistry
from app.records.administrations import NewAdministration, record_administration
from tests.records.support import new_episode, own_records

MOST_STATEMENTS = 11


def test_recording_in_a_running_episode_takes_few_round_trips(
    engine: Engine, registry: InstrumentRegistry
) -> None:
    records = own_records(engine, registry)
    episode = new_episode(records)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]).split("\n", 1)[0])

    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    for session in range(1, 5):
        answers = {str(item): 4 for item in range(1, 13)}  # steady: nothing to flag
        new = NewAdministration(
            "wai-sr", None, "client", session, start + timedelta(days=7 * session), answers
        )
        if session == 4:
            event.listen(engine, "before_cursor_execute", count)
        try:
            record_administration(records, episode, new, f"key-{uuid.uuid4()}")
        finally:
            if session == 4:
                event.remove(engine, "before_cursor_execute", count)
    written = [s for s in statements if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    assert 0 < len(written) <= MOST_STATEMENTS, "\n".join(written)
    assert not any(s.startswith("DELETE FROM rupture_flag") for s in written), written
