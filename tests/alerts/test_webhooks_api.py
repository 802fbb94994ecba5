"""Webhook endpoints over HTTP: admin scope, URL policy, organisations apart, and the log."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.access import keys
from app.alerts.dispatch import Dispatcher, RetryPolicy
from app.main import create_app
from app.platform.db import Database
from app.platform.settings import Settings
from tests.webhooks_support import (
    LOOPBACK_ALLOWED,
    Organisation,
    Receiver,
    administration,
    resolve_test_hosts,
)


@pytest.fixture
def admin(app: FastAPI, organisation: Organisation) -> Iterator[TestClient]:
    """A client of the test's own organisation, with its admin key."""
    with TestClient(app, headers=organisation.headers) as client:
        yield client


def test_a_webhook_is_created_with_its_secret_once_then_listed_and_read_without_it(
    admin: TestClient,
) -> None:
    response = admin.post(
        "/v1/webhooks",
        json={"url": "https://ehr.example.org/alerts", "description": "EHR inbox"},
    )
    assert response.status_code == 201
    created = response.json()
    secret = created.pop("secret")
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 32
    # By default every alert event; the flag-level rupture.* events only when named.
    assert created["event_types"] == [
        "alert.opened", "alert.updated", "alert.repaired", "alert.unrepaired",
        "alert.withdrawn", "alert.acknowledged", "alert.closed",
    ]  # fmt: skip
    assert created["enabled"] is True
    assert admin.get(f"/v1/webhooks/{created['id']}").json() == created
    listed = admin.get("/v1/webhooks").json()
    assert listed == {"items": [created], "next_cursor": None}
    assert secret not in admin.get("/v1/webhooks").text


def test_a_webhook_can_subscribe_to_some_event_types_only(admin: TestClient) -> None:
    body = {"url": "https://ehr.example.org/a", "event_types": ["rupture.raised"]}
    assert admin.post("/v1/webhooks", json=body).json()["event_types"] == ["rupture.raised"]
    body["event_types"] = ["rupture.exploded"]
    assert admin.post("/v1/webhooks", json=body).status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "http://ehr.example.org/alerts",
        "ftp://ehr.example.org/alerts",
        "ehr.example.org/alerts",
        "https://",
        "https://user:password@ehr.example.org/alerts",
        "https://ehr.example.org:port/alerts",
        "http://10.0.0.5/alerts",
        "https://ehr.example.org/alerts\r\nX-Injected: 1",
        "https://ehr.example.org/al\terts",
    ],
)
def test_a_url_that_is_not_https_or_loopback_is_a_422_naming_url(
    admin: TestClient, url: str
) -> None:
    response = admin.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_webhook_url"
    assert [(e["loc"], e["code"]) for e in problem["errors"]] == [(["url"], "invalid_url")]


def test_a_nul_in_a_webhook_url_is_refused_with_the_other_text_fields(admin: TestClient) -> None:
    # NUL is refused in every text field before any field's own check (tests/http/test_validation).
    response = admin.post("/v1/webhooks", json={"url": "https://ehr.example.org/\u0000"})
    assert response.status_code == 422
    assert [(e["loc"], e["code"]) for e in response.json()["errors"]] == [
        (["url"], "nul_character")
    ]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/alerts", "http://[::1]:9/alerts", "http://localhost/alerts"]
)
def test_plain_http_is_allowed_to_loopback_hosts(admin: TestClient, url: str) -> None:
    assert admin.post("/v1/webhooks", json={"url": url}).status_code == 201


@pytest.fixture
def production(settings: Settings, organisation: Organisation) -> Iterator[TestClient]:
    """An admin of an app as deployed: webhooks may not reach private networks."""
    deployed = settings.model_copy(update={"webhook_allow_private_networks": False})
    app = create_app(deployed, resolve=resolve_test_hosts)
    with TestClient(app, headers=organisation.headers) as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/alerts",
        "http://localhost/alerts",
        "http://[::1]:9/alerts",
        "https://10.0.0.5/alerts",
        "https://192.168.1.1/alerts",
        "https://100.64.0.1/alerts",
        "https://[fd00::1]/alerts",
        "https://[fe80::1]/alerts",
        "https://[::ffff:127.0.0.1]/alerts",
        "https://[64:ff9b::a00:5]/alerts",
        "https://169.254.169.254/latest/meta-data/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://internal.example.org/alerts",  # a name that resolves to 10.20.30.40
        "https://mixed.example.org/alerts",  # one public and one private address
        "https://mapped.example.org/alerts",  # ::ffff:127.0.0.1
        "https://nowhere.example.org/alerts",  # does not resolve
    ],
)
def test_a_url_whose_host_is_not_public_is_refused_at_registration(
    production: TestClient, url: str
) -> None:
    response = production.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_webhook_url"
    assert [(e["loc"], e["code"]) for e in problem["errors"]] == [(["url"], "refused_address")]
    # the same answer whatever the reason: registering URLs maps no internal names
    assert problem["detail"] == (
        "the webhook URL must be a host that resolves to public internet addresses only"
    )


def test_a_url_whose_host_is_public_is_registered_in_production(production: TestClient) -> None:
    response = production.post("/v1/webhooks", json={"url": "https://ehr.example.org/alerts"})
    assert response.status_code == 201


def test_private_networks_are_allowed_by_the_setting_but_never_metadata(
    admin: TestClient,
) -> None:
    for url in ("https://internal.example.org/alerts", "https://10.0.0.5/alerts"):
        assert admin.post("/v1/webhooks", json={"url": url}).status_code == 201, url
    for url in (
        "https://169.254.169.254/latest/meta-data/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://[fd00:ec2::254]/latest/meta-data/",
    ):
        assert admin.post("/v1/webhooks", json={"url": url}).status_code == 422, url


def test_webhooks_need_the_admin_scope(
    app: FastAPI, engine: Engine, organisation: Organisation
) -> None:
    writer = keys.create_key(
        Database(engine), organisation.id, "writer", ["records:write", "records:read"], None,
        datetime.now(UTC),
    )["key"]  # fmt: skip
    with TestClient(app, headers={"Authorization": f"Bearer {writer}"}) as client:
        some = uuid.uuid4()
        for method, path in [
            ("POST", "/v1/webhooks"),
            ("GET", "/v1/webhooks"),
            ("GET", f"/v1/webhooks/{some}"),
            ("DELETE", f"/v1/webhooks/{some}"),
            ("GET", f"/v1/webhooks/{some}/deliveries"),
        ]:
            body = {"url": "https://ehr.example.org/a"} if method == "POST" else None
            response = client.request(method, path, json=body)
            assert response.status_code == 403, (method, path)
            assert response.json()["code"] == "insufficient_scope"
    with TestClient(app) as anonymous:
        assert anonymous.get("/v1/webhooks").status_code == 401


def test_another_organisation_s_webhook_answers_404(admin: TestClient, client: TestClient) -> None:
    created = admin.post("/v1/webhooks", json={"url": "https://ehr.example.org/a"}).json()
    for method, path in [
        ("GET", f"/v1/webhooks/{created['id']}"),
        ("DELETE", f"/v1/webhooks/{created['id']}"),
        ("GET", f"/v1/webhooks/{created['id']}/deliveries"),
    ]:
        response = client.request(method, path)  # the local organisation's admin
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "webhook_not_found"
    assert created["id"] not in client.get("/v1/webhooks").text
    assert admin.get(f"/v1/webhooks/{created['id']}").json()["enabled"] is True


def test_a_deleted_webhook_is_disabled_listed_and_gets_nothing_more(
    admin: TestClient, engine: Engine
) -> None:
    with Receiver() as receiver:
        created = admin.post("/v1/webhooks", json={"url": receiver.url}).json()
        episode = admin.post("/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c"})
        for session, bond in ((1, 16), (2, 17), (3, 16), (4, 10)):
            path = f"/v1/episodes/{episode.json()['id']}/administrations"
            assert admin.post(path, json=administration(session, bond)).status_code == 201
        deleted = admin.delete(f"/v1/webhooks/{created['id']}")
        assert deleted.status_code == 200
        assert deleted.json()["enabled"] is False
        assert deleted.json()["disabled_at"] is not None
        assert admin.get("/v1/webhooks").json()["items"][0]["enabled"] is False
        _dispatcher(engine).deliver_due()
        assert receiver.received == []


def test_the_delivery_log_pages_newest_first(admin: TestClient, engine: Engine) -> None:
    with Receiver(statuses=[500, 503]) as receiver:
        body = {"url": receiver.url, "event_types": ["rupture.raised"]}
        created = admin.post("/v1/webhooks", json=body).json()
        episode = admin.post("/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c"})
        for session, bond in ((1, 16), (2, 17), (3, 16), (4, 10)):
            path = f"/v1/episodes/{episode.json()['id']}/administrations"
            admin.post(path, json=administration(session, bond))
        dispatcher = _dispatcher(engine)
        while dispatcher.deliver_due():
            pass
    path = f"/v1/webhooks/{created['id']}/deliveries"
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = admin.get(path, params=params).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # session 4 raised two flags: two events, the first attempt of each refused, the second
    # delivered
    times = [entry["attempted_at"] for entry in seen]
    assert times == sorted(times, reverse=True)
    by_event: dict[str, list[tuple[int, int, str | None]]] = {}
    for entry in seen:
        by_event.setdefault(entry["event_id"], []).append(
            (entry["attempt"], entry["status_code"], entry["error"])
        )
    assert sorted(by_event.values()) == [
        [(2, 204, None), (1, 500, "http_500")],
        [(2, 204, None), (1, 503, "http_503")],
    ]
    assert {entry["event_status"] for entry in seen} == {"delivered"}
    assert {entry["event_type"] for entry in seen} == {"rupture.raised"}
    assert all(entry["duration_ms"] >= 0 for entry in seen)
    assert admin.get(path, params={"cursor": "bm9wZQ"}).status_code == 422


def test_webhook_administration_is_audited(admin: TestClient) -> None:
    created = admin.post("/v1/webhooks", json={"url": "https://ehr.example.org/a"}).json()
    admin.get(f"/v1/webhooks/{created['id']}")
    admin.delete(f"/v1/webhooks/{created['id']}")
    admin.get(f"/v1/webhooks/{uuid.uuid4()}")
    events = admin.get("/v1/audit-events", params={"limit": 500}).json()["items"]
    trail = [(e["action"], e["resource_type"], e["outcome"]) for e in events]
    assert trail[-4:] == [
        ("createWebhook", "webhook", "success"),
        ("getWebhook", "webhook", "success"),
        ("deleteWebhook", "webhook", "success"),
        ("getWebhook", "webhook", "not_found"),
    ]
    assert events[-2]["resource_id"] == created["id"]


def _dispatcher(engine: Engine) -> Dispatcher:
    """A dispatcher that retries at once (tests/alerts/test_webhook_delivery.py tests back-off)."""
    retry = RetryPolicy(timedelta(0), 5)
    return Dispatcher(Database(engine), timeout_seconds=5, retry=retry, egress=LOOPBACK_ALLOWED)
