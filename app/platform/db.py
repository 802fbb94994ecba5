"""Database engine and session plumbing (SQLite by default, PostgreSQL in production), and
what the service needs to know of the database's health: whether an error means that the
database is unavailable, and which migrations it is at."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **options: Any) -> Engine:
    """An engine with the settings each backend needs to behave like the other.

    `hide_parameters`: an error's text never carries the statement's parameters (patient
    references, answers, a key's hash), wherever it ends up. JSON columns go through orjson
    (a long episode's results are decoded several times faster than by the json module).
    """
    options = {"json_serializer": _json_text, "json_deserializer": orjson.loads, **options}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, hide_parameters=True, connect_args={"check_same_thread": False}, **options
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, **options)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # SQLite does not enforce foreign keys unless asked, and WAL lets readers run beside a writer.
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    # SQLAlchemy, not the driver, begins transactions (the SQLAlchemy docs' pysqlite recipe).
    connection.isolation_level = None


def _sqlite_begin_immediate(connection: Connection) -> None:
    # Take the write lock when a transaction begins: two requests recording at once then
    # wait for each other (busy_timeout) instead of failing on a stale snapshot, and the
    # second one sees what the first committed (its idempotency key, its session).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and its session factory. A use case opens one session and commits once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def revisions(self) -> frozenset[str]:
        """The migration revisions the database is at (none if it was never migrated).
        Raises if the database does not answer."""
        with self.engine.connect() as connection:
            return frozenset(MigrationContext.configure(connection).get_current_heads())

    def dispose(self) -> None:
        self.engine.dispose()


def migration_heads(script_location: Path) -> frozenset[str]:
    """The revisions that the code's migrations end at: where a ready database is."""
    return frozenset(ScriptDirectory(str(script_location)).get_heads())


# PostgreSQL's SQLSTATEs of a server that cannot be reached or cannot serve now (connection
# exceptions, insufficient resources, shutting down or starting up, system errors). Other
# operational errors (a deadlock, a serialization failure, a cancelled statement) are not an
# outage: they stay 500s, to be looked at.
_POSTGRES_UNAVAILABLE = ("08", "53", "57P01", "57P02", "57P03", "58")
# SQLite's primary result codes of a database that cannot be opened or used now: busy,
# locked, out of memory, read-only, I/O error, disk full, cannot open, lock protocol.
# Not a corrupt file or a bad statement: those are bugs or damage, not waiting matter.
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database is unavailable (worth retrying later), not a bug:
    no connection left in the pool in time, a connection refused or lost, a server shutting
    down, a database file that cannot be opened or is locked."""
    if isinstance(error, PoolTimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    driver_error = error.orig
    if isinstance(driver_error, psycopg.OperationalError):
        state = driver_error.sqlstate
        return state is None or state.startswith(_POSTGRES_UNAVAILABLE)
    if isinstance(driver_error, sqlite3.OperationalError):
        return getattr(driver_error, "sqlite_errorcode", 0) & 0xFF in _SQLITE_UNAVAILABLE
    return False
