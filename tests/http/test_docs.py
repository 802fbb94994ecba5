"""The interactive docs load with no network but the service's own: every script, stylesheet
and icon that /docs and /redoc reference is same-origin and answers 200."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.platform.settings import Settings

BASE = "http://testserver"


class References(HTMLParser):
    """Every URL a page makes the browser load: scripts, stylesheets, icons, images, frames,
    and the document a Swagger UI or ReDoc start-up script names."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attribute in ("src", "href", "spec-url", "data"):
            value = named.get(attribute)
            if value and (tag != "a" or attribute != "href"):
                self.urls.append(value)
        self._in_script = tag == "script" and "src" not in named

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_of_the_docs_is_same_origin_and_answers(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    references = References()
    references.feed(response.text)
    assert references.urls, "the page loads its assets"
    loaded = [urljoin(BASE + page, url) for url in references.urls]
    assert [url for url in loaded if urlsplit(url).netloc != "testserver"] == []
    for url in loaded:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000 or url.endswith(".json"), url
    scripts = {url.rsplit("/", 1)[-1] for url in loaded if url.endswith(".js")}
    assert scripts == ({"swagger-ui-bundle.js"} if page == "/docs" else {"redoc.standalone.js"})
    # The start-up script and the spec-url name the document by path: the same origin too.
    assert "/openapi.json" in response.text
    assert "http://" not in "".join(references.inline_scripts)
    assert "https://" not in "".join(references.inline_scripts)


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/assets/swagger-ui.css"])
def test_the_docs_may_load_from_their_own_origin_only(client: TestClient, page: str) -> None:
    policy = client.get(page).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self' 'unsafe-inline'"
    assert all("http" not in sources for sources in directives.values())


def test_without_docs_there_are_no_docs_nor_assets(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"docs_enabled": False}))
    with TestClient(app) as client:
        for path in ("/docs", "/redoc", "/docs/assets/swagger-ui.css"):
            assert client.get(path).status_code == 404
