"""Accept-Language negotiation between the languages the service speaks: those of the language
catalogues (`app.languages`), English when none matches."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from app.http.state import state_of

# A language tag the service speaks (a folder of the language catalogues, or "en").
Language = str


async def accept_language(
    request: Request,
    accept_language: Annotated[
        str | None,
        Header(
            description="Language of the texts (labels, guidance, narratives, problem titles):"
            " any language of `GET /v1/languages`; English when none matches.",
            examples=["fr"],
        ),
    ] = None,
) -> Language:
    return state_of(request).languages.negotiate(accept_language)


# A route's parameter: the caller's language.
Lang = Annotated[Language, Depends(accept_language)]
