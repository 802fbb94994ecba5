"""Delivering the webhook outbox: claim an event due, POST it signed, log the attempt, and
retry with exponential back-off; in a background thread of the app or in a worker process.

Delivery is at least once. A dispatcher claims an event with a lease (`locked_until`) in a
short transaction of its own, delivers it with no transaction open, then records the
outcome if it still holds the lease. If the process dies in between, the lease expires and
another dispatcher delivers the event again, with the same `webhook-id`: receivers dedupe
by it. Several processes on one PostgreSQL drain the outbox together without delivering an
event twice otherwise: claims skip the rows another dispatcher has locked.

Each attempt resolves and checks the URL's host again (`app.alerts.egress`) and connects to the
address it checked. Whatever goes wrong with one attempt (a URL that became invalid, a host
that now resolves to a refused address, any exception) fails that attempt with a coarse
reason, which then follows the retry policy: it never stops the dispatcher, and an event
never stays pending for ever. The reasons say no more than a tenant admin may know (no
connection error details that would map internal hosts or ports):
`invalid_url`, `refused_address`, `timeout`, `connect_error`, `transport_error`,
`http_<status>` and `internal_error`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from app.alerts import webhooks
from app.alerts.egress import EgressPolicy, RefusedUrlError
from app.platform import store_webhooks
from app.platform.db import Database
from app.platform.settings import Settings
from app.platform.tables import WebhookDelivery

logger = logging.getLogger("bordin.webhooks")
USER_AGENT = "Bordin-Webhooks/0.1"
# How long a claim outlives the delivery's timeout before the event is due again.
LEASE_MARGIN = timedelta(seconds=60)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (from 1) that fails is retried after `base` x 2^(n-1), until `max_attempts`
    attempts have failed; the event is then `failed`."""

    base: timedelta
    max_attempts: int

    def delay(self, attempt: int) -> timedelta:
        factor: int = 2 ** (attempt - 1)
        return self.base * factor


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the receiver's status code, or an error that reached none."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Dispatcher:
    """Delivers due events from the outbox of every organisation, one claim at a time."""

    def __init__(
        self,
        database: Database,
        *,
        timeout_seconds: float,
        retry: RetryPolicy,
        egress: EgressPolicy,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.database = database
        self.retry = retry
        self.egress = egress
        self.now = now
        self.lease = timedelta(seconds=timeout_seconds) + LEASE_MARGIN
        # Redirects are not followed: the registered URL is the one that gets the alert. No
        # proxy from the environment (the connection goes to the address checked), no
        # connection kept between deliveries (one checked for another host name could be
        # reused); certificate authorities from SSL_CERT_FILE / SSL_CERT_DIR still apply.
        self.http = httpx.Client(
            timeout=timeout_seconds,
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
            trust_env=False,
            verify=httpx.create_ssl_context(trust_env=True),
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    @classmethod
    def from_settings(
        cls, database: Database, settings: Settings, egress: EgressPolicy | None = None
    ) -> Dispatcher:
        return cls(
            database,
            timeout_seconds=settings.webhook_timeout_seconds,
            retry=RetryPolicy(
                timedelta(seconds=settings.webhook_retry_base_seconds),
                settings.webhook_max_attempts,
            ),
            egress=egress or EgressPolicy(settings.webhook_allow_private_networks),
        )

    def deliver_due(self, stop: Callable[[], bool] = lambda: False) -> int:
        """Deliver events until none is due (or `stop()`); returns how many were attempted."""
        attempted = 0
        while not stop() and self.deliver_one():
            attempted += 1
        return attempted

    def deliver_one(self) -> bool:
        """Claim the event due soonest and attempt it; False if none is due."""
        token = uuid.uuid4()
        with self.database.session() as session:
            now = self.now()
            event = store_webhooks.claim_webhook_event(session, now, now + self.lease, token)
            if event is None:
                session.commit()
                return False
            endpoint = store_webhooks.get_webhook_by_id(session, event.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                store_webhooks.settle_webhook_event(
                    session, event.id, token, {"status": "cancelled"}
                )
                session.commit()
                return True
            session.commit()
            event_id, attempt = str(event.id), event.attempts + 1
            payload, url, secret = event.payload, endpoint.url, endpoint.secret
        started = time.perf_counter()
        try:
            outcome = self._post(url, secret, event_id, payload, started)
        except Exception as error:
            # A bug must not stop the dispatcher nor leave the event pending for ever: the
            # attempt fails (and is retried, then given up) like any other.
            logger.exception(
                "webhook attempt raised %s", type(error).__name__, extra={"event_id": event_id}
            )
            outcome = Outcome(None, "internal_error", _since(started))
        self._settle(event.id, event.organization_id, endpoint.id, attempt, token, outcome)
        return True

    def _post(
        self, url: str, secret: str, event_id: str, payload: object, started: float
    ) -> Outcome:
        try:
            destination = self.egress.destination(url)
        except RefusedUrlError as refused:
            return Outcome(None, refused.reason, _since(started))
        body = orjson.dumps(payload)
        timestamp = int(time.time())
        headers = {
            **webhooks.signed_headers(secret, event_id, timestamp, body),
            **destination.headers,
        }
        try:
            # Streamed, and closed unread: nothing the receiver sends back is kept.
            with self.http.stream(
                "POST",
                destination.url,
                content=body,
                headers=headers,
                extensions=destination.extensions,
            ) as response:
                code = response.status_code
        except httpx.TimeoutException:
            return Outcome(None, "timeout", _since(started))
        except httpx.ConnectError:
            return Outcome(None, "connect_error", _since(started))
        except httpx.TransportError:
            return Outcome(None, "transport_error", _since(started))
        error = None if 200 <= code < 300 else f"http_{code}"
        return Outcome(code, error, _since(started))

    def _settle(
        self,
        event_id: uuid.UUID,
        organization_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        attempt: int,
        token: uuid.UUID,
        outcome: Outcome,
    ) -> None:
        """Mark the event delivered, due again later, or failed, and log the attempt (unless
        the event was erased with its episode meanwhile)."""
        with self.database.session() as session:
            now = self.now()
            values: dict[str, object] = {"attempts": attempt, "last_error": outcome.error}
            if outcome.delivered:
                values.update(status="delivered", delivered_at=now)
            elif attempt >= self.retry.max_attempts:
                values.update(status="failed")
            else:
                values.update(next_attempt_at=now + self.retry.delay(attempt))
            held = store_webhooks.settle_webhook_event(session, event_id, token, values)
            if held or store_webhooks.webhook_event_exists(session, event_id):
                session.add(
                    WebhookDelivery(
                        id=uuid.uuid4(),
                        organization_id=organization_id,
                        event_id=event_id,
                        endpoint_id=endpoint_id,
                        attempt=attempt,
                        attempted_at=now,
                        status_code=outcome.status_code,
                        error=outcome.error,
                        duration_ms=outcome.duration_ms,
                    )
                )
            session.commit()
        logger.info(
            "webhook delivered" if outcome.delivered else "webhook attempt failed",
            extra={
                "event_id": str(event_id),
                "endpoint_id": str(endpoint_id),
                "attempt": attempt,
                "status": outcome.status_code,
                "lease_held": held,
            },
        )

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        """Deliver what is due every `poll_seconds` until `stop` is set. A failure (the
        database away for a moment) is logged, and tried again at the next poll."""
        while not stop.is_set():
            try:
                self.deliver_due(stop.is_set)
            except Exception:
                logger.exception("webhook dispatch failed; retrying")
            stop.wait(poll_seconds)

    def close(self) -> None:
        self.http.close()


class BackgroundDispatcher:
    """A dispatcher in a daemon thread of the app: it looks for due events every
    `poll_seconds`, off the request path, and stops (finishing the delivery under way) when
    the app shuts down."""

    def __init__(self, dispatcher: Dispatcher, poll_seconds: float) -> None:
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=dispatcher.run,
            args=(self._stop, poll_seconds),
            name="bordin-webhooks",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self.dispatcher.close()


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
