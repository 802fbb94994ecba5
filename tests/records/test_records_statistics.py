"""The organisation's statistics feed the rupture rules, computed at most once per max age."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from app.instruments.registry import InstrumentRegistry
from app.platform.db import Database
from app.platform.tables import LOCAL_ORGANIZATION_ID
from app.records.administrations import NewAdministration, record_administration
from app.records.context import Records
from app.records.episodes import create_episode


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


def _record(records: Records, episode: uuid.UUID, session: int, value: int) -> None:
    answers = {str(item): value for item in range(1, 13)}
    new = NewAdministration("wai-sr", None, "client", session, records.now(), answers)
    record_administration(records, episode, new, None)


def test_statistics_are_reused_until_their_max_age_then_computed_again(
    engine: Engine, registry: InstrumentRegistry
) -> None:
    clock = Clock()
    records = Records(
        Database(engine), registry, LOCAL_ORGANIZATION_ID, now=clock,
        statistics_max_age=timedelta(seconds=60),
    )  # fmt: skip
    episode = uuid.UUID(
        create_episode(
            records, patient_ref=f"p-{uuid.uuid4()}", clinician_ref="c", setting=None,
            started_on=None, label=None,
        )["id"]
    )  # fmt: skip
    _record(records, episode, 1, 3)
    computed_at, first = records.statistics_cache[(LOCAL_ORGANIZATION_ID, "wai-sr")]
    clock.moment += timedelta(seconds=30)
    _record(records, episode, 2, 4)
    key = (LOCAL_ORGANIZATION_ID, "wai-sr")
    assert records.statistics_cache[key] == (computed_at, first)  # reused
    clock.moment += timedelta(seconds=31)
    _record(records, episode, 3, 5)
    refreshed_at, refreshed = records.statistics_cache[(LOCAL_ORGANIZATION_ID, "wai-sr")]
    assert refreshed_at == clock.moment
    assert refreshed["total"].count == (first["total"].count or 0) + 2
