"""Failure paths: an unexpected error is a 500 problem from the request layer (request id,
security headers, audit event, one log line without data, the connection kept), and a
database that does not answer is a 503 with Retry-After on every route, until it is back."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app.access import keys
from app.main import MIGRATIONS, app_factory, create_app
from app.platform.db import Database, make_engine
from app.platform.settings import Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID
from tests.conftest import INSTRUMENTS, alembic_config
from tests.server_support import logging_restored, postgres_available, private_postgres, served

PROBLEM = "application/problem+json"
MARKER = "REFUSED-PATIENT-8C1F-MARKER"


@pytest.fixture
def refusing_database(engine: Engine) -> Iterator[None]:
    """The database refuses to store an episode whose patient_ref starts with REFUSED-: an
    error of the database itself (no mock), whose statement carries the patient_ref as a
    parameter (and, on PostgreSQL, whose message quotes it too)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_marker() RETURNS trigger AS $$ BEGIN"
                    " RAISE EXCEPTION 'refused %', NEW.patient_ref; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_marker BEFORE INSERT ON episode FOR EACH ROW"
                    " WHEN (NEW.patient_ref LIKE 'REFUSED-%') EXECUTE FUNCTION refuse_marker()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_marker BEFORE INSERT ON episode"
                    " WHEN NEW.patient_ref LIKE 'REFUSED-%'"
                    " BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER refuse_marker" + _on_episode(engine)))
            if engine.dialect.name == "postgresql":
                connection.execute(text("DROP FUNCTION refuse_marker()"))


def _on_episode(engine: Engine) -> str:
    return " ON episode" if engine.dialect.name == "postgresql" else ""


def test_an_unexpected_error_is_a_500_problem_from_the_request_layer_on_a_kept_connection(
    settings: Settings,
    api_key: str,
    refusing_database: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    verbose = settings.model_copy(update={"log_level": "DEBUG"})
    with (
        logging_restored(),
        served(lambda: app_factory(verbose)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}) as client,
    ):
        failed = client.post(
            "/v1/episodes",
            json={"patient_ref": MARKER, "clinician_ref": "staff-17"},
            headers={"X-Request-ID": "failing-request-1"},
        )
        failed_from = _local_address(failed)
        after = client.post("/v1/episodes", json={"patient_ref": "ehr-1", "clinician_ref": "s"})
        after_from = _local_address(after)
        events = client.get("/v1/audit-events", params={"limit": 500}).json()["items"]
    logged = capsys.readouterr().err

    assert failed.status_code == 500
    assert failed.headers["content-type"] == PROBLEM
    problem = failed.json()
    assert problem["code"] == "internal_error"
    assert problem["request_id"] == failed.headers["x-request-id"] == "failing-request-1"
    assert failed.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in failed.headers["content-security-policy"]
    assert MARKER not in failed.text
    # the next request went over the same connection, which the failure did not close
    assert after.status_code == 201
    assert after_from == failed_from
    # the audit trail has the failure, as README promises: outcome `error`
    (event,) = [event for event in events if event["request_id"] == "failing-request-1"]
    assert (event["action"], event["outcome"], event["status"]) == ("createEpisode", "error", 500)

    lines = [json.loads(line) for line in logged.splitlines()]  # every line is JSON
    assert any(line["logger"] == "uvicorn.error" for line in lines)  # uvicorn's own, as JSON
    failures = [line for line in lines if "error_type" in line]
    assert len(failures) == 1, failures
    (line,) = failures
    assert line["request_id"] == "failing-request-1"
    assert (line["level"], line["status"], line["route"]) == ("ERROR", 500, "/v1/episodes")
    assert line["error_type"].startswith("sqlalchemy.exc.")
    assert line["error_at"].startswith("app.records.episodes:create_episode:")
    assert MARKER not in logged


def _local_address(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("client_addr")


def test_a_database_error_never_quotes_the_statement_s_parameters(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with pytest.raises(DBAPIError) as raised, engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table WHERE x = :x"), {"x": MARKER})
    finally:
        engine.dispose()
    assert MARKER not in str(raised.value)


# -- The database unavailable: 503 with Retry-After --------------------------------------------


def _every_operation_with_a_key(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every operation that takes a key, path parameters filled in."""
    filled = []
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            if operation.get("security"):
                concrete = path.replace("{instrument_id}", "wai-sr")
                for name in ("episode_id", "administration_id", "key_id", "webhook_id"):
                    concrete = concrete.replace("{" + name + "}", str(uuid.uuid4()))
                filled.append((method, concrete))
    assert len(filled) > 20
    return filled


def _answers_503_everywhere(client: TestClient, app: FastAPI) -> None:
    for method, path in _every_operation_with_a_key(app):
        response = client.request(method, path, json={} if method == "post" else None)
        assert response.status_code == 503, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["retry-after"] == "5"
        assert response.json()["code"] == "database_unavailable"
        assert response.json()["request_id"] == response.headers["x-request-id"]
    ready = client.get("/health/ready")
    assert (ready.status_code, ready.json()["code"]) == (503, "unhealthy")
    assert client.get("/health").status_code == 503
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/v1/instruments").status_code == 200  # needs no database


def _key(url: str) -> str:
    database = Database.from_url(url)
    try:
        created = keys.create_key(
            database, LOCAL_ORGANIZATION_ID, "outage", keys.SCOPES, None, datetime.now(UTC)
        )
    finally:
        database.dispose()
    return str(created["key"])


@pytest.mark.skipif(not postgres_available(), reason="the PostgreSQL 15 server binaries")
def test_a_postgresql_server_that_stops_is_a_503_on_every_route_until_it_is_back() -> None:
    with private_postgres() as server:
        url = Settings(database_url=server.url).database_url
        command.upgrade(alembic_config(url), "head")
        settings = Settings(
            database_url=url,
            instruments_dir=INSTRUMENTS,
            webhook_dispatch=False,
            auth_cache_seconds=0,
            rate_limit_per_minute=0,
        )
        app = create_app(settings)
        auth = {"Authorization": f"Bearer {_key(url)}"}
        with TestClient(app, headers=auth) as client:
            episode = client.post("/v1/episodes", json={"patient_ref": "p", "clinician_ref": "c"})
            assert episode.status_code == 201
            server.stop()
            _answers_503_everywhere(client, app)
            server.start()
            assert client.get(f"/v1/episodes/{episode.json()['id']}").status_code == 200
            assert client.get("/health/ready").status_code == 200


def test_a_sqlite_database_file_that_cannot_be_opened_is_a_503_on_every_route(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    url = f"sqlite:///{folder / 'bordin.db'}"
    command.upgrade(alembic_config(url), "head")
    settings = Settings(
        database_url=url, instruments_dir=INSTRUMENTS, webhook_dispatch=False, auth_cache_seconds=0
    )
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {_key(url)}"}) as client:
        assert client.get("/v1/episodes").status_code == 200
        shutil.move(folder, tmp_path / "elsewhere")  # the file is gone from where it was
        app.state.bordin.database.dispose()  # and no connection kept it open
        _answers_503_everywhere(client, app)


def test_no_free_connection_in_time_is_a_503(
    settings: Settings, database_url: str, api_key: str
) -> None:
    database = Database(make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2))
    app = create_app(settings.model_copy(update={"auth_cache_seconds": 0}), database=database)
    auth = {"Authorization": f"Bearer {api_key}"}
    with TestClient(app, headers=auth) as client, database.engine.connect():  # the one, taken
        response = client.get("/health/ready")
        assert (response.status_code, response.json()["code"]) == (503, "unhealthy")
        response = client.post("/v1/scores", json={})
        assert (response.status_code, response.json()["code"]) == (503, "database_unavailable")
        assert response.headers["retry-after"] == "5"
    database.dispose()


def test_readiness_waits_for_the_migrations_to_reach_the_code_s_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bordin.db'}"
    config = alembic_config(url)
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    command.upgrade(config, previous)
    settings = Settings(database_url=url, instruments_dir=INSTRUMENTS, webhook_dispatch=False)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/health/ready")
        assert (ready.status_code, ready.json()["code"]) == (503, "unhealthy")
        assert head in ready.json()["detail"]
        assert ready.headers["retry-after"] == "5"
        assert client.get("/health/live").status_code == 200
        command.upgrade(config, "head")
        assert client.get("/health/ready").json()["status"] == "ok"
        assert client.get("/health").json()["database"] == "ok"
