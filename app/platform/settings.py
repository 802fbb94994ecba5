"""Service settings: the one place that reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Read from environment variables of the same name (upper case), or a `.env` file."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./bordin.db",
        description="SQLAlchemy URL. postgresql:// URLs use the psycopg 3 driver.",
    )
    instruments_dir: Path = Field(
        default=PROJECT_ROOT / "instruments",
        description="Folder of instrument definitions, <id>/<version>.yaml.",
    )
    guidance_file: Path = Field(
        default=PROJECT_ROOT / "guidance" / "catalogue.yaml",
        description="The repair guidance catalogue.",
    )
    languages_dir: Path = Field(
        default=PROJECT_ROOT / "languages",
        description="Folder of language catalogues, one folder per language (<tag>/...): the"
        " languages the service speaks are those found, English (the source) always.",
    )
    host: str = Field(
        default="127.0.0.1",
        description="The address `bordin serve` listens on (the image: 0.0.0.0).",
    )
    port: int = Field(
        default=8000, ge=1, le=65535, description="The port `bordin serve` listens on."
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Server processes of `bordin serve`. Rate limits and revoked keys are"
        " shared between them (and between hosts) through REDIS_URL; without it, each"
        " process has its own.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto `bordin"
        " serve` trusts (comma-separated addresses, or *).",
    )
    database_pool_size: int = Field(
        default=5, ge=1, description="Database connections each process keeps open."
    )
    database_max_overflow: int = Field(
        default=10,
        ge=0,
        description="Connections a process may open past the pool under load (closed after).",
    )
    database_pool_timeout_seconds: float = Field(
        default=10,
        gt=0,
        description="How long a request waits for a free connection before a 503.",
    )
    database_connect_timeout_seconds: int = Field(
        default=5, ge=1, description="How long opening a PostgreSQL connection may take."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by every process and host (redis://host:6379/0): rate"
        " limits, and revoked keys that stateless scoring's reused authentications must"
        " drop at once. Unset: each process keeps its own.",
    )
    redis_prefix: str = Field(
        default="bordin:", description="Prefix of every Redis key the service writes."
    )
    redis_timeout_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How long a Redis call may take; past it, or refused, the request gets"
        " a 503 with Retry-After.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the Prometheus /metrics listener that `bordin serve` opens"
        " beside the API, for every worker at once (unset: none).",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Address of the /metrics listener.")
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        description="Folder where each worker writes its metrics (prometheus-client's"
        " multiprocess mode); `bordin serve` empties it, or makes one, when METRICS_PORT is"
        " set.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, gt=0, description="Larger request bodies get 413."
    )
    max_batch_rows: int = Field(
        default=20_000, gt=0, description="Rows accepted by one POST /v1/scores/batch."
    )
    docs_enabled: bool = Field(default=True, description="Serve /docs and /redoc.")
    cors_origins: list[str] = Field(
        default=[],
        description="Origins allowed to call the API from a browser; none by default.",
    )
    rate_limit_per_minute: int = Field(
        default=1200,
        ge=0,
        description="Requests a minute per API key (0: no limit), per process unless"
        " REDIS_URL is set; then 429.",
    )
    rate_limit_failed_auth_per_minute: int = Field(
        default=60,
        ge=0,
        description="Requests a minute per client address (per process unless REDIS_URL is"
        " set) that carry an unknown,"
        " revoked, expired or invalid key or token (0: no limit); past it, every request from"
        " that address is a 429, before any key is looked up, until the budget refills.",
    )
    auth_cache_seconds: float = Field(
        default=5,
        ge=0,
        description="How long stateless scoring reuses an API key's authentication.",
    )
    idempotency_key_hours: float = Field(
        default=24,
        gt=0,
        description="How long an Idempotency-Key replays its first response; after it, the"
        " key is forgotten and may be used again.",
    )
    webhook_dispatch: bool = Field(
        default=True,
        description="Deliver webhook events from a background thread of each app process"
        " (off: leave them to `bordin deliver-webhooks`).",
    )
    webhook_poll_seconds: float = Field(
        default=2, gt=0, description="How often a dispatcher looks for webhook events due."
    )
    webhook_timeout_seconds: float = Field(
        default=10, gt=0, description="How long a receiver has to answer one delivery."
    )
    webhook_retry_base_seconds: float = Field(
        default=30,
        ge=0,
        description="Back-off before the 2nd attempt; each later one waits twice as long.",
    )
    webhook_max_attempts: int = Field(
        default=10, ge=1, description="Attempts before an event is given up as failed."
    )
    webhook_allow_private_networks: bool = Field(
        default=False,
        description="Let webhook URLs reach loopback, private, link-local and other non-public"
        " addresses (local development and tests; never in production). Cloud metadata"
        " endpoints stay refused.",
    )

    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OpenTelemetry: trace requests to this OTLP/HTTP endpoint (its /v1/traces;"
        " the other OTEL_* variables as the SDK reads them). Needs the `otel` extra.",
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None, description="OpenTelemetry: the traces endpoint itself, if another."
    )

    public_base_url: str | None = Field(
        default=None,
        description="The address patients and clinicians reach the service at (form and"
        " console links are made with it); by default, the address the request came to.",
    )
    form_kiosk_seconds: int = Field(
        default=8,
        ge=1,
        le=120,
        description="In kiosk mode, how long the thank-you page stays before a neutral page.",
    )
    console_secret: SecretStr | None = Field(
        default=None,
        description="The key that signs console session cookies (32 bytes or more). Unset:"
        " a random key per process, so sessions end when it restarts; set it when several"
        " processes serve the console.",
    )
    console_session_hours: float = Field(
        default=10, gt=0, le=24, description="How long a console sign-in lasts."
    )
    jwt_jwks_file: Path | None = Field(
        default=None, description="JWKS of an authorisation server whose JWTs are accepted."
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss` of those JWTs.")
    jwt_audience: str | None = Field(default=None, description="Required `aud` of those JWTs.")
    jwt_organization_claim: str = Field(
        default="bordin_organization", description="Claim holding the Bordin organisation id."
    )
    jwt_scope_claim: str = Field(
        default="scope", description="Claim holding space-separated Bordin scopes."
    )
    jwt_max_lifetime_seconds: int = Field(
        default=3600,
        gt=0,
        description="Longest accepted token lifetime, exp - iat (tokens without iat are refused).",
    )

    @model_validator(mode="after")
    def _jwt_needs_issuer_and_audience(self) -> Settings:
        if self.jwt_jwks_file is not None and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError("JWT_JWKS_FILE needs JWT_ISSUER and JWT_AUDIENCE")
        return self

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, url: str) -> str:
        """`postgres://` and `postgresql://` URLs name no driver; we ship psycopg 3."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        return url
