"""Alerts over HTTP, on the real database: one alert per rupture, the worklist, what clinicians
do with an alert, and the events it sends (at most one per alert per write)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, text

from app.platform import store_alerts
from app.platform.tables import AlertRecord, AuditEvent, Episode, WebhookEvent
from tests.webhooks_support import Organisation

SRS_38 = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}


def srs(total: float) -> dict[str, float]:
    return {str(item): round(total / 4, 1) for item in range(1, 5)}


def wai_sr(keyed: int) -> dict[str, int]:
    return {str(item): keyed for item in range(1, 13)}


@pytest.fixture
def staff(app: FastAPI, organisation: Organisation) -> Iterator[TestClient]:
    """A client of an organisation of its own (its worklist holds only this test's alerts),
    with a webhook endpoint subscribed to the default (alert) events."""
    with TestClient(app, headers=organisation.headers) as client:
        created = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/alerts"})
        assert created.status_code == 201
        yield client


def episode(client: TestClient, *, clinician: str = "staff-17", setting: str = "nursing") -> str:
    body = {"patient_ref": f"ehr-{uuid.uuid4()}", "clinician_ref": clinician, "setting": setting}
    created = client.post("/v1/episodes", json=body)
    assert created.status_code == 201
    episode_id: str = created.json()["id"]
    return episode_id


def record(
    client: TestClient,
    episode_id: str,
    session: int,
    instrument: str,
    responses: dict[str, Any],
    rater: str = "client",
) -> Any:
    response = client.post(
        f"/v1/episodes/{episode_id}/administrations",
        json={
            "instrument": instrument,
            "rater": rater,
            "session": session,
            "administered_at": f"2026-03-{session:02d}T10:00:00+01:00",
            "responses": responses,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def steady(client: TestClient, episode_id: str, sessions: range) -> None:
    for session in sessions:
        record(client, episode_id, session, "srs", SRS_38)
        record(client, episode_id, session, "wai-sr", wai_sr(4))
        record(client, episode_id, session, "post-session-rupture-client", {"1": 0})


def events(engine: Engine, episode_id: str) -> Counter[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(WebhookEvent.event_type).where(WebhookEvent.episode_id == uuid.UUID(episode_id))
        )
        return Counter(row[0] for row in rows)


def test_a_bad_session_on_three_instruments_opens_one_alert_and_sends_one_event(
    staff: TestClient, engine: Engine
) -> None:
    episode_id = episode(staff)
    steady(staff, episode_id, range(1, 5))
    assert events(engine, episode_id) == Counter()
    first = record(staff, episode_id, 5, "srs", srs(28.0))
    (opened,) = first["alerts"]
    assert (opened["priority"], opened["status"], opened["opened_session"]) == ("high", "open", 5)
    record(staff, episode_id, 5, "wai-sr", wai_sr(2))
    record(staff, episode_id, 5, "post-session-rupture-client", {"1": 1, "2": 4, "3": 2})
    alerts = staff.get(f"/v1/episodes/{episode_id}/alerts").json()["items"]
    assert len(alerts) == 1
    (alert,) = alerts
    assert alert["id"] == opened["id"]
    assert {flag["instrument"] for flag in alert["evidence"]} == {
        "srs",
        "wai-sr",
        "post-session-rupture-client",
    }
    assert len(alert["evidence"]) > 3  # many flags, one alert
    assert alert["guidance"]  # one ranked list for the alert
    assert len({entry["id"] for entry in alert["guidance"]}) == len(alert["guidance"])
    # One alert.opened; the two later writes added evidence (alert.updated), no second alert.
    sent = events(engine, episode_id)
    assert sent["alert.opened"] == 1
    assert set(sent) <= {"alert.opened", "alert.updated"}
    assert sent["alert.updated"] <= 2


def test_six_sessions_below_the_srs_cut_off_are_one_alert_repaired_when_back_above(
    staff: TestClient,
) -> None:
    episode_id = episode(staff)
    record(staff, episode_id, 1, "srs", SRS_38)
    for session in range(2, 8):
        record(staff, episode_id, session, "srs", srs(34.0))
    (alert,) = staff.get(f"/v1/episodes/{episode_id}/alerts").json()["items"]
    assert (alert["opened_session"], alert["last_session"]) == (2, 7)
    assert alert["status"] == "unrepaired"  # not back within 3 sessions of its opening
    assert alert["priority"] == "low"  # a score under the cut-off alone notifies no one
    record(staff, episode_id, 8, "srs", srs(37.2))
    (alert,) = staff.get(f"/v1/episodes/{episode_id}/alerts").json()["items"]
    assert (alert["status"], alert["late"]) == ("repaired", True)
    assert alert["resolution"]["session"] == 8
    assert alert["resolution"]["at"].startswith("2026-03-08T")


def test_the_worklist_shows_active_alerts_that_notify_by_priority_newest_first(
    staff: TestClient,
) -> None:
    quiet, moderate, high = episode(staff), episode(staff, clinician="c2"), episode(staff)
    record(staff, quiet, 1, "srs", SRS_38)
    record(staff, quiet, 2, "srs", srs(34.0))  # low: below the cut-off alone
    markers = {str(item): 0 for item in range(1, 11)} | {"7": 1}
    record(staff, moderate, 1, "rupture-markers", markers, rater="therapist")  # moderate
    record(staff, high, 1, "post-session-rupture-client", {"1": 1})  # high: the client said so
    items = staff.get("/v1/alerts").json()["items"]
    assert [item["episode_id"] for item in items] == [high, moderate]
    assert [item["priority"] for item in items] == ["high", "moderate"]
    low = staff.get("/v1/alerts", params={"priority": "low"}).json()["items"]
    assert [item["episode_id"] for item in low] == [quiet]
    assert [i["episode_id"] for i in staff.get("/v1/alerts", params={"clinician_ref": "c2"}).json()[
        "items"
    ]] == [moderate]  # fmt: skip
    pages: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, "priority": ["high", "moderate", "low"]}
        if cursor:
            params["cursor"] = cursor
        page = staff.get("/v1/alerts", params=params).json()
        pages += [item["episode_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [high, moderate, quiet]
    bad = staff.get("/v1/alerts", params={"cursor": "bm9wZQ"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")


def test_acknowledging_twice_changes_nothing_the_second_time(
    staff: TestClient, engine: Engine
) -> None:
    episode_id = episode(staff)
    record(staff, episode_id, 1, "post-session-rupture-client", {"1": 1})
    (alert,) = staff.get("/v1/alerts").json()["items"]
    assert alert["acknowledgement"] is None
    first = staff.post(f"/v1/alerts/{alert['id']}/acknowledgement", json={"note": "seen"})
    assert first.status_code == 200
    assert first.json()["acknowledgement"]["by"] == "first admin key"
    second = staff.post(f"/v1/alerts/{alert['id']}/acknowledgement", json={"note": "again"})
    assert second.json() == first.json()
    assert events(engine, episode_id)["alert.acknowledged"] == 1
    unseen = staff.get("/v1/alerts", params={"acknowledged": False}).json()["items"]
    assert unseen == []
    with engine.connect() as connection:
        audited = connection.execute(
            select(AuditEvent.action).where(AuditEvent.resource_id == alert["id"])
        ).all()
    assert [row[0] for row in audited].count("acknowledgeAlert") == 2


def test_a_closed_alert_leaves_the_worklist_and_new_evidence_opens_a_new_alert(
    staff: TestClient, engine: Engine
) -> None:
    episode_id = episode(staff)
    record(staff, episode_id, 1, "post-session-rupture-client", {"1": 1})
    (alert,) = staff.get("/v1/alerts").json()["items"]
    closed = staff.post(f"/v1/alerts/{alert['id']}/closure", json={"reason": "false_alarm"})
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["resolution"]["reason"] == "false_alarm"
    again = staff.post(f"/v1/alerts/{alert['id']}/closure", json={"reason": "other"})
    assert again.json() == closed.json()  # closing again changes nothing
    assert staff.get("/v1/alerts").json()["items"] == []
    record(staff, episode_id, 2, "post-session-rupture-client", {"1": 1})
    items = staff.get(f"/v1/episodes/{episode_id}/alerts").json()["items"]
    assert [(item["opened_session"], item["status"]) for item in items] == [
        (1, "closed"),
        (2, "open"),
    ]
    assert events(engine, episode_id)["alert.closed"] == 1
    refused = staff.post(f"/v1/alerts/{alert['id']}/closure", json={"reason": "bored"})
    assert refused.status_code == 422


def test_ending_the_episode_makes_its_open_alerts_unrepaired(staff: TestClient) -> None:
    episode_id = episode(staff)
    record(staff, episode_id, 1, "post-session-rupture-client", {"1": 1})
    ended = staff.post(
        f"/v1/episodes/{episode_id}/closure", json={"ended_on": "2026-03-20", "reason": "completed"}
    )
    assert ended.status_code == 200
    (alert,) = staff.get(f"/v1/episodes/{episode_id}/alerts").json()["items"]
    assert alert["status"] == "unrepaired"


def test_an_unknown_alert_is_a_404_and_another_organisation_s_too(
    staff: TestClient, client: TestClient
) -> None:
    episode_id = episode(staff)
    record(staff, episode_id, 1, "post-session-rupture-client", {"1": 1})
    (alert,) = staff.get("/v1/alerts").json()["items"]
    for response in (
        staff.get(f"/v1/alerts/{uuid.uuid4()}"),
        client.get(f"/v1/alerts/{alert['id']}"),
        client.post(f"/v1/alerts/{alert['id']}/acknowledgement", json={}),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "alert_not_found"


def test_the_alert_profile_is_the_organisation_s_and_only_an_admin_changes_it(
    staff: TestClient, app: FastAPI, engine: Engine, organisation: Organisation
) -> None:
    policy = staff.get("/v1/alert-policy").json()
    assert policy["profile"] == "balanced"
    assert [p["name"] for p in policy["profiles"]] == ["sensitive", "balanced", "specific"]
    reader = staff.post("/v1/api-keys", json={"name": "reader", "scopes": ["records:read"]})
    with TestClient(app, headers={"Authorization": f"Bearer {reader.json()['key']}"}) as other:
        refused = other.put("/v1/alert-policy", json={"profile": "specific"})
        assert refused.status_code == 403
    changed = staff.put("/v1/alert-policy", json={"profile": "specific"})
    assert changed.json()["profile"] == "specific"
    with engine.connect() as connection:
        profile = connection.execute(
            text("SELECT alert_profile FROM organization WHERE id = :id"),
            {"id": organisation.id.hex if engine.dialect.name == "sqlite" else organisation.id},
        ).scalar()
    assert profile == "specific"


def test_the_worklist_reads_an_index_not_the_whole_table(
    engine: Engine, organisation: Organisation
) -> None:
    """With thousands of alerts (as 100 000 administrations give), the default worklist is read
    from the partial index of active alerts that notify, not by scanning the table."""
    with engine.begin() as connection:
        episode_id = uuid.uuid4()
        now = datetime.now(UTC)
        connection.execute(
            insert(Episode).values(
                id=episode_id, organization_id=organisation.id, patient_ref="p",
                clinician_ref="c", created_at=now,
            )
        )  # fmt: skip
        statuses = ["repaired"] * 8 + ["open", "unrepaired"]
        connection.execute(
            insert(AlertRecord),
            [
                {
                    "id": uuid.uuid4(), "organization_id": organisation.id,
                    "episode_id": episode_id, "opened_session": number,
                    "opened_at": now - timedelta(minutes=number), "last_session": number,
                    "status": statuses[number % 10], "late": False, "priority": "moderate",
                    "priority_rank": number % 3, "clinician_ref": "c", "setting": None,
                    "content": {}, "created_at": now, "updated_at": now,
                }
                for number in range(10_000)
            ],
        )  # fmt: skip
        connection.execute(text("ANALYZE"))
        statement = store_alerts.worklist_statement(
            organisation.id, statuses=["open", "unrepaired"], priority_ranks=[1, 2],
            acknowledged=None, clinician_ref=None, setting=None, episode_id=None, since=None,
            after=None, limit=51,
        )  # fmt: skip
        compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
        plan = "\n".join(str(row) for row in connection.execute(text(f"{prefix} {compiled}")))
    assert "ix_alert_active" in plan, plan
