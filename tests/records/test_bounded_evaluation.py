"""A write evaluates the episode again only from the first session it can affect
(`app.core.windows`) and keeps the stored flags before it; the stored flags and alerts must
still be those of a full evaluation, after any sequence of records (sessions in a random
order), corrections, withdrawals and the episode's end. The organisation stays under the
rules' minimum of administrations, so that no statistic moves between writes (with moving
statistics, earlier flags keep the statistics they were judged with: by design)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from app.catalogue.guidance import Guidance, load_catalogue
from app.instruments.registry import InstrumentRegistry
from app.languages.catalogues import Catalogues
from app.platform import store, store_alerts
from app.platform.settings import Settings
from app.records.administrations import (
    NewAdministration,
    correct_administration,
    record_administration,
    withdraw_administration,
)
from app.records.context import Records
from app.records.episodes import close_episode
from app.records.evaluation import episode_alerts_now, evaluate_episode
from tests.records.support import new_episode, own_records

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _answers(rng: random.Random, instrument: str, level: float) -> dict[str, Any]:
    def near(low: float, high: float, integer: bool) -> float:
        value = low + (high - low) * min(1.0, max(0.0, level + rng.gauss(0, 0.08)))
        return round(value) if integer else round(value, 1)

    if instrument == "srs":
        return {str(item): near(0, 10, False) for item in range(1, 5)}
    return {str(item): near(1, 5, True) for item in range(1, 13)}


def _canonical(flags: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(flag, option=orjson.OPT_SORT_KEYS) for flag in flags)


def _assert_stored_equal_full(records: Records, episode_id: uuid.UUID) -> None:
    with records.database.session() as session:
        episode = store.get_episode(session, records.organization_id, episode_id)
        assert episode is not None
        full = evaluate_episode(session, records, episode)
        stored_flags = [
            row.flag for row in store.episode_flags(session, records.organization_id, episode_id)
        ]
        stored_alerts = store_alerts.episode_alerts(session, records.organization_id, episode_id)
        derived = episode_alerts_now(session, records, full, stored_alerts)
    assert _canonical(stored_flags) == _canonical(orjson.loads(orjson.dumps(full.flags)))
    live = {row.opened_session: row for row in stored_alerts if row.status != "withdrawn"}
    assert sorted(live) == sorted(alert["opened_session"] for alert in derived)
    for alert in derived:
        row = live[alert["opened_session"]]
        assert (row.status, row.priority, row.last_session) == (
            alert["status"], alert["priority"], alert["last_session"],
        )  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_stored_flags_and_alerts_are_those_of_a_full_evaluation(
    engine: Engine, registry: InstrumentRegistry, languages: Catalogues, seed: int
) -> None:
    guidance = Guidance(load_catalogue(Settings().guidance_file), languages)
    records = own_records(engine, registry, guidance)
    rng = random.Random(seed)
    episode = new_episode(records)
    pending = {instrument: rng.sample(range(1, 25), k=12) for instrument in ("srs", "wai-sr")}
    recorded: dict[tuple[str, int], uuid.UUID] = {}
    level = {"srs": 0.8, "wai-sr": 0.8}
    ended = False
    while any(pending.values()):
        roll = rng.random()
        if recorded and roll < 0.12:
            (instrument, number), administration = rng.choice(sorted(recorded.items()))
            correct_administration(
                records, episode, administration, reason="typo", administered_at=None,
                version=None, responses=_answers(rng, instrument, rng.uniform(0.2, 0.95)),
            )  # fmt: skip
        elif recorded and roll < 0.2:
            key = rng.choice(sorted(recorded))
            withdraw_administration(records, episode, recorded.pop(key), reason="wrong patient")
        elif not ended and roll < 0.23:
            close_episode(records, episode, ended_on=START.date(), reason="completed")
            ended = True
        else:
            instrument = rng.choice([name for name, left in pending.items() if left])
            number = pending[instrument].pop()
            level[instrument] = min(
                0.98, max(0.05, level[instrument] + rng.choice([-0.35, -0.2, 0.0, 0.1, 0.25]))
            )
            new = NewAdministration(
                instrument, None, "client", number, START + timedelta(days=7 * number),
                _answers(rng, instrument, level[instrument]),
            )  # fmt: skip
            _, body = record_administration(records, episode, new, None)
            recorded[(instrument, number)] = uuid.UUID(body["id"])
        _assert_stored_equal_full(records, episode)
