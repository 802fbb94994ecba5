"""Stateless scoring reuses a recent authentication of its key; when there is none, the
requests in flight wait for one lookup instead of each making their own (under load they all
found the entry expired at once: on SQLite their lookups queued for up to half a second)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Engine, event

from app.access.keys import AuthenticationCache, Principal
from app.main import create_app
from app.platform.db import Database
from app.platform.settings import Settings
from app.platform.tables import LOCAL_ORGANIZATION_ID

SRS = {"instrument": "srs", "responses": {"1": 9.1, "2": 8.7, "3": 9.3, "4": 7.9}}
AT_ONCE = 20


@contextmanager
def key_lookups(engine: Engine) -> Iterator[list[str]]:
    """The statements that read the API key table while the block runs."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        if "FROM api_key" in str(args[2]):
            seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def score_at_once(engine: Engine, settings: Settings, key: str) -> list[int]:
    """The statuses of AT_ONCE scoring requests sent together, with `key`."""
    app = create_app(settings.model_copy(update={"auth_cache_seconds": 60}), Database(engine))

    async def send() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(
                *(client.post("/v1/scores", json=SRS, headers=headers) for _ in range(AT_ONCE))
            )
        return [response.status_code for response in responses]

    return asyncio.run(send())


def test_requests_that_find_no_recent_authentication_share_one_lookup(
    engine: Engine, settings: Settings, api_key: str
) -> None:
    with key_lookups(engine) as lookups:
        statuses = score_at_once(engine, settings, api_key)
    assert statuses == [200] * AT_ONCE
    assert len(lookups) == 1, lookups


def test_a_refused_key_is_looked_up_by_each_request_and_refused_to_each(
    engine: Engine, settings: Settings
) -> None:
    """A refusal is not shared: each request is refused on its own lookup, so that each
    counts against its client's limit of refused credentials."""
    unknown = "bordin_000000000000_" + "x" * 43
    with key_lookups(engine) as lookups:
        statuses = score_at_once(engine, settings, unknown)
    assert statuses == [401] * AT_ONCE
    assert len(lookups) == AT_ONCE


def test_requests_waiting_on_a_lookup_that_is_given_up_look_the_key_up_themselves() -> None:
    """The request making the lookup goes away (its client hung up): the ones waiting for it
    are not left without an answer, and are not refused."""
    cache = AuthenticationCache(60)
    principal = Principal(LOCAL_ORGANIZATION_ID, None, frozenset({"scores"}), subject="key:k")
    lookups: list[str] = []

    async def authenticate(name: str) -> Principal:
        lookups.append(name)
        await asyncio.sleep(0.05)
        return principal

    async def scenario() -> list[Principal]:
        first = asyncio.create_task(cache.reuse("Bearer k", lambda: authenticate("first")))
        await asyncio.sleep(0)  # the first is looking the key up
        waiting = [
            asyncio.create_task(cache.reuse("Bearer k", lambda: authenticate("waiting")))
            for _ in range(3)
        ]
        await asyncio.sleep(0)
        first.cancel()
        return await asyncio.gather(*waiting)

    assert asyncio.run(scenario()) == [principal] * 3
    assert lookups == ["first", "waiting", "waiting", "waiting"]
    assert cache.get("Bearer k") == principal
