"""The /v1 routes of episodes of care, administrations, trajectories and rupture flags."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response

from app.access import audit
from app.access.guard import caller
from app.access.keys import Principal
from app.alerts import alerts
from app.http.language import Lang
from app.http.problems import problem_responses
from app.http.responses import json_response, localized
from app.http.schemas import Text
from app.http.state import AppState, State
from app.platform.logs import request_id
from app.records import administrations, episodes, evaluation
from app.records.charts import trajectory_svg
from app.records.context import Records
from app.records.schemas import (
    AdministrationAcknowledgement,
    AdministrationCorrection,
    AdministrationCreate,
    AdministrationList,
    AdministrationRecorded,
    AdministrationWithdrawal,
    EpisodeClosure,
    EpisodeCreate,
    EpisodeList,
    EpisodeRuptures,
    EpisodeView,
    InstrumentStatistics,
    Rater,
    Trajectory,
)

router = APIRouter(tags=["episodes"])
# What a key that may not read records (`submit`, or `records:write` alone) sees of an
# administration it recorded, corrected or withdrew.
ACKNOWLEDGED = ("id", "episode_id", "instrument", "rater", "session", "status")
Reader = Annotated[Principal, Depends(caller("records:read"))]
Writer = Annotated[Principal, Depends(caller("records:write"))]
Submitter = Annotated[Principal, Depends(caller("records:write", "submit"))]
Admin = Annotated[Principal, Depends(caller("admin"))]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
IdempotencyKey = Annotated[
    Text | None,
    Header(
        max_length=200,
        description="Replays the first response for the same request; refuses another request.",
    ),
]


@router.post(
    "/v1/episodes",
    operation_id="createEpisode",
    status_code=201,
    response_model=EpisodeView,
    responses=problem_responses(400, 401, 403, 413, 422),
)
def create_episode(body: EpisodeCreate, state: State, principal: Writer) -> Response:
    """Open an episode of care. Patient and clinician are the caller's opaque references."""
    episode = episodes.create_episode(records_of(state, principal), **body.model_dump())
    return json_response(episode, {"Location": f"/v1/episodes/{episode['id']}"}, 201)


@router.get(
    "/v1/episodes",
    operation_id="listEpisodes",
    response_model=EpisodeList,
    responses=problem_responses(401, 403, 422),
)
def list_episodes(
    state: State,
    principal: Reader,
    patient_ref: Annotated[Text | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Episodes, oldest first; `patient_ref` narrows them to one patient."""
    page = episodes.list_episodes(
        records_of(state, principal), patient_ref=patient_ref, limit=limit, cursor=cursor
    )
    return json_response(page)


@router.delete(
    "/v1/episodes/{episode_id}",
    operation_id="eraseEpisode",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
def erase_episode(episode_id: UUID, state: State, principal: Admin) -> Response:
    """Right to erasure: the episode and everything recorded in it are deleted for good.
    The audit trail keeps that it happened, not what was erased."""
    episodes.erase_episode(records_of(state, principal), episode_id)
    return Response(status_code=204)


@router.get(
    "/v1/episodes/{episode_id}",
    operation_id="getEpisode",
    response_model=EpisodeView,
    responses=problem_responses(401, 403, 404, 422),
)
def get_episode(episode_id: UUID, state: State, principal: Reader) -> Response:
    return json_response(episodes.get_episode(records_of(state, principal), episode_id))


@router.post(
    "/v1/episodes/{episode_id}/closure",
    operation_id="closeEpisode",
    response_model=EpisodeView,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422),
)
def close_episode(
    episode_id: UUID, body: EpisodeClosure, state: State, principal: Writer
) -> Response:
    """End the episode. Rules that wait for later sessions settle with the sessions there
    are: a repair still pending becomes unrepaired, a sudden loss is judged on the sessions
    after it that exist. Ending it again with the same day and reason changes nothing."""
    episode = episodes.close_episode(
        records_of(state, principal), episode_id, ended_on=body.ended_on, reason=body.reason
    )
    return json_response(episode)


@router.post(
    "/v1/episodes/{episode_id}/administrations",
    operation_id="recordAdministration",
    status_code=201,
    response_model=AdministrationRecorded | AdministrationAcknowledgement,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422),
)
def record_administration(
    episode_id: UUID,
    body: AdministrationCreate,
    state: State,
    principal: Submitter,
    lang: Lang,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Score and store an administration; the response carries the rupture flags it raised.
    A session already recorded for this instrument and rater is a 409. A key without the
    `records:read` scope (`submit`, or `records:write` alone) gets an acknowledgement and
    nothing of the content back."""
    new = administrations.NewAdministration(
        **body.model_dump(exclude={"responses"}), responses=body.responses
    )
    status, recorded = administrations.record_administration(
        records_of(state, principal), episode_id, new, idempotency_key
    )
    answer = acknowledged(recorded, principal)
    headers = {**location_of(recorded), "Content-Language": lang, "Vary": "Accept-Language"}
    return json_response(with_guidance(answer, "ruptures", state, lang), headers, status)


@router.get(
    "/v1/episodes/{episode_id}/administrations",
    operation_id="listAdministrations",
    response_model=AdministrationList,
    responses=problem_responses(401, 403, 404, 422),
)
def list_administrations(
    episode_id: UUID, state: State, principal: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """The episode's administrations in their current state, by session, with their history."""
    records = records_of(state, principal)
    page = administrations.list_administrations(records, episode_id, limit=limit, cursor=cursor)
    return json_response(page)


@router.post(
    "/v1/episodes/{episode_id}/administrations/{administration_id}/corrections",
    operation_id="correctAdministration",
    response_model=AdministrationRecorded | AdministrationAcknowledgement,
    responses=problem_responses(400, 401, 403, 404, 413, 422),
)
def correct_administration(
    episode_id: UUID,
    administration_id: UUID,
    body: AdministrationCorrection,
    state: State,
    principal: Writer,
    lang: Lang,
) -> Response:
    """Record corrected answers; the original stays in the history and the series is
    evaluated again. A key without `records:read` gets an acknowledgement back."""
    corrected = administrations.correct_administration(
        records_of(state, principal),
        episode_id,
        administration_id,
        **body.model_dump(exclude={"responses"}),
        responses=body.responses,
    )
    answer = acknowledged(corrected, principal)
    return localized(with_guidance(answer, "ruptures", state, lang), lang)


@router.post(
    "/v1/episodes/{episode_id}/administrations/{administration_id}/withdrawal",
    operation_id="withdrawAdministration",
    response_model=AdministrationRecorded | AdministrationAcknowledgement,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def withdraw_administration(
    episode_id: UUID,
    administration_id: UUID,
    body: AdministrationWithdrawal,
    state: State,
    principal: Writer,
) -> Response:
    """Withdraw an administration (it stays in the history); the series is evaluated again.
    `ruptures` is empty: a withdrawn administration raises no flag. A key without
    `records:read` gets an acknowledgement back."""
    withdrawn = administrations.withdraw_administration(
        records_of(state, principal), episode_id, administration_id, reason=body.reason
    )
    return json_response(acknowledged(withdrawn, principal))


@router.get(
    "/v1/episodes/{episode_id}/trajectory",
    operation_id="getTrajectory",
    response_model=Trajectory,
    responses=problem_responses(401, 403, 404, 422),
)
def get_trajectory(
    episode_id: UUID,
    state: State,
    principal: Reader,
    lang: Lang,
    instrument: Annotated[Text, Query(description="Instrument id, e.g. wai-sr.")],
    rater: Annotated[Rater, Query()] = "client",
) -> Response:
    """One series: scale scores by session, its flags with repair state, and the rules it
    could not evaluate yet."""
    records = records_of(state, principal)
    series = evaluation.trajectory(records, episode_id, instrument=instrument, rater=rater)
    return localized(with_guidance(series, "ruptures", state, lang), lang)


@router.get(
    "/v1/episodes/{episode_id}/trajectory.svg",
    operation_id="getTrajectoryChart",
    response_class=Response,
    responses={
        200: {
            "description": (
                "The trajectory as an SVG chart: the main scale (raw and % of maximum), its"
                " alert zone, dates, one marker per alert, subscales, a legend."
            ),
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 404, 422),
    },
)
def get_trajectory_chart(
    episode_id: UUID,
    state: State,
    principal: Reader,
    lang: Lang,
    instrument: Annotated[Text, Query(description="Instrument id, e.g. wai-sr.")],
    rater: Annotated[Rater, Query()] = "client",
) -> Response:
    """The trajectory as a chart a clinician reads in seconds: the main scale on its own scale
    and as a percent of its maximum, its cut-off's alert zone, the dates, one marker per
    alert (its priority and dimensions), the subscales below, a legend; in the caller's
    language."""
    records = records_of(state, principal)
    series = evaluation.trajectory(records, episode_id, instrument=instrument, rater=rater)
    rows, episode = alerts.episode_alerts(records, episode_id)
    shown = [alerts.alert_view(row, episode) for row in rows]
    definition = state.registry.get(instrument).definition
    chart = trajectory_svg(series, definition, shown, state.languages.words(lang))
    return Response(chart, media_type="image/svg+xml", headers={"Content-Language": lang})


@router.get(
    "/v1/episodes/{episode_id}/ruptures",
    operation_id="listEpisodeRuptures",
    response_model=EpisodeRuptures,
    responses=problem_responses(401, 403, 404, 422),
)
def list_episode_ruptures(
    episode_id: UUID, state: State, principal: Reader, lang: Lang
) -> Response:
    """Every rupture flag of the episode, in its current state, with its repair guidance."""
    ruptures = evaluation.episode_ruptures(records_of(state, principal), episode_id)
    return localized(with_guidance(ruptures, "items", state, lang), lang)


@router.get(
    "/v1/instruments/{instrument_id}/statistics",
    operation_id="getInstrumentStatistics",
    tags=["instruments"],
    response_model=InstrumentStatistics,
    responses=problem_responses(401, 403, 404, 422),
)
def get_instrument_statistics(instrument_id: str, state: State, principal: Reader) -> Response:
    """The organisation's own count, mean, SD and Cronbach's alpha per scale: what the
    rupture rules use where the definition declares no norm."""
    records = records_of(state, principal)
    return json_response(evaluation.instrument_statistics(records, instrument_id))


def with_guidance(body: dict[str, Any], field: str, state: AppState, lang: str) -> dict[str, Any]:
    """The body with each flag's guidance ids rendered as texts in the caller's language (and
    each alert's, when the body carries `alerts`)."""
    catalogue = state.records.guidance
    if catalogue is None or field not in body:
        return body
    rendered = [
        {**flag, "guidance": catalogue.render(flag.get("guidance", []), lang)}
        for flag in body[field]
    ]
    answer = {**body, field: rendered}
    if "alerts" in body:
        answer["alerts"] = [alerts.rendered(alert, catalogue, lang) for alert in body["alerts"]]
    return answer


def location_of(administration: dict[str, Any]) -> dict[str, str]:
    """The `Location` of a recorded administration (a replay names the same one)."""
    return {
        "Location": f"/v1/episodes/{administration['episode_id']}"
        f"/administrations/{administration['id']}"
    }


def acknowledged(administration: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The answer of a write to an administration: all of it to a key that may read records,
    else an acknowledgement (a write-only key sends data in, it reads nothing back)."""
    if "records:read" in principal.scopes:
        return administration
    return {key: administration[key] for key in ACKNOWLEDGED}


def records_of(state: AppState, principal: Principal) -> Records:
    """The records the caller's organisation owns; its writes audit themselves as the caller."""
    caller = audit.Caller(
        principal.key_id, request_id.get() or "", principal.jwt_issuer, principal.jwt_subject
    )
    return state.records.for_caller(principal.organization_id, caller)
