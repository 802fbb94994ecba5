"""Nobody sees what is not theirs: keys, scopes and organisations on every patient-data route."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.access import keys
from app.access.guard import caller, check_declared, declared_access, public
from app.access.keys import Principal
from app.main import create_app
from app.platform.db import Database
from app.platform.settings import Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID, ApiKey, AuditEvent

SRS = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
KeyMaker = Callable[..., str]
FHIR_EXTENSIONS = "https://bordin.dev/fhir/StructureDefinition"
# The same session 2 as a FHIR QuestionnaireResponse, for the FHIR routes.
SRS_RESPONSE = {
    "resourceType": "QuestionnaireResponse",
    "questionnaire": "https://bordin.dev/fhir/Questionnaire/srs",
    "status": "completed",
    "subject": {"identifier": {"value": "p"}},
    "authored": "2026-03-02T10:00:00+01:00",
    "extension": [{"url": f"{FHIR_EXTENSIONS}/session-number", "valueInteger": 2}],
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


def test_an_address_sending_unknown_keys_is_limited_before_authentication(
    settings: Settings, api_key: str
) -> None:
    limited = create_app(settings.model_copy(update={"rate_limit_failed_auth_per_minute": 3}))
    guessed = _bearer("bordin_000000000000_" + "x" * 43)
    with TestClient(limited, client=("203.0.113.7", 40000)) as guesser:
        statuses = [guesser.get("/v1/episodes", headers=guessed).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        # from now on the address is refused before any key is looked up, a valid one too
        refused = guesser.get("/v1/episodes", headers=_bearer(api_key))
        scoring = guesser.post(
            "/v1/scores", json={"instrument": "srs", "responses": SRS}, headers=_bearer(api_key)
        )
    assert (refused.status_code, scoring.status_code) == (429, 429)
    assert refused.json()["code"] == "rate_limited"
    assert "address" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) >= 1
    with TestClient(limited, client=("203.0.113.8", 40000)) as neighbour:
        assert neighbour.get("/v1/episodes", headers=_bearer(api_key)).status_code == 200


def test_invalid_tokens_and_other_schemes_count_against_the_address_but_no_credentials_do_not(
    settings: Settings,
) -> None:
    limited = create_app(settings.model_copy(update={"rate_limit_failed_auth_per_minute": 2}))
    with TestClient(limited, client=("203.0.113.9", 40000)) as caller:
        anonymous = [caller.get("/v1/episodes").status_code for _ in range(5)]
        assert anonymous == [401] * 5
        schemes = [
            caller.get("/v1/episodes", headers={"Authorization": header}).status_code
            for header in ("Basic eDp5", "Bearer a.b.c", "Bearer a.b.c")
        ]
    assert schemes == [401, 401, 429]


def test_a_429_is_not_an_audited_access(
    settings: Settings, make_key: KeyMaker, engine: Engine
) -> None:
    key = make_key("records:read")
    with engine.connect() as connection:
        key_id = connection.scalar(select(ApiKey.id).where(ApiKey.prefix == key.split("_")[1]))
    limited = create_app(settings.model_copy(update={"rate_limit_per_minute": 2}))
    with TestClient(limited, headers=_bearer(key)) as client:
        statuses = [client.get("/v1/episodes").status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 429, 429]
    with engine.connect() as connection:
        events = connection.scalars(
            select(AuditEvent.status).where(AuditEvent.key_id == key_id)
        ).all()
    assert sorted(events) == [200, 200]


def test_an_admin_key_grants_only_the_scopes_it_holds(app: Any, make_key: KeyMaker) -> None:
    with TestClient(app, headers=_bearer(make_key("admin", "scores"))) as admin:
        before = admin.get("/v1/api-keys").json()["items"]
        refused = admin.post(
            "/v1/api-keys",
            json={"name": "wider", "scopes": ["scores", "records:read", "submit"]},
        )
        assert refused.status_code == 403
        problem = refused.json()
        assert problem["code"] == "insufficient_scope"
        assert "records:read, submit" in problem["detail"]
        assert [(e["loc"], e["code"]) for e in problem["errors"]] == [
            (["scopes", 1], "scope_not_held"),
            (["scopes", 2], "scope_not_held"),
        ]
        assert admin.get("/v1/api-keys").json()["items"] == before
        granted = admin.post("/v1/api-keys", json={"name": "same", "scopes": ["scores", "admin"]})
        assert granted.status_code == 201
        assert granted.json()["scopes"] == ["admin", "scores"]


@pytest.mark.parametrize("scopes", [("records:write",), ("records:write", "submit")])
def test_a_write_only_key_gets_acknowledgements_and_no_clinical_content(
    app: Any, recorded: dict[str, str], make_key: KeyMaker, scopes: tuple[str, ...]
) -> None:
    episode, administration = recorded["episode"], recorded["administration"]
    corrected_answers = {**SRS, "2": 3.7}
    with TestClient(app, headers=_bearer(make_key(*scopes))) as writer:
        answers = [
            writer.post(
                f"/v1/episodes/{episode}/administrations",
                json={
                    "instrument": "srs", "rater": "client", "session": 2,
                    "administered_at": "2026-03-02T10:00:00+01:00", "responses": SRS,
                },
            ),
            writer.post(
                f"/v1/episodes/{episode}/administrations/{administration}/corrections",
                json={"responses": corrected_answers, "reason": "typo"},
            ),
            writer.post(
                f"/v1/episodes/{episode}/administrations/{administration}/withdrawal",
                json={"reason": "wrong patient"},
            ),
        ]  # fmt: skip
        session_3 = [{"url": f"{FHIR_EXTENSIONS}/session-number", "valueInteger": 3}]
        fhir = writer.post(
            f"/v1/episodes/{episode}/questionnaire-responses",
            json={**SRS_RESPONSE, "extension": session_3},
        )
    assert [answer.status_code for answer in answers] == [201, 200, 200]
    assert [answer.json()["status"] for answer in answers] == ["recorded", "corrected", "withdrawn"]
    acknowledgement = {"id", "episode_id", "instrument", "rater", "session", "status"}
    for answer in answers:
        assert set(answer.json()) == acknowledgement
        assert "3.7" not in answer.text
    assert fhir.status_code == 201
    assert [entry["resource"]["resourceType"] for entry in fhir.json()["entry"]] == [
        "QuestionnaireResponse"
    ]
    assert "item" not in fhir.json()["entry"][0]["resource"]


def test_a_key_that_also_reads_gets_the_corrected_administration_back(
    app: Any, recorded: dict[str, str], make_key: KeyMaker
) -> None:
    episode, administration = recorded["episode"], recorded["administration"]
    with TestClient(app, headers=_bearer(make_key("records:write", "records:read"))) as clinician:
        corrected = clinician.post(
            f"/v1/episodes/{episode}/administrations/{administration}/corrections",
            json={"responses": {**SRS, "2": 3.7}, "reason": "typo"},
        )
    assert corrected.status_code == 200
    assert corrected.json()["responses"]["2"] == 3.7
    assert "result" in corrected.json()


def _without_ids(response: Any, *ids: str) -> tuple[int, str]:
    """The status and body of an answer, request id dropped and the given ids blanked."""
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    text = orjson.dumps(body).decode()
    for value in ids:
        text = text.replace(value, "<id>")
    return response.status_code, text


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"extension": []},
        {"authored": "yesterday"},
        {"source": {"reference": "Practitioner/1"}},  # a therapist cannot fill in the SRS
        {"item": [{"linkId": "1", "answer": [{"valueDecimal": 11}]}]},
    ],
    ids=["valid", "no session", "bad authored", "rater mismatch", "out of range"],
)
def test_a_submit_key_cannot_tell_a_wrong_patient_from_a_missing_episode(
    app: Any, recorded: dict[str, str], make_key: KeyMaker, change: dict[str, Any]
) -> None:
    episode, missing = recorded["episode"], str(uuid.uuid4())
    guess = {**SRS_RESPONSE, "subject": {"identifier": {"value": "a-guessed-patient"}}, **change}
    right = {**SRS_RESPONSE, **change}  # the episode's patient is "p"
    with TestClient(app, headers=_bearer(make_key("submit"))) as kiosk:
        wrong_patient = kiosk.post(f"/v1/episodes/{episode}/questionnaire-responses", json=guess)
        no_episode = kiosk.post(f"/v1/episodes/{missing}/questionnaire-responses", json=guess)
        right_patient = kiosk.post(f"/v1/episodes/{episode}/questionnaire-responses", json=right)
    assert _without_ids(wrong_patient, episode) == _without_ids(no_episode, missing)
    if change:
        # content is refused before the episode is looked at: the patient changes nothing
        assert wrong_patient.status_code == 422
        assert _without_ids(right_patient, episode) == _without_ids(wrong_patient, episode)
    else:
        assert wrong_patient.status_code == 404
        assert wrong_patient.json()["code"] == "episode_not_found"
        assert right_patient.status_code == 201


def _example_url(path: str, operation: dict[str, Any]) -> str:
    """A URL of the operation: a new id for each id, `srs` for each other required value."""
    query = []
    for parameter in operation.get("parameters", []):
        value = str(uuid.uuid4()) if parameter["schema"].get("format") == "uuid" else "srs"
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", value)
        elif parameter["in"] == "query" and parameter.get("required"):
            query.append(f"{parameter['name']}={value}")
    return path + ("?" + "&".join(query) if query else "")


def test_every_operation_enforces_exactly_the_access_its_document_declares(
    app: Any, make_key: KeyMaker
) -> None:
    # Driven by the served document, so that a new operation is covered without a list to
    # keep: a public operation reads no credentials (none refused, even invalid ones); a
    # secured one refuses a request without a key (401), a key without any of its declared
    # scopes (403), and lets through a key holding any one of them alone (whatever the
    # request then answers: no body, ids that exist nowhere).
    with TestClient(app) as anonymous:
        document = anonymous.get("/openapi.json").json()
    operations = [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    served = [r for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema]
    assert len(operations) == sum(len(route.methods or ()) for route in served)
    keys_by_scopes: dict[frozenset[str], str] = {}

    def key_holding(scopes: frozenset[str]) -> dict[str, str]:
        if scopes not in keys_by_scopes:
            keys_by_scopes[scopes] = make_key(*sorted(scopes))
        return _bearer(keys_by_scopes[scopes])

    invalid = _bearer("bordin_000000000000_" + "x" * 43)
    checked = 0
    for method, path, operation in operations:
        url = _example_url(path, operation)
        with TestClient(app) as client:
            if not operation["security"]:  # public: security []
                for headers in ({}, invalid):
                    answer = client.request(method, url, headers=headers)
                    assert answer.status_code not in (401, 403), (method, path, headers)
                checked += 1
                continue
            ((scheme, declared),) = operation["security"][0].items()
            assert scheme == "apiKey", (method, path)
            assert declared, (method, path)
            for headers in ({}, invalid):
                refused = client.request(method, url, headers=headers)
                assert refused.status_code == 401, (method, path, headers)
                assert refused.headers["www-authenticate"].startswith("Bearer")
            others = frozenset(keys.SCOPES) - set(declared)
            lacking = client.request(method, url, headers=key_holding(others))
            assert lacking.status_code == 403, (method, path, sorted(others))
            assert lacking.json()["code"] == "insufficient_scope"
            for scope in declared:
                let_through = client.request(method, url, headers=key_holding(frozenset({scope})))
                assert let_through.status_code not in (401, 403), (method, path, scope)
            checked += 1
    assert checked == len(operations)


def test_an_app_refuses_to_start_with_a_route_that_does_not_say_who_may_call_it() -> None:
    undeclared = FastAPI()

    @undeclared.get("/v1/forgotten")
    def forgotten() -> None: ...

    with pytest.raises(ValueError, match="must declare who may call it once"):
        check_declared(undeclared)

    twice = FastAPI()

    @twice.get("/v1/twice", dependencies=[Depends(public)])
    def declared_twice(principal: Annotated[Principal, Depends(caller("admin"))]) -> None: ...

    with pytest.raises(ValueError, match="declares it 2 times"):
        check_declared(twice)
    with pytest.raises(ValueError, match="at least one scope"):
        caller()


def test_every_route_of_the_app_declares_its_access_once(app: Any) -> None:
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    declared = {route.name: declared_access(route) for route in routes}
    assert declared["get_liveness"] == ()
    assert declared["score_responses"] == ("scores",)
    assert declared["record_administration"] == ("records:write", "submit")
