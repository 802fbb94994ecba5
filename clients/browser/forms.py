"""make test-clients, in a browser: LHC-Forms renders every Questionnaire Bordin serves, in
every language it speaks (`GET /v1/languages`: English and French as shipped), in Debian's
headless Chromium; the form is answered by clicking its
radio buttons and typing in its number fields, as a patient would; the QuestionnaireResponse
LHC-Forms produces is scored by Bordin (`POST /v1/scores/fhir`) and must score exactly as the
JSON route scores the same answers (`POST /v1/scores`); those of the first language after
English (French) are also recorded in an episode with `?session=`. Then /docs and /redoc
must render with nothing loaded from elsewhere.

    python clients/browser/forms.py BASE_URL LFORMS_DIR   (BORDIN_KEY in the environment)

LFORMS_DIR is the `dist/lforms` folder of the lforms package; the page that loads it is
served from a folder of its own on another loopback port.
"""

from __future__ import annotations

import functools
import http.server
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
# LHC-Forms's scripts go at the end of <body> (main.js appends to it), in this order.
PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="lforms/webcomponent/styles.css">
</head><body><div id="form"></div>
<script src="lforms/webcomponent/assets/lib/zone.min.js"></script>
<script src="lforms/webcomponent/runtime.js"></script>
<script src="lforms/webcomponent/polyfills.js"></script>
<script src="lforms/webcomponent/main.js"></script>
<script src="lforms/fhir/R4/lformsFHIR.min.js"></script>
</body></html>
"""
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def main(base_url: str, lforms: Path) -> int:
    bordin = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {os.environ['BORDIN_KEY']}"}
    )
    instruments = [item["id"] for item in bordin.get("/v1/instruments").json()["items"]]
    languages = [item["code"] for item in bordin.get("/v1/languages").json()["items"]]
    assert languages[0] == "en", languages
    assert "fr" in languages, languages
    recorded = languages[1]
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        (Path(folder) / "index.html").write_text(PAGE, encoding="utf-8")
        (Path(folder) / "lforms").symlink_to(lforms.resolve())
        handler = functools.partial(QuietHandler, directory=folder)
        pages = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=pages.serve_forever, daemon=True).start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{pages.server_port}/index.html")
            page.wait_for_function("() => window.LForms?.Util?.getFormFHIRData")
            checked = 0
            for index, instrument in enumerate(instruments):
                for language in languages:
                    seed = random.Random(f"{instrument}/{language}")  # noqa: S311
                    session = index + 1 if language == recorded else None
                    check_form(bordin, page, instrument, language, seed, session=session)
                    checked += 1
            print(f"LHC-Forms: {checked} forms rendered, answered and scored as JSON scores them")
            check_docs(browser.new_page(), base_url)
        finally:
            browser.close()
            pages.shutdown()
    return 0


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def check_form(
    bordin: httpx.Client, page: Page, instrument: str, language: str, seed: random.Random,
    *, session: int | None,
) -> None:  # fmt: skip
    questionnaire = bordin.get(
        f"/v1/instruments/{instrument}/questionnaire", headers={"Accept-Language": language}
    ).json()
    assert questionnaire["language"] == language
    assert "itemWeight" not in str(questionnaire)
    assert "ordinalValue" not in str(questionnaire)
    page.evaluate(
        "q => { document.getElementById('form').innerHTML = '';"
        " LForms.Util.addFormToPage(q, 'form', {fhirVersion: 'R4'}); }",
        questionnaire,
    )
    page.wait_for_selector("lhc-item", timeout=30_000)
    shown = page.inner_text("#form")
    assert questionnaire["item"][0]["text"] in shown, (instrument, language)
    answers = answer_form(page, questionnaire, seed)
    response = page.evaluate("() => LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4')")
    # What LHC-Forms made is what Bordin gets (an app adds only who, when and its status).
    response["status"] = "completed"
    by_fhir = bordin.post("/v1/scores/fhir", json=response)
    assert by_fhir.status_code == 200, (instrument, language, by_fhir.text)
    by_json = bordin.post(
        "/v1/scores",
        json={"instrument": instrument, "version": questionnaire["version"], "responses": answers},
    )
    assert by_json.status_code == 200, (instrument, language, by_json.text)
    assert observed_scores(by_fhir.json()) == json_scores(instrument, by_json.json()), (
        instrument, language,
    )  # fmt: skip
    if session is not None:
        record_in_episode(bordin, instrument, response, session, language)


def answer_form(page: Page, questionnaire: dict[str, Any], seed: random.Random) -> dict[str, Any]:
    """Answer every item the form shows, as a patient would: a click on one of a choice
    item's radio buttons, a number typed in a decimal item's field. An item the form does not
    show (its gate not answered so) is left alone. Returns the answers as JSON would send them."""
    answers: dict[str, Any] = {}
    for item in questionnaire["item"]:
        link_id = item["linkId"]
        if item["type"] == "choice":
            radios = page.locator(f'input[type="radio"][name="radiogroup_{link_id}/1"]')
            if radios.count() == 0:
                continue
            options = item["answerOption"]
            assert radios.count() == len(options), link_id
            choice = seed.randrange(len(options))
            radios.nth(choice).click()
            answers[link_id] = number(options[choice]["valueCoding"]["code"])
        else:
            field = page.locator(f'[id="{link_id}/1"]')
            if field.count() == 0:
                continue
            value = round(seed.uniform(0, 10), 1)
            field.fill(str(value))
            field.press("Tab")
            answers[link_id] = value
        page.wait_for_timeout(50)  # let the form enable the items this answer gates
    return answers


def number(code: str) -> int | float:
    value = float(code)
    return int(value) if value.is_integer() else value


def observed_scores(bundle: dict[str, Any]) -> dict[str, Any]:
    """Each scale's score, item mean and POMP as the Observations give them."""
    scores = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "Observation":
            continue
        code = resource["code"]["coding"][0]["code"]
        components = {
            c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
            for c in resource.get("component", [])
        }
        scores[code] = (
            resource.get("valueQuantity", {}).get("value"),
            components.get("item-mean"),
            components.get("pomp"),
        )
    return scores


def json_scores(instrument: str, result: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{instrument}.{scale_id}": (scale["score"], scale["mean"], scale["pomp"])
        for scale_id, scale in result["scales"].items()
    }


def record_in_episode(
    bordin: httpx.Client, instrument: str, response: dict[str, Any], session: int, language: str
) -> None:
    """Record the renderer's response as an app would: the patient, the time and who
    answered added, the session in the query (no extension)."""
    patient = f"browser-{instrument}-{time.time_ns()}"
    respondent = bordin.get(f"/v1/instruments/{instrument}").json()["respondent"]
    source = "Patient/1" if respondent == "client" else "Practitioner/1"
    episode = bordin.post("/v1/episodes", json={"patient_ref": patient, "clinician_ref": "c"})
    recorded = bordin.post(
        f"/v1/episodes/{episode.json()['id']}/questionnaire-responses",
        params={"session": session},
        json={
            **response,
            "subject": {"identifier": {"system": "urn:example:ehr", "value": patient}},
            "authored": "2026-03-01T10:00:00+01:00",
            "source": {"reference": source},
        },
        headers={"Content-Type": "application/fhir+json", "Accept-Language": language},
    )
    assert recorded.status_code == 201, (instrument, recorded.text)
    assert recorded.headers["content-language"] == language
    (administration,) = bordin.get(recorded.headers["location"].rsplit("/", 1)[0]).json()["items"]
    assert administration["session"] == session


def check_docs(page: Page, base_url: str) -> None:
    """/docs and /redoc render with every request answered by the server itself."""
    failed: list[str] = []
    elsewhere: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on(
        "request",
        lambda request: (
            elsewhere.append(request.url)
            if not request.url.startswith((base_url, "data:", "blob:"))
            else None
        ),
    )
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Bordin" in page.inner_text(".swagger-ui .info .title")
    page.goto(f"{base_url}/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "Bordin" in page.inner_text("h1")
    # ReDoc's own "API docs by Redocly" logo names its CDN: the docs' content security
    # policy stops it in the browser (a broken image, nothing sent). Nothing else may go.
    assert set(failed) <= {REDOC_LOGO}, failed
    assert set(elsewhere) <= {REDOC_LOGO}, elsewhere
    print("docs: /docs and /redoc render from this server alone")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
