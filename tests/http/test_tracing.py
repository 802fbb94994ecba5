"""OpenTelemetry tracing when an OTLP endpoint is configured: spans reach a receiver of the
test's own, named by route template, without the query string's patient reference; none
are made, and nothing of OpenTelemetry is loaded, without one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi.testclient import TestClient

from app.main import create_app
from app.platform.settings import Settings

PATIENT = "PATIENT-OTEL-SECRET-42"


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """An OTLP/HTTP endpoint that keeps what it is sent (path, protobuf body)."""
    received: list[tuple[str, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            received.append((self.path, self.rfile.read(length)))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_requests_become_spans_named_by_route_without_the_query_string(
    settings: Settings, api_key: str
) -> None:
    with otlp_receiver() as (endpoint, received):
        app = create_app(settings.model_copy(update={"otel_exporter_otlp_endpoint": endpoint}))
        with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
            listed = client.get("/v1/episodes", params={"patient_ref": PATIENT})
            assert listed.status_code == 200
            assert client.get("/health/live").status_code == 200
        # Leaving the client ends the app: its provider sends what is batched.
    assert [path for path, _ in received] == ["/v1/traces"] * len(received)
    sent = b"".join(body for _, body in received)
    assert b"GET /v1/episodes" in sent
    assert PATIENT.encode() not in sent
    assert b"patient_ref" not in sent
    assert b"/health/live" not in sent  # probes are not traced


def traced(settings: Settings) -> bool:
    """Whether the instrumentation wrapped the app (it marks the apps it wraps)."""
    return bool(getattr(create_app(settings), "_is_instrumented_by_opentelemetry", False))


def test_without_an_endpoint_no_span_is_made(settings: Settings) -> None:
    assert settings.otel_exporter_otlp_endpoint is None
    configured = settings.model_copy(update={"otel_exporter_otlp_endpoint": "http://127.0.0.1:9"})
    assert traced(configured)
    assert not traced(settings)
