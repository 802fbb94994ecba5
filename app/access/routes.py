"""The /v1 routes of API keys: list, create (the secret shown once) and revoke (admin scope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app.access import audit, keys
from app.access.guard import caller
from app.access.keys import Principal
from app.access.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyView, AuditEventList
from app.http.problems import problem_responses
from app.http.responses import json_response
from app.http.state import State

router = APIRouter(tags=["api keys"])
Admin = Annotated[Principal, Depends(caller("admin"))]


@router.get(
    "/v1/api-keys",
    operation_id="listApiKeys",
    response_model=ApiKeyList,
    responses=problem_responses(401, 403),
)
def list_api_keys(state: State, admin: Admin) -> Response:
    """The organisation's keys, revoked ones included; never their secrets."""
    return json_response({"items": keys.list_keys(state.database, admin.organization_id)})


@router.post(
    "/v1/api-keys",
    operation_id="createApiKey",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problem_responses(400, 401, 403, 422),
)
def create_api_key(body: ApiKeyCreate, state: State, admin: Admin) -> Response:
    """A new key for the caller's organisation, with scopes the calling key holds itself (403
    naming any other). Its secret is in this response only."""
    created = keys.grant_key(
        state.database, admin, body.name, body.scopes, body.expires_at, datetime.now(UTC)
    )
    return json_response(created, {"Location": f"/v1/api-keys/{created['id']}"}, 201)


@router.delete(
    "/v1/api-keys/{key_id}",
    operation_id="revokeApiKey",
    response_model=ApiKeyView,
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_api_key(key_id: UUID, state: State, admin: Admin) -> Response:
    """Revoke a key: refused from the next request on."""
    revoked = keys.revoke_key(
        state.database, admin.organization_id, key_id, datetime.now(UTC), state.auth_cache
    )
    return json_response(revoked)


audit_router = APIRouter(tags=["audit"])


@audit_router.get(
    "/v1/audit-events",
    operation_id="listAuditEvents",
    response_model=AuditEventList,
    responses=problem_responses(401, 403, 422),
)
def list_audit_events(
    state: State,
    admin: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    """The organisation's audit trail, oldest first: every access to patient data."""
    page = audit.list_events(state.database, admin.organization_id, limit=limit, cursor=cursor)
    return json_response(page)
