"""Episodes of care and administrations over HTTP, on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from app.platform.tables import (
    Administration,
    AdministrationRevision,
    IdempotencyRecord,
    RuptureFlagRecord,
)

SRS_38 = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}


def _srs(total_drop: float = 0.0) -> dict[str, float]:
    return {**SRS_38, "1": round(9.5 - total_drop, 1)}


@pytest.fixture
def episode(client: TestClient) -> str:
    response = client.post(
        "/v1/episodes",
        json={
            "patient_ref": f"ehr-{uuid.uuid4()}",
            "clinician_ref": "staff-17",
            "setting": "nursing",
        },
    )
    assert response.status_code == 201
    episode_id: str = response.json()["id"]
    return episode_id


def _record(
    client: TestClient, episode: str, session: int, responses: dict[str, Any], **extra: Any
) -> Any:
    body = {
        "instrument": "srs",
        "rater": "client",
        "session": session,
        "administered_at": f"2026-03-{session:02d}T10:00:00+01:00",
        "responses": responses,
        **extra.pop("body", {}),
    }
    return client.post(f"/v1/episodes/{episode}/administrations", json=body, **extra)


def test_an_episode_is_created_read_and_listed_by_patient(client: TestClient) -> None:
    created = client.post(
        "/v1/episodes",
        json={"patient_ref": "ehr-list-1", "clinician_ref": "c9", "started_on": "2026-03-01"},
    ).json()
    assert created["patient_ref"] == "ehr-list-1"
    assert created["started_on"] == "2026-03-01"
    assert client.get(f"/v1/episodes/{created['id']}").json() == created
    listed = client.get("/v1/episodes", params={"patient_ref": "ehr-list-1"}).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]


def test_episodes_are_paginated_with_a_cursor(client: TestClient) -> None:
    patient = f"ehr-{uuid.uuid4()}"
    ids = [
        client.post("/v1/episodes", json={"patient_ref": patient, "clinician_ref": "c"}).json()[
            "id"
        ]
        for _ in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"patient_ref": patient, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/episodes", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def test_a_cursor_the_list_did_not_give_is_a_422_problem(client: TestClient) -> None:
    response = client.get("/v1/episodes", params={"cursor": "bm9wZQ"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


def test_an_unknown_episode_is_a_404_problem(client: TestClient) -> None:
    missing = uuid.uuid4()
    for response in (
        client.get(f"/v1/episodes/{missing}"),
        _record(client, str(missing), 1, SRS_38),
        client.get(f"/v1/episodes/{missing}/ruptures"),
        client.get(f"/v1/episodes/{missing}/trajectory", params={"instrument": "srs"}),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "episode_not_found"


def test_recording_returns_the_stored_administration_and_the_flags_it_raised(
    client: TestClient, episode: str
) -> None:
    first = _record(client, episode, 1, SRS_38)
    assert first.status_code == 201
    stored = first.json()
    assert stored["result"]["scales"]["total"]["score"] == 38.0
    assert stored["responses"] == SRS_38
    assert stored["status"] == "recorded"
    assert stored["definition_hash"].startswith("sha256:")
    assert stored["ruptures"] == []
    second = _record(client, episode, 2, _srs(1.5)).json()  # total 36.5: a drop of 1.5
    assert [(f["rule"], f["scale"], f["session"]) for f in second["ruptures"]] == [
        ("drop_from_previous", "total", 2)
    ]
    flag = second["ruptures"][0]
    assert flag["reference"] == 38.0
    assert flag["administration_id"] == second["id"]
    assert flag["instrument"] == "srs"
    assert flag["state"] == "pending"


def test_a_session_recorded_twice_is_a_409_problem(client: TestClient, episode: str) -> None:
    assert _record(client, episode, 1, SRS_38).status_code == 201
    again = _record(client, episode, 1, _srs(2))
    assert again.status_code == 409
    assert again.json()["code"] == "session_already_recorded"
    therapist_form = {"instrument": "post-session-rupture-therapist", "rater": "therapist"}
    same_session = _record(client, episode, 1, {"1": 0}, body=therapist_form)
    assert same_session.status_code == 201


def test_a_rater_who_cannot_fill_in_the_instrument_is_refused(
    client: TestClient, episode: str
) -> None:
    response = _record(client, episode, 1, SRS_38, body={"rater": "therapist"})
    assert response.status_code == 422
    assert response.json()["code"] == "rater_mismatch"
    assert response.json()["errors"][0]["loc"] == ["rater"]
    markers = {"instrument": "rupture-markers", "rater": "observer"}
    answers = {str(item): 0 for item in range(1, 11)}
    assert _record(client, episode, 1, answers, body=markers).status_code == 201


def test_invalid_answers_are_refused_and_nothing_is_stored(
    client: TestClient, episode: str
) -> None:
    response = _record(client, episode, 1, {**SRS_38, "2": 11})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["responses", "2"]
    assert client.get(f"/v1/episodes/{episode}/administrations").json()["items"] == []


def test_a_timestamp_without_offset_is_refused(client: TestClient, episode: str) -> None:
    response = _record(client, episode, 1, SRS_38, body={"administered_at": "2026-03-01T10:00:00"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["administered_at"]


def test_times_are_echoed_in_utc_as_the_lists_give_them(client: TestClient, episode: str) -> None:
    recorded = _record(client, episode, 1, SRS_38).json()  # sent at 10:00+01:00
    assert recorded["administered_at"] == "2026-03-01T09:00:00+00:00"
    listed = client.get(f"/v1/episodes/{episode}/administrations").json()["items"][0]
    assert listed["administered_at"] == recorded["administered_at"]
    assert listed["created_at"] == recorded["created_at"]
    assert recorded["created_at"].endswith("+00:00")
    key = client.post(
        "/v1/api-keys",
        json={"name": "later", "scopes": ["scores"], "expires_at": "2030-01-01T00:30:00-02:00"},
    ).json()
    assert key["expires_at"] == "2030-01-01T02:30:00+00:00"
    (listed_key,) = [k for k in client.get("/v1/api-keys").json()["items"] if k["id"] == key["id"]]
    assert listed_key["expires_at"] == key["expires_at"]


def test_an_idempotency_key_replays_the_first_response(
    client: TestClient, episode: str, engine: Engine
) -> None:
    headers = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = _record(client, episode, 1, SRS_38, headers=headers)
    replay = _record(client, episode, 1, SRS_38, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    with engine.connect() as connection:
        count = connection.scalar(
            select(func.count())
            .select_from(Administration)
            .where(Administration.episode_id == uuid.UUID(episode))
        )
    assert count == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(
    client: TestClient, episode: str
) -> None:
    headers = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    assert _record(client, episode, 1, SRS_38, headers=headers).status_code == 201
    other = _record(client, episode, 2, SRS_38, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert len(client.get(f"/v1/episodes/{episode}/administrations").json()["items"]) == 1


def test_an_idempotency_key_may_be_used_again_once_its_lifetime_is_over(
    client: TestClient, episode: str, engine: Engine
) -> None:
    key = f"key-{uuid.uuid4()}"
    headers = {"Idempotency-Key": key}
    assert _record(client, episode, 1, SRS_38, headers=headers).status_code == 201
    # 23 hours later (IDEMPOTENCY_KEY_HOURS is 24): still the first request's key.
    _age_idempotency_key(engine, key, timedelta(hours=23))
    assert _record(client, episode, 2, SRS_38, headers=headers).status_code == 422
    # 25 hours later: forgotten, so it records a new administration.
    _age_idempotency_key(engine, key, timedelta(hours=25))
    second = _record(client, episode, 2, SRS_38, headers=headers)
    assert second.status_code == 201
    assert second.json()["session"] == 2
    assert _record(client, episode, 2, SRS_38, headers=headers).json() == second.json()
    sessions = [
        a["session"] for a in client.get(f"/v1/episodes/{episode}/administrations").json()["items"]
    ]
    assert sessions == [1, 2]


def test_expired_idempotency_records_are_forgotten_when_a_new_key_is_stored(
    app: FastAPI, api_key: str, engine: Engine
) -> None:
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        episode = client.post("/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c"})
        episode_id = episode.json()["id"]
        old = f"old-{uuid.uuid4()}"
        _record(client, episode_id, 1, SRS_38, headers={"Idempotency-Key": old})
        _age_idempotency_key(engine, old, timedelta(hours=25))
        # A new app process: its first stored key forgets the organisation's expired ones.
        app.state.bordin.records.idempotency_purged.clear()
        _record(client, episode_id, 2, SRS_38, headers={"Idempotency-Key": f"new-{uuid.uuid4()}"})
    with engine.connect() as connection:
        kept = connection.scalars(
            select(IdempotencyRecord.key).where(
                IdempotencyRecord.episode_id == uuid.UUID(episode_id)
            )
        ).all()
    assert len(kept) == 1
    assert kept[0].startswith("new-")


def _age_idempotency_key(engine: Engine, key: str, age: timedelta) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key)
            .values(created_at=datetime.now(UTC) - age)
        )


def test_a_correction_keeps_the_original_and_re_evaluates_the_series(
    client: TestClient, episode: str, engine: Engine
) -> None:
    _record(client, episode, 1, SRS_38)
    flagged = _record(client, episode, 2, _srs(1.5)).json()
    assert flagged["ruptures"]
    corrected = client.post(
        f"/v1/episodes/{episode}/administrations/{flagged['id']}/corrections",
        json={"responses": _srs(0.5), "reason": "item 1 keyed in wrong"},
    )
    assert corrected.status_code == 200
    body = corrected.json()
    assert body["status"] == "corrected"
    assert body["revision"] == 2
    assert body["result"]["scales"]["total"]["score"] == 37.5
    assert [entry["status"] for entry in body["history"]] == ["recorded"]
    assert body["ruptures"] == []
    assert client.get(f"/v1/episodes/{episode}/ruptures").json()["items"] == []
    with engine.connect() as connection:
        kept = connection.scalars(
            select(AdministrationRevision.responses)
            .where(AdministrationRevision.administration_id == uuid.UUID(flagged["id"]))
            .order_by(AdministrationRevision.revision)
        ).all()
    assert kept == [_srs(1.5), _srs(0.5)]


def test_a_withdrawal_removes_the_administration_from_the_series(
    client: TestClient, episode: str
) -> None:
    _record(client, episode, 1, SRS_38)
    middle = _record(client, episode, 2, _srs(0.5)).json()
    third = _record(client, episode, 3, _srs(1.0)).json()  # 37.5 -> 37.0: no flag
    assert third["ruptures"] == []
    withdrawn = client.post(
        f"/v1/episodes/{episode}/administrations/{middle['id']}/withdrawal",
        json={"reason": "wrong patient"},
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    flags = client.get(f"/v1/episodes/{episode}/ruptures").json()["items"]
    assert [(f["rule"], f["session"], f["reference"]) for f in flags] == [
        ("drop_from_previous", 3, 38.0)
    ]
    again = client.post(
        f"/v1/episodes/{episode}/administrations/{middle['id']}/withdrawal",
        json={"reason": "twice"},
    )
    assert again.status_code == 409
    points = client.get(f"/v1/episodes/{episode}/trajectory", params={"instrument": "srs"}).json()[
        "points"
    ]
    assert [point["session"] for point in points] == [1, 3]


def test_an_administration_of_another_episode_is_not_found(
    client: TestClient, episode: str
) -> None:
    stored = _record(client, episode, 1, SRS_38).json()
    other = client.post("/v1/episodes", json={"patient_ref": "x", "clinician_ref": "y"}).json()
    response = client.post(
        f"/v1/episodes/{other['id']}/administrations/{stored['id']}/withdrawal",
        json={"reason": "r"},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "administration_not_found"


def test_the_trajectory_gives_scores_by_session_and_the_series_flags(
    client: TestClient, episode: str
) -> None:
    for session, drop in ((1, 0), (3, 0), (2, 1.2)):  # session 2 arrives last
        _record(client, episode, session, _srs(drop))
    body = client.get(
        f"/v1/episodes/{episode}/trajectory", params={"instrument": "srs", "rater": "client"}
    ).json()
    assert [point["session"] for point in body["points"]] == [1, 2, 3]
    assert body["points"][1]["scales"]["total"] == {"score": 36.8, "mean": 9.2, "pomp": 92.0}
    # 38.0 -> 36.8 is a drop of 1.2 (flag at 2), repaired at 3 (back to 38.0)
    drops = [f for f in body["ruptures"] if f["rule"] == "drop_from_previous"]
    assert [(f["session"], f["state"], f["repaired_at"]["session"]) for f in drops] == [
        (2, "repaired", 3)
    ]
    assert any(entry["rule"] == "v_drop" for entry in body["not_evaluated"])


def test_an_unknown_instrument_in_a_trajectory_is_a_404(client: TestClient, episode: str) -> None:
    response = client.get(f"/v1/episodes/{episode}/trajectory", params={"instrument": "nope"})
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_instrument"


def test_the_instrument_statistics_count_the_organisation_s_administrations(
    client: TestClient, episode: str
) -> None:
    before = client.get("/v1/instruments/haq-ii-alliance/statistics").json()
    body = {"instrument": "haq-ii-alliance"}
    for session, value in ((1, 4), (2, 5)):
        answers = {str(i): value for i in range(1, 20)}
        assert _record(client, episode, session, answers, body=body).status_code == 201
    after = client.get("/v1/instruments/haq-ii-alliance/statistics").json()
    assert after["scales"]["total"]["count"] == before["scales"]["total"]["count"] + 2
    assert client.get("/v1/instruments/nope/statistics").status_code == 404


def test_twenty_clients_posting_one_administration_with_one_key_store_one_row(
    client: TestClient, episode: str, engine: Engine
) -> None:
    key = f"key-{uuid.uuid4()}"

    def post(_: int) -> Any:
        return _record(client, episode, 7, SRS_38, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(post, range(20)))
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    with engine.connect() as connection:
        rows = connection.scalar(
            select(func.count())
            .select_from(Administration)
            .where(Administration.episode_id == uuid.UUID(episode))
        )
        keys = connection.scalar(
            select(func.count()).select_from(IdempotencyRecord).where(IdempotencyRecord.key == key)
        )
    assert (rows, keys) == (1, 1)


def test_distinct_administrations_posted_concurrently_are_all_stored_and_evaluated(
    client: TestClient, episode: str, engine: Engine
) -> None:
    def post(session: int) -> Any:
        # alternately 38.0 and 36.5: every even session drops 1.5 from the one before
        return _record(client, episode, session, _srs(1.5 if session % 2 == 0 else 0))

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(post, range(1, 11)))
    assert [response.status_code for response in responses] == [201] * 10
    items = client.get(f"/v1/episodes/{episode}/administrations", params={"limit": 200}).json()
    assert [item["session"] for item in items["items"]] == list(range(1, 11))
    current = client.get(f"/v1/episodes/{episode}/ruptures").json()["items"]
    drops = [(f["rule"], f["session"]) for f in current if f["rule"] == "drop_from_previous"]
    assert drops == [("drop_from_previous", session) for session in (2, 4, 6, 8, 10)]
    # the flags stored by the last write are the episode's current evaluation
    with engine.connect() as connection:
        stored = connection.execute(
            select(
                RuptureFlagRecord.rule, RuptureFlagRecord.scale, RuptureFlagRecord.session
            ).where(RuptureFlagRecord.episode_id == uuid.UUID(episode))
        ).all()
    assert sorted(map(tuple, stored)) == sorted(
        (f["rule"], f["scale"], f["session"]) for f in current
    )


def test_the_trajectory_chart_is_valid_svg_with_every_point_and_one_marker_per_alert(
    client: TestClient, episode: str
) -> None:
    for session, drop in ((1, 0), (2, 1.5), (3, 0)):
        _record(client, episode, session, _srs(drop))
    response = client.get(
        f"/v1/episodes/{episode}/trajectory.svg",
        params={"instrument": "srs"},
        headers={"Accept-Language": "fr"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(response.text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    circles = root.findall(".//{http://www.w3.org/2000/svg}circle")
    # the total at three sessions on its own scale, and four subscales at three sessions
    totals = {(c.get("data-session"), c.get("data-score")) for c in circles if c.get("data-score")}
    assert totals == {("1", "38"), ("2", "36.5"), ("3", "38")}
    assert len(circles) == 3 + 4 * 3
    # one marker per alert (the session-2 dip: one alert, however many flags)
    markers = [
        g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-role") == "alert"
    ]
    assert [(g.get("data-priority"), g.get("data-session")) for g in markers] == [("low", "2")]
    zone = [
        r
        for r in root.iter("{http://www.w3.org/2000/svg}rect")
        if r.get("data-role") == "alert-zone"
    ]
    assert len(zone) == 1
    words = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Séance (date)" in words
    assert "% du maximum" in words
    assert "Zone d'alerte : 36 ou moins" in words
    for english in ("Session", "POMP", "Alert", "High", "Low", "drop_from_previous"):
        assert not re.search(rf"\b{english}\b", words), english
    title = next(
        t for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("data-role") == "title"
    )
    title_words = [
        w.lower()
        for w in (title.text or "").replace("(", " ").replace(")", " ").split()
        if w.isalpha()
    ]
    assert len(title_words) == len(set(title_words)), title.text


def test_ending_an_episode_settles_what_waits_for_later_sessions(
    client: TestClient, episode: str
) -> None:
    assert _record(client, episode, 1, _srs()).status_code == 201
    raised = _record(client, episode, 2, _srs(2.0)).json()["ruptures"]  # 38 -> 36
    drop = next(flag for flag in raised if flag["rule"] == "drop_from_previous")
    assert drop["state"] == "pending"  # its repair window (sessions 3-5) is still open
    ended = client.post(
        f"/v1/episodes/{episode}/closure", json={"ended_on": "2026-03-20", "reason": "dropped_out"}
    )
    assert ended.status_code == 200
    assert (ended.json()["ended_on"], ended.json()["end_reason"]) == ("2026-03-20", "dropped_out")
    assert client.get(f"/v1/episodes/{episode}").json() == ended.json()
    flags = client.get(f"/v1/episodes/{episode}/ruptures").json()["items"]
    settled = next(flag for flag in flags if flag["rule"] == "drop_from_previous")
    assert (settled["state"], settled["repaired"]) == ("unrepaired", False)
    # The same end again changes nothing; another end is a conflict, and changes nothing.
    again = client.post(
        f"/v1/episodes/{episode}/closure", json={"ended_on": "2026-03-20", "reason": "dropped_out"}
    )
    assert (again.status_code, again.json()) == (200, ended.json())
    other = client.post(
        f"/v1/episodes/{episode}/closure", json={"ended_on": "2026-03-21", "reason": "completed"}
    )
    assert other.status_code == 409
    assert other.json()["code"] == "episode_already_ended"
    assert client.get(f"/v1/episodes/{episode}").json()["end_reason"] == "dropped_out"


def test_an_episode_end_needs_a_known_reason_and_a_date(client: TestClient, episode: str) -> None:
    response = client.post(
        f"/v1/episodes/{episode}/closure", json={"ended_on": "soon", "reason": "bored"}
    )
    assert response.status_code == 422
    assert {tuple(error["loc"]) for error in response.json()["errors"]} == {
        ("ended_on",),
        ("reason",),
    }
