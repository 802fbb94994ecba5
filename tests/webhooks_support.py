"""What the webhook tests share: a real HTTP receiver on loopback, an organisation of their
own, host names resolved without DNS, and the recording of a V-shaped bond rupture and its
repair."""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, update

from app.access.keys import create_organization
from app.alerts.egress import EgressPolicy, system_resolve
from app.platform.db import Database
from app.platform.tables import WebhookEndpoint, WebhookEvent

# Names the tests resolve themselves (the machine running them may have no DNS): a public
# address (example.org's), private ones, a mix, and none.
TEST_HOSTS: dict[str, list[str]] = {
    "ehr.example.org": ["93.184.215.14"],
    "internal.example.org": ["10.20.30.40"],
    "mixed.example.org": ["93.184.215.14", "192.168.1.20"],
    "mapped.example.org": ["::ffff:127.0.0.1"],
    "nowhere.example.org": [],
    # TLS receivers on loopback, under names only these tests resolve (RFC 6761 .test)
    "receiver.test": ["127.0.0.1"],
    "impostor.test": ["127.0.0.1"],
}
BOND_ITEMS = ("3", "5", "7", "9")


def resolve_test_hosts(host: str, port: int) -> list[str]:
    """`TEST_HOSTS`, else the system's answer (loopback names and IP addresses)."""
    if host in TEST_HOSTS:
        return TEST_HOSTS[host]
    return system_resolve(host, port)


# What the delivery tests' dispatchers may reach: the receivers on loopback.
LOOPBACK_ALLOWED = EgressPolicy(allow_private_networks=True, resolve=resolve_test_hosts)
# Bond sums of a V-shaped dip at session 4, repaired at session 6 (see
# tests/cases/ruptures/v-shaped-bond-rupture.yaml).
RUPTURE = ((1, 16), (2, 17), (3, 16), (4, 10))
REPAIR = ((5, 13), (6, 17))


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 (a port of its own) that keeps every request it gets and
    answers with the next status of `statuses`, then 204. With `tls`, an HTTPS server that
    also keeps the server names (SNI) its clients asked for."""

    def __init__(
        self, statuses: list[int] | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.statuses = list(statuses or [])
        self.received: list[Received] = []
        self.server_names: list[str | None] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            {key.lower(): value for key, value in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/alerts"
        if tls is not None:

            def keep_server_name(_: object, name: str | None, __: object) -> None:
                self.server_names.append(name)

            tls.sni_callback = keep_server_name
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The requests received once there are at least `count` (or fail after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"received {len(self.received)} request(s), expected {count}")

    def ids(self) -> list[str]:
        with self._lock:
            return [request.headers["webhook-id"] for request in self.received]


@dataclass(frozen=True)
class Organisation:
    id: uuid.UUID
    admin_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}


def new_organisation(engine: Engine) -> Iterator[Organisation]:
    """An organisation of the test's own (so that no other test's writes alert its webhooks);
    its endpoints are disabled and its undelivered events cancelled at the end, so that no
    later dispatcher delivers them to a port another receiver may have by then."""
    organization_id, key = create_organization(Database(engine), "webhook tests", datetime.now(UTC))
    yield Organisation(organization_id, key)
    with engine.begin() as connection:
        connection.execute(
            update(WebhookEvent)
            .where(
                WebhookEvent.organization_id == organization_id, WebhookEvent.status == "pending"
            )
            .values(status="cancelled")
        )
        connection.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == organization_id)
            .values(enabled=False)
        )


def tls_receiver_context(directory: Path, name: str) -> tuple[ssl.SSLContext, Path]:
    """A server context whose self-signed certificate is for `name`, and that certificate's
    file (for the client to trust)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file = directory / f"{name}.pem"
    key_file = directory / f"{name}.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_file, key_file)
    return context, certificate_file


def wai_sr(bond: int) -> dict[str, int]:
    """WAI-SR answers with this bond sum (the other items at 4)."""
    answers = dict.fromkeys((str(item) for item in range(1, 13)), 4)
    base, extra = divmod(bond - 4, 4)
    for position, item in enumerate(BOND_ITEMS):
        answers[item] = 1 + base + (position < extra)
    return answers


def administration(session: int, bond: int) -> dict[str, Any]:
    return {
        "instrument": "wai-sr",
        "rater": "client",
        "session": session,
        "administered_at": f"2026-03-{session:02d}T10:00:00+01:00",
        "responses": wai_sr(bond),
    }


def is_bond_v_drop(payload: Any) -> bool:
    flag = payload["data"]["flag"]
    return bool(flag["rule"] == "v_drop" and flag["scale"] == "bond")
