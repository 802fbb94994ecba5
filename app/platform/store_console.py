"""The SQL of the two browser surfaces: form links (invitations), and the clinician console's
accounts, one-time sign-in links and sessions. Beside `store.py` (which keeps the records',
alerts' and keys' queries) so that neither file outgrows a reading."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.platform.tables import (
    Administration,
    AdministrationRevision,
    ConsoleAccount,
    ConsoleLink,
    ConsoleSession,
    Invitation,
)


def invitation_by_token_hash(session: Session, token_hash: str) -> Invitation | None:
    return session.scalars(select(Invitation).where(Invitation.token_hash == token_hash)).first()


def get_invitation(
    session: Session, invitation_id: UUID, *, for_update: bool = False
) -> Invitation | None:
    statement = select(Invitation).where(Invitation.id == invitation_id)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement).one_or_none()


def account_by_email(session: Session, email: str) -> ConsoleAccount | None:
    """The account of an e-mail address, compared without regard to case."""
    return session.scalars(
        select(ConsoleAccount).where(func.lower(ConsoleAccount.email) == email.lower())
    ).first()


def link_by_token_hash(
    session: Session, token_hash: str, *, for_update: bool = False
) -> ConsoleLink | None:
    statement = select(ConsoleLink).where(ConsoleLink.token_hash == token_hash)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement).first()


def get_console_session(session: Session, session_id: UUID) -> ConsoleSession | None:
    return session.get(ConsoleSession, session_id)


def latest_sessions(
    session: Session, organization_id: UUID, episode_ids: Sequence[UUID]
) -> dict[UUID, tuple[int, datetime]]:
    """Each episode's latest session number and the latest administration time recorded."""
    if not episode_ids:
        return {}
    statement = (
        select(
            Administration.episode_id,
            func.max(Administration.session),
            func.max(AdministrationRevision.administered_at),
        )
        .join(AdministrationRevision, AdministrationRevision.administration_id == Administration.id)
        .where(
            Administration.organization_id == organization_id,
            Administration.episode_id.in_(list(set(episode_ids))),
        )
        .group_by(Administration.episode_id)
    )
    return {
        episode_id: (latest, _aware(when))
        for episode_id, latest, when in session.execute(statement)
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
