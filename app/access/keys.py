"""API keys and organisations: who a caller is, and what it may do.

A key reads `bordin_<prefix>_<secret>`. It is shown once, at creation; the database keeps
its public prefix (to find it) and a SHA-256 hash of its secret (keys are 256-bit random
strings, so a fast hash is safe; OWASP ASVS 2.9). Verification compares hashes in constant
time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from app.platform import store_access
from app.platform.db import Database
from app.platform.errors import (
    ApiKeyNotFoundError,
    ForbiddenError,
    SharedStateUnavailableError,
    UnauthenticatedError,
)
from app.platform.tables import LOCAL_ORGANIZATION_ID, ApiKey, Organization

SCOPES = ("scores", "records:read", "records:write", "submit", "admin", "console:issue")
_KEY = re.compile(r"^bordin_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
if TYPE_CHECKING:  # Redis's client is imported only where REDIS_URL is set
    from app.platform.shared import SharedState

logger = logging.getLogger("bordin.keys")
# last_used_at is written at most this often per key, not on every request.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its organisation, its key (None for a JWT), its scopes, a
    subject that names it in rate limits ("key:<id>" or "jwt:<issuer>/<sub>"), and for a JWT
    its issuer and subject, as audit events and the request log name it."""

    organization_id: uuid.UUID
    key_id: uuid.UUID | None
    scopes: frozenset[str]
    subject: str
    jwt_issuer: str | None = None
    jwt_subject: str | None = None

    @cached_property
    def log_fields(self) -> dict[str, str | None]:
        """Who called, as the request's log line and audit event name it (never a patient)."""
        return {
            "key_id": str(self.key_id) if self.key_id else None,
            "organization_id": str(self.organization_id),
            "jwt_issuer": self.jwt_issuer,
            "jwt_subject": self.jwt_subject,
        }


def create_organization(database: Database, name: str, now: datetime) -> tuple[uuid.UUID, str]:
    """A new organisation and its first admin key (all scopes), shown once."""
    organization = Organization(id=uuid.uuid4(), name=name, created_at=now)
    with database.session() as session:
        session.add(organization)
        session.commit()
    key = create_key(database, organization.id, "first admin key", SCOPES, None, now)
    return organization.id, key["key"]


def create_organization_key(
    database: Database,
    organization_id: uuid.UUID,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """A new key of an existing organisation, from the command line (a lost admin key is
    replaced this way): ValueError for an unknown organisation or scope."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes are among {', '.join(SCOPES)}; not {', '.join(unknown)}")
    with database.session() as session:
        if store_access.get_organization(session, organization_id) is None:
            raise ValueError(f"no organisation {organization_id}")
    return create_key(database, organization_id, name, scopes, expires_at, now)


def list_organizations(database: Database) -> list[dict[str, Any]]:
    """Every organisation: id, name, creation time and number of keys not revoked."""
    with database.session() as session:
        return [
            {
                "id": organization.id,
                "name": organization.name,
                "created_at": organization.created_at,
                "keys": keys,
            }
            for organization, keys in store_access.list_organizations(session)
        ]


def bootstrap_local_key(database: Database, now: datetime) -> str | None:
    """An admin key for the local organisation if it has no key yet (first `make run`)."""
    with database.session() as session:
        if store_access.count_keys(session, LOCAL_ORGANIZATION_ID) > 0:
            return None
    created = create_key(database, LOCAL_ORGANIZATION_ID, "local admin", SCOPES, None, now)
    return str(created["key"])


def create_key(
    database: Database,
    organization_id: uuid.UUID,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """A new key; the returned `key` is the only time the secret is ever shown."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        id=uuid.uuid4(),
        organization_id=organization_id,
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=sorted(set(scopes)),
        created_at=now,
        expires_at=expires_at,
        last_used_at=None,
        revoked_at=None,
    )
    with database.session() as session:
        session.add(row)
        session.commit()
    return {**key_view(row), "key": f"bordin_{prefix}_{secret}"}


def grant_key(
    database: Database,
    granter: Principal,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """A new key of the granter's organisation, with scopes the granter holds itself: an
    admin key cannot mint a key that may do more than it may (403 naming the scope)."""
    missing = [(index, scope) for index, scope in enumerate(scopes) if scope not in granter.scopes]
    if missing:
        names = ", ".join(dict.fromkeys(scope for _, scope in missing))
        raise ForbiddenError(
            f"this key cannot grant a scope it does not hold: {names}",
            [
                {
                    "loc": ["scopes", index],
                    "code": "scope_not_held",
                    "message": f"the granting key does not hold {scope}",
                }
                for index, scope in missing
            ],
        )
    return create_key(database, granter.organization_id, name, scopes, expires_at, now)


def list_keys(database: Database, organization_id: uuid.UUID) -> list[dict[str, Any]]:
    with database.session() as session:
        return [key_view(row) for row in store_access.list_keys(session, organization_id)]


def revoke_key(
    database: Database,
    organization_id: uuid.UUID,
    key_id: uuid.UUID,
    now: datetime,
    cache: AuthenticationCache | None = None,
) -> dict[str, Any]:
    """Revoke a key: refused from the next request on, by every process (`cache`: the
    authentications stateless scoring reuses, told before and after the commit)."""
    with database.session() as session:
        row = store_access.get_key(session, organization_id, key_id)
        if row is None:
            raise ApiKeyNotFoundError(f"no API key {key_id}")
        if row.revoked_at is None:
            if cache is not None:
                cache.will_revoke(key_id)
            row.revoked_at = now
        view = key_view(row)
        session.commit()
    if cache is not None:
        cache.forget(key_id)
    return view


class TokenVerifying(Protocol):
    def verify(self, token: str, database: Database) -> Principal: ...


def authenticate(
    database: Database,
    authorization: str | None,
    now: datetime,
    tokens: TokenVerifying | None = None,
) -> Principal:
    """The caller of an `Authorization: Bearer <key or JWT>` header, or a 401 problem. The
    Bearer scheme only (RFC 6750; the scheme's name is case-insensitive): a key or token sent
    under any other scheme is refused."""
    if not authorization:
        raise UnauthenticatedError("send `Authorization: Bearer <API key>`", invalid=False)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise UnauthenticatedError(
            "only the Bearer scheme is accepted: send `Authorization: Bearer <API key>`",
            invalid=False,
        )
    token = token.strip()
    match = _KEY.match(token)
    if match is None and tokens is not None and token.count(".") == 2:
        return tokens.verify(token, database)
    if match is None:
        raise UnauthenticatedError("the Authorization header does not carry a Bordin API key")
    prefix, secret = match.groups()
    with database.session() as session:
        row = store_access.key_by_prefix(session, prefix)
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
            raise UnauthenticatedError("unknown API key")
        if row.revoked_at is not None:
            raise UnauthenticatedError("this API key was revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise UnauthenticatedError("this API key has expired")
        principal = Principal(
            row.organization_id, row.id, frozenset(row.scopes), subject=f"key:{row.id}"
        )
        if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
            row.last_used_at = now
            session.commit()
    return principal


class AuthenticationCache:
    """Recent authentications, for routes that touch no patient data (stateless scoring):
    a key is looked up again after `seconds`.

    Revoking a key takes effect at once in the process that revoked it; in the others, at
    once too when they share a Redis (`shared`): the revocation leaves a mark there that
    outlives every authentication cached before it, and a reused authentication is checked
    against it (one Redis round trip). Without Redis, the other processes reuse theirs for
    at most `seconds`. Routes with patient data never use the cache."""

    def __init__(self, seconds: float, shared: SharedState | None = None) -> None:
        self.seconds = seconds
        self.shared = shared
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        # The authentication under way for a header, which the requests that find no recent
        # one wait for (None: it was refused, and each of them tries on its own).
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}

    async def reuse(
        self, authorization: str, authenticate: Callable[[], Awaitable[Principal]]
    ) -> Principal:
        """A recent authentication of `authorization` that no process revoked since, else a
        new one by `authenticate`, kept for `seconds`. The requests that find none while one
        is under way wait for it rather than each looking the key up: under load, every
        request in flight finds the entry expired at the same moment (on SQLite, their
        lookups queued behind one another for up to half a second)."""
        recent = self.get(authorization)
        if recent is not None and not await self.revoked_elsewhere(authorization, recent):
            return recent
        loop = asyncio.get_running_loop()
        with self._lock:
            pending = self._pending.get(authorization)
            mine = pending is None or pending.get_loop() is not loop
            if mine:
                pending = loop.create_future()
                self._pending[authorization] = pending
        assert pending is not None
        principal: Principal | None
        if not mine:
            shared = await asyncio.shield(pending)
            if shared is not None:
                return shared
            # Refused (or given up): this request authenticates on its own, so that its own
            # address is counted against the limit of refused credentials.
            principal = await authenticate()
            self.put(authorization, principal)
            return principal
        principal = None
        try:
            principal = await authenticate()
            self.put(authorization, principal)
            return principal
        finally:
            pending.set_result(principal)
            with self._lock:
                if self._pending.get(authorization) is pending:
                    del self._pending[authorization]

    def get(self, authorization: str) -> Principal | None:
        entry = self._entries.get(authorization)
        if entry is None or time.monotonic() - entry[0] > self.seconds:
            return None
        return entry[1]

    def put(self, authorization: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[authorization] = (time.monotonic(), principal)

    async def revoked_elsewhere(self, authorization: str, principal: Principal) -> bool:
        """Whether another process revoked the key of a reused authentication (then it is
        dropped here too): a Redis round trip when shared, on the event loop."""
        if self.shared is None or principal.key_id is None:
            return False
        shared = self.shared
        mark = self._mark(principal.key_id)
        if not await shared.call_async(lambda: shared.loop_client().exists(mark)):
            return False
        with self._lock:
            self._entries.pop(authorization, None)
        return True

    def will_revoke(self, key_id: uuid.UUID) -> None:
        """Before a revocation is committed: mark it for the other processes (a Redis that
        does not answer stops the revocation with a 503 before anything is done)."""
        if self.shared is not None:
            shared = self.shared
            # Longer than any authentication cached before the revocation may live.
            lifetime = math.ceil(self.seconds) + 2
            shared.call(lambda: shared.client.set(self._mark(key_id), b"1", ex=lifetime))

    def forget(self, key_id: uuid.UUID) -> None:
        """After a revocation: drop the key's authentications in this process, and renew
        the mark for the others (a revocation that took long to commit stays marked for
        long enough; it was marked already, so a failure here stops nothing)."""
        with self._lock:
            for header, (_, principal) in list(self._entries.items()):
                if principal.key_id == key_id:
                    del self._entries[header]
        try:
            self.will_revoke(key_id)
        except SharedStateUnavailableError:
            logger.warning("the mark of a revoked key was not renewed in Redis")

    def _mark(self, key_id: uuid.UUID) -> str:
        assert self.shared is not None
        return f"{self.shared.prefix}revoked-key:{key_id}"


def key_view(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": row.scopes,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
    }


def _hash(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
