"""The organisation's statistics are maintained by the writes: after any sequence of records,
corrections, withdrawals and erasures (sessions arriving in any order), reading them gives what
the full computation over the stored history gives (`scale_summaries` and the successive
differences, computed here as they were before the sums existed)."""

from __future__ import annotations

import itertools
import math
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update

from app.core.statistics import scale_summaries, successive_from_sums, summaries_from_sums
from app.instruments.registry import InstrumentRegistry
from app.platform.errors import InvalidResponsesError
from app.platform.tables import Administration, AdministrationRevision, InstrumentStatistic
from app.records.administrations import (
    NewAdministration,
    correct_administration,
    record_administration,
    withdraw_administration,
)
from app.records.context import Records
from app.records.episodes import erase_episode
from app.records.statistics import SHARDS, organisation_sums, seed_statistics
from tests.records.support import new_episode, own_records

INSTRUMENTS = ("wai-sr", "srs")


@pytest.fixture
def records(engine: Engine, registry: InstrumentRegistry) -> Records:
    """The records of an organisation of the test's own (its statistics start empty)."""
    return own_records(engine, registry)


def _answers(rng: random.Random, instrument: str) -> dict[str, Any]:
    if instrument == "srs":
        return {str(item): round(rng.uniform(0, 10), 1) for item in range(1, 5)}
    answers: dict[str, Any] = {str(item): rng.randint(1, 5) for item in range(1, 13)}
    if rng.random() < 0.3:
        del answers[str(rng.randint(1, 12))]  # one missing item: scored, not a complete row
    if rng.random() < 0.1:
        answers = {str(item): 3 for item in range(1, 13)}  # straight-lined
    return answers


def _random_history(records: Records, rng: random.Random, writes: int) -> None:
    """Records (sessions in a random order), corrections, withdrawals and erasures."""
    episodes = [new_episode(records) for _ in range(4)]
    free = {(e, i): rng.sample(range(1, 12), 11) for e in episodes for i in INSTRUMENTS}
    recorded: list[tuple[uuid.UUID, uuid.UUID, str]] = []
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    for _ in range(writes):
        choice = rng.random()
        if recorded and choice < 0.2:
            episode, administration, instrument = rng.choice(recorded)
            correct_administration(
                records, episode, administration, responses=_answers(rng, instrument),
                reason="typo", administered_at=None, version=None,
            )  # fmt: skip
        elif recorded and choice < 0.3:
            episode, administration, instrument = recorded.pop(rng.randrange(len(recorded)))
            withdraw_administration(records, episode, administration, reason="wrong patient")
        elif choice < 0.33 and len(episodes) > 1:
            gone = episodes.pop(rng.randrange(len(episodes)))
            erase_episode(records, gone)
            recorded = [entry for entry in recorded if entry[0] != gone]
        else:
            episode, instrument = rng.choice(episodes), rng.choice(INSTRUMENTS)
            if not free[(episode, instrument)]:
                continue
            number = free[(episode, instrument)].pop()
            at += timedelta(hours=1)
            new = NewAdministration(
                instrument, None, "client", number, at, _answers(rng, instrument)
            )
            _, body = record_administration(records, episode, new, None)
            recorded.append((episode, uuid.UUID(body["id"]), instrument))


def _recomputed(records: Records, instrument: str) -> tuple[dict[str, Any], dict[Any, Any]]:
    """The statistics computed from the stored history, the way they were before sums."""
    loaded = records.registry.get(instrument)
    with records.database.session() as session:
        rows = session.execute(
            select(Administration, AdministrationRevision)
            .join(AdministrationRevision)
            .where(
                Administration.organization_id == records.organization_id,
                Administration.instrument_id == instrument,
            )
            .order_by(
                Administration.episode_id,
                Administration.rater,
                Administration.session,
                AdministrationRevision.revision,
            )
        ).all()
    current: dict[uuid.UUID, tuple[Administration, AdministrationRevision]] = {}
    for administration, revision in rows:
        current[administration.id] = (administration, revision)  # the last revision wins
    live = [pair for pair in current.values() if pair[1].status != "withdrawn"]
    live.sort(key=lambda pair: (str(pair[0].episode_id), pair[0].rater, pair[0].session))
    scores, item_values = [], []
    for _, revision in live:
        try:
            keyed = loaded.scorer.keyed_values(revision.responses)
        except InvalidResponsesError:
            continue
        scales = revision.result["scales"]
        scores.append({scale_id: scale["score"] for scale_id, scale in scales.items()})
        item_values.append(keyed)
    successive: dict[tuple[str, str], tuple[int, float]] = {}
    for (first, earlier), (second, later) in itertools.pairwise(live):
        if (first.episode_id, first.rater) != (second.episode_id, second.rater):
            continue
        for scale_id, scale in later.result["scales"].items():
            before = earlier.result["scales"].get(scale_id, {}).get("score")
            if before is not None and scale["score"] is not None:
                pairs, squares = successive.get((second.rater, scale_id), (0, 0.0))
                successive[(second.rater, scale_id)] = (
                    pairs + 1, squares + (scale["score"] - before) ** 2,
                )  # fmt: skip
    return dict(scale_summaries(loaded.definition, scores, item_values)), successive


def _assert_maintained_equal_recomputed(records: Records) -> None:
    for instrument in INSTRUMENTS:
        definition = records.registry.get(instrument).definition
        with records.database.session() as session:
            sums = organisation_sums(session, records, instrument)
        expected, expected_successive = _recomputed(records, instrument)
        maintained = summaries_from_sums(definition, sums)
        for scale_id, summary in expected.items():
            got = maintained[scale_id]
            assert got["count"] == summary["count"], (instrument, scale_id)
            assert got["alpha_count"] == summary["alpha_count"], (instrument, scale_id)
            for key in ("mean", "sd", "alpha"):
                if summary[key] is None:
                    assert got[key] is None, (instrument, scale_id, key)
                else:
                    assert got[key] == pytest.approx(summary[key], abs=2e-6), (scale_id, key)
        got_successive = successive_from_sums(sums)
        assert set(got_successive) == set(expected_successive), instrument
        for key, (pairs, squares) in expected_successive.items():
            assert got_successive[key][0] == pairs
            assert math.isclose(got_successive[key][1], squares, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_maintained_statistics_equal_the_full_computation(records: Records, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3):
        _random_history(records, rng, 25)
        _assert_maintained_equal_recomputed(records)
    with records.database.session() as session:
        shards = session.scalars(
            select(InstrumentStatistic.shard).where(
                InstrumentStatistic.organization_id == records.organization_id
            )
        ).all()
    assert sorted(shards) == sorted(list(range(SHARDS)) * len(INSTRUMENTS))  # read from sums


def test_the_first_write_under_a_definition_seeds_the_sums_from_the_history(
    records: Records,
) -> None:
    """After an upgrade (no sums yet) or a new definition (another hash), reads compute from
    the history and the next write seeds every shard from it."""
    rng = random.Random(7)
    _random_history(records, rng, 20)
    with records.database.session() as session:
        session.execute(
            update(InstrumentStatistic)
            .where(InstrumentStatistic.organization_id == records.organization_id)
            .values(definition_hash="sha256:an-earlier-definition", sums={})
        )
        session.commit()
    _assert_maintained_equal_recomputed(records)  # the history, not the stale sums
    _random_history(records, rng, 10)
    with records.database.session() as session:
        hashes = set(
            session.scalars(
                select(InstrumentStatistic.definition_hash).where(
                    InstrumentStatistic.organization_id == records.organization_id
                )
            )
        )
    assert "sha256:an-earlier-definition" not in hashes
    _assert_maintained_equal_recomputed(records)


@pytest.mark.parametrize("attempt", range(10))  # the race is timing: 1 in 4 failed before
def test_writes_racing_to_seed_the_sums_all_land_and_count_once(
    records: Records, attempt: int
) -> None:
    """The first writes of an organisation, at once on different episodes: one seeds the
    sums, the others wait for it and add their own (none fails, none is counted twice)."""
    episodes = [new_episode(records) for _ in range(12)]
    start = threading.Barrier(len(episodes))
    failures: list[BaseException] = []

    def write(episode: uuid.UUID, number: int) -> None:
        answers = {str(item): 1 + (item * number) % 5 for item in range(1, 13)}
        new = NewAdministration("wai-sr", None, "client", 1, datetime.now(UTC), answers)
        start.wait()
        try:
            record_administration(records, episode, new, None)
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    threads = [
        threading.Thread(target=write, args=(episode, number))
        for number, episode in enumerate(episodes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with records.database.session() as session:
        sums = organisation_sums(session, records, "wai-sr")
    assert summaries_from_sums(records.registry.get("wai-sr").definition, sums)["total"][
        "count"
    ] == len(episodes)
    _assert_maintained_equal_recomputed(records)


def test_migrate_seeds_the_sums_so_that_no_write_reads_the_history(records: Records) -> None:
    """`bordin migrate` seeds what the first write would have (`seed_statistics`): every
    instrument in use of every organisation, once; a second run finds nothing to do."""
    _random_history(records, random.Random(11), 20)
    with records.database.session() as session:
        session.execute(
            delete(InstrumentStatistic).where(
                InstrumentStatistic.organization_id == records.organization_id
            )
        )
        session.commit()
    now = datetime.now(UTC)
    assert seed_statistics(records.database, records.registry, now) >= len(INSTRUMENTS)
    with records.database.session() as session:
        rows = session.scalars(
            select(InstrumentStatistic).where(
                InstrumentStatistic.organization_id == records.organization_id
            )
        ).all()
    assert {(row.instrument_id, row.definition_hash) for row in rows} == {
        (instrument, records.registry.get(instrument).definition_hash) for instrument in INSTRUMENTS
    }
    assert len(rows) == SHARDS * len(INSTRUMENTS)
    _assert_maintained_equal_recomputed(records)
    assert seed_statistics(records.database, records.registry, now) == 0
