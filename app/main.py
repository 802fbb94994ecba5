"""Builds the FastAPI application: `create_app(settings)`; nothing happens at import time."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.exc import DBAPIError

from app.access import schemas as access_schemas
from app.access.guard import check_declared, document_access, public
from app.access.keys import AuthenticationCache
from app.access.limits import rate_limits
from app.access.routes import audit_router
from app.access.routes import router as key_router
from app.access.tokens import TokenVerifier
from app.alerts import schemas as alerts_schemas
from app.alerts.dispatch import BackgroundDispatcher, Dispatcher
from app.alerts.egress import EgressPolicy, Resolve, system_resolve
from app.alerts.routes import alert_router
from app.alerts.routes import router as webhook_router
from app.alerts.routes import webhook_events as webhook_alerts
from app.alerts.schemas import AlertEvent, RuptureAlert
from app.catalogue import schemas as catalogue_schemas
from app.catalogue.definitions import register_definitions
from app.catalogue.guidance import DOMAIN as GUIDANCE
from app.catalogue.guidance import Catalogue, Guidance, load_catalogue
from app.catalogue.routes import router as catalogue_router
from app.console import schemas as console_schemas
from app.console.routes import console_refused
from app.console.routes import pages as console_pages
from app.console.routes import router as console_router
from app.fhir import schemas as fhir_schemas
from app.fhir.routes import FHIR_BODY_MODELS
from app.fhir.routes import router as fhir_router
from app.forms import schemas as forms_schemas
from app.forms.routes import pages as form_pages
from app.forms.routes import router as invitation_router
from app.forms.routes import settings_router as form_settings_router
from app.health import schemas as health_schemas
from app.health.routes import router as health_router
from app.http import schemas as http_schemas
from app.http.body import add_body_schemas
from app.http.context import RequestContext, database_auditor
from app.http.docs import add_docs
from app.http.document import declare_headers, keep_examples
from app.http.limits import BodySizeLimit
from app.http.pages import STATIC_PATH, static_files
from app.http.problems import PROBLEMS, declare_failures, install_problem_handlers
from app.http.state import AppState
from app.http.tracing import instrument, traces_endpoint
from app.instruments import texts
from app.instruments.registry import InstrumentRegistry, load_registry
from app.languages.catalogues import Catalogues, load_catalogues
from app.platform.db import Database, migration_heads
from app.platform.errors import (
    ConsoleForbiddenError,
    ConsoleSignInRequiredError,
    problem_types,
)
from app.platform.logs import configure_logging
from app.platform.settings import PROJECT_ROOT, Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID
from app.records import schemas as records_schemas
from app.records.context import Records
from app.records.routes import router as episode_router
from app.scoring import schemas as scoring_schemas
from app.scoring.routes import BODY_MODELS
from app.scoring.routes import router as scoring_router

if TYPE_CHECKING:  # imported only where they are configured (REDIS_URL, METRICS_PORT)
    from app.platform.metrics import Metrics
    from app.platform.shared import SharedState

logger = logging.getLogger("bordin.languages")
MIGRATIONS = PROJECT_ROOT / "migrations"
# The licence the OpenAPI document declares (SPDX).
LICENSE = {"name": "Apache 2.0", "identifier": "Apache-2.0"}
OPENAPI_URL = "/openapi.json"
# The wire schemas of every part, as the OpenAPI document names them.
WIRE_SCHEMAS = (
    http_schemas,
    scoring_schemas,
    catalogue_schemas,
    health_schemas,
    records_schemas,
    access_schemas,
    fhir_schemas,
    alerts_schemas,
    forms_schemas,
    console_schemas,
)
DESCRIPTION = """\
Scores therapeutic alliance questionnaires (WAI and its short forms, SRS, HAq-II, ...) with
their published keys, and watches the alliance for ruptures with declared, cited rules.
Every error is an RFC 9457 problem (`application/problem+json`).
"""


def create_app(
    settings: Settings, database: Database | None = None, *, resolve: Resolve | None = None
) -> FastAPI:
    """Load and check every instrument, the guidance catalogue and the language catalogues
    (fail fast, naming file and field), then build the app.

    `database` lets tests hand in an engine they own; by default one is made from the URL.
    `resolve` lets tests resolve webhook host names of their own; by default the system does.
    """
    registry = load_registry(settings.instruments_dir)
    catalogue = load_catalogue(settings.guidance_file)
    languages = load_languages(settings, registry, catalogue)
    database = database or Database.from_settings(settings)
    shared = shared_state(settings)
    # Every record belongs to the local organisation until API keys name one.
    records = Records(
        database,
        registry,
        LOCAL_ORGANIZATION_ID,
        idempotency_lifetime=timedelta(hours=settings.idempotency_key_hours),
        guidance=Guidance(catalogue, languages),
        languages=languages,
    )
    metrics = process_metrics(settings, database)
    egress = EgressPolicy(settings.webhook_allow_private_networks, resolve or system_resolve)
    state = AppState(
        settings=settings,
        database=database,
        registry=registry,
        languages=languages,
        records=records,
        auth_cache=AuthenticationCache(settings.auth_cache_seconds, shared),
        rate_limiter=rate_limits(settings.rate_limit_per_minute, shared, "requests"),
        failed_auth_limiter=rate_limits(
            settings.rate_limit_failed_auth_per_minute, shared, "failed-auth"
        ),
        egress=egress,
        tokens=token_verifier(settings),
        migration_heads=migration_heads(MIGRATIONS),
        shared=shared,
        metrics=metrics,
        console_secret=console_secret(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            register_definitions(database, registry, datetime.now(UTC))
        except DBAPIError as error:
            raise RuntimeError(
                "the database does not answer or is not migrated"
                " (run `make migrate`, or `alembic upgrade head`)"
            ) from error
        dispatcher = None
        if settings.webhook_dispatch:
            dispatcher = BackgroundDispatcher(
                Dispatcher.from_settings(database, settings, egress), settings.webhook_poll_seconds
            )
            dispatcher.start()
        try:
            yield
        finally:
            if tracer_provider is not None:
                tracer_provider.shutdown()  # sends the spans still batched
            if dispatcher is not None:
                # A delivery under way finishes (or times out); its lease covers the rest.
                dispatcher.stop(timeout=settings.webhook_timeout_seconds + 5)
            database.dispose()
            if shared is not None:
                await shared.close_loop()
                shared.close()

    app = FastAPI(
        title="Bordin",
        version="0.1.0",
        summary="Therapeutic alliance scoring and rupture detection",
        description=DESCRIPTION,
        # A relative server: the document describes whichever server serves it.
        servers=[{"url": "/", "description": "the server that serves this document"}],
        license_info=LICENSE,
        lifespan=lifespan,
        webhooks=webhook_alerts,
        docs_url=None,  # served by add_docs, with their assets
        redoc_url=None,
        openapi_url=OPENAPI_URL,
        # The routes go straight into the app's router: `include_router` would add a second
        # layer of route matching to every request (measured with bench/).
        routes=[
            *scoring_router.routes,
            *health_router.routes,
            *catalogue_router.routes,
            *episode_router.routes,
            *fhir_router.routes,
            *key_router.routes,
            *audit_router.routes,
            *webhook_router.routes,
            *alert_router.routes,
            *invitation_router.routes,
            *form_settings_router.routes,
            *form_pages.routes,
            *console_router.routes,
            *console_pages.routes,
        ],
    )
    if settings.docs_enabled:
        add_docs(app, OPENAPI_URL, public)
    app.mount(STATIC_PATH, static_files(), name="static")
    check_declared(app)
    app.state.bordin = state
    install_problem_handlers(app)
    app.add_exception_handler(ConsoleSignInRequiredError, console_refused)
    app.add_exception_handler(ConsoleForbiddenError, console_refused)
    add_body_schemas(app, [*BODY_MODELS, *FHIR_BODY_MODELS, RuptureAlert, AlertEvent])
    document_access(app)
    declare_failures(app)
    declare_headers(app)
    keep_examples(app, WIRE_SCHEMAS)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Accept-Language"],
            expose_headers=["X-Request-ID", "Content-Language"],
        )
    app.add_middleware(RequestContext, auditor=database_auditor(database), metrics=metrics)
    endpoint = traces_endpoint(settings)
    tracer_provider = instrument(app, endpoint) if endpoint else None
    return app


def shared_state(settings: Settings) -> SharedState | None:
    """Redis, when REDIS_URL names one (its client is imported only then)."""
    if not settings.redis_url:
        return None
    from app.platform.shared import SharedState

    return SharedState(settings.redis_url, settings.redis_prefix, settings.redis_timeout_seconds)


def process_metrics(settings: Settings, database: Database) -> Metrics | None:
    """This process's Prometheus samples, when METRICS_PORT is set (`bordin serve` serves
    them); prometheus-client is imported only then."""
    if settings.metrics_port is None:
        return None
    from app.platform.metrics import Metrics

    metrics = Metrics()
    metrics.watch(database)
    return metrics


def console_secret(settings: Settings) -> bytes:
    """The configured key that signs console sessions, else a random one for this process."""
    if settings.console_secret is not None:
        return settings.console_secret.get_secret_value().encode()
    return secrets.token_bytes(32)


def load_languages(
    settings: Settings, registry: InstrumentRegistry, guidance: Catalogue
) -> Catalogues:
    """The language catalogues, checked against their English sources: the instruments'
    texts, the guidance catalogue's, the problem titles and `en/ui.yaml`. A key a language
    lacks is shown in English and logged here, once, with its file."""
    sources = {texts.domain(loaded.definition): texts.source_texts(loaded.definition)
               for loaded in registry}  # fmt: skip
    sources[GUIDANCE] = guidance.source_texts()
    sources[PROBLEMS] = {code: kind.title for code, kind in problem_types().items()}
    languages = load_catalogues(settings.languages_dir, sources)
    for missing in languages.missing:
        shown = ", ".join(missing.keys[:5]) + (", ..." if len(missing.keys) > 5 else "")
        logger.warning(
            "language %s: %s lacks %d key(s), shown in English: %s",
            missing.language, missing.path, len(missing.keys), shown,
        )  # fmt: skip
    return languages


def token_verifier(settings: Settings) -> TokenVerifier | None:
    """JWT bearer tokens are accepted only when a JWKS file is configured."""
    if settings.jwt_jwks_file is None:
        return None
    assert settings.jwt_issuer is not None  # the settings require both with the JWKS
    assert settings.jwt_audience is not None
    return TokenVerifier(
        settings.jwt_jwks_file,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        organization_claim=settings.jwt_organization_claim,
        scope_claim=settings.jwt_scope_claim,
        max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
    )


def app_factory(settings: Settings | None = None) -> FastAPI:
    """Entry point for `uvicorn --factory app.main:app_factory`: settings from the environment
    (unless given), and the whole process logging JSON lines, uvicorn's loggers included."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    # What the process has loaded so far (modules, instruments, catalogues, the app) lives as
    # long as it does: the collector stops walking it, so that a full collection under load
    # scans only what requests made, not the whole heap (190-250 ms a collection in a
    # recording worker under load; about 10 ms frozen).
    gc.collect()
    gc.freeze()
    return app
