"""FHIR use cases: score a QuestionnaireResponse, or record it in an episode like JSON does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.fhir.alerts import alert_resources
from app.fhir.observations import Context, score_bundle
from app.fhir.outcome import QuestionnaireResponseMismatchError
from app.fhir.responses import ReadResponse, located_error, read_response
from app.instruments.registry import InstrumentRegistry
from app.languages.catalogues import Words
from app.platform.errors import EpisodeNotFoundError, ItemError
from app.records import episodes
from app.records.administrations import (
    RATERS,
    NewAdministration,
    check_rater,
    record_administration,
)
from app.records.context import Json, Records


def score_questionnaire_response(
    registry: InstrumentRegistry, resource: Any, now: datetime
) -> Json:
    """The scores of a QuestionnaireResponse as Observations in a collection Bundle; nothing is
    stored. Flags of this one response (below a cut-off, a reported rupture) are the
    Observations' interpretations."""
    read = read_response(resource, registry)
    context = Context(
        seed=uuid.uuid4(),
        subject=read.subject,
        encounter=read.encounter,
        effective=read.authored,
        issued=now.isoformat(),
    )
    return score_bundle(read.loaded.definition, read.result, context, resource)


@dataclass(frozen=True)
class Recorded:
    status: int
    administration: Json  # as the JSON route returns it (flags with guidance ids)
    read: ReadResponse


def record_questionnaire_response(
    records: Records,
    episode_id: uuid.UUID,
    resource: Any,
    idempotency_key: str | None,
    *,
    session: int | None = None,
    caller_reads_records: bool = True,
) -> Recorded:
    """Record a QuestionnaireResponse in an episode: the same row as the JSON route stores.

    The response carries what the JSON body would: the session number (`session`, the
    route's `?session=`, which no renderer needs to know of, or our extension), the rater
    (our extension, or the type of `source`, or the instrument's only rater),
    `authored` (when it was filled in), the patient in `subject.identifier` (it must be
    the episode's `patient_ref`) and, optionally, the encounter in `encounter.identifier`.

    The response's own content is checked first, then the episode: so that a caller that
    may not read records (a `submit` or write-only key) learns nothing of an episode's
    patient, an episode of another patient answers it exactly as a missing episode does (a
    caller that reads records is told `wrong_patient`).
    """
    read = read_response(resource, records.registry)
    errors: list[ItemError] = _session_errors(read, session)
    administered_at = _authored(read, errors)
    patient = _identifier(read.subject)
    if patient is None:
        errors.append(
            located_error(
                ["subject", "identifier"],
                "missing_subject",
                "identify the patient in subject.identifier",
            )
        )
    encounter = _identifier(read.encounter)
    if encounter is not None and len(encounter) > 200:
        errors.append(
            located_error(
                ["encounter", "identifier", "value"], "too_long", "at most 200 characters"
            )
        )
    if encounter is not None and "\x00" in encounter:
        errors.append(
            located_error(["encounter", "identifier", "value"], "nul_character", "no NUL (U+0000)")
        )
    rater = read.rater or _only_rater(read)
    if rater is None:
        errors.append(
            located_error(
                ["source"], "missing_rater", "say who answered: source, or the rater extension"
            )
        )
    if errors:
        raise QuestionnaireResponseMismatchError(errors)
    assert rater is not None
    check_rater(read.loaded.definition, rater)
    episode = episodes.get_episode(records, episode_id)
    if patient != episode["patient_ref"]:
        if not caller_reads_records:
            raise EpisodeNotFoundError(f"no episode {episode_id}")
        raise QuestionnaireResponseMismatchError(
            [
                located_error(
                    ["subject", "identifier", "value"],
                    "wrong_patient",
                    "the patient is not the episode's patient",
                )
            ]
        )
    session = read.session if session is None else session
    assert session is not None
    assert administered_at is not None
    new = NewAdministration(
        instrument=read.loaded.id,
        version=read.version,
        rater=rater,
        session=session,
        administered_at=administered_at,
        responses=read.responses,
        encounter_ref=encounter,
    )
    status, body = record_administration(records, episode_id, new, idempotency_key)
    return Recorded(status, body, read)


def recorded_bundle(recorded: Recorded, resource: Json, flags: list[Json], words: Words) -> Json:
    """The Bundle answering a recorded response: the response with the administration's id,
    its Observations and the Flags of the rupture flags it raised (`flags`, guidance rendered
    in the language of `words`, which the Flags' narratives are in)."""
    administration = recorded.administration
    context = Context(
        seed=uuid.UUID(administration["id"]),
        subject=recorded.read.subject,
        encounter=recorded.read.encounter,
        effective=administration["administered_at"],
        issued=administration["created_at"],
    )
    return score_bundle(
        recorded.read.loaded.definition,
        administration["result"],
        context,
        {**resource, "id": administration["id"]},
        flags,
        words,
    )


def episode_alert_bundle(
    records: Records, episode_id: uuid.UUID, alerts: list[Json], kind: str, words: Words
) -> Json:
    """The episode's alerts (`alerts`: as the API shows them, guidance rendered) as a
    searchset Bundle: one FHIR `Flag` per alert (`kind` "Flag": active while open or
    unrepaired, the time it came back or was closed as `period.end`), or one `DetectedIssue`
    per alert (`kind` "DetectedIssue")."""
    episode = episodes.get_episode(records, episode_id)
    entries = []
    for alert in alerts:
        flag, issue = alert_resources(alert, episode["created_at"], words, records.registry)
        resource = flag if kind == "Flag" else issue
        entries.append(
            {
                "fullUrl": f"urn:uuid:{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": entries,
    }


def _session_errors(read: ReadResponse, session: int | None) -> list[ItemError]:
    """The session comes from `?session=` or the extension; both may say it if they agree."""
    if session is None:
        return [read.session_error] if read.session_error else []
    if read.session_error is not None and read.session_error["code"] != "missing_session":
        return [read.session_error]
    if read.session is not None and read.session != session:
        return [
            located_error(
                ["extension", "session-number"],
                "session_mismatch",
                f"the extension says session {read.session}, ?session= says {session}",
            )
        ]
    return []


def _authored(read: ReadResponse, errors: list[ItemError]) -> datetime | None:
    if read.authored is None:
        errors.append(
            located_error(["authored"], "missing_authored", "say when the form was filled in")
        )
        return None
    try:
        authored = datetime.fromisoformat(read.authored)
    except ValueError:
        authored = None
    if authored is None or authored.tzinfo is None:
        errors.append(
            located_error(["authored"], "invalid_authored", "a dateTime with a time zone offset")
        )
        return None
    return authored.astimezone(UTC)  # stored and echoed in UTC, as the JSON route does


def _only_rater(read: ReadResponse) -> str | None:
    allowed = RATERS[read.loaded.definition.respondent]
    return next(iter(allowed)) if len(allowed) == 1 else None


def _identifier(reference: Json | None) -> str | None:
    identifier = reference.get("identifier") if reference else None
    value = identifier.get("value") if isinstance(identifier, dict) else None
    return value if isinstance(value, str) and value else None
