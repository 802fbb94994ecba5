"""JSON responses written with orjson, instead of FastAPI's generic encoder."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from app.http.language import Language


def json_response(
    content: Any, headers: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    """Serialise plain dicts with orjson instead of FastAPI's generic encoder."""
    return Response(
        orjson.dumps(content),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def localized(content: Any, lang: Language) -> Response:
    """A JSON response in the caller's language, saying which."""
    return json_response(content, {"Content-Language": lang, "Vary": "Accept-Language"})
