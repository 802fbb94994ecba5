"""Logs carry a request id and no patient data; every response carries the security headers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.platform.logs import JsonFormatter, configure_logging
from app.platform.settings import Settings

PATIENT = "PATIENT-7F3A9-SECRET"
CLINICIAN = "CLINICIAN-SECRET-11"
IDEMPOTENCY = "IDEMPOTENCY-SECRET-5"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the process logs, as production formats it, at the most verbose level."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.handlers, root.level = saved[0], saved[1]


def test_a_full_scenario_logs_no_patient_data_and_every_line_has_a_request_id(
    client: TestClient, api_key: str, captured_logs: io.StringIO
) -> None:
    episode = client.post(
        "/v1/episodes", json={"patient_ref": PATIENT, "clinician_ref": CLINICIAN}
    ).json()
    answers = {"1": 9.1, "2": 8.7, "3": 9.3, "4": 7.9}
    body: dict[str, Any] = {
        "instrument": "srs", "rater": "client", "session": 1,
        "administered_at": "2026-03-01T10:00:00+01:00", "responses": answers,
    }  # fmt: skip
    path = f"/v1/episodes/{episode['id']}/administrations"
    assert client.post(path, json=body, headers={"Idempotency-Key": IDEMPOTENCY}).status_code == 201
    assert client.post(path, json={**body, "responses": {"1": 99}}).status_code == 422
    client.get("/v1/episodes", params={"patient_ref": PATIENT})
    client.get(f"/v1/episodes/{episode['id']}/ruptures")
    client.post("/v1/scores", json={"instrument": "srs", "responses": answers})
    with TestClient(client.app) as anonymous:
        anonymous.get("/v1/episodes", params={"patient_ref": PATIENT})
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    requests = [line for line in lines if line["logger"] == "bordin.requests"]
    assert len(requests) >= 7
    assert all(line["request_id"] for line in requests)
    assert {line["route"] for line in requests} >= {"/v1/episodes", "/v1/scores"}
    text = captured_logs.getvalue()
    for secret in (PATIENT, CLINICIAN, IDEMPOTENCY, api_key, api_key.split("_", 2)[2]):
        assert secret not in text, secret
    # and no line has room for more: these fields, nothing else (no bodies, no queries)
    allowed = {
        "time", "level", "logger", "message", "request_id", "error", "method", "route",
        "status", "duration_ms", "key_id", "organization_id", "jwt_issuer", "jwt_subject",
    }  # fmt: skip
    assert all(set(line) <= allowed for line in lines)
    assert not any("responses" in line["message"] for line in lines)


def test_every_response_has_a_request_id_and_the_security_headers(client: TestClient) -> None:
    for response in (
        client.get("/health"),
        client.get("/v1/nowhere"),
        client.post("/v1/scores", json={"instrument": "srs", "responses": {"1": 3}}),
    ):
        headers = response.headers
        assert len(headers["x-request-id"]) == 32
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "server" not in headers
    problem = client.get("/v1/nowhere")
    assert problem.json()["request_id"] == problem.headers["x-request-id"]


def test_a_caller_s_request_id_is_kept_when_it_is_well_formed(client: TestClient) -> None:
    kept = client.get("/health", headers={"X-Request-ID": "ehr-req-42"})
    assert kept.headers["x-request-id"] == "ehr-req-42"
    replaced = client.get("/health", headers={"X-Request-ID": "<script>"})
    assert replaced.headers["x-request-id"] != "<script>"


def test_cors_is_closed_by_default_and_open_to_configured_origins(settings: Settings) -> None:
    preflight = {
        "Origin": "https://app.example.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization",
    }
    with TestClient(create_app(settings)) as closed:
        response = closed.options("/v1/scores", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    allowed = settings.model_copy(update={"cors_origins": ["https://app.example.org"]})
    with TestClient(create_app(allowed)) as open_:
        response = open_.options("/v1/scores", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://app.example.org"
        # The settings an admin replaces (PUT) may be replaced from a browser too.
        put = open_.options(
            "/v1/form-settings", headers={**preflight, "Access-Control-Request-Method": "PUT"}
        )
        assert put.status_code == 200
        assert "PUT" in put.headers["access-control-allow-methods"]
