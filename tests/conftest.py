"""Test fixtures: a real database built by the real migrations, and the app under test.

The suite runs on SQLite by default. With TEST_DATABASE_URL naming a PostgreSQL server
(e.g. postgresql://postgres@127.0.0.1:5432/postgres), it creates a database of its own on that
server, migrates it, and drops it at the end; it never touches a database it did not create.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.access import keys
from app.catalogue.guidance import load_catalogue
from app.instruments.registry import InstrumentRegistry, load_registry
from app.languages.catalogues import Catalogues
from app.main import create_app, load_languages
from app.platform.db import Database, make_engine
from app.platform.settings import PROJECT_ROOT, Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID
from tests.webhooks_support import Organisation, new_organisation, resolve_test_hosts

hypothesis_settings.register_profile("bordin", deadline=None, derandomize=True)
hypothesis_settings.load_profile("bordin")

INSTRUMENTS = PROJECT_ROOT / "instruments"


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new database on the server of `server_url`, dropped on exit."""
    server = make_url(Settings(database_url=server_url).database_url)
    name = f"bordin_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test run."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    with ExitStack() as stack:
        if server_url:
            url = stack.enter_context(postgres_database(server_url))
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'bordin.db'}"
        command.upgrade(alembic_config(url), "head")
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            yield session
        transaction.rollback()


@pytest.fixture(scope="session")
def registry() -> InstrumentRegistry:
    return load_registry(INSTRUMENTS)


@pytest.fixture(scope="session")
def languages(registry: InstrumentRegistry) -> Catalogues:
    """The language catalogues the service ships, checked against these instruments."""
    return shipped_languages(registry)


def shipped_languages(registry: InstrumentRegistry) -> Catalogues:
    settings = Settings()
    return load_languages(settings, registry, load_catalogue(settings.guidance_file))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The app's settings in tests: no background webhook dispatcher (the webhook tests start
    their own, against a receiver of their own), and webhooks may reach loopback (where those
    receivers listen; tests/alerts/test_webhooks_api.py shows the refusals with this off)."""
    return Settings(
        database_url=database_url,
        instruments_dir=INSTRUMENTS,
        webhook_dispatch=False,
        webhook_allow_private_networks=True,
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, resolve=resolve_test_hosts)


@pytest.fixture(scope="session")
def api_key(engine: Engine) -> str:
    """A key of the local organisation with every scope."""
    created = keys.create_key(
        Database(engine), LOCAL_ORGANIZATION_ID, "tests", keys.SCOPES, None, datetime.now(UTC)
    )
    return str(created["key"])


@pytest.fixture
def client(app: FastAPI, api_key: str) -> Iterator[TestClient]:
    """A client of the local organisation holding every scope."""
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client


@pytest.fixture
def organisation(engine: Engine) -> Iterator[Organisation]:
    """An organisation of the test's own and its admin key (webhook tests)."""
    yield from new_organisation(engine)
