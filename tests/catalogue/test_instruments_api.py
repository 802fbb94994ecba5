"""GET /v1/instruments and /v1/instruments/{id}: the catalogue, in English and French."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.instruments.registry import InstrumentRegistry


def test_the_catalogue_lists_the_latest_version_of_every_instrument(
    client: TestClient, registry: InstrumentRegistry
) -> None:
    response = client.get("/v1/instruments")
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    by_id = {entry["id"]: entry for entry in body["items"]}
    assert set(by_id) == {loaded.id for loaded in registry}
    wai_sr = by_id["wai-sr"]
    assert wai_sr["respondent"] == "client"
    assert wai_sr["item_count"] == 12
    assert wai_sr["scales"] == ["goal", "task", "bond", "total"]
    assert wai_sr["key_status"] == "confirmed"
    assert wai_sr["definition_hash"] == registry.get("wai-sr").definition_hash


def test_accept_language_fr_gives_french_labels(client: TestClient) -> None:
    english = client.get("/v1/instruments/wai-sr").json()
    french_response = client.get("/v1/instruments/wai-sr", headers={"Accept-Language": "fr-CA"})
    french = french_response.json()
    assert french_response.headers["content-language"] == "fr"
    assert "Accept-Language" in french_response.headers["vary"]
    assert english["title"].startswith("Working Alliance Inventory")
    assert french["title"].startswith("Inventaire")
    assert french["response_scale"]["anchors"][0]["label"] == "Rarement"
    assert french["scales"][1]["label"] == "Tâches"


def test_a_language_the_service_does_not_speak_falls_back_to_english(client: TestClient) -> None:
    response = client.get("/v1/instruments/wai-sr", headers={"Accept-Language": "de, fr;q=0"})
    assert response.headers["content-language"] == "en"


def test_the_detail_exposes_the_scoring_key(client: TestClient) -> None:
    body = client.get("/v1/instruments/wai-client").json()
    items = {item["id"]: item for item in body["items"]}
    assert items["1"]["reverse"] is True
    assert items["1"]["scales"] == ["bond", "total"]
    assert items["2"]["reverse"] is False
    scales = {scale["id"]: scale for scale in body["scales"]}
    assert (scales["goal"]["min"], scales["goal"]["max"]) == (12, 84)
    assert (scales["total"]["min"], scales["total"]["max"]) == (36, 252)
    assert scales["total"]["missing"]["max_missing"] == 4
    assert body["key_status"] == "single-source"
    assert {rule["rule"] for rule in body["ruptures"]} >= {"v_drop", "rater_discrepancy"}


def test_the_srs_detail_carries_its_cutoff_and_norm(client: TestClient) -> None:
    body = client.get("/v1/instruments/srs").json()
    assert body["response_scale"]["step"] == 0.1
    assert body["cutoffs"] == [
        {
            "scale": "total",
            "value": 36.0,
            "alert_zone": "at_or_below",
            "label": body["cutoffs"][0]["label"],
            "source": body["cutoffs"][0]["source"],
        }
    ]
    assert body["norms"][0]["sd"] == 4.19


def test_a_version_can_be_asked_for(client: TestClient) -> None:
    assert client.get("/v1/instruments/srs", params={"version": "1.1.0"}).status_code == 200
    response = client.get("/v1/instruments/srs", params={"version": "9.9.9"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "9.9.9" in response.json()["detail"]


def test_an_unknown_instrument_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/instruments/haq-ii")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "unknown_instrument"
    assert body["type"] == "/problems/unknown_instrument"
    assert body["instance"] == "/v1/instruments/haq-ii"
