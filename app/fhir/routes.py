"""FHIR R4 routes: Questionnaires, the CodeSystem, scoring and recording QuestionnaireResponses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from app.access.guard import caller, public
from app.access.keys import Principal
from app.alerts import alerts
from app.catalogue.routes import VersionQuery
from app.fhir import exchange
from app.fhir.questionnaire import answer_code_system, questionnaire
from app.fhir.schemas import (
    FhirBundle,
    FhirCodeSystem,
    FhirQuestionnaire,
    FhirQuestionnaireResponse,
)
from app.fhir.terms import code_system
from app.http.body import is_json
from app.http.language import Lang
from app.http.problems import problem_responses
from app.http.state import State, state_of
from app.platform.errors import MalformedJsonError, UnsupportedMediaTypeError
from app.records.routes import IdempotencyKey, location_of, records_of, with_guidance
from app.scoring.routes import SCORING_CALLER

FHIR_MEDIA_TYPE = "application/fhir+json"

router = APIRouter(tags=["fhir"])
Submitter = Annotated[Principal, Depends(caller("records:write", "submit"))]
Reader = Annotated[Principal, Depends(caller("records:read"))]


class FhirResponse(JSONResponse):
    """FHIR JSON, written with orjson (a JSONResponse, so that OpenAPI shows its schema)."""

    media_type = FHIR_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def raw_body(request: Request) -> bytes:
    """The request body, read before a sync route runs in its thread."""
    return await request.body()


def fhir_body(model: type[FhirQuestionnaireResponse]) -> dict[str, Any]:
    """`openapi_extra` of a route that reads a FHIR resource (FHIR or plain JSON)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    content = {media: {"schema": schema} for media in (FHIR_MEDIA_TYPE, "application/json")}
    return {"requestBody": {"required": True, "content": content}}


@router.get(
    "/v1/instruments/{instrument_id}/questionnaire",
    operation_id="getQuestionnaire",
    response_model=FhirQuestionnaire,
    response_class=FhirResponse,
    responses=problem_responses(404, 422),
    dependencies=[Depends(public)],
)
async def get_questionnaire(
    instrument_id: str,
    state: State,
    lang: Lang,
    version: VersionQuery = None,
    weights: Annotated[
        bool,
        Query(
            description="Add each answer's scoring weight (`ordinalValue`, `itemWeight`), for"
            " systems that score the form themselves; never for a form shown to a patient:"
            " renderers print the weight beside the answer."
        ),
    ] = False,
) -> Response:
    """The instrument as a FHIR R4 Questionnaire in the language of `Accept-Language` (one
    resource per language, same canonical url and version): `linkId` is the item id,
    required items are `required`, choices are radio buttons and the SRS lines sliders."""
    loaded = state.registry.get(instrument_id, version)
    words = state.languages.words(lang)
    resource = questionnaire(loaded.definition, loaded.definition_hash, words, weights=weights)
    return FhirResponse(resource, headers=_localized(lang))


@router.get(
    "/v1/instruments/{instrument_id}/answer-code-system",
    operation_id="getAnswerCodeSystem",
    response_model=FhirCodeSystem,
    response_class=FhirResponse,
    responses=problem_responses(404, 422),
    dependencies=[Depends(public)],
)
async def get_answer_code_system(
    instrument_id: str, state: State, lang: Lang, version: VersionQuery = None
) -> Response:
    """The CodeSystem of the instrument's answer codes, the system of the codings of its
    Questionnaire (`https://bordin.dev/fhir/CodeSystem/{instrument}-answers`)."""
    loaded = state.registry.get(instrument_id, version)
    words = state.languages.words(lang)
    return FhirResponse(answer_code_system(loaded.definition, words), headers=_localized(lang))


@router.get(
    "/v1/code-system",
    operation_id="getCodeSystem",
    response_model=FhirCodeSystem,
    response_class=FhirResponse,
    responses=problem_responses(422),
    dependencies=[Depends(public)],
)
async def get_code_system(state: State) -> Response:
    """Bordin's FHIR CodeSystem: the codes of the Observations and Flags it writes."""
    return FhirResponse(code_system(loaded.definition for loaded in state.registry.latest()))


@router.post(
    "/v1/scores/fhir",
    operation_id="scoreQuestionnaireResponse",
    tags=["scoring"],
    response_model=FhirBundle,
    response_class=FhirResponse,
    responses=problem_responses(400, 401, 403, 413, 415, 422),
    openapi_extra=fhir_body(FhirQuestionnaireResponse),
    dependencies=[SCORING_CALLER],
)
async def score_questionnaire_response(request: Request) -> Response:
    """Score a QuestionnaireResponse: a Bundle of one Observation per scale, derived from it.
    Nothing is stored. A response that does not match its Questionnaire is a 422 problem
    whose `issue` is an OperationOutcome's."""
    resource = _resource(await request.body(), request.headers.get("content-type"))
    registry = state_of(request).registry
    bundle = exchange.score_questionnaire_response(registry, resource, datetime.now(UTC))
    return FhirResponse(bundle)


@router.post(
    "/v1/episodes/{episode_id}/questionnaire-responses",
    operation_id="recordQuestionnaireResponse",
    status_code=201,
    tags=["episodes"],
    response_model=FhirBundle,
    response_class=FhirResponse,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra=fhir_body(FhirQuestionnaireResponse),
)
def record_questionnaire_response(
    episode_id: UUID,
    request_body: Annotated[bytes, Depends(raw_body)],
    request: Request,
    state: State,
    principal: Submitter,
    lang: Lang,
    idempotency_key: IdempotencyKey = None,
    session: Annotated[
        int | None,
        Query(
            ge=0,
            le=100_000,
            description="The session number, for a response that does not carry it in the"
            " extension `https://bordin.dev/fhir/StructureDefinition/session-number` (no"
            " renderer adds it); if both say it, they must agree.",
        ),
    ] = None,
) -> Response:
    """Record a QuestionnaireResponse in an episode, exactly as the JSON route would (same
    row, same flags, same Idempotency-Key rules). The answer is a Bundle of the response,
    its Observations and a Flag per rupture flag it raised, with its repair guidance as
    text. A key without `records:read` (`submit`, or `records:write` alone) gets back only
    the response with its id, and an episode of another patient answers as a missing one."""
    resource = _resource(request_body, request.headers.get("content-type"))
    records = records_of(state, principal)
    reads = "records:read" in principal.scopes
    recorded = exchange.record_questionnaire_response(
        records, episode_id, resource, idempotency_key, session=session, caller_reads_records=reads
    )
    administration = recorded.administration
    headers = {**location_of(administration), **_localized(lang)}
    if not reads:
        minimal = {
            "resourceType": "QuestionnaireResponse",
            "id": administration["id"],
            "questionnaire": resource["questionnaire"],
            "status": resource["status"],
        }
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": minimal}]}
        return FhirResponse(bundle, recorded.status, headers)
    flags = with_guidance(administration, "ruptures", state, lang)["ruptures"]
    bundle = exchange.recorded_bundle(recorded, resource, flags, state.languages.words(lang))
    return FhirResponse(bundle, recorded.status, headers)


# The routes that read their body themselves: their schemas go into the OpenAPI document.
FHIR_BODY_MODELS = (FhirQuestionnaireResponse,)


@router.get(
    "/v1/episodes/{episode_id}/fhir-flags",
    operation_id="listEpisodeFhirFlags",
    tags=["episodes"],
    response_model=FhirBundle,
    response_class=FhirResponse,
    responses=problem_responses(401, 403, 404, 422),
)
def list_episode_fhir_flags(
    episode_id: UUID, state: State, principal: Reader, lang: Lang
) -> Response:
    """The episode's alerts as a searchset Bundle of FHIR Flags, one per alert (not per rupture
    flag): `active` while the alert is open or unrepaired, `inactive` once repaired or closed
    (its time as `period.end`), `entered-in-error` when withdrawn; each with its repair
    guidance as text in the language of `Accept-Language`."""
    return _alert_bundle(episode_id, state, principal, lang, "Flag")


@router.get(
    "/v1/episodes/{episode_id}/fhir-detected-issues",
    operation_id="listEpisodeFhirDetectedIssues",
    tags=["episodes"],
    response_model=FhirBundle,
    response_class=FhirResponse,
    responses=problem_responses(401, 403, 404, 422),
)
def list_episode_fhir_detected_issues(
    episode_id: UUID, state: State, principal: Reader, lang: Lang
) -> Response:
    """The episode's alerts as a searchset Bundle of FHIR DetectedIssues: severity from the
    alert's priority, the flags and change findings as `evidence` (pointing at the scored
    Observations), acknowledgement and closure as `mitigation`, the guidance as `detail`."""
    return _alert_bundle(episode_id, state, principal, lang, "DetectedIssue")


def _alert_bundle(
    episode_id: UUID, state: State, principal: Principal, lang: str, kind: str
) -> Response:
    records = records_of(state, principal)
    rows, episode = alerts.episode_alerts(records, episode_id)
    shown = [
        alerts.rendered(alerts.alert_view(row, episode), state.records.guidance, lang)
        for row in rows
    ]
    words = state.languages.words(lang)
    bundle = exchange.episode_alert_bundle(records, episode_id, shown, kind, words)
    return FhirResponse(bundle, headers=_localized(lang))


def _localized(lang: str) -> dict[str, str]:
    return {"Content-Language": lang, "Vary": "Accept-Language"}


def _resource(body: bytes, content_type: str | None) -> Any:
    if not is_json(content_type):
        raise UnsupportedMediaTypeError(
            f"send {FHIR_MEDIA_TYPE} or application/json, not {content_type or 'nothing'}"
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedJsonError("the request body is not valid JSON") from None
