"""POST /v1/scores and /v1/scores/batch: stateless scoring over HTTP."""

from __future__ import annotations

import gc
from typing import Any

from fastapi.testclient import TestClient

WAI_SR = {"1": 4, "2": 5, "3": 4, "4": 3, "5": 5, "6": 4, "7": 4, "8": 3, "9": 5, "10": 4}


def test_scoring_returns_every_scale_with_score_mean_and_pomp(client: TestClient) -> None:
    payload = {"instrument": "wai-sr", "responses": {**WAI_SR, "11": 3, "12": None}}
    response = client.post("/v1/scores", json=payload)
    assert response.status_code == 200
    body = response.json()
    assert body["instrument"] == "wai-sr"
    assert body["version"] == "1.1.0"
    assert body["definition_hash"].startswith("sha256:")
    # task = items 1, 2, 10 answered (4 + 5 + 4), 12 missing: prorated 13 / 3 * 4
    task = body["scales"]["task"]
    assert task["answered"] == 3
    assert task["prorated"] is True
    assert abs(task["score"] - 52 / 3) < 1e-6
    # goal = items 4, 6, 8, 11 = 3 + 4 + 3 + 3 = 13; pomp (13 - 4) / 16 * 100
    assert body["scales"]["goal"] == {
        "score": 13.0, "mean": 3.25, "pomp": 56.25, "min": 4.0, "max": 20.0,
        "answered": 4, "expected": 4, "prorated": False, "reason": None,
    }  # fmt: skip
    assert body["flags"] == []
    assert body["warnings"] == []


def test_too_many_missing_items_give_a_null_score_with_its_reason(client: TestClient) -> None:
    payload = {"instrument": "wai-sr", "responses": {"1": 4, "2": 4}}
    total = client.post("/v1/scores", json=payload).json()["scales"]["total"]
    assert total["score"] is None
    assert total["pomp"] is None
    assert total["reason"] == "too_many_missing"
    assert (total["answered"], total["expected"]) == (2, 12)


def test_an_srs_total_at_the_cutoff_raises_a_flag(client: TestClient) -> None:
    payload = {"instrument": "srs", "responses": {"1": 9.1, "2": 9.0, "3": 9.0, "4": 8.9}}
    body = client.post("/v1/scores", json=payload).json()
    assert body["scales"]["total"]["score"] == 36.0
    assert [(flag["rule"], flag["scale"], flag["threshold"]) for flag in body["flags"]] == [
        ("below_cutoff", "total", 36.0)
    ]


def test_a_not_assessed_code_is_missing_with_a_warning(client: TestClient) -> None:
    body = client.post("/v1/scores", json={"instrument": "cgi-i", "responses": {"1": 0}}).json()
    assert body["scales"]["improvement"]["score"] is None
    assert [(w["code"], w["item"]) for w in body["warnings"]] == [("not_assessed", "1")]


def test_every_offending_item_is_named_in_one_422_problem(client: TestClient) -> None:
    responses = {"1": 9, "2": 2.5, "3": "often", "4": True, "99": 3, "5": 3}
    response = client.post("/v1/scores", json={"instrument": "wai-sr", "responses": responses})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "invalid_responses"
    assert sorted((e["loc"][-1], e["code"]) for e in body["errors"]) == [
        ("1", "out_of_range"),
        ("2", "off_step"),
        ("3", "not_a_number"),
        ("4", "not_a_number"),
        ("99", "unknown_item"),
    ]
    assert all(e["loc"][0] == "responses" and e["message"] for e in body["errors"])


def test_an_unknown_instrument_is_a_404_problem(client: TestClient) -> None:
    response = client.post("/v1/scores", json={"instrument": "wai-x", "responses": {}})
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_instrument"


def test_a_pinned_version_is_used(client: TestClient) -> None:
    payload = {"instrument": "wai-sr", "version": "1.1.0", "responses": WAI_SR}
    assert client.post("/v1/scores", json=payload).json()["version"] == "1.1.0"
    payload["version"] = "0.9.0"
    assert client.post("/v1/scores", json=payload).status_code == 404


def test_a_batch_scores_every_row_and_a_bad_row_fails_alone(client: TestClient) -> None:
    rows: list[dict[str, Any]] = [
        {"ref": "r1", "responses": {**WAI_SR, "11": 3, "12": 4}},
        {"ref": "r2", "responses": {"1": 6}},
        {"ref": "r3", "responses": {str(i): 1 for i in range(1, 13)}},
    ]
    response = client.post("/v1/scores/batch", json={"instrument": "wai-sr", "rows": rows})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["ref"] for result in results] == ["r1", "r2", "r3"]
    assert results[0]["result"]["scales"]["total"]["score"] == 48.0
    assert "error" not in results[0]
    error = results[1]["error"]
    assert error["status"] == 422
    assert error["errors"] == [
        {
            "loc": ["rows", 1, "responses", "1"],
            "code": "out_of_range",
            "message": "6 is outside 1..5",
        }
    ]
    assert results[2]["result"]["scales"]["total"]["pomp"] == 0.0


def test_a_batch_of_ten_thousand_rows_is_scored(client: TestClient) -> None:
    rows = [
        {"ref": f"r{n}", "responses": {str(i): 1 + (n + i) % 5 for i in range(1, 13)}}
        for n in range(10_000)
    ]
    response = client.post("/v1/scores/batch", json={"instrument": "wai-sr", "rows": rows})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 10_000
    assert all("result" in result for result in results)
    assert results[9_999]["ref"] == "r9999"


def test_a_batch_over_the_row_limit_is_refused_whole(client: TestClient) -> None:
    rows = [{"ref": str(n), "responses": {}} for n in range(20_001)]
    response = client.post("/v1/scores/batch", json={"instrument": "wai-sr", "rows": rows})
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large"


def test_a_batch_leaves_the_garbage_collector_running(client: TestClient) -> None:
    assert gc.isenabled()
    client.post("/v1/scores/batch", json={"instrument": "wai-sr", "rows": []})
    client.post("/v1/scores/batch", content=b"{", headers={"content-type": "application/json"})
    assert gc.isenabled()
