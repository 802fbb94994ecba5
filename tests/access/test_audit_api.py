"""Every access to patient data leaves an audit event; erasure removes the data, not the trace."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.access import keys
from app.platform.db import Database
from app.platform.tables import (
    LOCAL_ORGANIZATION_ID,
    Administration,
    AdministrationRevision,
    IdempotencyRecord,
    RuptureFlagRecord,
)

SRS = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}


def _events(client: TestClient) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/audit-events", params=params).json()
        events += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return events


def _record(client: TestClient, episode: str, session: int, **headers: str) -> Any:
    return client.post(
        f"/v1/episodes/{episode}/administrations",
        json={
            "instrument": "srs", "rater": "client", "session": session,
            "administered_at": "2026-03-01T10:00:00+01:00", "responses": SRS,
        },
        headers=headers,
    )  # fmt: skip


def test_reads_and_writes_of_patient_data_leave_events_without_the_data(
    client: TestClient, app: Any, engine: Engine
) -> None:
    patient = f"ehr-{uuid.uuid4()}"
    created = client.post("/v1/episodes", json={"patient_ref": patient, "clinician_ref": "c"})
    episode = created.json()["id"]
    recorded = _record(client, episode, 1)
    client.get(f"/v1/episodes/{episode}/trajectory", params={"instrument": "srs"})
    client.get(f"/v1/episodes/{episode}/ruptures")
    _, stranger = keys.create_organization(Database(engine), "Elsewhere", datetime.now(UTC))
    with TestClient(app, headers={"Authorization": f"Bearer {stranger}"}) as other:
        assert other.get(f"/v1/episodes/{episode}").status_code == 404
        other_events = _events(other)
    events = _events(client)
    mine = [e for e in events if e["resource_id"] in {episode, recorded.json()["id"]}]
    assert [(e["action"], e["resource_type"], e["outcome"]) for e in mine] == [
        ("createEpisode", "episode", "success"),
        ("recordAdministration", "episode", "success"),
        ("getTrajectory", "episode", "success"),
        ("listEpisodeRuptures", "episode", "success"),
    ]
    creation = next(e for e in events if e["request_id"] == created.headers["x-request-id"])
    assert (creation["action"], creation["status"]) == ("createEpisode", 201)
    assert len([e for e in events if e["request_id"] == recorded.headers["x-request-id"]]) == 1
    # the other organisation's failed look-up is in its own trail, not in ours
    assert [(e["action"], e["outcome"]) for e in other_events] == [("getEpisode", "not_found")]
    assert patient not in repr(events)
    assert all(set(e) == {
        "id", "at", "key_id", "jwt_issuer", "jwt_subject", "action", "resource_type",
        "resource_id", "request_id", "outcome", "status",
    } for e in events)  # fmt: skip


def test_a_refused_access_is_audited_as_denied(
    client: TestClient, app: Any, engine: Engine
) -> None:
    episode = client.post("/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c"}).json()
    reader = keys.create_key(
        Database(engine), LOCAL_ORGANIZATION_ID, "reader", ["records:read"], None,
        datetime.now(UTC),
    )  # fmt: skip
    with TestClient(app, headers={"Authorization": f"Bearer {reader['key']}"}) as limited:
        assert _record(limited, episode["id"], 1).status_code == 403
    trail = [e for e in _events(client) if e["resource_id"] == episode["id"]]
    assert [(e["action"], e["outcome"], e["key_id"]) for e in trail][1:] == [
        ("recordAdministration", "denied", str(reader["id"]))
    ]
    assert trail[0]["action"] == "createEpisode"


def test_erasure_removes_the_episode_and_everything_in_it_but_keeps_the_trace(
    client: TestClient, engine: Engine
) -> None:
    episode = client.post("/v1/episodes", json={"patient_ref": "p-erase", "clinician_ref": "c"})
    episode_id = episode.json()["id"]
    key = f"key-{uuid.uuid4()}"
    _record(client, episode_id, 1, **{"Idempotency-Key": key})
    _record(client, episode_id, 2)
    erased = client.delete(f"/v1/episodes/{episode_id}")
    assert erased.status_code == 204
    assert client.get(f"/v1/episodes/{episode_id}").status_code == 404
    assert client.delete(f"/v1/episodes/{episode_id}").status_code == 404
    with engine.connect() as connection:
        for table, column in (
            (Administration, Administration.episode_id),
            (RuptureFlagRecord, RuptureFlagRecord.episode_id),
            (IdempotencyRecord, IdempotencyRecord.episode_id),
        ):
            count = connection.scalar(
                select(func.count()).select_from(table).where(column == uuid.UUID(episode_id))
            )
            assert count == 0, table
        orphans = connection.scalar(
            select(func.count())
            .select_from(AdministrationRevision)
            .where(~AdministrationRevision.administration_id.in_(select(Administration.id)))
        )
        assert orphans == 0
    trace = [e for e in _events(client) if e["resource_id"] == episode_id]
    assert ("eraseEpisode", "success") in {(e["action"], e["outcome"]) for e in trace}
