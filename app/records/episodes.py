"""Use cases of episodes of care: open, read, list, end and erase them.

Each use case opens one session and commits once, at its end, so that a failed commit can
never follow a 201."""

from __future__ import annotations

import uuid
from datetime import date

from app.platform import store
from app.platform.cursors import decode_time_cursor, encode_time_cursor
from app.platform.errors import EpisodeAlreadyEndedError
from app.platform.tables import Episode
from app.records.context import Json, Records, audit_write, existing_episode
from app.records.evaluation import reevaluate
from app.records.statistics import forget_episode
from app.records.views import episode_view


def create_episode(
    records: Records,
    *,
    patient_ref: str,
    clinician_ref: str,
    setting: str | None,
    started_on: date | None,
    label: str | None,
) -> Json:
    episode = Episode(
        id=uuid.uuid4(),
        organization_id=records.organization_id,
        patient_ref=patient_ref,
        clinician_ref=clinician_ref,
        setting=setting,
        started_on=started_on,
        label=label,
        created_at=records.now(),
    )
    with records.database.session() as session:
        session.add(episode)
        audit_write(session, records, "createEpisode", "episode", episode.id, 201)
        session.commit()
    return episode_view(episode)


def get_episode(records: Records, episode_id: uuid.UUID) -> Json:
    with records.database.session() as session:
        return episode_view(existing_episode(session, records, episode_id))


def erase_episode(records: Records, episode_id: uuid.UUID) -> None:
    """Right to erasure: the episode and everything recorded in it, for good. The audit
    trail keeps that it happened (the event), never what was erased."""
    with records.database.session() as session:
        existing_episode(session, records, episode_id, for_update=True)
        rows = store.current_administrations(session, records.organization_id, episode_id)
        forget_episode(session, records, episode_id, rows, records.now())
        store.delete_episode(session, records.organization_id, episode_id)
        audit_write(session, records, "eraseEpisode", "episode", episode_id, 204)
        session.commit()


def close_episode(records: Records, episode_id: uuid.UUID, *, ended_on: date, reason: str) -> Json:
    """End the episode: no session comes after it, so rules that wait for later sessions
    settle (a repair still pending is unrepaired; a sudden loss is judged on the sessions
    there are). Ending it again the same way changes nothing; another way is a conflict.
    Administrations of earlier sessions may still arrive late and are evaluated as ended."""
    with records.database.session() as session:
        episode = existing_episode(session, records, episode_id, for_update=True)
        if episode.ended_on is not None:
            if (episode.ended_on, episode.end_reason) != (ended_on, reason):
                raise EpisodeAlreadyEndedError(
                    f"episode {episode_id} ended on {episode.ended_on} ({episode.end_reason})"
                )
            return episode_view(episode)
        episode.ended_on, episode.end_reason = ended_on, reason
        reevaluate(session, records, episode, records.now())
        audit_write(session, records, "closeEpisode", "episode", episode_id, 200)
        session.commit()
        return episode_view(episode)


def list_episodes(
    records: Records, *, patient_ref: str | None, limit: int, cursor: str | None
) -> Json:
    after = decode_time_cursor(cursor) if cursor is not None else None
    with records.database.session() as session:
        episodes = store.list_episodes(
            session, records.organization_id, patient_ref=patient_ref, after=after, limit=limit + 1
        )
    page = episodes[:limit]
    next_cursor = None
    if len(episodes) > limit:
        last = page[-1]
        next_cursor = encode_time_cursor(last.created_at, last.id)
    return {"items": [episode_view(episode) for episode in page], "next_cursor": next_cursor}
