"""CPU time spent per request, read from /proc (Linux): by a server's processes (uvicorn and
its workers) and by PostgreSQL's (every process named `postgres`: during a round, only the
load under measure uses the database).

Throughput on this 2-core machine swings with whatever else runs on it; CPU time per request
swings much less, and says where a request's cost goes. A figure is a ratio of the two
servers' CPU per request, measured in the same rounds as their throughput."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in these
T = TypeVar("T")


@dataclass(frozen=True)
class Process:
    pid: int
    parent: int
    name: str
    seconds: float  # user + system CPU time so far, its ended children's included


def processes() -> list[Process]:
    """Every process this user can read, with its CPU time so far."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended since the listing
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # After the name: state, ppid, ...; utime and stime are fields 14 and 15 of the line,
        # cutime and cstime (its children that ended: a database connection closed, say) 16
        # and 17.
        seconds = sum(int(value) for value in fields[11:15]) / TICKS
        found.append(Process(int(entry.name), int(fields[1]), name, seconds))
    return found


def tree_seconds(root: int, table: list[Process]) -> float:
    """CPU seconds of `root` and every process below it."""
    children: dict[int, list[Process]] = {}
    for process in table:
        children.setdefault(process.parent, []).append(process)
    total = 0.0
    stack = [process for process in table if process.pid == root]
    while stack:
        process = stack.pop()
        total += process.seconds
        stack.extend(children.get(process.pid, []))
    return total


def postgres_seconds(table: list[Process]) -> float:
    return sum(process.seconds for process in table if process.name == "postgres")


@dataclass
class CpuCost:
    """CPU milliseconds per request of one server, summed over the rounds measured."""

    requests: int = 0
    server_seconds: float = 0.0
    postgres_seconds: float = 0.0

    @property
    def server_ms(self) -> float:
        return self.server_seconds * 1000 / self.requests if self.requests else 0.0

    @property
    def postgres_ms(self) -> float:
        return self.postgres_seconds * 1000 / self.requests if self.requests else 0.0

    @property
    def total_ms(self) -> float:
        return self.server_ms + self.postgres_ms

    def add(self, server: int, run: Callable[[], T], requests: Callable[[T], int]) -> T:
        """`run()`, with the CPU time of `server`'s processes and PostgreSQL's while it ran
        added to this cost (`requests` tells how many requests it served)."""
        before = processes()
        result = run()
        after = processes()
        served = requests(result)
        server_seconds = tree_seconds(server, after) - tree_seconds(server, before)
        database_seconds = postgres_seconds(after) - postgres_seconds(before)
        self.requests += served
        self.server_seconds += server_seconds
        self.postgres_seconds += database_seconds
        return result
