"""Wire schemas of console sign-in links."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from app.http.schemas import Text, WireModel, example


class ConsoleLinkCreate(WireModel):
    """A one-time link that opens the console for the EHR's signed-in clinician."""

    model_config = example({"clinician_ref": "dr-martin", "role": "clinician"})

    clinician_ref: Annotated[
        Text,
        Field(
            min_length=1,
            max_length=200,
            description="The clinician, as episodes name them: they see their own clients.",
        ),
    ]
    role: Literal["clinician", "lead"] = Field(
        default="clinician", description="A lead sees the whole organisation."
    )
    next: Annotated[
        Text | None,
        Field(
            max_length=500,
            pattern=r"^/console([/?][A-Za-z0-9/_?=&.%-]*)?$",
            description="A console page to open, e.g. /console/episodes/{id}.",
        ),
    ] = None


class ConsoleLinkCreated(WireModel):
    """Open it in the clinician's browser within a minute; it works once."""

    model_config = example(
        {
            "url": "https://bordin.example.org/console/link/q1Z8m3Xk0V9bT2yR6pW4sL7nC5aH1dE0fG3jK8uN2oQ",
            "expires_at": "2026-11-30T10:01:00Z",
        }
    )

    url: str
    expires_at: AwareDatetime
