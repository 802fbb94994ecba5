"""The interactive documentation, `/docs` (Swagger UI) and `/redoc` (ReDoc), served whole by
the app itself: their scripts, stylesheets and icon come from the `fastapi-offline` package,
so that they load on a network that reaches no CDN (a hospital's, an offline laptop)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"  # under /docs: the documentation's own security policy applies
DOCS_PATHS = ("/docs", "/redoc")
# The documentation pages may run their own inline start-up script and styles, and nothing
# from elsewhere: every script, stylesheet, image and worker comes from this origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)


def asset_folder() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def add_docs(app: FastAPI, openapi_url: str, public: Callable[[], Awaitable[None]]) -> None:
    """Serve `/docs`, `/redoc` and their assets; `public` is the route guard's declaration
    that anyone may read them."""
    title = app.title
    favicon = f"{ASSETS}/favicon.png"
    guard = [Depends(public)]

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=favicon,
            # No badge from the online validator (validator.swagger.io): nothing leaves.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False, dependencies=guard)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )

    app.mount(ASSETS, StaticFiles(directory=asset_folder()), name="docs-assets")
