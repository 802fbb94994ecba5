"""A second floor of recording: a bare FastAPI + SQLAlchemy endpoint doing the minimum of the
*same* work as POST /v1/episodes/{id}/administrations, written the way the tutorials write
one, with the project's pure core for the arithmetic. It looks the key up, locks the episode,
inserts the administration and its revision, reads the episode's series, adds the
administration to its statistics shard (locked), reads the organisation's sums, evaluates
the series' rupture rules, reads the stored flags and alerts, inserts the audit event and
commits. It leaves out what ours does beyond that: idempotency, the pair sums of successive
sessions, storing changed flags and alerts, the alert policy and grouping, webhook events,
guidance, rate limits, the request layer and the response's full views.

`bench/floor_records.py` is the issue's floor (validate, lock, insert, commit); this one says
how far ours is from the least that its work takes. Same tables, engine settings and uvicorn."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.ruptures import SeriesPoint, detect_ruptures, organisation_statistics
from app.core.statistics import Sums, accumulate, add_sums, administration_sums, summaries_from_sums
from app.instruments.registry import load_registry
from app.platform.db import make_engine
from app.platform.settings import Settings
from app.platform.tables import (
    Administration,
    AdministrationRevision,
    AlertRecord,
    ApiKey,
    AuditEvent,
    Episode,
    InstrumentStatistic,
    RuptureFlagRecord,
)

settings = Settings()
engine = make_engine(os.environ.get("DATABASE_URL", settings.database_url))
LOADED = load_registry(settings.instruments_dir).get("wai-sr")
SHARDS = 16  # as app/records/statistics.py keeps them
app = FastAPI()


class Body(BaseModel):
    instrument: str
    rater: str
    session: Annotated[int, Field(ge=1)]
    administered_at: datetime
    responses: dict[str, Annotated[int, Field(ge=1, le=5)]]


@app.post("/v1/episodes/{episode_id}/administrations", status_code=201)
def record(
    episode_id: uuid.UUID, body: Body, authorization: Annotated[str, Header()]
) -> dict[str, Any]:
    _, prefix, secret = authorization.removeprefix("Bearer ").split("_", 2)
    result = LOADED.scorer.score(body.responses)
    now = datetime.now(UTC)
    with Session(engine) as session:
        key = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
        digest = "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
        if key is None or not hmac.compare_digest(key.secret_hash, digest):
            raise HTTPException(401)
        organization_id = session.execute(
            select(Episode.organization_id).where(Episode.id == episode_id).with_for_update()
        ).scalar()
        if organization_id is None:
            raise HTTPException(404)
        administration = Administration(
            id=uuid.uuid4(), organization_id=organization_id, episode_id=episode_id,
            instrument_id=body.instrument, rater=body.rater, session=body.session,
            created_at=now,
        )  # fmt: skip
        session.add(administration)
        session.flush()
        session.add(
            AdministrationRevision(
                id=uuid.uuid4(), organization_id=organization_id,
                administration_id=administration.id, revision=1, status="recorded",
                instrument_version=LOADED.version, definition_hash=LOADED.definition_hash,
                administered_at=body.administered_at, responses=body.responses,
                result=result, created_at=now,
            )
        )  # fmt: skip
        session.flush()
        series = session.execute(
            select(Administration.id, Administration.session, AdministrationRevision)
            .join(AdministrationRevision)
            .where(Administration.episode_id == episode_id)
            .order_by(Administration.session)
        ).all()
        shard = session.get(
            InstrumentStatistic,
            (organization_id, body.instrument, episode_id.int % SHARDS),
            with_for_update=True,
        )
        if shard is not None:
            scores = {scale: part["score"] for scale, part in result["scales"].items()}
            keyed = LOADED.scorer.keyed_values(body.responses)
            shard.sums = add_sums(shard.sums, administration_sums(LOADED.definition, scores, keyed))
        sums: Sums = {}
        for part in session.scalars(
            select(InstrumentStatistic.sums).where(
                InstrumentStatistic.organization_id == organization_id,
                InstrumentStatistic.instrument_id == body.instrument,
            )
        ):
            accumulate(sums, part)
        points = [
            SeriesPoint(str(row_id), number, revision.administered_at,
                        revision.result["scales"], revision.result["flags"])
            for row_id, number, revision in series
        ]  # fmt: skip
        evaluation = detect_ruptures(
            LOADED.definition,
            points,
            statistics_by_scale=organisation_statistics(
                summaries_from_sums(LOADED.definition, sums)
            ),
        )
        stored_flags = session.scalars(
            select(RuptureFlagRecord).where(RuptureFlagRecord.episode_id == episode_id)
        ).all()
        stored_alerts = session.scalars(
            select(AlertRecord).where(AlertRecord.episode_id == episode_id)
        ).all()
        session.add(
            AuditEvent(
                id=uuid.uuid4(), organization_id=organization_id, key_id=key.id,
                action="recordAdministration", resource_type="episode",
                resource_id=str(episode_id), request_id=uuid.uuid4().hex, outcome="success",
                status=201, at=now,
            )
        )  # fmt: skip
        session.commit()
        raised = [
            flag
            for flag in evaluation["flags"]
            if flag["administration_id"] == str(administration.id)
        ]
        return {
            "id": str(administration.id),
            "session": body.session,
            "scales": result["scales"],
            "ruptures": raised,
            "stored": [len(stored_flags), len(stored_alerts)],
        }
