"""The organisation's statistics of each instrument, maintained by the writes: each record,
correction, withdrawal and erasure adds (or subtracts) what it changes to running sums in its
own transaction (`app.core.statistics`), so that reading them is one query, whatever the
history holds.

The sums are kept in `SHARDS` rows per organisation and instrument (an episode's writes
change its own shard), so that writes to different episodes seldom wait for each other. They
are seeded from the stored history by `bordin migrate` (`seed_statistics`), else by the first
write under a definition: after an upgrade, or when a new version of an instrument is loaded
(its hash differs). Until then reads compute them from the history, as the seed does
(`history_sums`): a test holds the two equal."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.core.statistics import Sums, accumulate, add_sums, administration_sums, pair_sums
from app.instruments.registry import InstrumentRegistry, LoadedInstrument
from app.platform import store
from app.platform.db import Database
from app.platform.errors import InvalidResponsesError, UnknownInstrumentError
from app.platform.tables import Administration, AdministrationRevision, InstrumentStatistic
from app.records.context import Records

SHARDS = 16


@dataclass(frozen=True)
class Change:
    """What a write did to one administration: its current revision before the write (None
    when it is new) and after it (None when it is erased). Withdrawn revisions count as none."""

    instrument_id: str
    rater: str
    session: int
    before: AdministrationRevision | None
    after: AdministrationRevision | None


def organisation_sums(session: Session, records: Records, instrument_id: str) -> Sums:
    """The organisation's sums of an instrument: its shards, or its history until a write
    has seeded them under the loaded definition."""
    loaded = records.registry.get(instrument_id)
    rows = store.statistic_sums(session, records.organization_id, instrument_id)
    if rows and all(definition_hash == loaded.definition_hash for definition_hash, _ in rows):
        total: Sums = {}
        for _, sums in rows:
            accumulate(total, sums)
        return total
    return history_sums(session, records, loaded)


def history_sums(session: Session, records: Records, loaded: LoadedInstrument) -> Sums:
    """The sums computed from every stored administration of the instrument (not withdrawn)."""
    total: Sums = {}
    series: list[tuple[dict[str, Any], dict[str, Any]]] = []
    key: tuple[uuid.UUID, str] | None = None
    for episode_id, rater, _, responses, result in store.series_results(
        session, records.organization_id, loaded.id
    ):
        if key is not None and key != (episode_id, rater):
            total = add_sums(total, series_sums(loaded, key[1], series))
            series = []
        key = (episode_id, rater)
        series.append((responses, result))
    if key is not None:
        total = add_sums(total, series_sums(loaded, key[1], series))
    return total


def series_sums(
    loaded: LoadedInstrument,
    rater: str,
    series: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> Sums:
    """The part of one series (one episode's administrations by one rater, (responses,
    result) in session order): each administration's, and each pair of successive sessions'."""
    total: Sums = {}
    previous: Mapping[str, Any] | None = None
    for responses, result in series:
        total = add_sums(total, _administration_part(loaded, responses, result))
        if previous is not None:
            total = add_sums(total, pair_sums(rater, previous["scales"], result["scales"]))
        previous = result
    return total


def apply_change(
    session: Session,
    records: Records,
    episode_id: uuid.UUID,
    change: Change,
    rows: Sequence[store.EpisodeResult],
    now: datetime,
) -> None:
    """Add what `change` did to the sums of its episode's shard. `rows` are the episode's
    administrations with their current revisions after the write, in session order: the
    change's neighbours in its series are read from them."""
    try:
        loaded = records.registry.get(change.instrument_id)
    except UnknownInstrumentError:
        return  # an instrument no longer loaded has no statistics to keep
    before, after = counted(change.before), counted(change.after)
    if before is None and after is None:
        return
    series = [
        (row.session, row.result["scales"])
        for row in rows
        if row.instrument_id == change.instrument_id
        and row.rater == change.rater
        and row.session != change.session
        and row.status != "withdrawn"
    ]
    previous = next((s for number, s in reversed(series) if number < change.session), None)
    following = next((s for number, s in series if number > change.session), None)
    delta: Sums = {}
    for revision, sign in ((before, -1), (after, 1)):
        if revision is None:
            if previous is not None and following is not None:  # its neighbours, then a pair
                delta = add_sums(delta, pair_sums(change.rater, previous, following), sign)
            continue
        part = _administration_part(loaded, revision.responses, revision.result)
        scales = revision.result["scales"]
        if previous is not None:
            part = add_sums(part, pair_sums(change.rater, previous, scales))
        if following is not None:
            part = add_sums(part, pair_sums(change.rater, scales, following))
        delta = add_sums(delta, part, sign)
    _add(session, records, loaded, shard_of(episode_id), delta, now)


def forget_episode(
    session: Session,
    records: Records,
    episode_id: uuid.UUID,
    rows: Iterable[tuple[Administration, AdministrationRevision]],
    now: datetime,
) -> None:
    """Subtract an episode's administrations (before it is erased) from the sums."""
    series: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for administration, revision in rows:
        if revision.status != "withdrawn":
            key = (administration.instrument_id, administration.rater)
            series.setdefault(key, []).append((revision.responses, revision.result))
    for instrument_id in sorted({key[0] for key in series}):
        try:
            loaded = records.registry.get(instrument_id)
        except UnknownInstrumentError:
            continue
        part: Sums = {}
        for (instrument, rater), entries in sorted(series.items()):
            if instrument == instrument_id:
                part = add_sums(part, series_sums(loaded, rater, entries))
        _add(session, records, loaded, shard_of(episode_id), _negated(part), now)


def shard_of(episode_id: uuid.UUID) -> int:
    return episode_id.int % SHARDS


def counted(revision: AdministrationRevision | None) -> AdministrationRevision | None:
    """The revision, unless there is none or it is a withdrawal (which counts as none)."""
    return None if revision is None or revision.status == "withdrawn" else revision


def _negated(sums: Sums) -> Sums:
    return add_sums({}, sums, -1)


def _administration_part(
    loaded: LoadedInstrument, responses: Mapping[str, Any], result: Mapping[str, Any]
) -> Sums:
    """One administration's part, or nothing when its answers are another version's items
    (not comparable item by item: left out, as the organisation's statistics always did)."""
    try:
        keyed = loaded.scorer.keyed_values(responses)
    except InvalidResponsesError:
        return {}
    scores = {scale_id: scale["score"] for scale_id, scale in result["scales"].items()}
    return administration_sums(loaded.definition, scores, keyed)


def _add(
    session: Session,
    records: Records,
    loaded: LoadedInstrument,
    shard: int,
    delta: Sums,
    now: datetime,
) -> None:
    """Add `delta` to a shard (row-locked until the write commits); the first write under a
    definition seeds every shard from the history instead, which already holds the write."""
    row = store.locked_statistic(
        session, records.organization_id, loaded.id, shard, loaded.definition_hash
    )
    if row is not None:
        row.sums = add_sums(row.sums, delta)
        row.updated_at = now
        return
    _seed_or_add(session, records, loaded, shard, delta, now)


def _seed_or_add(
    session: Session,
    records: Records,
    loaded: LoadedInstrument,
    shard: int,
    delta: Sums,
    now: datetime,
) -> None:
    """Seed every shard from the history, holding all of them locked (in shard order, so that
    seeders queue instead of deadlocking); a write that waited for another seeder finds the
    shards seeded without it (it was not committed) and adds its change instead. The write
    holds no shard when it comes here (`locked_statistic` locks only a seeded one)."""
    rows = store.lock_statistics(session, records.organization_id, loaded.id, SHARDS, now)
    if _seeded(rows, loaded):
        rows[shard].sums = add_sums(rows[shard].sums, delta)
        rows[shard].updated_at = now
        return
    _fill(session, records, loaded, rows, now)


def seed_statistics(database: Database, registry: InstrumentRegistry, now: datetime) -> int:
    """Seed the sums of each organisation's instruments in use that have none under the
    loaded definition (after an upgrade, or a new definition), one transaction each, so that
    no request pays for reading the history: `bordin migrate` does it after migrating.
    Returns how many were seeded."""
    with database.session() as session:
        in_use = store.instruments_in_use(session)
    seeded = 0
    for organization_id, instrument_id in in_use:
        try:
            loaded = registry.get(instrument_id)
        except UnknownInstrumentError:
            continue
        records = Records(database, registry, organization_id)
        with database.session() as session:
            rows = store.lock_statistics(session, organization_id, loaded.id, SHARDS, now)
            if not _seeded(rows, loaded):
                _fill(session, records, loaded, rows, now)
                seeded += 1
            session.commit()
    return seeded


def _seeded(rows: Sequence[InstrumentStatistic], loaded: LoadedInstrument) -> bool:
    return all(row.definition_hash == loaded.definition_hash for row in rows)


def _fill(
    session: Session,
    records: Records,
    loaded: LoadedInstrument,
    rows: Sequence[InstrumentStatistic],
    now: datetime,
) -> None:
    """The history's sums in shard 0, none in the others, under the loaded definition."""
    history = history_sums(session, records, loaded)
    for row in rows:
        row.definition_hash = loaded.definition_hash
        row.sums = history if row.shard == 0 else {}
        row.updated_at = now
