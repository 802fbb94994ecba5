"""Rate limits and revoked keys shared through Redis (REDIS_URL), here between two apps of
one process; between real server processes in tests/platform/test_processes.py. A Redis
that does not answer is a 503 with Retry-After, never a 500, and nothing is done."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.access import keys
from app.main import create_app
from app.platform.db import Database
from app.platform.settings import Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID
from tests.redis_support import RedisForTests, private_redis, test_redis
from tests.server_support import free_port
from tests.webhooks_support import resolve_test_hosts

__all__ = ["test_redis"]  # the fixture

SRS = {"1": 9.1, "2": 8.7, "3": 9.3, "4": 7.9}
SCORE = {"instrument": "srs", "responses": SRS}


def shared_settings(settings: Settings, redis_url: str, prefix: str, **update: Any) -> Settings:
    return settings.model_copy(update={"redis_url": redis_url, "redis_prefix": prefix, **update})


def new_key(engine: Engine, *scopes: str) -> dict[str, Any]:
    return keys.create_key(
        Database(engine), LOCAL_ORGANIZATION_ID, "shared", scopes, None, datetime.now(UTC)
    )


def test_two_apps_on_one_redis_allow_the_limit_once_between_them(
    settings: Settings, engine: Engine, test_redis: RedisForTests
) -> None:
    shared = shared_settings(settings, test_redis.url, test_redis.prefix, rate_limit_per_minute=4)
    key = new_key(engine, "scores")["key"]
    headers = {"Authorization": f"Bearer {key}"}
    first, second = create_app(shared), create_app(shared)
    with TestClient(first, headers=headers) as one, TestClient(second, headers=headers) as two:
        statuses = [client.post("/v1/scores", json=SCORE) for client in (one, two) * 4]
    assert [response.status_code for response in statuses] == [200] * 4 + [429] * 4
    refused = statuses[-1]
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_key_revoked_through_one_app_is_refused_by_the_other_at_once(
    settings: Settings, engine: Engine, api_key: str, test_redis: RedisForTests
) -> None:
    # Reused authentications live a minute here: only the shared revocation can end one.
    shared = shared_settings(settings, test_redis.url, test_redis.prefix, auth_cache_seconds=60)
    tablet = new_key(engine, "scores")
    first, second = create_app(shared), create_app(shared)
    with (
        TestClient(first, headers={"Authorization": f"Bearer {api_key}"}) as admin,
        TestClient(second, headers={"Authorization": f"Bearer {tablet['key']}"}) as scorer,
    ):
        assert scorer.post("/v1/scores", json=SCORE).status_code == 200  # now reused
        assert admin.delete(f"/v1/api-keys/{tablet['id']}").status_code == 200
        refused = scorer.post("/v1/scores", json=SCORE)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_without_redis_another_app_reuses_a_revoked_key_until_its_cache_expires(
    settings: Settings, engine: Engine, api_key: str
) -> None:
    """What Redis is for: the same two apps without it (AUTH_CACHE_SECONDS decides)."""
    alone = settings.model_copy(update={"auth_cache_seconds": 60})
    tablet = new_key(engine, "scores")
    first, second = create_app(alone), create_app(alone)
    with (
        TestClient(first, headers={"Authorization": f"Bearer {api_key}"}) as admin,
        TestClient(second, headers={"Authorization": f"Bearer {tablet['key']}"}) as scorer,
    ):
        assert scorer.post("/v1/scores", json=SCORE).status_code == 200
        assert admin.delete(f"/v1/api-keys/{tablet['id']}").status_code == 200
        assert scorer.post("/v1/scores", json=SCORE).status_code == 200


def test_a_redis_that_refuses_connections_is_a_503_with_retry_after_and_nothing_is_done(
    settings: Settings, engine: Engine, api_key: str
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(shared_settings(settings, nowhere, "bordin-test:"), resolve=resolve_test_hosts)
    victim = new_key(engine, "scores")
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        responses = [
            client.post("/v1/scores", json=SCORE),
            client.get("/v1/episodes"),
            client.delete(f"/v1/api-keys/{victim['id']}"),
        ]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["Retry-After"] == "5"
        assert response.json()["code"] == "shared_state_unavailable"
    listed = {row["id"]: row for row in keys.list_keys(Database(engine), LOCAL_ORGANIZATION_ID)}
    assert listed[victim["id"]]["revoked_at"] is None


def test_a_redis_that_stops_while_serving_turns_the_next_requests_into_503s(
    settings: Settings, api_key: str
) -> None:
    with private_redis() as (url, server):
        app = create_app(shared_settings(settings, url, "bordin-test:"))
        with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
            assert client.post("/v1/scores", json=SCORE).status_code == 200
            assert client.get("/v1/episodes").status_code == 200
            ready = client.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["redis"] == "ok"
            server.terminate()
            server.wait(timeout=10)
            stopped = [client.post("/v1/scores", json=SCORE), client.get("/v1/episodes")]
            not_ready = client.get("/health/ready")
    # Readiness says so: a load balancer stops sending this process traffic.
    assert not_ready.status_code == 503, not_ready.text
    assert not_ready.json()["code"] == "unhealthy"
    assert "Redis" in not_ready.json()["detail"]
    assert "Retry-After" in not_ready.headers
    for response in stopped:
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "shared_state_unavailable"
        assert response.headers["Retry-After"] == "5"
