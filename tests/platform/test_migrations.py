"""Migrations: the models match the migrated schema, and every migration goes down and up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect

from app.platform.db import make_engine
from tests.conftest import alembic_config, postgres_database


@pytest.fixture
def own_database_url(tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own (on the PostgreSQL server of the run, if any):
    going down to nothing must not take the other tests' keys and records with it."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        with postgres_database(server_url) as url:
            command.upgrade(alembic_config(url), "head")
            yield url
    else:
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
        command.upgrade(alembic_config(url), "head")
        yield url


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    # `alembic check` raises when autogenerate would emit any operation.
    command.check(alembic_config(database_url))


def test_migrations_go_down_to_nothing_and_back_up(own_database_url: str) -> None:
    config = alembic_config(own_database_url)
    engine: Engine = make_engine(own_database_url)
    try:
        command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")
        assert "instrument_definition" in inspect(engine).get_table_names()
        command.check(config)
    finally:
        engine.dispose()
