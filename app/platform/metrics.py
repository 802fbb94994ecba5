"""Prometheus metrics of every process of a server, served on a port of their own.

`bordin serve` gives its workers a folder (PROMETHEUS_MULTIPROC_DIR, prometheus-client's
multiprocess mode): each worker writes its samples there (`Metrics`), and one listener in
the serving process, on METRICS_HOST:METRICS_PORT, adds them up at each scrape
(`start_listener`), with what only the database knows, read at the scrape (the webhook
outbox). The listener is not on the API's port: the API never serves /metrics, so that what
it says of the load is given to whoever can reach that port only.

- `bordin_http_request_duration_seconds{method,route,status}`: a histogram per route
  template (never a path with its ids) and status; its `_count` is the number of requests.
- `bordin_database_connections_checked_out`, `bordin_database_pool_capacity`: connections
  in use, and what the pools may open (pool size and overflow), over the live workers.
- `bordin_alerts_opened_total`: alerts opened, counted when their transaction commits.
- `bordin_webhook_outbox_pending`, `_failed`, `_lag_seconds`: events waiting, events given
  up, and how late the event due soonest is.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.platform import store_webhooks
from app.platform.db import Database
from app.platform.tables import AlertRecord

# Seconds: from a millisecond (stateless scoring) to a slow batch.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The samples one process writes: requests, its database pool, alerts opened."""

    def __init__(self) -> None:
        # A registry of its own: an app made twice in one process (tests) registers twice.
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "bordin_http_request_duration_seconds",
            "Requests by method, route template and status, and how long they took.",
            ("method", "route", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.checked_out = Gauge(
            "bordin_database_connections_checked_out",
            "Database connections in use by requests and workers.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.capacity = Gauge(
            "bordin_database_pool_capacity",
            "Database connections the pools may open: pool size and overflow, per process.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.alerts_opened = Counter(
            "bordin_alerts_opened_total",
            "Alerts opened (counted when the transaction that opens them commits).",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).observe(seconds)

    def watch(self, database: Database) -> None:
        """Follow `database`'s pool (checkouts and checkins) and the alerts its sessions
        insert."""
        pool: Any = database.engine.pool
        size = getattr(pool, "size", lambda: 1)()
        overflow = max(getattr(pool, "_max_overflow", 0), 0)
        self.capacity.set(size + overflow)
        event.listen(database.engine, "checkout", lambda *_: self.checked_out.inc())
        event.listen(database.engine, "checkin", lambda *_: self.checked_out.dec())
        sessions = database.session_factory
        event.listen(sessions, "after_flush", _count_new_alerts)
        event.listen(sessions, "after_commit", self._count_committed_alerts)
        event.listen(sessions, "after_rollback", _forget_alerts)

    def _count_committed_alerts(self, session: Session) -> None:
        opened = session.info.pop(_OPENED, 0)
        if opened:
            self.alerts_opened.inc(opened)


_OPENED = "bordin_alerts_opened"


def _count_new_alerts(session: Session, _context: Any) -> None:
    # After a flush, `session.new` still lists what the flush inserted.
    opened = sum(1 for row in session.new if isinstance(row, AlertRecord))
    if opened:
        session.info[_OPENED] = session.info.get(_OPENED, 0) + opened


def _forget_alerts(session: Session) -> None:
    session.info.pop(_OPENED, None)


class OutboxCollector(Collector):
    """The webhook outbox, read from the database at each scrape (one indexed query)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        with self.database.session() as session:
            pending, failed, oldest = store_webhooks.outbox_figures(session)
        lag = 0.0
        if oldest is not None:
            lag = max((datetime.now(UTC) - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "bordin_webhook_outbox_pending", "Webhook events waiting for delivery.", pending
        )
        yield GaugeMetricFamily(
            "bordin_webhook_outbox_failed", "Webhook events given up after every attempt.", failed
        )
        yield GaugeMetricFamily(
            "bordin_webhook_outbox_lag_seconds",
            "How long the pending event due soonest has been due (0: none is late).",
            lag,
        )


class LiveWorkersCollector(Collector):
    """Every worker's samples from the folder, once the gauges of workers that have died
    (a server restarts a worker that crashes) are dropped: their connections are gone."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._workers = MultiProcessCollector(None, str(folder))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterator[Metric]:
        for path in glob.glob(str(self.folder / "gauge_live*_*.db")):
            pid = int(Path(path).stem.rsplit("_", 1)[1])
            if not _alive(pid):
                mark_process_dead(pid, str(self.folder))  # type: ignore[no-untyped-call]
        metrics: Iterator[Metric] = self._workers.collect()  # type: ignore[no-untyped-call]
        return metrics


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_listener(host: str, port: int, folder: Path, database: Database) -> None:
    """Serve /metrics on `host`:`port` from a thread of this process: the samples every
    worker wrote to `folder`, and the outbox read from `database`."""
    registry = CollectorRegistry()
    registry.register(LiveWorkersCollector(folder))
    registry.register(OutboxCollector(database))
    start_http_server(port, addr=host, registry=registry)
