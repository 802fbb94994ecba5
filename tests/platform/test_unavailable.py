"""Which database errors mean "unavailable, retry later" (503) and which are bugs (500)."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.platform.db import is_unavailable


def _wrapped(error: Exception, *, invalidated: bool = False) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it."""
    return OperationalError("SELECT 1", {}, error, connection_invalidated=invalidated)


def _sqlite_error(script: str) -> sqlite3.Error:
    """The error SQLite itself raises for the script's last statement."""
    connection = sqlite3.connect(":memory:")
    try:
        with pytest.raises(sqlite3.Error) as raised:
            connection.executescript(script)
    finally:
        connection.close()
    return raised.value


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection refused"),  # no SQLSTATE: never reached the server
        psycopg.errors.AdminShutdown(),  # 57P01: the server is stopping
        psycopg.errors.CannotConnectNow(),  # 57P03: starting up
        psycopg.errors.TooManyConnections(),  # 53300
        psycopg.errors.DiskFull(),  # 53100
    ],
)
def test_a_postgresql_server_that_cannot_serve_now_is_unavailable(error: Exception) -> None:
    assert is_unavailable(_wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.DeadlockDetected(),  # 40P01: contention, to look at
        psycopg.errors.SerializationFailure(),  # 40001
        psycopg.errors.QueryCanceled(),  # 57014: a statement too slow
        psycopg.errors.UniqueViolation(),  # an IntegrityError
        psycopg.errors.UndefinedTable(),  # a bad statement or a missing migration
    ],
)
def test_other_postgresql_errors_are_bugs(error: Exception) -> None:
    assert not is_unavailable(_wrapped(error))


def test_a_lost_connection_a_pool_timeout_and_an_unopenable_file_are_unavailable() -> None:
    assert is_unavailable(_wrapped(psycopg.InterfaceError("closed"), invalidated=True))
    assert is_unavailable(PoolTimeoutError("QueuePool limit reached"))
    with pytest.raises(sqlite3.OperationalError) as cannot_open:
        sqlite3.connect("/nonexistent-folder/bordin.db")
    assert is_unavailable(OperationalError("connect", {}, cannot_open.value))


def test_a_bad_sqlite_statement_or_a_broken_constraint_is_a_bug() -> None:
    no_table = _sqlite_error("SELECT * FROM nothing")
    assert isinstance(no_table, sqlite3.OperationalError)
    assert not is_unavailable(OperationalError("SELECT", {}, no_table))
    check = _sqlite_error("CREATE TABLE t (x CHECK (x > 0)); INSERT INTO t VALUES (0);")
    assert isinstance(check, sqlite3.IntegrityError)
    assert not is_unavailable(IntegrityError("INSERT", {}, check))
    assert not is_unavailable(ValueError("not a database error"))
