# Over 600 lines: delivery end to end (outbox, dispatcher, receivers, workers) shares its setup.
"""Rupture alerts delivered from the outbox to a real receiver on loopback: signed, retried
with back-off, never twice, never lost, and drained by several dispatchers at once."""

from __future__ import annotations

import html
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.flag import Flag
from sqlalchemy import Engine, func, select, update
from standardwebhooks.webhooks import Webhook

from app.alerts import webhooks
from app.alerts.dispatch import Dispatcher, RetryPolicy
from app.alerts.egress import EgressPolicy, system_resolve
from app.alerts.schemas import RuptureAlert
from app.core.flag_events import FlagChange
from app.main import create_app
from app.platform import store_webhooks
from app.platform.db import Database, make_engine
from app.platform.settings import PROJECT_ROOT, Settings
from app.platform.tables import Episode, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.webhooks_support import (
    LOOPBACK_ALLOWED,
    REPAIR,
    RUPTURE,
    Organisation,
    Receiver,
    administration,
    is_bond_v_drop,
    tls_receiver_context,
)

FLAG = {
    "administration_id": str(uuid.uuid4()), "instrument": "wai-sr", "rater": "client",
    "rule": "v_drop", "scale": "bond", "session": 4, "state": "pending", "value": 10.0,
}  # fmt: skip


def _dispatcher(engine: Engine, base: float = 0.0, attempts: int = 5) -> Dispatcher:
    retry = RetryPolicy(timedelta(seconds=base), attempts)
    return Dispatcher(Database(engine), timeout_seconds=5, retry=retry, egress=LOOPBACK_ALLOWED)


def _drain(dispatcher: Dispatcher, until: Any, timeout: float = 15.0) -> None:
    """Run the dispatcher until `until()` holds (events wait out their back-off)."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the outbox was not drained in time"
        dispatcher.deliver_due()
        time.sleep(0.02)


# These tests are about the flag-level events, which endpoints get only when they ask for
# them by name (the alert.* events are tested in tests/alerts/test_alerts_api.py).
RUPTURE_EVENTS = ["rupture.raised", "rupture.repaired", "rupture.unrepaired", "rupture.withdrawn"]


def _webhook(client: TestClient, url: str) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": url, "event_types": RUPTURE_EVENTS})
    assert response.status_code == 201
    created: dict[str, Any] = response.json()
    return created


def _episode(client: TestClient) -> str:
    body = {"patient_ref": "ehr-4711", "clinician_ref": "staff-9", "setting": "psychotherapy"}
    episode_id: str = client.post("/v1/episodes", json=body).json()["id"]
    return episode_id


def _record(client: TestClient, episode: str, series: tuple[tuple[int, int], ...]) -> None:
    for session, bond in series:
        response = client.post(
            f"/v1/episodes/{episode}/administrations", json=administration(session, bond)
        )
        assert response.status_code == 201, response.text


def _enqueue(
    engine: Engine, organisation: Organisation, count: int, endpoints: int = 1
) -> list[uuid.UUID]:
    """`count` alerts written to the outbox by the real enqueue, in one transaction (an event
    for each of the organisation's `endpoints`)."""
    database = Database(engine)
    now = datetime.now(UTC)
    with database.session() as session:
        episode = Episode(
            id=uuid.uuid4(), organization_id=organisation.id, patient_ref="p",
            clinician_ref="c", setting=None, started_on=None, label=None, created_at=now,
        )  # fmt: skip
        session.add(episode)
        session.flush()
        changes = [FlagChange("rupture.raised", {**FLAG, "session": n}) for n in range(count)]
        written = webhooks.enqueue_alerts(session, episode, changes, now, None)
        session.commit()
        assert written == count * endpoints
        statement = select(WebhookEvent.id).where(WebhookEvent.episode_id == episode.id)
        return list(session.scalars(statement))


@pytest.fixture
def dispatching(settings: Settings) -> Settings:
    """The app's own background dispatcher, polling often, retrying at once."""
    return settings.model_copy(
        update={
            "webhook_dispatch": True,
            "webhook_poll_seconds": 0.05,
            "webhook_retry_base_seconds": 0.0,
        }
    )


def test_a_raised_bond_rupture_and_its_repair_are_delivered_signed(
    dispatching: Settings, organisation: Organisation
) -> None:
    with Receiver() as receiver, TestClient(create_app(dispatching)) as client:
        client.headers.update(organisation.headers)
        secret = _webhook(client, receiver.url)["secret"]
        episode = _episode(client)
        _record(client, episode, RUPTURE)
        receiver.wait_for(1)
        _record(client, episode, REPAIR)
        deadline = time.monotonic() + 15
        while not any(r.json["type"] == "rupture.repaired" for r in receiver.received):
            assert time.monotonic() < deadline, "no rupture.repaired arrived"
            time.sleep(0.02)
    delivery = next(
        r
        for r in receiver.received
        if r.json["type"] == "rupture.raised" and is_bond_v_drop(r.json)
    )
    payload = Webhook(secret).verify(delivery.body, delivery.headers)
    RuptureAlert.model_validate(payload)  # the body the OpenAPI document declares
    assert payload["type"] == "rupture.raised"
    assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
    assert payload["data"]["episode_id"] == episode
    assert payload["data"]["patient_ref"] == "ehr-4711"
    assert payload["data"]["clinician_ref"] == "staff-9"
    assert payload["data"]["setting"] == "psychotherapy"
    flag = payload["data"]["flag"]
    assert (flag["rule"], flag["scale"], flag["session"], flag["state"]) == (
        "v_drop", "bond", 4, "pending"
    )  # fmt: skip
    assert flag["severity"] == "strict"
    bond_guidance = next(entry for entry in flag["guidance"] if entry["id"] == "bond-rupture")
    assert bond_guidance["support"] == "meta-analysis"  # what backs it, for the receiver too
    assert [r["kind"] for r in bond_guidance["references"]] == [
        "meta-analysis", "theory", "practice-text"
    ]  # fmt: skip
    assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 60
    repaired = [r for r in receiver.received if r.json["type"] == "rupture.repaired"]
    bond = [r for r in repaired if is_bond_v_drop(r.json)]
    assert len(bond) == 1
    repair = Webhook(secret).verify(bond[0].body, bond[0].headers)["data"]["flag"]
    RuptureAlert.model_validate(bond[0].json)
    assert (repair["state"], repair["repaired_at"]["session"]) == ("repaired", 6)
    ids = receiver.ids()
    assert len(ids) == len(set(ids))


def test_withdrawing_the_administration_that_raised_a_flag_sends_rupture_withdrawn(
    engine: Engine, organisation: Organisation, app: Any
) -> None:
    with Receiver() as receiver, TestClient(app, headers=organisation.headers) as client:
        secret = _webhook(client, receiver.url)["secret"]
        episode = _episode(client)
        _record(client, episode, RUPTURE)
        _dispatcher(engine).deliver_due()
        raised = next(r.json for r in receiver.received if is_bond_v_drop(r.json))
        flag_source = raised["data"]["flag"]["administration_id"]
        path = f"/v1/episodes/{episode}/administrations/{flag_source}/withdrawal"
        assert client.post(path, json={"reason": "wrong patient"}).status_code == 200
        _dispatcher(engine).deliver_due()
    withdrawn = [
        r
        for r in receiver.received
        if r.json["type"] == "rupture.withdrawn" and is_bond_v_drop(r.json)
    ]
    assert len(withdrawn) == 1
    payload = RuptureAlert.model_validate(
        Webhook(secret).verify(withdrawn[0].body, withdrawn[0].headers)
    )
    assert payload.data.flag.administration_id == flag_source
    assert payload.data.flag.state == "pending"


def test_an_endpoint_that_asks_for_it_gets_the_flag_as_a_fhir_flag_with_its_guidance(
    engine: Engine, organisation: Organisation, app: Any
) -> None:
    with (
        Receiver() as plain,
        Receiver() as fhir,
        TestClient(app, headers=organisation.headers) as client,
    ):
        _webhook(client, plain.url)
        created = client.post(
            "/v1/webhooks",
            json={"url": fhir.url, "include_fhir_flag": True, "event_types": RUPTURE_EVENTS},
        )
        assert created.json()["include_fhir_flag"] is True
        episode = _episode(client)
        _record(client, episode, RUPTURE)
        _dispatcher(engine).deliver_due()
        path = f"/v1/episodes/{episode}/administrations"
        raised = next(r.json for r in fhir.received if is_bond_v_drop(r.json))
        flag = raised["data"]["flag"]
        withdrawal = f"{path}/{flag['administration_id']}/withdrawal"
        assert client.post(withdrawal, json={"reason": "wrong patient"}).status_code == 200
        _dispatcher(engine).deliver_due()
    assert all("fhir_flag" not in r.json["data"] for r in plain.received)
    resource = raised["data"]["fhir_flag"]
    Flag.model_validate(resource)
    RuptureAlert.model_validate(raised)
    assert resource["status"] == "active"
    assert resource["code"]["coding"][0]["code"] == "rupture.v_drop"
    assert resource["subject"] == {"identifier": {"value": "ehr-4711"}}
    assert resource["period"]["start"].startswith("2026-03-04T")
    for entry in flag["guidance"]:  # the guidance goes with the FHIR Flag as text
        assert html.escape(entry["text"]) in resource["text"]["div"]
        assert f"({entry['support_label']})" in resource["text"]["div"]
    supports = [e["valueCode"] for g in resource["extension"] for e in g["extension"]
                if e["url"] == "support"]  # fmt: skip
    assert supports == [entry["support"] for entry in flag["guidance"]]
    withdrawn = next(
        r.json
        for r in fhir.received
        if r.json["type"] == "rupture.withdrawn" and is_bond_v_drop(r.json)
    )
    assert withdrawn["data"]["fhir_flag"]["status"] == "entered-in-error"


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    engine: Engine, organisation: Organisation, app: Any
) -> None:
    with Receiver(statuses=[500, 500, 200]) as receiver:
        with TestClient(app, headers=organisation.headers) as client:
            _webhook(client, receiver.url)
        (event_id,) = _enqueue(engine, organisation, 1)
        _drain(_dispatcher(engine, base=0.2), lambda: len(receiver.received) >= 3)
        time.sleep(0.3)  # it would be retried by now if it were not settled
        _dispatcher(engine, base=0.2).deliver_due()
    assert receiver.ids() == [str(event_id)] * 3
    with Database(engine).session() as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        assert (event.status, event.attempts, event.last_error) == ("delivered", 3, None)
        log = list(
            session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.event_id == event_id)
                .order_by(WebhookDelivery.attempt)
            )
        )
    assert [(d.attempt, d.status_code, d.error) for d in log] == [
        (1, 500, "http_500"), (2, 500, "http_500"), (3, 200, None)
    ]  # fmt: skip
    # back-off: 0.2 s after the first failure, 0.4 s after the second
    first, second, third = (r.at for r in receiver.received)
    assert second - first >= 0.2
    assert third - second >= 0.4


def test_an_event_given_up_after_its_last_attempt_is_failed(
    engine: Engine, organisation: Organisation, app: Any
) -> None:
    with Receiver(statuses=[500, 502]) as receiver:
        with TestClient(app, headers=organisation.headers) as client:
            _webhook(client, receiver.url)
        (event_id,) = _enqueue(engine, organisation, 1)
        dispatcher = _dispatcher(engine, attempts=2)
        _drain(dispatcher, lambda: len(receiver.received) >= 2)
        dispatcher.deliver_due()
    with Database(engine).session() as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        assert (event.status, event.attempts, event.last_error) == ("failed", 2, "http_502")


def test_an_unreachable_receiver_is_logged_as_an_error_without_a_status(
    engine: Engine, organisation: Organisation, app: Any
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with TestClient(app, headers=organisation.headers) as client:
        _webhook(client, f"http://127.0.0.1:{port}/nobody")
    (event_id,) = _enqueue(engine, organisation, 1)
    _dispatcher(engine, base=60).deliver_due()
    with Database(engine).session() as session:
        (delivery,) = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
        )
        event = session.get(WebhookEvent, event_id)
    assert (delivery.status_code, delivery.error) == (None, "connect_error")
    assert event is not None
    assert event.status == "pending"
    assert event.next_attempt_at > datetime.now(UTC) + timedelta(seconds=50)


def test_an_event_claimed_by_a_dispatcher_that_died_is_delivered_once_its_lease_expires(
    engine: Engine, organisation: Organisation, app: Any
) -> None:
    with Receiver() as receiver:
        with TestClient(app, headers=organisation.headers) as client:
            _webhook(client, receiver.url)
        (event_id,) = _enqueue(engine, organisation, 1)
        died = _dispatcher(engine)
        with Database(engine).session() as session:  # its claim, and then nothing
            now = datetime.now(UTC)
            claimed = store_webhooks.claim_webhook_event(
                session, now, now + died.lease, uuid.uuid4()
            )
            assert claimed is not None
            assert claimed.id == event_id
            session.commit()
        assert _dispatcher(engine).deliver_due() == 0  # leased: not due
        later = _dispatcher(engine)
        later.now = lambda: datetime.now(UTC) + died.lease + timedelta(seconds=1)
        assert later.deliver_due() == 1
        assert receiver.ids() == [str(event_id)]


def test_nothing_is_delivered_twice_when_the_app_starts_again(
    dispatching: Settings, organisation: Organisation, engine: Engine
) -> None:
    with Receiver() as receiver:
        with TestClient(create_app(dispatching)) as client:
            client.headers.update(organisation.headers)
            _webhook(client, receiver.url)
            _record(client, _episode(client), RUPTURE)
            sent = _all_sent(engine, organisation)  # every event the write raised
        delivered = receiver.ids()
        assert sorted(delivered) == sorted(sent)
        with TestClient(create_app(dispatching)):
            time.sleep(0.5)  # ten polls of a fresh dispatcher
        assert receiver.ids() == delivered
    assert len(delivered) == len(set(delivered))


def _all_sent(engine: Engine, organisation: Organisation, timeout: float = 15.0) -> list[str]:
    """The ids of the organisation's events once none is pending (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        with Database(engine).session() as session:
            events = session.execute(
                select(WebhookEvent.id, WebhookEvent.status).where(
                    WebhookEvent.organization_id == organisation.id
                )
            ).all()
        if events and all(status != "pending" for _, status in events):
            return [str(event_id) for event_id, _ in events]
        assert time.monotonic() < deadline, f"events still pending: {events}"
        time.sleep(0.05)


def test_the_background_dispatcher_stops_with_the_app(dispatching: Settings) -> None:
    with TestClient(create_app(dispatching)):
        running = [t for t in threading.enumerate() if t.name == "bordin-webhooks"]
        assert running
    assert not any(t.is_alive() for t in running)


def test_erasing_an_episode_erases_its_alerts(
    engine: Engine, organisation: Organisation, app: Any
) -> None:
    with Receiver(statuses=[500]) as receiver, TestClient(app) as client:
        client.headers.update(organisation.headers)
        _webhook(client, receiver.url)
        episode = _episode(client)
        _record(client, episode, RUPTURE)
        _dispatcher(engine, base=60).deliver_due()
        assert client.delete(f"/v1/episodes/{episode}").status_code == 204
    with Database(engine).session() as session:
        left = session.scalar(
            select(func.count())
            .select_from(WebhookEvent)
            .where(WebhookEvent.episode_id == uuid.UUID(episode))
        )
    assert left == 0


# -- Processes -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_RETRY_BASE_SECONDS": "0",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        **extra,
    }


@pytest.fixture
def app_process(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The app as a real server process, its dispatcher off: alerts stay in the outbox."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--factory", "app.main:app_factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        ],
        cwd=PROJECT_ROOT,
        env=_environment(database_url, WEBHOOK_DISPATCH="false"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the app process exited"
            assert time.monotonic() < deadline, "the app process did not start"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _deliver_once(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "deliver-webhooks", "--once"],
        cwd=PROJECT_ROOT,
        env=_environment(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_an_alert_committed_before_the_app_is_killed_arrives_once_from_a_worker(
    app_process: tuple[subprocess.Popen[bytes], str],
    database_url: str,
    engine: Engine,
    organisation: Organisation,
) -> None:
    process, base = app_process
    with Receiver() as receiver:
        with httpx.Client(base_url=base, headers=organisation.headers, timeout=30) as client:
            created = client.post(
                "/v1/webhooks", json={"url": receiver.url, "event_types": RUPTURE_EVENTS}
            )
            assert created.status_code == 201
            episode = client.post("/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c"})
            for number, bond in RUPTURE:
                response = client.post(
                    f"/v1/episodes/{episode.json()['id']}/administrations",
                    json=administration(number, bond),
                )
                assert response.status_code == 201
        assert any(is_bond_v_drop({"data": {"flag": f}}) for f in response.json()["ruptures"])
        process.kill()  # SIGKILL: no shutdown, nothing flushed
        process.wait()
        with Database(engine).session() as session:
            pending = set(
                session.scalars(
                    select(WebhookEvent.id).where(
                        WebhookEvent.endpoint_id == uuid.UUID(created.json()["id"]),
                        WebhookEvent.status == "pending",
                    )
                )
            )
        assert pending
        assert receiver.received == []
        _deliver_once(database_url)
        _deliver_once(database_url)  # a second worker run finds nothing more to deliver
    ids = Counter(receiver.ids())
    assert ids == Counter({str(event_id): 1 for event_id in pending})
    assert any(is_bond_v_drop(request.json) for request in receiver.received)


@pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres"),
    reason="several dispatchers draining together needs PostgreSQL's row locks (SKIP LOCKED);"
    " SQLite runs one writer at a time",
)
def test_several_dispatchers_drain_the_outbox_together_delivering_each_event_once(
    database_url: str, engine: Engine, organisation: Organisation, app: Any
) -> None:
    with Receiver() as receiver:
        with TestClient(app, headers=organisation.headers) as client:
            _webhook(client, receiver.url)
        events = _enqueue(engine, organisation, 200)
        engines = [make_engine(Settings(database_url=database_url).database_url) for _ in "1234"]
        counts: list[int] = []
        errors: list[BaseException] = []
        start = threading.Barrier(len(engines))

        def drain(own: Engine) -> None:
            dispatcher = Dispatcher(
                Database(own),
                timeout_seconds=5,
                retry=RetryPolicy(timedelta(0), 3),
                egress=LOOPBACK_ALLOWED,
            )
            try:
                start.wait()
                counts.append(dispatcher.deliver_due())
            except BaseException as error:
                errors.append(error)
            finally:
                dispatcher.close()

        threads = [threading.Thread(target=drain, args=(own,)) for own in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for own in engines:
            own.dispose()
    assert errors == []
    assert sum(counts) == 200
    ids = Counter(receiver.ids())
    assert ids == Counter({str(event_id): 1 for event_id in events})
    with Database(engine).session() as session:
        statuses = Counter(
            session.scalars(select(WebhookEvent.status).where(WebhookEvent.id.in_(events)))
        )
        attempts = session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_(events))
        )
    assert statuses == Counter({"delivered": 200})
    assert attempts == 200


def _deliveries(engine: Engine, endpoint_id: str) -> list[tuple[int | None, str | None]]:
    with Database(engine).session() as session:
        rows = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == uuid.UUID(endpoint_id))
            .order_by(WebhookDelivery.attempt)
        )
        return [(row.status_code, row.error) for row in rows]


def _event_states(engine: Engine, endpoint_id: str) -> list[tuple[str, str | None]]:
    with Database(engine).session() as session:
        rows = session.scalars(
            select(WebhookEvent).where(WebhookEvent.endpoint_id == uuid.UUID(endpoint_id))
        )
        return [(row.status, row.last_error) for row in rows]


def test_a_host_that_resolves_to_a_refused_address_at_delivery_is_never_reached(
    settings: Settings, engine: Engine, organisation: Organisation
) -> None:
    # DNS rebinding: public when registered, loopback when delivered. An open and a closed
    # port get the same log entry: the log maps nothing of the inside.
    answers = {"rebind.example.org": ["93.184.215.14"], "rebind2.example.org": ["93.184.215.14"]}

    def resolve(host: str, port: int) -> list[str]:
        return answers.get(host) or system_resolve(host, port)

    deployed = settings.model_copy(update={"webhook_allow_private_networks": False})
    closed = _free_port()  # nobody listens there
    with Receiver() as receiver:
        with TestClient(create_app(deployed, resolve=resolve)) as client:
            client.headers.update(organisation.headers)
            open_ = _webhook(client, f"https://rebind.example.org:{receiver.port}/alerts")
            shut = _webhook(client, f"https://rebind2.example.org:{closed}/alerts")
        answers.update({"rebind.example.org": ["127.0.0.1"], "rebind2.example.org": ["127.0.0.1"]})
        _enqueue(engine, organisation, 1, endpoints=2)
        retry = RetryPolicy(timedelta(0), 2)
        policy = EgressPolicy(allow_private_networks=False, resolve=resolve)
        dispatcher = Dispatcher(Database(engine), timeout_seconds=5, retry=retry, egress=policy)
        _drain(dispatcher, lambda: len(_deliveries(engine, shut["id"])) == 2)
        dispatcher.deliver_due()
    assert receiver.received == []
    for endpoint in (open_, shut):
        assert _deliveries(engine, endpoint["id"]) == [(None, "refused_address")] * 2
        assert _event_states(engine, endpoint["id"]) == [("failed", "refused_address")]


def test_a_delivery_connects_to_the_address_checked_naming_the_host_for_tls(
    app: Any,
    engine: Engine,
    organisation: Organisation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # receiver.test resolves only through the test resolver (the system knows no .test
    # name): a delivery that arrives went to the address checked, not to a second lookup.
    context, certificate = tls_receiver_context(tmp_path, "receiver.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # trust the receiver's certificate
    with Receiver(tls=context) as receiver:
        with TestClient(app, headers=organisation.headers) as client:
            genuine = _webhook(client, f"https://receiver.test:{receiver.port}/alerts")
            # the same address under another name: its certificate does not name it
            impostor = _webhook(client, f"https://impostor.test:{receiver.port}/alerts")
        _enqueue(engine, organisation, 1, endpoints=2)
        dispatcher = _dispatcher(engine, base=60)
        dispatcher.deliver_due()
        dispatcher.close()
    assert [r.headers["host"] for r in receiver.received] == [f"receiver.test:{receiver.port}"]
    assert "receiver.test" in receiver.server_names
    assert _deliveries(engine, genuine["id"]) == [(204, None)]
    assert _deliveries(engine, impostor["id"]) == [(None, "connect_error")]


def test_a_url_that_became_invalid_or_an_attempt_that_raises_never_stops_the_dispatcher(
    app: Any, engine: Engine, organisation: Organisation
) -> None:
    with Receiver() as receiver:
        with TestClient(app, headers=organisation.headers) as client:
            good = _webhook(client, receiver.url)
            bad_url = _webhook(client, receiver.url)
            bad_secret = _webhook(client, receiver.url)
        with engine.begin() as connection:  # as stored before URLs were checked, or damaged
            connection.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == uuid.UUID(bad_url["id"]))
                .values(url=receiver.url + "\r\nX-Injected: 1")
            )
            connection.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == uuid.UUID(bad_secret["id"]))
                .values(secret="whsec_not base64!")
            )
        _enqueue(engine, organisation, 1, endpoints=3)
        dispatcher = _dispatcher(engine, attempts=2)
        _drain(dispatcher, lambda: len(_deliveries(engine, bad_secret["id"])) == 2)
        dispatcher.deliver_due()
    assert len(receiver.received) == 1
    assert "x-injected" not in receiver.received[0].headers
    assert _event_states(engine, good["id"]) == [("delivered", None)]
    assert _deliveries(engine, bad_url["id"]) == [(None, "invalid_url")] * 2
    assert _event_states(engine, bad_url["id"]) == [("failed", "invalid_url")]
    assert _deliveries(engine, bad_secret["id"]) == [(None, "internal_error")] * 2
    assert _event_states(engine, bad_secret["id"]) == [("failed", "internal_error")]
