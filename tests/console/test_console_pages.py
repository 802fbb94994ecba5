"""The clinician console over HTTP, on the real database: one-time links and local accounts,
signed session cookies and CSRF tokens, roles, the worklist and the episode view, audited."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from app.cli import main as cli
from app.platform.tables import AlertRecord, AuditEvent, ConsoleAccount, ConsoleLink
from tests.webhooks_support import Organisation

HIGH = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
LOW = {"1": 6.0, "2": 6.0, "3": 6.0, "4": 6.0}


@pytest.fixture
def api(app: FastAPI, organisation: Organisation) -> Iterator[TestClient]:
    """The EHR: an admin key of an organisation of the test's own."""
    with TestClient(app, headers=organisation.headers) as client:
        yield client


def episode_with_alert(api: TestClient, clinician: str, label: str) -> tuple[str, str]:
    """An episode of `clinician` whose SRS fell at session 4: (episode id, its alert's id)."""
    body = {"patient_ref": f"ehr-{uuid.uuid4()}", "clinician_ref": clinician, "label": label}
    episode_id = api.post("/v1/episodes", json=body).json()["id"]
    for session, answers in ((1, HIGH), (2, HIGH), (3, HIGH), (4, LOW)):
        recorded = api.post(
            f"/v1/episodes/{episode_id}/administrations",
            json={"instrument": "srs", "rater": "client", "session": session,
                  "administered_at": f"2026-03-0{session}T10:00:00Z", "responses": answers},
        )  # fmt: skip
        assert recorded.status_code == 201, recorded.text
    alerts = api.get(f"/v1/episodes/{episode_id}/alerts").json()["items"]
    assert [alert["opened_session"] for alert in alerts] == [4]
    return episode_id, alerts[0]["id"]


def sign_in_by_link(
    app: FastAPI, api: TestClient, clinician: str, role: str = "clinician"
) -> TestClient:
    link = api.post("/v1/console-links", json={"clinician_ref": clinician, "role": role})
    assert link.status_code == 201, link.text
    browser = TestClient(app)
    used = browser.post(path_of(link.json()["url"]), follow_redirects=False)
    assert used.status_code == 303
    return browser


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_without_a_session_the_console_sends_the_browser_to_sign_in(app: FastAPI) -> None:
    with TestClient(app) as browser:
        answer = browser.get("/console/episodes/abc?lang=fr", follow_redirects=False)
    assert answer.status_code == 303
    assert (
        answer.headers["location"]
        == "/console/sign-in?next=%2Fconsole%2Fepisodes%2Fabc%3Flang%3Dfr"
    )


def test_a_one_time_link_opens_a_session_once_with_a_strict_http_only_cookie(
    app: FastAPI, api: TestClient, engine: Engine
) -> None:
    link = api.post(
        "/v1/console-links", json={"clinician_ref": "dr-ada", "next": "/console?priority=high"}
    )
    assert link.status_code == 201
    assert link.headers["location"] == link.json()["url"]
    expires = datetime.fromisoformat(link.json()["expires_at"])
    assert timedelta(seconds=50) < expires - datetime.now(UTC) <= timedelta(seconds=60)
    path = path_of(link.json()["url"])
    with TestClient(app) as browser:
        landing = browser.get(path)  # a preview or a mail scanner: the link is not spent
        assert landing.status_code == 200
        assert 'src="/static/console-link.js"' in landing.text
        used = browser.post(path, follow_redirects=False)
        assert used.status_code == 303
        assert used.headers["location"] == "/console?priority=high"
        cookie = used.headers["set-cookie"]
        assert cookie.startswith("bordin_console=")
        for flag in ("HttpOnly", "SameSite=strict", "Path=/console"):
            assert flag in cookie
        assert browser.get("/console").status_code == 200
        again = TestClient(app).post(path, follow_redirects=False)
        assert again.status_code == 401
        assert "not valid any more" in again.text
    with engine.connect() as connection:
        stored = connection.execute(select(ConsoleLink.token_hash)).scalars().all()
    assert all(
        value.startswith("sha256:") and path.rsplit("/", 1)[1] not in value for value in stored
    )


def test_an_expired_link_opens_nothing(app: FastAPI, api: TestClient, engine: Engine) -> None:
    link = api.post("/v1/console-links", json={"clinician_ref": "dr-ada"}).json()
    with engine.begin() as connection:
        connection.execute(
            update(ConsoleLink).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert TestClient(app).post(path_of(link["url"]), follow_redirects=False).status_code == 401


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"clinician_ref": ""}, ["clinician_ref"]),
        ({"clinician_ref": "a", "role": "admin"}, ["role"]),
        ({"clinician_ref": "a", "next": "https://elsewhere.example/console"}, ["next"]),
        ({"clinician_ref": "a", "next": "//elsewhere.example"}, ["next"]),
    ],
)
def test_a_console_link_request_that_cannot_be_served_names_its_field(
    api: TestClient, body: dict[str, Any], loc: list[str]
) -> None:
    answer = api.post("/v1/console-links", json=body)
    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["errors"]] == [loc]


def test_only_admin_or_console_issue_keys_make_console_links(api: TestClient) -> None:
    for scopes, status in ((["records:read", "records:write"], 403), (["console:issue"], 201)):
        key = api.post("/v1/api-keys", json={"name": "ehr", "scopes": scopes}).json()["key"]
        made = api.post(
            "/v1/console-links", json={"clinician_ref": "dr-ada"},
            headers={"Authorization": f"Bearer {key}"},
        )  # fmt: skip
        assert made.status_code == status


def test_a_forged_or_ended_session_cookie_opens_nothing(app: FastAPI, api: TestClient) -> None:
    browser = sign_in_by_link(app, api, "dr-ada")
    cookie = browser.cookies["bordin_console"]
    _, _, signature = cookie.partition(".")
    forged = TestClient(app, cookies={"bordin_console": f"{uuid.uuid4()}.{signature}"})
    assert forged.get("/console", follow_redirects=False).status_code == 303
    page = browser.get("/console")
    signed_out = browser.post(
        "/console/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    replayed = TestClient(app, cookies={"bordin_console": cookie})
    assert replayed.get("/console", follow_redirects=False).status_code == 303


def test_a_local_account_made_with_the_cli_signs_in_with_its_password(
    app: FastAPI, organisation: Organisation, database_url: str, engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("DATABASE_URL", database_url)
    email = f"ada-{uuid.uuid4().hex[:8]}@practice.example"
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery staple\n"))
    assert cli(["create-console-account", "--organization", str(organisation.id), "--email", email,
                "--clinician-ref", "dr-ada", "--role", "lead"]) == 0  # fmt: skip
    with engine.connect() as connection:
        stored = connection.execute(
            select(ConsoleAccount.password_hash).where(ConsoleAccount.email == email)
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    with TestClient(app) as browser:
        wrong = browser.post("/console/sign-in", data={"email": email, "password": "nope"})
        assert wrong.status_code == 401
        assert 'id="error-summary"' in wrong.text
        assert f'value="{email}"' in wrong.text
        right = browser.post(
            "/console/sign-in?next=%2Fconsole%3Fwhose%3Dmine",
            data={"email": email.upper(), "password": "correct horse battery staple"},
            follow_redirects=False,
        )
        assert right.status_code == 303
        assert right.headers["location"] == "/console?whose=mine"
        assert "Signed in as dr-ada (lead)" in browser.get("/console").text


def test_a_short_password_is_refused_by_the_cli(
    organisation: Organisation, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli(["create-console-account", "--organization", str(organisation.id),
                "--email", "x@y.example", "--clinician-ref", "x"]) == 1  # fmt: skip


def test_a_clinician_sees_their_own_alerts_and_a_lead_the_organisations(
    app: FastAPI, api: TestClient, engine: Engine
) -> None:
    mine, _ = episode_with_alert(api, "dr-ada", "Client A")
    theirs, _ = episode_with_alert(api, "dr-bob", "Client B")
    clinician = sign_in_by_link(app, api, "dr-ada")
    page = clinician.get("/console")
    assert "<title>Worklist (1 open alert) \N{EN DASH} Bordin console</title>" in page.text
    assert "Client A" in page.text
    assert "Client B" not in page.text
    assert "SRS 24, 36 or less; 14 below last session" in page.text
    assert clinician.get(f"/console/episodes/{theirs}").status_code == 404
    lead = sign_in_by_link(app, api, "dr-carol", role="lead")
    everyone = lead.get("/console?lang=fr")
    assert (
        "<title>Liste de suivi (2 alertes ouvertes) \N{EN DASH} Console Bordin</title>"
        in everyone.text
    )
    assert lead.get(f"/console/episodes/{theirs}").status_code == 200
    with engine.connect() as connection:
        views = connection.execute(
            select(AuditEvent.action, AuditEvent.jwt_issuer, AuditEvent.jwt_subject,
                   AuditEvent.resource_id, AuditEvent.status)
            .where(AuditEvent.action.in_(["consoleWorklist", "consoleEpisode"]),
                   AuditEvent.jwt_subject.in_(["dr-ada", "dr-carol"]))
        ).all()  # fmt: skip
    assert ("consoleWorklist", "console", "dr-ada", None, 200) in views
    assert ("consoleEpisode", "console", "dr-ada", theirs, 404) in views
    assert ("consoleEpisode", "console", "dr-carol", theirs, 200) in views
    assert mine


def test_acknowledging_needs_the_sessions_csrf_token_and_records_who_and_when(
    app: FastAPI, api: TestClient
) -> None:
    episode_id, alert_id = episode_with_alert(api, "dr-ada", "Client A")
    browser = sign_in_by_link(app, api, "dr-ada")
    page = browser.get(f"/console/episodes/{episode_id}")
    action = f"/console/alerts/{alert_id}/acknowledgement"
    refused = browser.post(action, data={})
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    assert browser.post(action, data={"csrf": "x" * 43}).status_code == 403
    done = browser.post(
        action, data={"csrf": csrf_of(page.text), "note": "seen"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert (
        done.headers["location"]
        == f"/console/episodes/{episode_id}?lang=en&done=acknowledged#alert-{alert_id}"
    )
    acknowledgement = api.get(f"/v1/alerts/{alert_id}").json()["acknowledgement"]
    assert acknowledgement["by"] == "dr-ada"
    assert acknowledgement["note"] == "seen"
    assert "Seen by dr-ada" in browser.get("/console").text


def test_closing_needs_a_reason_and_a_closed_alert_leaves_the_worklist(
    app: FastAPI, api: TestClient
) -> None:
    episode_id, alert_id = episode_with_alert(api, "dr-ada", "Client A")
    browser = sign_in_by_link(app, api, "dr-ada")
    csrf = csrf_of(browser.get(f"/console/episodes/{episode_id}").text)
    action = f"/console/alerts/{alert_id}/closure"
    refused = browser.post(action, data={"csrf": csrf, "reason": ""})
    assert refused.status_code == 422
    assert f'href="#reason-{alert_id}"' in refused.text
    assert api.get(f"/v1/alerts/{alert_id}").json()["status"] == "open"
    closed = browser.post(
        action, data={"csrf": csrf, "reason": "discussed"}, follow_redirects=False
    )
    assert closed.status_code == 303
    resolution = api.get(f"/v1/alerts/{alert_id}").json()["resolution"]
    assert (resolution["status"], resolution["reason"], resolution["by"]) == (
        "closed",
        "discussed",
        "dr-ada",
    )
    assert "Client A" not in browser.get("/console").text


def test_the_episode_page_makes_a_form_link_for_the_next_session(
    app: FastAPI, api: TestClient
) -> None:
    episode_id, _ = episode_with_alert(api, "dr-ada", "Client A")
    browser = sign_in_by_link(app, api, "dr-ada")
    page = browser.get(f"/console/episodes/{episode_id}")
    assert 'name="session" min="1" value="5"' in page.text
    made = browser.post(
        f"/console/episodes/{episode_id}/invitations",
        data={"csrf": csrf_of(page.text), "session": "5", "instrument": "srs"},
    )
    assert made.status_code == 200
    link = re.search(r'id="form-link">([^<]+)<', made.text)
    assert link is not None
    form = TestClient(app).get(path_of(link.group(1)))
    assert form.status_code == 200
    assert "Session Rating Scale" in form.text


def test_an_alert_of_another_clinician_cannot_be_acted_on(
    app: FastAPI, api: TestClient, engine: Engine
) -> None:
    _, alert_id = episode_with_alert(api, "dr-bob", "Client B")
    browser = sign_in_by_link(app, api, "dr-ada")
    csrf = csrf_of(browser.get("/console").text)
    answer = browser.post(f"/console/alerts/{alert_id}/acknowledgement", data={"csrf": csrf})
    assert answer.status_code == 404
    with engine.connect() as connection:
        row = connection.execute(
            select(AlertRecord.acknowledged_at).where(AlertRecord.id == uuid.UUID(alert_id))
        ).scalar_one()
    assert row is None


def test_a_lead_makes_a_local_account_that_then_signs_in(app: FastAPI, api: TestClient) -> None:
    lead = sign_in_by_link(app, api, "dr-lead", role="lead")
    page = lead.get("/console/accounts?lang=fr")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    email = f"bea-{uuid.uuid4().hex[:8]}@practice.example"
    body = {"csrf": csrf, "email": email, "clinician_ref": "dr-bea", "role": "clinician"}
    short = lead.post("/console/accounts?lang=fr", data={**body, "password": "short"})
    assert short.status_code == 422
    assert "le mot de passe doit compter 12 caractères ou plus" in short.text
    made = lead.post("/console/accounts", data={**body, "password": "a long enough secret"})
    assert made.status_code == 200
    assert f"Account created for {email}." in made.text
    taken = lead.post("/console/accounts", data={**body, "password": "a long enough secret"})
    assert taken.status_code == 422
    with TestClient(app) as browser:
        signed = browser.post(
            "/console/sign-in", data={"email": email, "password": "a long enough secret"},
            follow_redirects=False,
        )  # fmt: skip
        assert signed.status_code == 303
        assert "Signed in as dr-bea (clinician)" in browser.get("/console").text
        assert browser.get("/console/accounts").status_code == 403


def test_a_worklist_reason_joins_its_parts_as_the_language_does(
    app: FastAPI, api: TestClient
) -> None:
    episode_with_alert(api, "dr-ada", "Client A")
    browser = sign_in_by_link(app, api, "dr-ada")
    assert "SRS 24, 36 or less; 14 below last session" in browser.get("/console").text
    french = browser.get("/console?lang=fr").text
    assert "SRS 24, 36 ou moins ; 14 de moins qu&#39;à la dernière séance" in french


def test_the_console_names_an_alerts_status_with_the_apis_words(
    app: FastAPI, api: TestClient, engine: Engine
) -> None:
    """The episode page's status of an alert is the word the API's narratives give it
    (`alerts.statuses`, here in a French FHIR DetectedIssue): one word in both places."""
    episode_id, alert_id = episode_with_alert(api, "dr-ada", "Client A")
    with engine.begin() as connection:
        connection.execute(
            update(AlertRecord)
            .where(AlertRecord.id == uuid.UUID(alert_id))
            .values(status="repaired")
        )
    issues = api.get(
        f"/v1/episodes/{episode_id}/fhir-detected-issues", headers={"Accept-Language": "fr"}
    )
    assert issues.status_code == 200, issues.text
    assert "rétablie" in issues.text
    page = sign_in_by_link(app, api, "dr-ada").get(f"/console/episodes/{episode_id}?lang=fr")
    assert "(rétablie)</h3>" in page.text
