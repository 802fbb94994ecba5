"""OpenTelemetry tracing, only when an OTLP endpoint is configured: a span per request, named
by its route template, sent over OTLP/HTTP. The standard OTEL_* variables configure the rest
(service name, headers, sampling); the packages are the optional `otel` extra. Spans carry
no query string (it holds `patient_ref`), as the request log does not."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.platform.settings import Settings

# The attributes an HTTP server span may carry the query string in (old and new conventions).
_URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.query")


def traces_endpoint(settings: Settings) -> str | None:
    """Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else the OTLP endpoint's
    /v1/traces (as the OTLP exporter specification says); None when neither is set."""
    if settings.otel_exporter_otlp_traces_endpoint:
        return settings.otel_exporter_otlp_traces_endpoint
    if settings.otel_exporter_otlp_endpoint:
        return settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    return None


def instrument(app: FastAPI, endpoint: str) -> Any:
    """Trace `app`'s requests to `endpoint`; returns the tracer provider (shut down with the
    app, which sends what is left). Fails at start-up when the `otel` extra is missing."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:  # configured, but not installed: say so at start-up
        raise RuntimeError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, but OpenTelemetry is not installed:"
            " install the `otel` extra (pip install 'bordin[otel]')"
        ) from error
    provider = TracerProvider()  # resource and sampler from the OTEL_* variables
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        server_request_hook=_without_query,
        excluded_urls="/health",
        exclude_spans=["receive", "send"],
    )
    return provider


def _without_query(span: Any, scope: dict[str, Any]) -> None:
    """Replace the URL attributes the instrumentation took from the request by the path
    alone (ids of records, never the query string's `patient_ref`)."""
    attributes = getattr(span, "attributes", None) or {}
    path = scope.get("path", "")
    for name in _URL_ATTRIBUTES:
        if name in attributes:
            value = attributes[name]
            kept = str(value).split("?", 1)[0] if name != "url.query" else ""
            span.set_attribute(name, kept if name != "http.target" else path)
