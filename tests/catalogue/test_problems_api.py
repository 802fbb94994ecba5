"""Every error class is RFC 9457 problem JSON: unknown route, 405, 400, 413, 422, 500, 503."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.platform.settings import Settings

PROBLEM = "application/problem+json"


def _is_problem(response: object, status: int) -> dict[str, object]:
    assert getattr(response, "status_code") == status  # noqa: B009
    assert getattr(response, "headers")["content-type"] == PROBLEM  # noqa: B009
    body: dict[str, object] = getattr(response, "json")()  # noqa: B009
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert "Traceback" not in str(body)
    return body


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    body = _is_problem(client.get("/v1/nothing-here"), 404)
    assert body["code"] == "route_not_found"
    assert body["type"] == "/problems/route_not_found"
    assert body["instance"] == "/v1/nothing-here"
    assert client.get(str(body["type"])).json()["status"] == 404


def test_a_wrong_method_is_a_405_problem_with_a_code_and_allow(client: TestClient) -> None:
    response = client.delete("/v1/scores")
    body = _is_problem(response, 405)
    assert body["code"] == "method_not_allowed"
    assert body["type"] == "/problems/method_not_allowed"
    assert body["detail"] == "/v1/scores does not take DELETE"
    assert response.headers["allow"] == "POST"
    assert client.get(str(body["type"])).json()["status"] == 405


def test_malformed_json_is_a_400_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/scores",
        content=b'{"instrument": "wai-sr",',
        headers={"content-type": "application/json"},
    )
    body = _is_problem(response, 400)
    assert body["code"] == "malformed_json"


def test_a_missing_field_is_a_422_problem_naming_it(client: TestClient) -> None:
    body = _is_problem(client.post("/v1/scores", json={"instrument": "wai-sr"}), 422)
    assert body["errors"] == [
        {"loc": ["responses"], "code": "missing", "message": "Field required"}
    ]


def test_responses_that_are_not_an_object_are_a_422_problem(client: TestClient) -> None:
    response = client.post("/v1/scores", json={"instrument": "wai-sr", "responses": [1, 2]})
    body = _is_problem(response, 422)
    assert body["errors"][0]["loc"] == ["responses"]  # type: ignore[index]


@pytest.fixture
def small_body_app(settings: Settings, api_key: str) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"max_body_bytes": 200}))
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client


def test_an_oversized_body_is_a_413_problem(small_body_app: TestClient) -> None:
    payload = {
        "instrument": "wai-sr",
        "responses": {str(i): 3 for i in range(1, 13)},
        "x": "y" * 300,
    }
    _is_problem(small_body_app.post("/v1/scores", json=payload), 413)


def test_an_oversized_streamed_body_is_a_413_problem(small_body_app: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instrument": "wai-sr", "responses": {'
        for i in range(100):
            yield f'"{i}": 3, '.encode()
        yield b'"0": 1}}'

    response = small_body_app.post(
        "/v1/scores", content=chunks(), headers={"content-type": "application/json"}
    )
    _is_problem(response, 413)


def test_health_is_ok_when_database_and_instruments_answer(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "unused",
        "instruments": 10,
    }


def test_an_unexpected_error_is_a_500_problem_without_a_trace(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app) as client:  # nothing raised past the request layer
        response = client.get("/boom")
    body = _is_problem(response, 500)
    assert "secret internals" not in str(body)
    assert body["code"] == "internal_error"
    assert body["request_id"] == response.headers["x-request-id"]


def test_a_body_that_is_not_json_is_a_415_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/scores",
        content=b"instrument=wai-sr",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    body = _is_problem(response, 415)
    assert body["code"] == "unsupported_media_type"


def test_a_json_body_with_a_charset_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/v1/scores/batch",
        content=b'{"instrument": "wai-sr", "rows": [{"ref": "a", "responses": {"1": 3}}]}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["result"]["scales"]["task"]["answered"] == 1


def test_every_problem_type_is_documented_at_its_type_uri(client: TestClient) -> None:
    seen = client.post("/v1/scores", json={"instrument": "wai-sr", "responses": {"1": 9}}).json()
    documented = client.get(seen["type"])
    assert documented.status_code == 200
    assert documented.json()["code"] == "invalid_responses"
    assert documented.json()["status"] == 422
    assert "out_of_range" in documented.json()["description"]
    for code in ("unknown_instrument", "malformed_json", "unsupported_media_type", "unhealthy"):
        assert client.get(f"/problems/{code}").json()["code"] == code
    missing = _is_problem(client.get("/problems/nothing"), 404)
    assert missing["code"] == "unknown_problem_type"


def test_start_up_on_an_unmigrated_database_says_to_migrate(
    settings: Settings, tmp_path: Path
) -> None:
    empty = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    with pytest.raises(RuntimeError, match="not migrated"), TestClient(create_app(empty)):
        pass
