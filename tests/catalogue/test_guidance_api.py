"""Rupture flags carry their repair guidance, in the caller's language; the catalogue is public."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.catalogue.guidance import SOURCE_KINDS
from app.catalogue.schemas import GuidanceCatalogue

BOND_ITEMS = ("3", "5", "7", "9")


def _wai_sr(bond: int) -> dict[str, int]:
    answers = dict.fromkeys((str(item) for item in range(1, 13)), 4)
    base, extra = divmod(bond - 4, 4)
    for position, item in enumerate(BOND_ITEMS):
        answers[item] = 1 + base + (position < extra)
    return answers


def _bond_v_drop(client: TestClient, setting: str, language: str) -> dict[str, Any]:
    """Record a V-shaped bond dip at session 4; return the bond v_drop flag as recorded."""
    episode = client.post(
        "/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c", "setting": setting}
    ).json()["id"]
    response: Any = None
    for session, bond in ((1, 16), (2, 17), (3, 16), (4, 10)):
        response = client.post(
            f"/v1/episodes/{episode}/administrations",
            json={
                "instrument": "wai-sr", "rater": "client", "session": session,
                "administered_at": f"2026-03-0{session}T10:00:00+01:00",
                "responses": _wai_sr(bond),
            },
            headers={"Accept-Language": language},
        )  # fmt: skip
    flags = response.json()["ruptures"]
    (flag,) = [f for f in flags if f["rule"] == "v_drop" and f["scale"] == "bond"]
    return {"episode": episode, "flag": flag}


def test_a_bond_v_drop_in_psychotherapy_carries_the_bond_entries_in_french(
    client: TestClient,
) -> None:
    recorded = _bond_v_drop(client, "psychotherapy", "fr")
    guidance = recorded["flag"]["guidance"]
    ids = [entry["id"] for entry in guidance]
    assert "bond-rupture" in ids
    assert "physiotherapy-alliance" not in ids
    bond = next(entry for entry in guidance if entry["id"] == "bond-rupture")
    assert bond["text"].startswith("Prenez soin de la relation")
    assert (bond["support"], bond["support_label"]) == (
        "meta-analysis", "appuyé par une méta-analyse"
    )  # fmt: skip
    kinds = [reference["kind"] for reference in bond["references"]]
    assert kinds == ["meta-analysis", "theory", "practice-text"]  # strongest first
    assert bond["references"][0]["doi"] == "10.1037/pst0000175"
    assert bond["sources"] == [reference["citation"] for reference in bond["references"]]
    english = client.get(f"/v1/episodes/{recorded['episode']}/ruptures").json()["items"]
    (flag,) = [f for f in english if f["rule"] == "v_drop" and f["scale"] == "bond"]
    assert next(g for g in flag["guidance"] if g["id"] == "bond-rupture")["text"].startswith(
        "Attend to the relationship"
    )


def test_the_same_flag_in_physiotherapy_adds_the_physiotherapy_entries(
    client: TestClient,
) -> None:
    ids = [entry["id"] for entry in _bond_v_drop(client, "physiotherapy", "en")["flag"]["guidance"]]
    assert {"bond-rupture", "physiotherapy-alliance"} <= set(ids)


def test_the_trajectory_flags_carry_guidance_too(client: TestClient) -> None:
    recorded = _bond_v_drop(client, "nursing", "en")
    body = client.get(
        f"/v1/episodes/{recorded['episode']}/trajectory", params={"instrument": "wai-sr"}
    ).json()
    (flag,) = [f for f in body["ruptures"] if f["rule"] == "v_drop" and f["scale"] == "bond"]
    assert "nursing-discouraged-client" in [entry["id"] for entry in flag["guidance"]]


def test_the_catalogue_is_public_and_speaks_french(app: Any) -> None:
    with TestClient(app) as anonymous:
        response = anonymous.get("/v1/guidance", headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    body = response.json()
    entries = {entry["id"]: entry for entry in body["items"]}
    assert entries["repaired-rupture"]["text"].startswith("La rupture a été réparée")
    assert entries["first-contact"]["applies"] == {"early_sessions": 3}
    assert len(entries) == 13
    assert [kind["id"] for kind in body["source_kinds"]] == [
        "meta-analysis", "systematic-review", "empirical-study", "consensus-or-manual", "theory",
        "practice-text",
    ]  # fmt: skip
    assert body["source_kinds"][-1]["label"] == "appuyé seulement par des textes de pratique"
    supervision = entries["unrepaired-supervision"]
    assert (supervision["support"], supervision["references"][0]["kind"]) == (
        "practice-text", "practice-text"
    )  # fmt: skip
    assert "full reference not available" in supervision["sources"][0]
    rater_gap = entries["rater-gap"]["references"]
    assert rater_gap == [
        {
            "id": "muran-et-al-2009",
            "citation": rater_gap[0]["citation"],
            "kind": "empirical-study",
            "doi": "10.1037/a0016085",
        }
    ]
    assert (
        "Psychotherapy: Theory, Research, Practice, Training, 46(2), 233"
        in (rater_gap[0]["citation"])
    )
    GuidanceCatalogue.model_validate(body)  # what the OpenAPI document declares


def test_the_wire_names_the_same_kinds_of_source_as_the_catalogue(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["SourceKind"]["enum"] == list(SOURCE_KINDS)
    guidance = schemas["GuidanceView"]["properties"]
    assert guidance["support"]["$ref"] == "#/components/schemas/SourceKind"
    assert guidance["sources"]["items"] == {"type": "string"}  # unchanged since v1
    assert guidance["references"]["items"] == {"$ref": "#/components/schemas/GuidanceReference"}
