"""Wire schemas of access: API keys and the audit trail."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    Field,
    JsonValue,
)
from typing_extensions import TypeAliasType

from app.http.schemas import EXAMPLE_ID, Text, Timestamp, WireModel, example, named

# -- API keys ----------------------------------------------------------------------------------

Scope = TypeAliasType(
    "Scope",
    Annotated[
        Literal["scores", "records:read", "records:write", "submit", "admin", "console:issue"],
        named("records:read", "What an API key opens."),
    ],
)
KEY_EXAMPLE: dict[str, JsonValue] = {
    "id": EXAMPLE_ID, "name": "kiosk, waiting room 2", "prefix": "3f9c0a7b12de",
    "scopes": ["submit"], "created_at": "2026-11-22T09:00:00Z", "expires_at": None,
    "last_used_at": None, "revoked_at": None,
}  # fmt: skip


class ApiKeyCreate(WireModel):
    model_config = example({"name": "kiosk, waiting room 2", "scopes": ["submit"]})

    name: Annotated[Text, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1)]
    expires_at: Timestamp | None = None


class ApiKeyView(WireModel):
    """An API key as listed: never its secret."""

    model_config = example(KEY_EXAMPLE)

    id: UUID
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: AwareDatetime
    expires_at: AwareDatetime | None
    last_used_at: AwareDatetime | None
    revoked_at: AwareDatetime | None


class ApiKeyCreated(ApiKeyView):
    """A new key: `key` is shown this once and never again."""

    model_config = example({**KEY_EXAMPLE, "key": "bordin_3f9c0a7b12de_…"})

    key: str


class ApiKeyList(WireModel):
    model_config = example({"items": [KEY_EXAMPLE], "next_cursor": None})

    items: list[ApiKeyView]
    next_cursor: str | None = Field(default=None, description="Always null: one page.")


class AuditEventView(WireModel):
    """One access to patient data: who (an API key, or a JWT's issuer and subject), what
    (action, resource), how it ended."""

    model_config = example(
        {
            "id": EXAMPLE_ID, "at": "2026-11-22T09:31:00Z", "key_id": EXAMPLE_ID,
            "jwt_issuer": None, "jwt_subject": None, "action": "recordAdministration",
            "resource_type": "episode",
            "resource_id": EXAMPLE_ID, "request_id": "9f1c2d3e4b5a69788796a5b4c3d2e1f0",
            "outcome": "success", "status": 201,
        }
    )  # fmt: skip

    id: UUID
    at: AwareDatetime
    key_id: UUID | None = Field(description="The API key that called; null for a JWT.")
    jwt_issuer: str | None = Field(description="A JWT caller's `iss`; null for a key.")
    jwt_subject: str | None = Field(description="A JWT caller's `sub`: the calling system.")
    action: str
    resource_type: str
    resource_id: str | None
    request_id: str
    outcome: Literal["success", "denied", "not_found", "conflict", "invalid", "error"]
    status: int


class AuditEventList(WireModel):
    model_config = example({"items": [], "next_cursor": None})

    items: list[AuditEventView]
    next_cursor: str | None
