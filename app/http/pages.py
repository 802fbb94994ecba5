"""The HTML pages of the two browser surfaces: Jinja2 templates rendered by Starlette (every
value escaped), the words of the page's language (the `ui` words of the language catalogues,
`form.*`, `console.*` and `pages.*` of `languages/<tag>/ui.yaml`), the language a page is shown
in, and the app's own static files (style sheet and scripts: nothing is loaded from
elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.http.language import Language
from app.http.state import state_of
from app.languages.catalogues import Words

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
STATIC_PATH = "/static"


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


def page_language(request: Request, preferred: str | None = None) -> Language:
    """`?lang=` first, then the page's own preference (e.g. a form link's), then the
    browser's `Accept-Language`."""
    languages = state_of(request).languages
    asked = request.query_params.get("lang")
    for choice in (asked, preferred):
        if choice is not None and choice in languages.languages:
            return choice
    return languages.negotiate(request.headers.get("accept-language"))


def page_words(request: Request, language: Language) -> Words:
    """What the pages say in `language`: `words("form.page", page=1, pages=2)`, English for
    any word the language does not translate."""
    return state_of(request).languages.words(language)


def page(
    request: Request,
    template: str,
    language: Language,
    context: Mapping[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """A page in `language`, its words as `w` (`w("console.name")`) and the languages it can
    be shown in as `languages` (tag and own name: every language the catalogues found); never
    cached (it may hold patient data)."""
    catalogues = state_of(request).languages
    choices = [(code, catalogues.text("language.name", code)) for code in catalogues.languages]
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"lang": language, "w": catalogues.words(language), "languages": choices, **context},
        status_code=status_code,
        headers={"Content-Language": language, "Vary": "Accept-Language, Cookie"},
    )
