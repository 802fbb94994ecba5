"""compose.yaml: valid against the Compose Specification's JSON schema, and the deployment
docs/deployment.md describes (no Docker engine here to run it).

The schema is vendored, so that no test needs the network: tests/platform/compose-spec.json
is schema/compose-spec.json of https://github.com/compose-spec/compose-spec at commit
a08f8d51631b7127ddac3d2c65537db429d0f1d0 (2025-10-28; the schema carries no version of its
own), sha256 1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

from app.platform.settings import PROJECT_ROOT, Settings

SCHEMA = Path(__file__).with_name("compose-spec.json")
SCHEMA_SHA256 = "1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (PROJECT_ROOT / "compose.yaml").read_text(encoding="utf-8")
    )
    return document


def test_the_vendored_schema_is_the_one_named() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = [
        f"{list(error.instance_path)}: {error.message}"
        for error in validator.iter_errors(compose())
    ]
    assert errors == []


def test_the_schema_check_catches_a_broken_compose_file() -> None:
    """The check above could fail: a misspelt key is refused."""
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text(encoding="utf-8")))
    broken = compose()
    broken["services"]["api"]["replica"] = 2
    assert not validator.is_valid(broken)


def test_two_api_replicas_and_a_webhook_worker_start_after_the_migrate_job() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "webhooks"}
    assert services["migrate"]["command"] == ["bordin", "migrate"]
    assert services["migrate"]["restart"] == "no"
    api, webhooks = services["api"], services["webhooks"]
    assert api["command"] == ["bordin", "serve"]
    assert api["deploy"]["replicas"] == 2
    assert webhooks["command"] == ["bordin", "deliver-webhooks"]
    for service in (api, webhooks):
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://")
        # Deliveries are the worker's: the replicas leave the outbox to it.
        assert service["environment"]["WEBHOOK_DISPATCH"] == "false"
    # /metrics stays on the compose network: exposed, never published.
    assert api["expose"] == ["9464"]
    assert all("9464" not in port for port in api["ports"])


def test_every_setting_compose_yaml_gives_is_one_the_service_reads() -> None:
    known = {name.upper() for name in Settings.model_fields}
    for name, service in compose()["services"].items():
        if service.get("image") == "bordin":
            assert set(service["environment"]) <= known, name
