"""What the records' use-case tests share: an organisation of the test's own and its episodes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine

from app.access.keys import create_organization
from app.catalogue.guidance import Guidance
from app.instruments.registry import InstrumentRegistry
from app.platform.db import Database
from app.records.context import Records
from app.records.episodes import create_episode


def own_records(
    engine: Engine, registry: InstrumentRegistry, guidance: Guidance | None = None
) -> Records:
    """The records of a new organisation (nothing of another test's in its statistics)."""
    organization_id, _ = create_organization(Database(engine), "records test", datetime.now(UTC))
    return Records(Database(engine), registry, organization_id, guidance=guidance)


def new_episode(records: Records) -> uuid.UUID:
    created = create_episode(
        records, patient_ref=f"p-{uuid.uuid4()}", clinician_ref="c", setting=None,
        started_on=None, label=None,
    )  # fmt: skip
    return uuid.UUID(created["id"])
