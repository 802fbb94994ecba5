"""The floor of recording: a bare FastAPI + SQLAlchemy endpoint that does the minimum of the
same work as POST /v1/episodes/{id}/administrations, written the way the tutorials write one.
It validates the same body, locks the episode row, inserts the administration and its revision
with the answers and a sum, and commits; it scores nothing else, evaluates nothing, keeps no
statistics, audits nothing and authenticates nobody. Same tables, same database, same engine
settings (`make_engine`), same uvicorn."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.instruments.registry import load_registry
from app.platform.db import make_engine
from app.platform.settings import Settings
from app.platform.tables import Administration, AdministrationRevision, Episode

settings = Settings()
engine = make_engine(os.environ.get("DATABASE_URL", settings.database_url))
DEFINITION = load_registry(settings.instruments_dir).get("wai-sr")
app = FastAPI()


class Body(BaseModel):
    instrument: str
    rater: str
    session: Annotated[int, Field(ge=1)]
    administered_at: datetime
    responses: dict[str, Annotated[int, Field(ge=1, le=5)]]


@app.post("/v1/episodes/{episode_id}/administrations", status_code=201)
def record(episode_id: uuid.UUID, body: Body) -> dict[str, Any]:
    total = sum(body.responses.values())
    now = datetime.now(UTC)
    with Session(engine) as session:
        administration = insert_locked(session, episode_id, body, {"total": total}, now)
        session.commit()
        return {"id": str(administration.id), "session": body.session, "total": total}


def insert_locked(
    session: Session, episode_id: uuid.UUID, body: Body, result: dict[str, Any], now: datetime
) -> Administration:
    """Lock the episode, then insert the administration and its revision (a 404 without the
    episode)."""
    organization_id = session.execute(
        select(Episode.organization_id).where(Episode.id == episode_id).with_for_update()
    ).scalar()
    if organization_id is None:
        raise HTTPException(404)
    administration = Administration(
        id=uuid.uuid4(), organization_id=organization_id,
        episode_id=episode_id, instrument_id=body.instrument, rater=body.rater,
        session=body.session, created_at=now,
    )  # fmt: skip
    session.add(administration)
    session.flush()
    session.add(
        AdministrationRevision(
            id=uuid.uuid4(), organization_id=organization_id,
            administration_id=administration.id, revision=1, status="recorded",
            instrument_version=DEFINITION.version, definition_hash=DEFINITION.definition_hash,
            administered_at=body.administered_at, responses=body.responses,
            result=result, created_at=now,
        )
    )  # fmt: skip
    session.flush()
    return administration
