"""Accept-Language negotiation between the languages the service speaks (en, fr)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header

Language = Literal["en", "fr"]
SUPPORTED: tuple[Language, ...] = ("en", "fr")


def negotiate(header: str | None) -> Language:
    """The supported language with the highest q-value; English when none matches."""
    best: Language = "en"
    best_q = 0.0
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for language in SUPPORTED:
            # Earlier entries win ties, as clients list their preference first.
            if primary == language and q > best_q and q > 0:
                best, best_q = language, q
        if primary == "*" and position == 0 and q > best_q:
            best, best_q = "en", q
    return best


async def accept_language(
    accept_language: Annotated[
        str | None,
        Header(description="Language of labels: en (default) or fr.", examples=["fr"]),
    ] = None,
) -> Language:
    return negotiate(accept_language)


# A route's parameter: the caller's language.
Lang = Annotated[Language, Depends(accept_language)]
