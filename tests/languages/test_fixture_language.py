"""A third language is files only: a fixture language (Spanish, a few texts, in a catalogue
folder of the test's own, set through `languages_dir`) is served everywhere a text is shown,
the patient form and the clinician console included, its missing texts in English, visibly."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire

from app.catalogue.guidance import load_catalogue
from app.main import create_app
from app.platform.settings import PROJECT_ROOT, Settings
from tests.webhooks_support import resolve_test_hosts

ES = {"Accept-Language": "es-MX, es;q=0.9, en;q=0.5"}
SRS_38 = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
SRS_37 = {"1": 8.5, "2": 9.5, "3": 9.5, "4": 9.5}
SRS_24 = {"1": 6.0, "2": 6.0, "3": 6.0, "4": 6.0}
UI = {
    "language": {"name": "Español"},
    "format": {"decimal_separator": ",", "colon": ": "},
    "months": {3: "mar."},
    "chart": {"session": "Sesión", "session_axis": "Sesión (fecha)"},
    "respondents": {"client": "cliente"},
    "key_statuses": {"confirmed": "confirmada"},
    "rules": {"drop_from_previous": "Descenso desde la sesión anterior"},
    "flag_states": {"repaired": "reparada"},
    "alerts": {"priorities": {"low": "prioridad baja"}, "statuses": {"repaired": "reparada"}},
    "fhir": {
        "questionnaire": {
            "description": "{title}, lo rellena el {respondent}. Clave: {key_status}."
        },
        "flag": {"summary": "Ruptura de la alianza en {title}, {scale}, sesión {session}"},
        "alert": {"summary": "Ruptura de la alianza, {priority}: sesión {session}, {status}"},
    },
    "pages": {"skip_to_content": "Ir al contenido"},
    "form": {
        "send": "Enviar mis respuestas",
        "slider": {"value": "Su respuesta:"},
        "errors": {"missing": {"summary": "Responda: {item}"}},
    },
    "console": {
        "name": "Consola Bordin",
        "worklist": {"title": "Lista de trabajo", "count_one": "1 alerta abierta"},
        "episode": {"back": "Volver a la lista"},
    },
}
SRS = {"title": "Escala de valoración de la sesión", "items": {"1": "Relación"}}
WAI_SR = {
    "title": "Inventario de alianza de trabajo (WAI-SR)",
    "anchors": {1: "Rara vez"},
    "items": {"1": "Veo más claro cómo podría cambiar"},
    "scales": {"goal": "Metas"},
}
PROBLEMS = {
    "unknown_instrument": "Instrumento desconocido",
    "invalid_request": "Solicitud no válida",
}


def _write(path: Path, document: dict[Any, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


@pytest.fixture
def spanish(tmp_path: Path, settings: Settings) -> Path:
    """The shipped languages and a Spanish of a few texts; every guidance entry is "ES: " and
    its English (the entries an alert gets depend on the catalogue's selection)."""
    folder = tmp_path / "languages"
    shutil.copytree(PROJECT_ROOT / "languages", folder)
    catalogue = load_catalogue(settings.guidance_file)
    _write(folder / "es" / "ui.yaml", UI)
    _write(folder / "es" / "problems.yaml", PROBLEMS)
    _write(folder / "es" / "instruments" / "srs" / "1.1.0.yaml", SRS)
    _write(folder / "es" / "instruments" / "wai-sr" / "1.1.0.yaml", WAI_SR)
    _write(
        folder / "es" / "guidance.yaml",
        {
            "entries": {entry.id: f"ES: {entry.text}" for entry in catalogue.entries},
            "source_kinds": {"meta-analysis": {"label": "respaldado por un metaanálisis"}},
        },
    )
    return folder


@pytest.fixture
def app(spanish: Path, settings: Settings) -> FastAPI:
    return create_app(
        settings.model_copy(update={"languages_dir": spanish}), resolve=resolve_test_hosts
    )


@pytest.fixture
def client(app: FastAPI, api_key: str) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client


def test_the_languages_are_the_folders_found_and_say_what_they_lack(client: TestClient) -> None:
    body = client.get("/v1/languages").json()
    assert body["source"] == "en"
    items = {item["code"]: item for item in body["items"]}
    assert body["items"][0]["code"] == "en"  # the source first, then the others by tag
    assert [code for code in items if code in ("es", "fr")] == ["es", "fr"]
    english, spanish, french = items["en"], items["es"], items["fr"]
    assert (english["name"], spanish["name"], french["name"]) == ("English", "Español", "Français")
    assert (english["missing"], french["missing"]) == (0, 0)
    assert spanish["missing"] == len(spanish["missing_keys"]) > 0
    assert "instruments/wai-sr/1.1.0: items.2" in spanish["missing_keys"]
    assert "ui: chart.no_data" in spanish["missing_keys"]
    assert "ui: chart.session" not in spanish["missing_keys"]


def test_instrument_entries_are_in_the_fixture_language_english_where_it_lacks_a_text(
    client: TestClient,
) -> None:
    listed = client.get("/v1/instruments", headers=ES)
    assert (listed.headers["content-language"], listed.headers["vary"]) == ("es", "Accept-Language")
    titles = {item["id"]: item["title"] for item in listed.json()["items"]}
    assert titles["srs"] == "Escala de valoración de la sesión"
    assert titles["cgi-i"].startswith("Clinical Global Impression")  # not translated: English
    detail = client.get("/v1/instruments/wai-sr", headers=ES)
    assert detail.headers["content-language"] == "es"
    wai = detail.json()
    assert wai["items"][0]["label"] == "Veo más claro cómo podría cambiar"
    assert wai["items"][1]["label"] == "New ways of seeing my problem"  # English fallback
    assert [a["label"] for a in wai["response_scale"]["anchors"]][:2] == ["Rara vez", "Sometimes"]
    assert [s["label"] for s in wai["scales"]][:2] == ["Metas", "Task"]
    # The keys, reverse keys and the definition's identity do not depend on the language.
    english = client.get("/v1/instruments/wai-sr").json()
    same = ("definition_hash", "version", "scales", "ruptures", "norms")
    assert {k: english[k] for k in same if k != "scales"} == {
        k: wai[k] for k in same if k != "scales"
    }
    assert [s["items"] for s in english["scales"]] == [s["items"] for s in wai["scales"]]


def test_the_questionnaire_is_a_resource_of_its_own_in_the_fixture_language(
    client: TestClient,
) -> None:
    response = client.get("/v1/instruments/wai-sr/questionnaire", headers=ES)
    assert response.headers["content-language"] == "es"
    resource = response.json()
    Questionnaire.model_validate(resource)
    english = client.get("/v1/instruments/wai-sr/questionnaire").json()
    assert (resource["language"], english["language"]) == ("es", "en")
    assert resource["id"] == f"{english['id']}-es"
    assert (resource["url"], resource["version"]) == (english["url"], english["version"])
    assert resource["title"] == "Inventario de alianza de trabajo (WAI-SR)"
    assert resource["description"] == (
        "Inventario de alianza de trabajo (WAI-SR), lo rellena el cliente. Clave: confirmada."
    )
    first, second = resource["item"][:2]
    assert (first["text"], second["text"]) == (
        "Veo más claro cómo podría cambiar", "New ways of seeing my problem"
    )  # fmt: skip
    displays = [option["valueCoding"]["display"] for option in first["answerOption"]]
    assert displays[:2] == ["Rara vez", "Sometimes"]
    system = client.get("/v1/instruments/wai-sr/answer-code-system", headers=ES).json()
    assert (system["language"], system["concept"][0]["display"]) == ("es", "Rara vez")


def test_guidance_and_problems_are_in_the_fixture_language(client: TestClient) -> None:
    guidance = client.get("/v1/guidance", headers=ES)
    assert guidance.headers["content-language"] == "es"
    body = guidance.json()
    assert all(item["text"].startswith("ES: ") for item in body["items"])
    labels = {kind["id"]: kind["label"] for kind in body["source_kinds"]}
    assert labels["meta-analysis"] == "respaldado por un metaanálisis"
    assert labels["theory"] == "backed by theory"  # English fallback
    missing = client.get("/v1/instruments/nope", headers=ES)
    assert missing.status_code == 404
    assert missing.headers["content-language"] == "es"
    assert (missing.json()["title"], missing.json()["code"]) == (
        "Instrumento desconocido", "unknown_instrument"
    )  # fmt: skip
    assert missing.json()["detail"] == "no instrument 'nope'"  # details stay in English
    invalid = client.post("/v1/episodes", json={}, headers=ES)
    assert (invalid.status_code, invalid.json()["title"]) == (422, "Solicitud no válida")
    documented = client.get("/problems/unknown_instrument", headers=ES)
    assert documented.json()["title"] == "Instrumento desconocido"
    assert client.get("/v1/instruments/nope").json()["title"] == "Unknown instrument"


def test_flags_alerts_narratives_and_the_chart_are_in_the_fixture_language(
    client: TestClient,
) -> None:
    patient = f"ehr-{uuid.uuid4()}"
    episode = client.post(
        "/v1/episodes",
        json={"patient_ref": patient, "clinician_ref": "c-1", "setting": "psychotherapy"},
    ).json()["id"]
    for session, answers in ((1, SRS_38), (2, SRS_37), (3, SRS_38)):
        recorded = client.post(
            f"/v1/episodes/{episode}/administrations",
            json={"instrument": "srs", "session": session, "rater": "client",
                  "administered_at": f"2026-03-{session:02d}T10:00:00Z", "responses": answers},
            headers=ES,
        )  # fmt: skip
        assert recorded.status_code == 201, recorded.text
        assert recorded.headers["content-language"] == "es"
    ruptures = client.get(f"/v1/episodes/{episode}/ruptures", headers=ES)
    assert ruptures.headers["content-language"] == "es"
    (drop,) = [f for f in ruptures.json()["items"] if f["rule"] == "drop_from_previous"]
    assert drop["guidance"]
    assert all(entry["text"].startswith("ES: ") for entry in drop["guidance"])
    (alert,) = client.get(f"/v1/episodes/{episode}/alerts", headers=ES).json()["items"]
    assert all(entry["text"].startswith("ES: ") for entry in alert["guidance"])
    shown = client.get(f"/v1/alerts/{alert['id']}", headers=ES)
    assert shown.headers["content-language"] == "es"
    assert all(entry["text"].startswith("ES: ") for entry in shown.json()["guidance"])

    flags = client.get(f"/v1/episodes/{episode}/fhir-flags", headers=ES)
    assert flags.headers["content-language"] == "es"
    Bundle.model_validate(flags.json())
    (flag,) = [entry["resource"] for entry in flags.json()["entry"]]
    assert flag["code"]["text"] == "Ruptura de la alianza, prioridad baja: sesión 2, reparada"
    assert "<p>Ruptura de la alianza, prioridad baja: sesión 2, reparada</p>" in flag["text"]["div"]
    assert "ES: " in flag["text"]["div"]
    assert flag["code"]["coding"][0]["display"] == "Alliance rupture alert"  # the code's own
    issues = client.get(f"/v1/episodes/{episode}/fhir-detected-issues", headers=ES).json()
    (issue,) = [entry["resource"] for entry in issues["entry"]]
    assert issue["detail"].startswith("ES: ")
    assert issue["evidence"][0]["code"][0]["text"].startswith("Descenso desde la sesión anterior")

    chart = client.get(
        f"/v1/episodes/{episode}/trajectory.svg", params={"instrument": "srs"}, headers=ES
    )
    assert chart.headers["content-language"] == "es"
    assert 'lang="es"' in chart.text
    assert "Sesión (fecha)" in chart.text
    assert "2 mar." in chart.text
    assert "Escala de valoración de la sesión" in chart.text
    assert "No administration yet" not in chart.text


def test_a_recorded_fhir_response_s_flags_speak_the_fixture_language(client: TestClient) -> None:
    patient = f"ehr-{uuid.uuid4()}"
    episode = client.post(
        "/v1/episodes",
        json={"patient_ref": patient, "clinician_ref": "c-1", "setting": "psychotherapy"},
    ).json()["id"]
    bundle: dict[str, Any] = {}
    for session, answers in ((1, SRS_38), (2, SRS_37)):
        response = {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": "https://bordin.dev/fhir/Questionnaire/srs|1.1.0",
            "status": "completed",
            "subject": {"identifier": {"value": patient}},
            "authored": f"2026-03-{session:02d}T10:00:00+01:00",
            "item": [{"linkId": k, "answer": [{"valueDecimal": v}]} for k, v in answers.items()],
        }
        recorded = client.post(
            f"/v1/episodes/{episode}/questionnaire-responses",
            params={"session": session},
            json=response,
            headers={**ES, "Content-Type": "application/fhir+json"},
        )
        assert recorded.status_code == 201, recorded.text
        assert recorded.headers["content-language"] == "es"
        bundle = recorded.json()
    (flag,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Flag"]
    assert flag["code"]["text"] == (
        "Ruptura de la alianza en Escala de valoración de la sesión, Total, sesión 2"
    )
    assert "ES: " in flag["text"]["div"]


def _episode(client: TestClient, clinician: str = "c-1") -> str:
    body = {"patient_ref": f"ehr-{uuid.uuid4()}", "clinician_ref": clinician, "label": "Ana"}
    return str(client.post("/v1/episodes", json=body).json()["id"])


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _offers_every_language(page: str, current: str) -> None:
    """The page's language switch: every language found, each by its own name."""
    for code, name in (("en", "English"), ("es", "Español"), ("fr", "Français")):
        assert f'hreflang="{code}" lang="{code}"' in page
        assert f">{name}</a>" in page
    assert f'href="?lang={current}" hreflang="{current}" lang="{current}" aria-current="true"' in (
        page
    )


def test_the_patient_form_speaks_the_fixture_language_english_filling_its_gaps(
    client: TestClient,
) -> None:
    created = client.post(
        f"/v1/episodes/{_episode(client)}/invitations",
        json={"instruments": ["srs"], "session": 1, "language": "es"},
    )
    assert created.status_code == 201, created.text  # a language of the catalogues found
    path = _path(created.json()["url"])
    page = client.get(path)
    assert (page.status_code, page.headers["content-language"]) == (200, "es")
    assert '<html lang="es">' in page.text
    _offers_every_language(page.text, "es")
    assert "Escala de valoración de la sesión" in page.text  # the instrument's Spanish
    assert "Ir al contenido" in page.text
    assert "Enviar mis respuestas" in page.text
    assert "Move the slider to the point that fits (0 to 10)." in page.text  # English fallback
    assert "Page 1 of 1" in page.text
    sent = client.post(f"{path}?lang=es", data={"instrument": "srs", "item-1": "7.5"})
    assert sent.status_code == 422
    assert "Responda: 2. Goals and topics" in sent.text  # Spanish text, English item label
    assert "There is a problem" in sent.text
    assert ">7,5</output>" in sent.text  # the fixture's decimal separator
    # The patient can switch to any other language the catalogues hold.
    french = client.get(f"{path}?lang=fr")
    assert french.headers["content-language"] == "fr"
    _offers_every_language(french.text, "fr")
    assert "Envoyer mes réponses" in french.text


def test_the_console_speaks_the_fixture_language_english_filling_its_gaps(
    app: FastAPI, client: TestClient
) -> None:
    clinician = f"c-{uuid.uuid4()}"
    episode = _episode(client, clinician)
    for session, answers in ((1, SRS_38), (2, SRS_38), (3, SRS_38), (4, SRS_24)):
        client.post(
            f"/v1/episodes/{episode}/administrations",
            json={"instrument": "srs", "session": session, "rater": "client",
                  "administered_at": f"2026-03-{session:02d}T10:00:00Z", "responses": answers},
        )  # fmt: skip
    link = client.post("/v1/console-links", json={"clinician_ref": clinician}).json()["url"]
    with TestClient(app, headers=ES) as browser:
        assert browser.post(_path(link), follow_redirects=False).status_code == 303
        worklist = browser.get("/console")
        assert (worklist.status_code, worklist.headers["content-language"]) == (200, "es")
        _offers_every_language(worklist.text, "es")
        title = "<title>Lista de trabajo (1 alerta abierta) \N{EN DASH} Consola Bordin</title>"
        assert title in worklist.text
        assert "Sign out" in worklist.text  # English fallback
        assert "Session 4, 2026-03-04" in worklist.text  # English words and date format
        shown = browser.get(f"/console/episodes/{episode}")
        assert (shown.status_code, shown.headers["content-language"]) == (200, "es")
        assert "Volver a la lista" in shown.text
        assert "Trajectory" in shown.text  # English fallback
        assert "Sesión (fecha)" in shown.text  # the chart's own Spanish words
        assert "ES: " in shown.text  # the guidance in Spanish
