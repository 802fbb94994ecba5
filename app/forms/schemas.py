"""Wire schemas of form links (invitations)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field

from app.http.schemas import EXAMPLE_ID, SessionNumber, Text, WireModel, example
from app.languages.catalogues import LANGUAGE_TAG


class InvitationCreate(WireModel):
    """A form link for one session of the episode: the patient answers each instrument, in
    this order, one page each."""

    model_config = example(
        {"instruments": ["srs", "wai-sr"], "session": 4, "expires_in_hours": 48, "language": "fr"}
    )

    instruments: Annotated[
        list[Annotated[Text, Field(min_length=1, max_length=64)]],
        Field(min_length=1, max_length=6, description="Instruments the client fills in."),
    ]
    session: SessionNumber
    expires_in_hours: Annotated[
        float,
        Field(strict=True, gt=0, le=720, description="How long the link serves (at most 30 days)."),
    ] = 48
    language: Annotated[str, Field(pattern=LANGUAGE_TAG.pattern, max_length=12)] | None = Field(
        default=None,
        description="The form's language, one of `GET /v1/languages`; else the browser's (the"
        " patient can switch).",
    )
    kiosk: bool = Field(
        default=False,
        strict=True,
        description="A shared device: the thank-you page returns to a neutral page by itself.",
    )


class InvitationCreated(WireModel):
    """The link to send to the patient (by SMS or e-mail: the caller's job). Its token is in
    this response only; Bordin keeps a hash of it."""

    model_config = example(
        {
            "id": EXAMPLE_ID,
            "url": "https://bordin.example.org/f/8Zq3X0t1mS8b2yqkq1Y1m9g7kK6m3PZ0WqT7uJ2vVnE",
            "expires_at": "2026-12-02T09:00:00Z",
        }
    )

    id: UUID
    url: str
    expires_at: AwareDatetime
