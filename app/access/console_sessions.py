"""Who is signed in to the clinician console, and how they got there.

- An EHR asks for a one-time link for its signed-in clinician (`POST /v1/console-links`):
  valid `LINK_SECONDS`, used once, only a hash of its token kept.
- A small practice without an EHR signs in with a local account: e-mail and password, the
  password kept as an Argon2id hash (argon2-cffi's defaults, RFC 9106's second recommended
  profile); a wrong e-mail costs the same hash as a wrong password.
- Either way a session row is made; the cookie carries its id signed with HMAC-SHA256 under
  the console secret, and the session holds the CSRF token that every console form sends.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.platform import store_access, store_console
from app.platform.db import Database
from app.platform.tables import ConsoleAccount, ConsoleLink, ConsoleSession

ROLES = ("clinician", "lead")
LINK_SECONDS = 60
MIN_PASSWORD_LENGTH = 12
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so that timing does not tell which
    e-mails exist (made on first use, not at import)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


class AccountRefusedError(ValueError):
    """An account that cannot be made; `code` says why (role, password, email, taken,
    organization), for the console to say it in the page's language."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Clinician:
    """A signed-in console user: whose patients they see (`clinician_ref`; a lead sees the
    whole organisation), and the session's CSRF token."""

    organization_id: uuid.UUID
    clinician_ref: str
    role: str
    session_id: uuid.UUID
    csrf_token: str

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


def issue_link(
    database: Database,
    organization_id: uuid.UUID,
    *,
    clinician_ref: str,
    role: str,
    next_path: str | None,
    now: datetime,
) -> tuple[str, datetime]:
    """A one-time sign-in token for the clinician, and when it stops working."""
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=LINK_SECONDS)
    with database.session() as session:
        session.add(
            ConsoleLink(
                id=uuid.uuid4(),
                organization_id=organization_id,
                token_hash=_hash(token),
                clinician_ref=clinician_ref,
                role=role,
                next_path=next_path,
                created_at=now,
                expires_at=expires_at,
                used_at=None,
            )
        )
        session.commit()
    return token, expires_at


def use_link(
    database: Database, token: str, now: datetime, lifetime: timedelta
) -> tuple[uuid.UUID, str | None] | None:
    """A new session (its id) for the link's clinician, and where to go next; None for a token that
    is unknown, used or expired (the row is locked, so that it serves once)."""
    with database.session() as session:
        link = store_console.link_by_token_hash(session, _hash(token), for_update=True)
        if link is None or link.used_at is not None or link.expires_at <= now:
            return None
        link.used_at = now
        row = _new_session(link.organization_id, link.clinician_ref, link.role, "link", now,
                           lifetime)  # fmt: skip
        session.add(row)
        session.commit()
        return row.id, link.next_path


def create_account(
    database: Database,
    organization_id: uuid.UUID,
    *,
    email: str,
    password: str,
    clinician_ref: str,
    role: str,
    now: datetime,
) -> uuid.UUID:
    """A local account; `AccountRefusedError` (a ValueError) for an unknown organisation or
    role, an e-mail already taken, or a password shorter than `MIN_PASSWORD_LENGTH`."""
    if role not in ROLES:
        raise AccountRefusedError("role", f"role is one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountRefusedError(
            "password", f"a password has at least {MIN_PASSWORD_LENGTH} characters"
        )
    if "@" not in email or len(email) > 254 or not clinician_ref.strip():
        raise AccountRefusedError("email", "give an e-mail address and a clinician reference")
    with database.session() as session:
        if store_access.get_organization(session, organization_id) is None:
            raise AccountRefusedError("organization", f"no organisation {organization_id}")
        if store_console.account_by_email(session, email) is not None:
            raise AccountRefusedError("taken", f"an account with the e-mail {email} exists already")
        account = ConsoleAccount(
            id=uuid.uuid4(),
            organization_id=organization_id,
            email=email.strip(),
            password_hash=_HASHER.hash(password),
            clinician_ref=clinician_ref,
            role=role,
            created_at=now,
            disabled_at=None,
        )
        session.add(account)
        session.commit()
        return account.id


def sign_in_with_password(
    database: Database, email: str, password: str, now: datetime, lifetime: timedelta
) -> uuid.UUID | None:
    """A new session (its id) for the account, or None when the e-mail or the password is wrong (the
    same work either way) or the account is disabled."""
    with database.session() as session:
        account = store_console.account_by_email(session, email.strip())
        try:
            _HASHER.verify(account.password_hash if account else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None or account.disabled_at is not None:
            return None
        if _HASHER.check_needs_rehash(account.password_hash):
            account.password_hash = _HASHER.hash(password)
        row = _new_session(account.organization_id, account.clinician_ref, account.role,
                           "account", now, lifetime)  # fmt: skip
        session.add(row)
        session.commit()
        return row.id


def signed_in(
    database: Database, cookie: str | None, secret: bytes, now: datetime
) -> Clinician | None:
    """The clinician of a session cookie whose signature holds and whose session is live."""
    session_id = unsigned(cookie, secret) if cookie else None
    if session_id is None:
        return None
    with database.session() as session:
        row = store_console.get_console_session(session, session_id)
        if row is None or row.ended_at is not None or row.expires_at <= now:
            return None
        return Clinician(row.organization_id, row.clinician_ref, row.role, row.id, row.csrf_token)


def sign_out(database: Database, session_id: uuid.UUID, now: datetime) -> None:
    with database.session() as session:
        row = store_console.get_console_session(session, session_id)
        if row is not None and row.ended_at is None:
            row.ended_at = now
            session.commit()


def signed(session_id: uuid.UUID, secret: bytes) -> str:
    """The cookie's value: the session id and its HMAC-SHA256 under the console secret."""
    mac = hmac.new(secret, str(session_id).encode(), hashlib.sha256).digest()
    return f"{session_id}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def unsigned(cookie: str, secret: bytes) -> uuid.UUID | None:
    text, _, _ = cookie.partition(".")
    try:
        session_id = uuid.UUID(text)
    except ValueError:
        return None
    return session_id if hmac.compare_digest(signed(session_id, secret), cookie) else None


def _new_session(
    organization_id: uuid.UUID,
    clinician_ref: str,
    role: str,
    method: str,
    now: datetime,
    lifetime: timedelta,
) -> ConsoleSession:
    return ConsoleSession(
        id=uuid.uuid4(),
        organization_id=organization_id,
        clinician_ref=clinician_ref,
        role=role,
        method=method,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
        ended_at=None,
    )


def _hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()
