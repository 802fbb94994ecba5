"""Nobody sees what is not theirs: keys, scopes and organisations on every patient-data route."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app import keys
from app.db import Database
from app.main import create_app
from app.settings import Settings
from app.tables import LOCAL_ORGANIZATION_ID, ApiKey

SRS = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
KeyMaker = Callable[..., str]
# The same session 2 as a FHIR QuestionnaireResponse, for the FHIR routes.
SRS_RESPONSE = {
    "resourceType": "QuestionnaireResponse",
    "questionnaire": "https://bordin.dev/fhir/Questionnaire/srs",
    "status": "completed",
    "subject": {"identifier": {"value": "p"}},
    "authored": "2026-03-02T10:00:00+01:00",
    "extension": [
        {"url": "https://bordin.dev/fhir/StructureDefinition/session-number", "valueInteger": 2}
    ],
    "item": [{"linkId": item, "answer": [{"valueDecimal": value}]} for item, value in SRS.items()],
}


@pytest.fixture
def make_key(engine: Engine) -> KeyMaker:
    def make(*scopes: str, organization: uuid.UUID = LOCAL_ORGANIZATION_ID, **extra: Any) -> str:
        created = keys.create_key(
            Database(engine), organization, "test", scopes, extra.get("expires_at"),
            datetime.now(UTC),
        )  # fmt: skip
        return str(created["key"])

    return make


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def recorded(client: TestClient) -> dict[str, str]:
    """An episode of the local organisation with one SRS administration."""
    episode = client.post("/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c"}).json()
    administration = client.post(
        f"/v1/episodes/{episode['id']}/administrations",
        json={
            "instrument": "srs", "rater": "client", "session": 1,
            "administered_at": "2026-03-01T10:00:00+01:00", "responses": SRS,
        },
    ).json()  # fmt: skip
    return {"episode": episode["id"], "administration": administration["id"]}


def _patient_data_routes(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    episode, administration = ids["episode"], ids["administration"]
    body = {
        "instrument": "srs", "rater": "client", "session": 2,
        "administered_at": "2026-03-02T10:00:00+01:00", "responses": SRS,
    }  # fmt: skip
    return [
        ("POST", "/v1/episodes", {"patient_ref": "p", "clinician_ref": "c"}),
        ("GET", "/v1/episodes", None),
        ("GET", f"/v1/episodes/{episode}", None),
        ("POST", f"/v1/episodes/{episode}/administrations", body),
        ("GET", f"/v1/episodes/{episode}/administrations", None),
        (
            "POST",
            f"/v1/episodes/{episode}/administrations/{administration}/corrections",
            {"responses": SRS, "reason": "r"},
        ),
        (
            "POST",
            f"/v1/episodes/{episode}/administrations/{administration}/withdrawal",
            {"reason": "r"},
        ),
        ("GET", f"/v1/episodes/{episode}/trajectory?instrument=srs", None),
        ("GET", f"/v1/episodes/{episode}/trajectory.svg?instrument=srs", None),
        ("GET", f"/v1/episodes/{episode}/ruptures", None),
        ("GET", f"/v1/episodes/{episode}/fhir-flags", None),
        ("GET", "/v1/instruments/srs/statistics", None),
        ("POST", "/v1/scores", {"instrument": "srs", "responses": SRS}),
        ("POST", "/v1/scores/batch", {"instrument": "srs", "rows": []}),
        ("POST", "/v1/scores/fhir", SRS_RESPONSE),
        ("POST", f"/v1/episodes/{episode}/questionnaire-responses", SRS_RESPONSE),
        ("GET", "/v1/api-keys", None),
    ]


def test_every_route_with_data_refuses_a_missing_or_invalid_key(
    app: Any, recorded: dict[str, str]
) -> None:
    with TestClient(app) as anonymous:
        for method, path, body in _patient_data_routes(recorded):
            for headers in (
                {},
                _bearer("bordin_000000000000_" + "x" * 43),
                {"Authorization": "Basic eDp5"},
            ):
                response = anonymous.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert response.json()["code"] == "unauthenticated"


def test_the_catalogue_and_health_stay_public(app: Any) -> None:
    with TestClient(app) as anonymous:
        for path in (
            "/health",
            "/v1/instruments",
            "/v1/instruments/srs",
            "/problems/unauthenticated",
        ):
            assert anonymous.get(path).status_code == 200, path


def _granting(method: str, path: str) -> set[str]:
    """The scopes that open a route (the others must not)."""
    if path.startswith("/v1/scores"):
        return {"scores"}
    if path == "/v1/api-keys":
        return {"admin"}
    if method == "POST" and path.endswith(("/administrations", "/questionnaire-responses")):
        return {"records:write", "submit"}
    return {"records:read"} if method == "GET" else {"records:write"}


def test_a_key_without_the_scope_is_a_403(
    app: Any, recorded: dict[str, str], make_key: KeyMaker
) -> None:
    for method, path, body in _patient_data_routes(recorded):
        others = [scope for scope in keys.SCOPES if scope not in _granting(method, path)]
        with TestClient(app, headers=_bearer(make_key(*others))) as client:
            response = client.request(method, path, json=body)
        assert response.status_code == 403, (method, path, others)
        assert response.json()["code"] == "insufficient_scope"


def test_another_organisation_s_records_answer_404_like_missing_ones(
    app: Any, engine: Engine, recorded: dict[str, str]
) -> None:
    _, other_admin = keys.create_organization(Database(engine), "Other clinic", datetime.now(UTC))
    with TestClient(app, headers=_bearer(other_admin)) as other:
        for method, path, body in _patient_data_routes(recorded):
            if "{episode}" in path or recorded["episode"] not in path:
                continue
            response = other.request(method, path, json=body)
            assert response.status_code == 404, (method, path)
            assert response.json()["code"] in {"episode_not_found", "administration_not_found"}
        assert other.get("/v1/episodes").json()["items"] == []
        stats = other.get("/v1/instruments/srs/statistics").json()
        assert stats["scales"]["total"]["count"] == 0


def test_a_submit_key_records_and_reads_nothing_back(
    app: Any, recorded: dict[str, str], make_key: KeyMaker
) -> None:
    with TestClient(app, headers=_bearer(make_key("submit"))) as kiosk:
        response = kiosk.post(
            f"/v1/episodes/{recorded['episode']}/administrations",
            json={
                "instrument": "srs", "rater": "client", "session": 2,
                "administered_at": "2026-03-02T10:00:00+01:00",
                "responses": {**SRS, "1": 4.0},
            },
        )  # fmt: skip
        assert response.status_code == 201
        assert set(response.json()) == {
            "id",
            "episode_id",
            "instrument",
            "rater",
            "session",
            "status",
        }
        for path in (
            f"/v1/episodes/{recorded['episode']}",
            f"/v1/episodes/{recorded['episode']}/administrations",
            f"/v1/episodes/{recorded['episode']}/ruptures",
        ):
            assert kiosk.get(path).status_code == 403


def test_a_revoked_key_is_refused_at_once(client: TestClient, app: Any) -> None:
    created = client.post(
        "/v1/api-keys", json={"name": "tablet", "scopes": ["scores", "records:read"]}
    )
    assert created.status_code == 201
    key = created.json()["key"]
    with TestClient(app, headers=_bearer(key)) as tablet:
        assert tablet.get("/v1/episodes").status_code == 200
        assert (
            tablet.post("/v1/scores", json={"instrument": "srs", "responses": SRS}).status_code
            == 200
        )
        revoked = client.delete(f"/v1/api-keys/{created.json()['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        assert tablet.get("/v1/episodes").status_code == 401
        assert (
            tablet.post("/v1/scores", json={"instrument": "srs", "responses": SRS}).status_code
            == 401
        )


def test_an_expired_key_is_refused(app: Any, make_key: KeyMaker) -> None:
    key = make_key("records:read", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with TestClient(app, headers=_bearer(key)) as client:
        response = client.get("/v1/episodes")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_keys_are_never_stored_in_clear(client: TestClient, engine: Engine) -> None:
    created = client.post("/v1/api-keys", json={"name": "x", "scopes": ["scores"]}).json()
    secret = created["key"].split("_", 2)[2]
    with engine.connect() as connection:
        rows = connection.execute(select(ApiKey)).all()
    text = repr(rows)
    assert secret not in text
    assert created["key"] not in text
    listed = client.get("/v1/api-keys").json()["items"]
    assert all("key" not in item for item in listed)
    assert created["prefix"] in {item["prefix"] for item in listed}


def test_a_key_past_its_rate_gets_429_with_retry_after(settings: Settings, api_key: str) -> None:
    limited = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}))
    with TestClient(limited, headers=_bearer(api_key)) as client:
        statuses = [client.get("/v1/episodes").status_code for _ in range(4)]
        response = client.get("/v1/episodes")
    assert statuses == [200, 200, 200, 429]
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
