"""Form links: an EHR (or the console) asks for a link for one episode and session; the patient
answers one page per instrument at `/f/{token}`, and each page is recorded by the same use case
as `POST /v1/episodes/{id}/administrations` (same validation, idempotency, evaluation, alerts).

The token is shown once, in the link; the database keeps a SHA-256 hash of it (a 256-bit random
string, so a fast hash is enough, as for API keys). A link serves until every instrument is
answered, then it is gone (410), as it is once it expires.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.access import audit
from app.platform import store_access, store_console
from app.platform.errors import FormLinkGoneError, FormLinkNotFoundError, InvalidRequestError
from app.platform.tables import Invitation
from app.records import administrations
from app.records.context import Records, audit_write, existing_episode

MAX_INSTRUMENTS = 6


@dataclass(frozen=True)
class OpenForm:
    """A form link that still serves: what the next page asks, and the organisation's words."""

    invitation_id: uuid.UUID
    organization_id: uuid.UUID
    episode_id: uuid.UUID
    session: int
    instruments: Sequence[str]
    completed: Sequence[str]
    language: str | None
    kiosk: bool
    crisis_text: Mapping[str, str] | None

    @property
    def pending(self) -> list[str]:
        return [name for name in self.instruments if name not in self.completed]

    @property
    def page(self) -> int:
        """The number of the page the patient is on (1-based)."""
        return len(self.completed) + 1


def create_invitation(
    records: Records,
    episode_id: uuid.UUID,
    *,
    instruments: Sequence[str],
    session: int,
    expires_in_hours: float,
    language: str | None,
    kiosk: bool,
) -> tuple[dict[str, Any], str]:
    """A new form link for the episode's session: (its view, its token). Every instrument must
    be one the client fills in, and the language one the service speaks (a 422 naming the field
    otherwise); the token is returned only here."""
    for index, name in enumerate(instruments):
        definition = records.registry.get(name).definition
        if definition.respondent.value != "client":
            raise InvalidRequestError(
                f"{name} is filled in by the {definition.respondent.value}, not by the client",
                [
                    {
                        "loc": ["instruments", index],
                        "code": "not_a_client_form",
                        "message": "the patient form takes instruments the client fills in",
                    }
                ],
            )
    spoken = records.languages.languages if records.languages is not None else None
    if language is not None and spoken is not None and language not in spoken:
        raise InvalidRequestError(
            f"the service does not speak {language!r}",
            [{"loc": ["language"], "code": "unknown_language",
              "message": f"one of {', '.join(spoken)} (GET /v1/languages)"}],
        )  # fmt: skip
    token = secrets.token_urlsafe(32)
    now = records.now()
    with records.database.session() as db:
        episode = existing_episode(db, records, episode_id)
        row = Invitation(
            id=uuid.uuid4(),
            organization_id=records.organization_id,
            episode_id=episode.id,
            token_hash=token_hash(token),
            instruments=list(instruments),
            session=session,
            language=language,
            kiosk=kiosk,
            completed=[],
            created_at=now,
            expires_at=now + timedelta(hours=expires_in_hours),
            used_at=None,
        )
        db.add(row)
        audit_write(db, records, "createInvitation", "episode", episode.id, 201)
        db.commit()
        view = {"id": row.id, "expires_at": row.expires_at}
    return view, token


def open_form(records: Records, token: str) -> OpenForm:
    """The form link of `token` if it still serves: 404 for an unknown token, 410 once it was
    used or has expired."""
    with records.database.session() as db:
        row = _invitation(db, token)
        return _open(db, row, records.now())


def record_page(
    records: Records, token: str, instrument: str, responses: Mapping[str, object]
) -> tuple[OpenForm, dict[str, Any]]:
    """Record the answers of one page through the API's own use case, as the client rater, at
    the link's session. The Idempotency-Key is the link's and the instrument's, so that a page
    sent twice (a double tap, a reload) replays the first recording instead of a 409. Returns
    the link as it stands after this page, and what was recorded."""
    form = open_form(records, token)
    if instrument not in form.pending:
        raise InvalidRequestError(
            f"this link does not ask for {instrument} (or no longer)",
            [{"loc": ["instrument"], "code": "not_asked", "message": "not on this form"}],
        )
    caller = audit.Caller(None, records.caller.request_id if records.caller else "", None,
                          f"form-link:{form.invitation_id}")  # fmt: skip
    writer = records.for_caller(form.organization_id, caller)
    new = administrations.NewAdministration(
        instrument=instrument,
        version=None,
        rater="client",
        session=form.session,
        administered_at=records.now(),
        responses=responses,
    )
    _, recorded = administrations.record_administration(
        writer, form.episode_id, new, f"form-link:{form.invitation_id}:{instrument}"
    )
    now = records.now()
    with records.database.session() as db:
        row = store_console.get_invitation(db, form.invitation_id, for_update=True)
        assert row is not None  # an episode's erasure would have made the recording a 404
        if instrument not in row.completed:
            row.completed = [*row.completed, instrument]
        if all(name in row.completed for name in row.instruments) and row.used_at is None:
            row.used_at = now
        after = _view(db, row)
        db.commit()
    return after, recorded


def token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _invitation(db: Session, token: str) -> Invitation:
    row = store_console.invitation_by_token_hash(db, token_hash(token))
    if row is None:
        raise FormLinkNotFoundError("no form link has this address")
    return row


def _open(db: Session, row: Invitation, now: datetime) -> OpenForm:
    if row.used_at is not None or row.expires_at <= now:
        raise FormLinkGoneError("this form link was used or has expired")
    return _view(db, row)


def _view(db: Session, row: Invitation) -> OpenForm:
    organisation = store_access.get_organization(db, row.organization_id)
    return OpenForm(
        invitation_id=row.id,
        organization_id=row.organization_id,
        episode_id=row.episode_id,
        session=row.session,
        instruments=list(row.instruments),
        completed=list(row.completed),
        language=row.language,
        kiosk=row.kiosk,
        crisis_text=organisation.crisis_text if organisation is not None else None,
    )
