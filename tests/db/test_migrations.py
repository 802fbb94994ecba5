"""Migrations: the models match the migrated schema, and every migration goes down and up."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from tests.conftest import alembic_config


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    # `alembic check` raises when autogenerate would emit any operation.
    command.check(alembic_config(database_url))


def test_migrations_go_down_to_nothing_and_back_up(database_url: str, engine: Engine) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert "instrument_definition" in inspect(engine).get_table_names()
    command.check(config)
