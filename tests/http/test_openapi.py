"""The OpenAPI document is a product: stable operation ids, named schemas, declared problems."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypeAliasType

from app.main import WIRE_SCHEMAS
from app.scoring.schemas import BatchRow

OPERATIONS = {
    ("get", "/health"): "getHealth",
    ("get", "/health/live"): "getLiveness",
    ("get", "/health/ready"): "getReadiness",
    ("get", "/problems/{code}"): "getProblemType",
    ("get", "/v1/instruments"): "listInstruments",
    ("get", "/v1/instruments/{instrument_id}"): "getInstrument",
    ("post", "/v1/scores"): "scoreResponses",
    ("post", "/v1/scores/batch"): "scoreBatch",
    ("get", "/v1/instruments/{instrument_id}/statistics"): "getInstrumentStatistics",
    ("post", "/v1/episodes"): "createEpisode",
    ("get", "/v1/episodes"): "listEpisodes",
    ("get", "/v1/episodes/{episode_id}"): "getEpisode",
    ("post", "/v1/episodes/{episode_id}/closure"): "closeEpisode",
    ("post", "/v1/episodes/{episode_id}/administrations"): "recordAdministration",
    ("get", "/v1/episodes/{episode_id}/administrations"): "listAdministrations",
    (
        "post",
        "/v1/episodes/{episode_id}/administrations/{administration_id}/corrections",
    ): "correctAdministration",
    (
        "post",
        "/v1/episodes/{episode_id}/administrations/{administration_id}/withdrawal",
    ): "withdrawAdministration",
    ("get", "/v1/episodes/{episode_id}/trajectory"): "getTrajectory",
    ("get", "/v1/episodes/{episode_id}/trajectory.svg"): "getTrajectoryChart",
    ("get", "/v1/episodes/{episode_id}/ruptures"): "listEpisodeRuptures",
    ("get", "/v1/api-keys"): "listApiKeys",
    ("post", "/v1/api-keys"): "createApiKey",
    ("delete", "/v1/api-keys/{key_id}"): "revokeApiKey",
    ("delete", "/v1/episodes/{episode_id}"): "eraseEpisode",
    ("get", "/v1/audit-events"): "listAuditEvents",
    ("get", "/v1/guidance"): "listGuidance",
    ("get", "/v1/languages"): "listLanguages",
    ("get", "/v1/instruments/{instrument_id}/questionnaire"): "getQuestionnaire",
    ("get", "/v1/instruments/{instrument_id}/answer-code-system"): "getAnswerCodeSystem",
    ("get", "/v1/code-system"): "getCodeSystem",
    ("post", "/v1/scores/fhir"): "scoreQuestionnaireResponse",
    ("post", "/v1/episodes/{episode_id}/questionnaire-responses"): "recordQuestionnaireResponse",
    ("get", "/v1/episodes/{episode_id}/fhir-flags"): "listEpisodeFhirFlags",
    ("post", "/v1/webhooks"): "createWebhook",
    ("get", "/v1/webhooks"): "listWebhooks",
    ("get", "/v1/webhooks/{webhook_id}"): "getWebhook",
    ("delete", "/v1/webhooks/{webhook_id}"): "deleteWebhook",
    ("get", "/v1/webhooks/{webhook_id}/deliveries"): "listWebhookDeliveries",
    ("get", "/v1/alerts"): "listAlerts",
    ("get", "/v1/alerts/{alert_id}"): "getAlert",
    ("get", "/v1/episodes/{episode_id}/alerts"): "listEpisodeAlerts",
    ("post", "/v1/alerts/{alert_id}/acknowledgement"): "acknowledgeAlert",
    ("post", "/v1/alerts/{alert_id}/closure"): "closeAlert",
    ("get", "/v1/alert-policy"): "getAlertPolicy",
    ("put", "/v1/alert-policy"): "setAlertPolicy",
    ("get", "/v1/episodes/{episode_id}/fhir-detected-issues"): "listEpisodeFhirDetectedIssues",
    ("post", "/v1/episodes/{episode_id}/invitations"): "createInvitation",
    ("get", "/v1/form-settings"): "getFormSettings",
    ("put", "/v1/form-settings"): "setFormSettings",
    ("post", "/v1/console-links"): "createConsoleLink",
}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_every_operation_has_its_stable_operation_id(document: dict[str, Any]) -> None:
    found = {
        (method, path): operation["operationId"]
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert found == OPERATIONS


def test_every_error_response_is_declared_with_the_problem_schema(
    document: dict[str, Any],
) -> None:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
            assert errors, f"{method} {path} declares no problem response"
            for code, declared in errors.items():
                schema = declared["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (path, code)


def test_bodies_and_results_are_named_schemas_with_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("ScoreRequest", "ScoreResult", "BatchScoreRequest", "InstrumentList", "Problem"):
        assert name in schemas
        assert "example" in schemas[name], name
    score = document["paths"]["/v1/scores"]["post"]
    body_schema = score["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/ScoreRequest"}
    ok = score["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ScoreResult"}


def test_fhir_operations_declare_fhir_json_with_named_schemas(document: dict[str, Any]) -> None:
    record = document["paths"]["/v1/episodes/{episode_id}/questionnaire-responses"]["post"]
    for media in ("application/fhir+json", "application/json"):
        schema = record["requestBody"]["content"][media]["schema"]
        assert schema == {"$ref": "#/components/schemas/FhirQuestionnaireResponse"}
    created = record["responses"]["201"]["content"]["application/fhir+json"]["schema"]
    assert created == {"$ref": "#/components/schemas/FhirBundle"}
    assert "issue" in document["components"]["schemas"]["Problem"]["properties"]


def test_every_schema_has_an_example(document: dict[str, Any]) -> None:
    missing = [name for name, schema in document["components"]["schemas"].items()
               if "example" not in schema]  # fmt: skip
    assert missing == []


def test_every_example_is_valid_for_its_own_schema() -> None:
    models = [
        value
        for schemas in WIRE_SCHEMAS
        for value in vars(schemas).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == schemas.__name__
    ]
    assert len(models) > 10
    for model in [*models, BatchRow]:
        example = TypeAdapter(model).json_schema().get("example")
        if example is None:
            continue
        TypeAdapter(model).validate_python(example)


PUBLIC = {
    "getHealth", "getLiveness", "getReadiness", "getProblemType", "listInstruments",
    "getInstrument", "listGuidance", "getQuestionnaire", "getCodeSystem",
    "getAnswerCodeSystem", "listLanguages",
}  # fmt: skip


def test_every_operation_with_data_declares_the_api_key_and_its_scopes(
    document: dict[str, Any],
) -> None:
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if operation["operationId"] in PUBLIC:
                assert operation["security"] == [], (method, path)  # says: no key
                continue
            (requirement,) = operation["security"]
            assert requirement["apiKey"], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def _inline_enums(schema: Any) -> list[tuple[str, ...]]:
    """Every `enum` written out in `schema` itself, not behind a `$ref`."""
    if isinstance(schema, list):
        return [found for part in schema for found in _inline_enums(part)]
    if not isinstance(schema, dict):
        return []
    here = [tuple(map(str, schema["enum"]))] if len(schema.get("enum", ())) > 1 else []
    return here + [found for key, part in schema.items() if key != "example"
                   for found in _inline_enums(part)]  # fmt: skip


def test_an_enum_used_in_more_than_one_place_is_one_named_schema(
    document: dict[str, Any],
) -> None:
    # Generated clients make one type per inline enum: Rater would be five types, not one.
    enums = _inline_enums(document["paths"]) + _inline_enums(document["components"]["schemas"])
    repeated = sorted({values for values in enums if enums.count(values) > 1})
    assert repeated == []
    schemas = document["components"]["schemas"]
    assert schemas["Rater"]["enum"] == ["client", "therapist", "observer"]
    create = schemas["AdministrationCreate"]["properties"]
    assert create["rater"] == {"$ref": "#/components/schemas/Rater"}
    assert create["responses"] == {"$ref": "#/components/schemas/Responses"}
    trajectory = document["paths"]["/v1/episodes/{episode_id}/trajectory"]["get"]
    (rater,) = [param for param in trajectory["parameters"] if param["name"] == "rater"]
    assert rater["schema"]["$ref"] == "#/components/schemas/Rater"


def test_flags_and_trajectory_points_name_their_nested_objects(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    flag = schemas["EpisodeRuptureFlag"]["properties"]
    assert {"$ref": "#/components/schemas/RepairPoint"} in flag["repaired_at"]["anyOf"]
    assert {"$ref": "#/components/schemas/CounterpartScore"} in flag["counterpart"]["anyOf"]
    point = schemas["TrajectoryPoint"]["properties"]["scales"]
    assert point["additionalProperties"] == {"$ref": "#/components/schemas/PointScore"}


def test_the_problem_schema_declares_the_request_id(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert problem["properties"]["request_id"]["anyOf"][0] == {"type": "string"}
    assert set(problem["required"]) == {"type", "title", "status", "detail"}


def test_every_named_alias_has_a_valid_example() -> None:
    aliases: list[Any] = [
        value
        for schemas in WIRE_SCHEMAS
        for value in vars(schemas).values()
        if isinstance(value, TypeAliasType) and value.__module__ == schemas.__name__
    ]
    assert len(aliases) >= 10
    for alias in aliases:
        adapter: TypeAdapter[Any] = TypeAdapter(alias)
        adapter.validate_python(adapter.json_schema()["example"])


def test_the_rupture_alert_is_declared_as_a_webhook_with_its_signature_headers(
    document: dict[str, Any],
) -> None:
    alert = document["webhooks"]["ruptureAlert"]["post"]
    assert alert["operationId"] == "receiveRuptureAlert"
    assert [parameter["name"] for parameter in alert["parameters"]] == [
        "webhook-id", "webhook-timestamp", "webhook-signature"
    ]  # fmt: skip
    body = alert["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/RuptureAlert"}
    assert "example" in document["components"]["schemas"]["RuptureAlert"]


def _described(node: Any, pointer: tuple[str | int, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(JSON pointer of a schema, a value it describes) for every example in the document:
    a schema's `example` and `examples`, a parameter's or a media type's `example` and
    `examples` (validated against their `schema`)."""
    if isinstance(node, list):
        for index, part in enumerate(node):
            yield from _described(part, (*pointer, index))
        return
    if not isinstance(node, dict):
        return
    described = (*pointer, "schema") if isinstance(node.get("schema"), dict) else pointer
    where = "#/" + "/".join(
        quote(str(part).replace("~", "~0").replace("/", "~1"), safe="~") for part in described
    )
    if pointer[-2:-1] != ("properties",):  # not a property named `example`
        if "example" in node:
            yield where, node["example"]
        examples = node.get("examples")
        if isinstance(examples, list):
            yield from ((where, value) for value in examples)
        elif isinstance(examples, dict):
            yield from ((where, example["value"]) for example in examples.values())
    for key, part in node.items():
        if key not in ("example", "examples"):
            yield from _described(part, (*pointer, key))


DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def test_every_example_of_the_document_is_valid_for_its_schema(document: dict[str, Any]) -> None:
    # As a client generator or a contract tester reads them: JSON Schema 2020-12, formats
    # (date-time, uuid, ...) asserted.
    found = list(_described(document))
    assert len(found) > 80
    invalid = []
    for where, value in found:
        root = {
            **document,
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": where,
        }
        errors = list(jsonschema_rs.validator_for(root, validate_formats=True).iter_errors(value))
        invalid += [f"{where}: {error.message[:200]}" for error in errors]
    assert invalid == []


def test_every_operation_declares_the_failures_it_can_answer(document: dict[str, Any]) -> None:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            declared = operation["responses"]
            assert "500" in declared, (method, path)
            if "requestBody" in operation:
                assert {"400", "413"} <= set(declared), (method, path)
            if operation["security"] or path in ("/health", "/health/ready"):
                for status in ("429", "503") if operation["security"] else ("503",):
                    assert "Retry-After" in declared[status]["headers"], (method, path, status)


def test_a_withdrawal_answers_what_its_operation_declares(
    client: TestClient, document: dict[str, Any]
) -> None:
    episode = client.post("/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c"}).json()
    answers = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
    recorded = client.post(
        f"/v1/episodes/{episode['id']}/administrations",
        json={"instrument": "srs", "rater": "client", "session": 1,
              "administered_at": "2026-03-01T10:00:00+01:00", "responses": answers},
    ).json()  # fmt: skip
    path = f"/v1/episodes/{episode['id']}/administrations/{recorded['id']}/withdrawal"
    withdrawn = client.post(path, json={"reason": "wrong patient"})
    assert withdrawn.status_code == 200
    operation = document["paths"][
        "/v1/episodes/{episode_id}/administrations/{administration_id}/withdrawal"
    ]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    root = {**document, "$schema": DRAFT_2020_12, **schema}
    assert list(jsonschema_rs.validator_for(root).iter_errors(withdrawn.json())) == []


def test_every_201_names_what_it_created_in_location(client: TestClient) -> None:
    episode = client.post("/v1/episodes", json={"patient_ref": "p-loc", "clinician_ref": "c"})
    assert episode.headers["location"] == f"/v1/episodes/{episode.json()['id']}"
    assert client.get(episode.headers["location"]).json() == episode.json()
    body = {
        "instrument": "srs",
        "rater": "client",
        "session": 1,
        "administered_at": "2026-03-01T10:00:00+00:00",
        "responses": {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5},
    }
    recorded = client.post(
        f"{episode.headers['location']}/administrations",
        json=body,
        headers={"Accept-Language": "fr"},
    )
    administration = recorded.json()
    assert recorded.headers["location"] == (
        f"/v1/episodes/{administration['episode_id']}/administrations/{administration['id']}"
    )
    assert recorded.headers["content-language"] == "fr"
    key = client.post("/v1/api-keys", json={"name": "loc", "scopes": ["scores"]})
    assert key.headers["location"] == f"/v1/api-keys/{key.json()['id']}"
    hook = client.post("/v1/webhooks", json={"url": "https://127.0.0.1/hook"})
    assert hook.status_code == 201, hook.text
    assert hook.headers["location"] == f"/v1/webhooks/{hook.json()['id']}"
    assert client.get(hook.headers["location"]).status_code == 200
    client.delete(hook.headers["location"])


def test_the_document_declares_the_headers_every_response_carries(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["servers"] == [
        {"url": "/", "description": "the server that serves this document"}
    ]
    assert document["info"]["license"]["identifier"] == "Apache-2.0"
    for path, methods in document["paths"].items():
        for operation in methods.values():
            assert "security" in operation, path
            for status, response in operation["responses"].items():
                assert "X-Request-ID" in response["headers"], (path, status)
                if status == "201":
                    assert "Location" in response["headers"], path
    public = document["paths"]["/v1/instruments"]["get"]
    assert public["security"] == []
