"""The FHIR routes over HTTP, on the real database: every resource validated with fhir.resources."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire
from sqlalchemy import Engine, select

from app.access import keys
from app.catalogue.guidance import Guidance, load_catalogue
from app.fhir.terms import SESSION_EXTENSION
from app.languages.catalogues import Catalogues
from app.platform.db import Database
from app.platform.settings import Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID, Administration, AdministrationRevision

FHIR_JSON = {"Content-Type": "application/fhir+json"}
SRS_38 = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
SRS_37 = {"1": 8.5, "2": 9.5, "3": 9.5, "4": 9.5}


def srs_response(
    patient: str, session: int, answers: dict[str, float], **changes: Any
) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://bordin.dev/fhir/Questionnaire/srs|1.1.0",
        "status": "completed",
        "subject": {"identifier": {"system": "urn:example:ehr", "value": patient}},
        "encounter": {"identifier": {"system": "urn:example:ehr", "value": f"visit-{session}"}},
        "authored": f"2026-03-{session:02d}T10:00:00+01:00",
        "source": {"reference": "Patient/123"},
        "extension": [{"url": SESSION_EXTENSION, "valuePositiveInt": session}],
        "item": [
            {"linkId": item, "answer": [{"valueDecimal": value}]} for item, value in answers.items()
        ],
        **changes,
    }


@pytest.fixture
def patient() -> str:
    return f"ehr-{uuid.uuid4()}"


def _episode(client: TestClient, patient: str, setting: str = "psychotherapy") -> str:
    response = client.post(
        "/v1/episodes", json={"patient_ref": patient, "clinician_ref": "c-1", "setting": setting}
    )
    assert response.status_code == 201
    episode_id: str = response.json()["id"]
    return episode_id


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_each_instrument_is_served_as_a_public_fhir_questionnaire(client: TestClient) -> None:
    with TestClient(client.app) as anonymous:
        response = anonymous.get("/v1/instruments/wai-sr/questionnaire")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    questionnaire = Questionnaire.model_validate_json(response.content)
    assert questionnaire.url == "https://bordin.dev/fhir/Questionnaire/wai-sr"
    missing = client.get("/v1/instruments/nope/questionnaire")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_the_questionnaire_comes_in_the_language_of_accept_language(client: TestClient) -> None:
    french = client.get("/v1/instruments/srs/questionnaire", headers={"Accept-Language": "fr"})
    english = client.get("/v1/instruments/srs/questionnaire")
    assert french.headers["content-language"] == "fr"
    assert french.headers["vary"] == "Accept-Language"
    assert (french.json()["language"], english.json()["language"]) == ("fr", "en")
    assert french.json()["url"] == english.json()["url"]
    assert french.json()["item"][0]["text"].startswith("Relation")
    weighted = client.get("/v1/instruments/wai-s/questionnaire", params={"weights": "true"})
    assert "itemWeight" in weighted.text
    assert "itemWeight" not in client.get("/v1/instruments/wai-s/questionnaire").text


def test_the_answer_code_system_of_each_instrument_is_served_at_a_public_route(
    client: TestClient,
) -> None:
    with TestClient(client.app) as anonymous:
        response = anonymous.get(
            "/v1/instruments/wai-sr/answer-code-system", headers={"Accept-Language": "fr"}
        )
    assert response.status_code == 200
    system = CodeSystem.model_validate_json(response.content)
    assert system.url == "https://bordin.dev/fhir/CodeSystem/wai-sr-answers"
    assert [(c.code, c.display) for c in system.concept or []][-1] == ("5", "Toujours")
    assert client.get("/v1/instruments/nope/answer-code-system").status_code == 404


def test_the_session_may_come_from_the_query_instead_of_an_extension(
    client: TestClient, patient: str
) -> None:
    episode = _episode(client, patient)
    path = f"/v1/episodes/{episode}/questionnaire-responses"
    plain = {**srs_response(patient, 4, SRS_38)}
    del plain["extension"]
    missing = client.post(path, json=plain, headers=FHIR_JSON)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["code"] == "missing_session"
    assert "?session=" in missing.json()["errors"][0]["message"]
    recorded = client.post(path, json=plain, params={"session": 4}, headers=FHIR_JSON)
    assert recorded.status_code == 201, recorded.text
    (administration,) = client.get(f"/v1/episodes/{episode}/administrations").json()["items"]
    assert administration["session"] == 4
    both = client.post(
        path, json=srs_response(patient, 5, SRS_38), params={"session": 6}, headers=FHIR_JSON
    )
    assert both.status_code == 422
    assert both.json()["errors"][0]["code"] == "session_mismatch"
    agreeing = client.post(
        path, json=srs_response(patient, 5, SRS_38), params={"session": 5}, headers=FHIR_JSON
    )
    assert agreeing.status_code == 201


def test_the_code_system_is_served_and_valid(client: TestClient) -> None:
    response = client.get("/v1/code-system")
    assert response.status_code == 200
    system = CodeSystem.model_validate_json(response.content)
    assert any(concept.code == "srs.total" for concept in system.concept or [])


def test_a_questionnaire_response_is_scored_into_observations(client: TestClient) -> None:
    response = client.post(
        "/v1/scores/fhir", json=srs_response("p-1", 1, SRS_38), headers=FHIR_JSON
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = response.json()
    Bundle.model_validate(bundle)
    totals = [
        o for o in _resources(bundle, "Observation") if o["code"]["text"].endswith("Total score")
    ]
    assert [o["valueQuantity"]["value"] for o in totals] == [38.0]
    assert totals[0]["subject"] == {"identifier": {"system": "urn:example:ehr", "value": "p-1"}}
    assert totals[0]["encounter"]["identifier"]["value"] == "visit-1"
    assert totals[0]["effectiveDateTime"] == "2026-03-01T10:00:00+01:00"


def test_a_mismatching_response_is_an_operation_outcome_compatible_problem(
    client: TestClient,
) -> None:
    resource = srs_response("p-1", 1, SRS_38)
    resource["item"].append({"linkId": "9", "answer": [{"valueDecimal": 3}]})
    resource["item"][0]["answer"] = [{"valueString": "9.5"}]
    response = client.post("/v1/scores/fhir", json=resource, headers=FHIR_JSON)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "questionnaire_response_mismatch"
    assert [(e["loc"], e["code"]) for e in problem["errors"]] == [
        (["item", "1", "answer", 0], "wrong_answer_type"),
        (["item", "9"], "unknown_item"),
    ]
    outcome = OperationOutcome.model_validate(
        {"resourceType": "OperationOutcome", "issue": problem["issue"]}
    )
    assert [issue.expression for issue in outcome.issue] == [
        ["QuestionnaireResponse.item.where(linkId='1').answer[0]"],
        ["QuestionnaireResponse.item.where(linkId='9')"],
    ]


def test_a_body_that_is_not_json_is_refused(client: TestClient) -> None:
    assert client.post("/v1/scores/fhir", content=b"{", headers=FHIR_JSON).status_code == 400
    plain = client.post("/v1/scores/fhir", content=b"x", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415


def test_recording_from_fhir_returns_observations_and_flags_with_guidance(
    client: TestClient, patient: str, settings: Settings, languages: Catalogues
) -> None:
    episode = _episode(client, patient)
    path = f"/v1/episodes/{episode}/questionnaire-responses"
    first = client.post(path, json=srs_response(patient, 1, SRS_38), headers=FHIR_JSON)
    assert first.status_code == 201, first.text
    assert _resources(first.json(), "Flag") == []
    second = client.post(
        path,
        json=srs_response(patient, 2, SRS_37),
        headers={**FHIR_JSON, "Accept-Language": "fr"},
    )
    assert second.status_code == 201, second.text
    bundle = second.json()
    Bundle.model_validate(bundle)
    (stored,) = _resources(bundle, "QuestionnaireResponse")
    listed = client.get(f"/v1/episodes/{episode}/administrations").json()["items"]
    assert stored["id"] == listed[1]["id"]
    assert listed[1]["encounter_ref"] == "visit-2"
    flags = _resources(bundle, "Flag")
    rules = {flag["code"]["coding"][0]["code"] for flag in flags}
    assert "rupture.drop_from_previous" in rules  # the SRS fell by 1 point
    ruptures = client.get(f"/v1/episodes/{episode}/ruptures", headers={"Accept-Language": "fr"})
    drop = next(f for f in ruptures.json()["items"] if f["rule"] == "drop_from_previous")
    catalogue = Guidance(load_catalogue(settings.guidance_file), languages)
    french = catalogue.render([entry["id"] for entry in drop["guidance"]], "fr")
    assert french, "a drop in psychotherapy has guidance"
    flag = next(f for f in flags if f["code"]["coding"][0]["code"] == "rupture.drop_from_previous")
    assert flag["subject"]["identifier"]["value"] == patient
    assert flag["period"]["start"] == "2026-03-02T09:00:00+00:00"  # times in UTC
    for entry in french:
        texts = [
            e["valueString"]
            for g in flag["extension"]
            for e in g["extension"]
            if e["url"] == "text"
        ]
        assert entry["text"] in texts
    supports = [e["valueCode"] for g in flag["extension"] for e in g["extension"]
                if e["url"] == "support"]  # fmt: skip
    assert supports == [entry["support"] for entry in french]
    kinds = [k["valueCode"] for g in flag["extension"] for e in g["extension"]
             if e["url"] == "reference" for k in e["extension"] if k["url"] == "kind"]  # fmt: skip
    assert kinds == [r["kind"] for entry in french for r in entry["references"]]
    # the narrative is the guidance in the caller's language, escaped as XHTML, with what backs it
    assert "<li>" in flag["text"]["div"]
    assert f"({french[0]['support_label']})</li>" in flag["text"]["div"]
    assert "appuyé" in french[0]["support_label"]


WAI_SR = {"1": 4, "2": 5, "3": 4, "4": 3, "5": 5, "6": 4, "7": 4, "8": 3, "9": 5, "10": 4}


def wai_sr_response(patient: str, session: int, answers: dict[str, int]) -> dict[str, Any]:
    """A WAI-SR response: choice items answered with their codes (items 11 and 12 left out)."""
    return {
        **srs_response(patient, session, {}),
        "questionnaire": "https://bordin.dev/fhir/Questionnaire/wai-sr|1.1.0",
        "item": [
            {"linkId": item, "answer": [{"valueCoding": {"code": str(value)}}]}
            for item, value in answers.items()
        ],
    }


@pytest.mark.parametrize(
    ("instrument", "answers", "resource"),
    [("srs", SRS_38, srs_response), ("wai-sr", WAI_SR, wai_sr_response)],
)
def test_json_and_fhir_store_the_same_row(
    client: TestClient,
    engine: Engine,
    patient: str,
    instrument: str,
    answers: dict[str, Any],
    resource: Any,
) -> None:
    by_json, by_fhir = _episode(client, patient), _episode(client, patient)
    json_body = {
        "instrument": instrument, "version": "1.1.0", "rater": "client", "session": 1,
        "administered_at": "2026-03-01T10:00:00+01:00", "responses": answers,
        "encounter_ref": "visit-1",
    }  # fmt: skip
    assert client.post(f"/v1/episodes/{by_json}/administrations", json=json_body).status_code == 201
    response = client.post(
        f"/v1/episodes/{by_fhir}/questionnaire-responses",
        json=resource(patient, 1, answers),
        headers=FHIR_JSON,
    )
    assert response.status_code == 201

    def stored(episode: str) -> tuple[dict[str, Any], dict[str, Any]]:
        with engine.connect() as connection:
            administration = (
                connection.execute(
                    select(Administration).where(Administration.episode_id == uuid.UUID(episode))
                )
                .one()
                ._asdict()
            )
            revision = (
                connection.execute(
                    select(AdministrationRevision).where(
                        AdministrationRevision.administration_id == administration["id"]
                    )
                )
                .one()
                ._asdict()
            )
        ignored = {"id", "episode_id", "administration_id", "created_at"}
        return (
            {k: v for k, v in administration.items() if k not in ignored},
            {k: v for k, v in revision.items() if k not in ignored},
        )

    # As JSON text, so that an answer stored as 4.0 on one side and 4 on the other differs.
    as_json = orjson.OPT_SORT_KEYS
    assert orjson.dumps(stored(by_json), default=str, option=as_json) == orjson.dumps(
        stored(by_fhir), default=str, option=as_json
    )
    assert stored(by_fhir)[0]["encounter_ref"] == "visit-1"


@pytest.mark.parametrize(
    ("change", "loc", "code"),
    [
        ({"subject": {"identifier": {"value": "someone-else"}}},
         ["subject", "identifier", "value"], "wrong_patient"),
        ({"subject": {"reference": "Patient/1"}}, ["subject", "identifier"], "missing_subject"),
        ({"extension": []}, ["extension", "session-number"], "missing_session"),
        ({"authored": "2026-03-01T10:00:00"}, ["authored"], "invalid_authored"),
        ({"questionnaire": "https://bordin.dev/fhir/Questionnaire/srs|2.0.0"},
         ["questionnaire"], "unknown_questionnaire"),
    ],
)  # fmt: skip
def test_a_response_that_cannot_be_recorded_is_refused_and_nothing_is_stored(
    client: TestClient, patient: str, change: dict[str, Any], loc: list[str], code: str
) -> None:
    episode = _episode(client, patient)
    response = client.post(
        f"/v1/episodes/{episode}/questionnaire-responses",
        json=srs_response(patient, 1, SRS_38, **change),
        headers=FHIR_JSON,
    )
    assert response.status_code == 422, response.text
    assert [(e["loc"], e["code"]) for e in response.json()["errors"]] == [(loc, code)]
    assert client.get(f"/v1/episodes/{episode}/administrations").json()["items"] == []


def test_the_same_idempotency_key_replays_the_fhir_answer_and_stores_once(
    client: TestClient, patient: str
) -> None:
    episode = _episode(client, patient)
    path = f"/v1/episodes/{episode}/questionnaire-responses"
    headers = {**FHIR_JSON, "Idempotency-Key": f"fhir-{uuid.uuid4()}"}
    first = client.post(path, json=srs_response(patient, 1, SRS_38), headers=headers)
    again = client.post(path, json=srs_response(patient, 1, SRS_38), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = client.post(path, json=srs_response(patient, 1, SRS_37), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert len(client.get(f"/v1/episodes/{episode}/administrations").json()["items"]) == 1
    taken = client.post(path, json=srs_response(patient, 1, SRS_37), headers=FHIR_JSON)
    assert taken.status_code == 409


def test_an_unknown_episode_is_a_404(client: TestClient, patient: str) -> None:
    response = client.post(
        f"/v1/episodes/{uuid.uuid4()}/questionnaire-responses",
        json=srs_response(patient, 1, SRS_38),
        headers=FHIR_JSON,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "episode_not_found"


def test_a_submit_key_gets_back_only_the_response_id(
    client: TestClient, engine: Engine, patient: str
) -> None:
    episode = _episode(client, patient)
    key = keys.create_key(
        Database(engine), LOCAL_ORGANIZATION_ID, "kiosk", ["submit"], None, datetime.now(UTC)
    )
    with TestClient(client.app, headers={"Authorization": f"Bearer {key['key']}"}) as kiosk:
        response = kiosk.post(
            f"/v1/episodes/{episode}/questionnaire-responses",
            json=srs_response(patient, 1, SRS_38),
            headers=FHIR_JSON,
        )
    assert response.status_code == 201
    bundle = response.json()
    Bundle.model_validate(bundle)
    (entry,) = bundle["entry"]
    assert set(entry["resource"]) == {"resourceType", "id", "questionnaire", "status"}
    listed = client.get(f"/v1/episodes/{episode}/administrations").json()["items"]
    assert [item["id"] for item in listed] == [entry["resource"]["id"]]


def test_an_episode_s_alerts_are_exported_as_fhir_flags_in_their_current_state(
    client: TestClient, patient: str, settings: Settings, languages: Catalogues
) -> None:
    episode = _episode(client, patient, setting="nursing")
    path = f"/v1/episodes/{episode}/questionnaire-responses"
    observations: set[str] = set()
    for session, answers in ((1, SRS_38), (2, SRS_37), (3, SRS_38)):
        response = client.post(
            path, json=srs_response(patient, session, answers), headers=FHIR_JSON
        )
        assert response.status_code == 201
        observations |= {
            f"Observation/{e['resource']['id']}"
            for e in response.json()["entry"]
            if e["resource"]["resourceType"] == "Observation"
        }
    exported = client.get(f"/v1/episodes/{episode}/fhir-flags", headers={"Accept-Language": "fr"})
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/fhir+json"
    bundle = exported.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    alerts = client.get(f"/v1/episodes/{episode}/alerts").json()["items"]
    # One Flag per alert, not per rupture flag: the 1-point drop of session 2 is one alert.
    assert bundle["total"] == len(alerts) == 1
    (entry,) = bundle["entry"]
    flag = entry["resource"]
    assert flag["code"]["coding"][0]["code"] == "alliance-rupture"
    assert flag["status"] == "inactive"  # session 3 got back to 38: repaired
    assert flag["subject"] == {"identifier": {"value": patient}}
    assert flag["period"]["start"].startswith("2026-03-02T")
    assert flag["period"]["end"].startswith("2026-03-03T")
    ids = [entry["id"] for entry in alerts[0]["guidance"]]
    french = Guidance(load_catalogue(settings.guidance_file), languages).render(ids, "fr")
    assert french
    for guidance in french:
        assert html.escape(guidance["text"]) in flag["text"]["div"]
    issues = client.get(f"/v1/episodes/{episode}/fhir-detected-issues").json()
    Bundle.model_validate(issues)
    (issue,) = [e["resource"] for e in issues["entry"]]
    assert (issue["resourceType"], issue["severity"], issue["status"]) == (
        "DetectedIssue", "low", "final"
    )  # fmt: skip
    assert issue["id"] == alerts[0]["id"]
    # The evidence points at the Observations the recording's Bundles gave the scores.
    references = {
        detail["reference"] for evidence in issue["evidence"] for detail in evidence["detail"]
    }
    assert references
    assert references <= observations
    other = client.get(f"/v1/episodes/{uuid.uuid4()}/fhir-flags")
    assert other.status_code == 404
