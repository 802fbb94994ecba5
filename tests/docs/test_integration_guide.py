"""docs/integration.md runs: its Python blocks, in order, against a live server on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.platform.settings import PROJECT_ROOT, Settings
from tests.server_support import served
from tests.webhooks_support import Organisation

GUIDE = PROJECT_ROOT / "docs" / "integration.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread, on the test database, its
    webhook dispatcher on (polling often, retrying at once)."""
    dispatching = settings.model_copy(
        update={
            "webhook_dispatch": True,
            "webhook_poll_seconds": 0.05,
            "webhook_retry_base_seconds": 0.0,
        }
    )
    with served(lambda: create_app(dispatching), uvicorn_logging=False) as url:
        yield url


def test_the_guide_has_examples_for_every_section() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert len(python_blocks()) >= 4
    headings = re.findall(r"^## \d+\. (.+)$", text, re.MULTILINE)
    assert headings == [
        "Authenticate",
        "Record from JSON",
        "Record from FHIR R4",
        "Alerts: the worklist and what reaches you",
        "Verify a webhook signature",
    ]


def test_every_python_example_of_the_guide_runs_twice_in_a_row(
    live_server: str, organisation: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a reader would run it: the variables it reads set in the environment, nothing
    else given; then again, on the same server and database."""
    monkeypatch.setenv("BORDIN_URL", live_server)
    monkeypatch.setenv("BORDIN_KEY", organisation.admin_key)
    for run in (1, 2):
        namespace: dict[str, Any] = {}
        try:
            for index, block in enumerate(python_blocks()):
                where = f"{GUIDE.name}, run {run}, python block {index + 1}"
                exec(compile(block, where, "exec"), namespace)  # the guide's own code
        finally:
            for value in namespace.values():
                if isinstance(value, httpx.Client):
                    value.close()
