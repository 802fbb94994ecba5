"""Wire schemas of form links (invitations) and of the organisation's form settings."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, Field
from pydantic_core import PydanticCustomError

from app.forms import crisis
from app.http.schemas import EXAMPLE_ID, SessionNumber, Text, WireModel, example
from app.languages.catalogues import LANGUAGE_TAG

# A language folder's tag (`fr`, `pt-BR`): 12 characters at most, as the pattern allows.
LanguageTag = Annotated[str, Field(pattern=LANGUAGE_TAG.pattern, max_length=12)]


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
    language: LanguageTag | None = Field(
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


def _without_control_characters(text: str) -> str:
    if crisis.has_control_character(text):
        raise PydanticCustomError(
            "control_character", "Text must not contain control characters (line breaks, tabs...)"
        )
    return text


CrisisText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=crisis.MAX_LENGTH,
        json_schema_extra={"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"},
    ),
    AfterValidator(_without_control_characters),
]


class FormSettingsView(WireModel):
    """What the patient form says of the organisation's own."""

    model_config = example(
        {"crisis_text": {"en": "In an emergency call 112.", "fr": "En cas d'urgence : 112."}}
    )

    crisis_text: dict[str, str] | None = Field(
        description="What the thank-you page says about where to find urgent help, by language"
        " tag: the page shows the text of its language, else the English one, else none."
        " Null: none."
    )


class FormSettingsUpdate(WireModel):
    """The organisation's form settings, replaced as a whole."""

    model_config = example(
        {
            "crisis_text": {
                "en": "In an emergency call 112. Suicide prevention: 3114, day and night.",
                "fr": "En cas d'urgence, appelez le 112. Prévention du suicide : 3114.",
            }
        }
    )

    crisis_text: (
        Annotated[
            dict[LanguageTag, CrisisText],
            Field(max_length=100, json_schema_extra={"additionalProperties": False}),
        ]
        | None
    ) = Field(
        description="The crisis text by language tag, each one of `GET /v1/languages` (a 422"
        f" naming `crisis_text.<tag>` otherwise); texts are trimmed, at most {crisis.MAX_LENGTH}"
        " characters, one paragraph (no line breaks or other control characters). Null or {}:"
        " none."
    )
