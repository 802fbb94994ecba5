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
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.ruptures import SeriesPoint, detect_ruptures, organisation_statistics
from app.core.statistics import Sums, accumulate, add_sums, administration_sums, summaries_from_sums
from app.platform.tables import (
    Administration,
    AdministrationRevision,
    AlertRecord,
    ApiKey,
    AuditEvent,
    InstrumentStatistic,
    RuptureFlagRecord,
)
from bench.floor_records import DEFINITION as LOADED
from bench.floor_records import Body, engine, insert_locked

SHARDS = 16  # as app/records/statistics.py keeps them
app = FastAPI()


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
        administration = insert_locked(session, episode_id, body, dict(result), now)
        organization_id = administration.organization_id
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
