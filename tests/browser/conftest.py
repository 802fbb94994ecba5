"""The browser tests' fixtures: the app served by uvicorn on loopback (on the suite's own
database), one headless Chromium for the whole run (Debian's, at BORDIN_CHROMIUM, default
/usr/bin/chromium: no browser is downloaded), and what every screen is checked for.

Screenshots of each screen go to BORDIN_SCREENSHOTS (default tests/browser/screenshots/,
ignored by git), at phone (375x667) and desktop (1280x800) sizes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)
from sqlalchemy import Engine

from app.access import keys
from app.main import create_app
from app.platform.db import Database
from app.platform.settings import PROJECT_ROOT, Settings
from tests.conftest import INSTRUMENTS
from tests.server_support import served

CHROMIUM = os.environ.get("BORDIN_CHROMIUM", "/usr/bin/chromium")
# As Debian's Chromium runs here: no sandbox (root), and nothing of Google's called at start.
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(os.environ.get("BORDIN_SCREENSHOTS", PROJECT_ROOT / "tests/browser/screenshots"))
PHONE: ViewportSize = {"width": 375, "height": 667}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
KIOSK_SECONDS = 2
# WCAG 2.1 levels A and AA, as axe-core tags them.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@dataclass
class Site:
    """The app under test, and an organisation of the run's own with its admin key."""

    url: str
    api: httpx.Client
    organization_id: uuid.UUID
    requests: list[str] = field(default_factory=list)

    def episode(self, clinician: str = "dr-ada", label: str | None = None) -> str:
        body = {"patient_ref": f"ehr-{uuid.uuid4()}", "clinician_ref": clinician, "label": label}
        created = self.api.post("/v1/episodes", json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def form_link(
        self, episode_id: str, instruments: list[str], session: int, **body: object
    ) -> str:
        created = self.api.post(
            f"/v1/episodes/{episode_id}/invitations",
            json={"instruments": instruments, "session": session, **body},
        )
        assert created.status_code == 201, created.text
        return str(created.json()["url"])

    def record(self, episode_id: str, session: int, answers: dict[str, float]) -> None:
        recorded = self.api.post(
            f"/v1/episodes/{episode_id}/administrations",
            json={"instrument": "srs", "rater": "client", "session": session,
                  "administered_at": f"2026-03-{session:02d}T10:00:00Z", "responses": answers},
        )  # fmt: skip
        assert recorded.status_code == 201, recorded.text

    def console_link(self, clinician: str = "dr-ada", role: str = "clinician") -> str:
        made = self.api.post("/v1/console-links", json={"clinician_ref": clinician, "role": role})
        assert made.status_code == 201, made.text
        return str(made.json()["url"])


@pytest.fixture(scope="session")
def site(database_url: str, engine: Engine) -> Iterator[Site]:
    settings = Settings(
        database_url=database_url, instruments_dir=INSTRUMENTS, webhook_dispatch=False,
        form_kiosk_seconds=KIOSK_SECONDS,
    )  # fmt: skip
    organization_id, key = keys.create_organization(
        Database(engine), f"browser tests {uuid.uuid4().hex[:6]}", datetime.now(UTC)
    )
    with (
        served(lambda: create_app(settings), uvicorn_logging=False) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as api,
    ):
        yield Site(url, api, organization_id)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test does)")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()


class ContextMaker(Protocol):
    """`new_context(viewport=, locale=, javascript=)`: a browser context closed after the test,
    whose every request is recorded in `site.requests`."""

    def __call__(
        self, *, viewport: ViewportSize = ..., locale: str = ..., javascript: bool = ...
    ) -> BrowserContext: ...


@pytest.fixture
def new_context(browser: Browser, site: Site) -> Iterator[ContextMaker]:
    made: list[BrowserContext] = []

    def make(
        *, viewport: ViewportSize = DESKTOP, locale: str = "en-GB", javascript: bool = True
    ) -> BrowserContext:
        context = browser.new_context(
            viewport=viewport,
            locale=locale,
            java_script_enabled=javascript,
        )
        context.on("request", lambda request: site.requests.append(request.url))
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))
