"""What the failure tests share: the app served by a real uvicorn on loopback, the process's
logging put back as it was, and a PostgreSQL server of the test's own that it can stop."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from app.platform.logs import QUIET, UVICORN

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


@contextmanager
def served(factory: Callable[[], FastAPI], *, uvicorn_logging: bool = True) -> Iterator[str]:
    """The app of `factory` served by uvicorn in a thread, on a free loopback port, as
    `make run` serves it (uvicorn's own logging configuration first, unless told not to, then
    the factory's); yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        factory,
        factory=True,
        ws="none",
        access_log=False,
        server_header=False,
        log_config=LOGGING_CONFIG if uvicorn_logging else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@contextmanager
def logging_restored() -> Iterator[None]:
    """Put the process's logging back as it was after a test that configures it."""
    root = logging.getLogger()
    names = (*UVICORN, *QUIET)
    saved = {name: logging.getLogger(name) for name in names}
    states = {
        name: (list(lg.handlers), lg.propagate, lg.level, lg.disabled) for name, lg in saved.items()
    }
    root_state = (list(root.handlers), root.level)
    try:
        yield
    finally:
        root.handlers, root.level = root_state[0], root_state[1]
        for name, lg in saved.items():
            lg.handlers, lg.propagate, lg.level, lg.disabled = states[name]


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in a folder of its own, on a port of its own, that the test starts
    and stops (never the shared server)."""

    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(
            POSTGRES_BIN / "pg_ctl", "-D", self.folder / "data", "-o", options,
            "-l", self.folder / "server.log", "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        _as_postgres(
            POSTGRES_BIN / "pg_ctl", "-D", self.folder / "data", "-m", "fast", "-w", "stop"
        )


def postgres_available() -> bool:
    return (POSTGRES_BIN / "initdb").exists() and (POSTGRES_BIN / "pg_ctl").exists()


@contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    """A new cluster (initdb) in a temporary folder, started; stopped and removed at the end.
    The folder is made directly under the system's temporary folder: the postgres user must
    reach it, and pytest's own folders are the current user's alone."""
    folder = Path(tempfile.mkdtemp(prefix="bordin-postgres-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        _as_postgres(
            POSTGRES_BIN / "initdb", "-D", folder / "data", "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        server = PostgresServer(folder, free_port())
        server.start()
        try:
            yield server
        finally:
            if (folder / "data" / "postmaster.pid").exists():
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_postgres(*command: object) -> None:
    """Run a PostgreSQL program; as the postgres user when we are root (initdb refuses root)."""
    arguments = [str(part) for part in command]
    if os.geteuid() == 0:
        arguments = ["runuser", "-u", "postgres", "--", *arguments]
    done = subprocess.run(arguments, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{arguments} failed: {done.stdout}{done.stderr}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
