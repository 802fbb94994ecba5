"""The OpenAPI document is a product: stable operation ids, named schemas, declared problems."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

from app.api import schemas

OPERATIONS = {
    ("get", "/health"): "getHealth",
    ("get", "/problems/{code}"): "getProblemType",
    ("get", "/v1/instruments"): "listInstruments",
    ("get", "/v1/instruments/{instrument_id}"): "getInstrument",
    ("post", "/v1/scores"): "scoreResponses",
    ("post", "/v1/scores/batch"): "scoreBatch",
    ("get", "/v1/instruments/{instrument_id}/statistics"): "getInstrumentStatistics",
    ("post", "/v1/episodes"): "createEpisode",
    ("get", "/v1/episodes"): "listEpisodes",
    ("get", "/v1/episodes/{episode_id}"): "getEpisode",
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
    ("post", "/v1/webhooks"): "createWebhook",
    ("get", "/v1/webhooks"): "listWebhooks",
    ("get", "/v1/webhooks/{webhook_id}"): "getWebhook",
    ("delete", "/v1/webhooks/{webhook_id}"): "deleteWebhook",
    ("get", "/v1/webhooks/{webhook_id}/deliveries"): "listWebhookDeliveries",
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


def test_every_schema_has_an_example(document: dict[str, Any]) -> None:
    missing = [name for name, schema in document["components"]["schemas"].items()
               if "example" not in schema]  # fmt: skip
    assert missing == []


def test_every_example_is_valid_for_its_own_schema() -> None:
    models = [
        value
        for value in vars(schemas).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == schemas.__name__
    ]
    assert len(models) > 10
    for model in [*models, schemas.BatchRow]:
        example = TypeAdapter(model).json_schema().get("example")
        if example is None:
            continue
        TypeAdapter(model).validate_python(example)


PUBLIC = {"getHealth", "getProblemType", "listInstruments", "getInstrument", "listGuidance"}


def test_every_operation_with_data_declares_the_api_key_and_its_scopes(
    document: dict[str, Any],
) -> None:
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if operation["operationId"] in PUBLIC:
                assert "security" not in operation, (method, path)
                continue
            (requirement,) = operation["security"]
            assert requirement["apiKey"], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


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
