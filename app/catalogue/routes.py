"""The routes of the catalogue: instruments, repair guidance and problem types (public)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app.access.guard import public
from app.catalogue.instruments import instrument_detail, instrument_summary
from app.catalogue.schemas import (
    GuidanceCatalogue,
    InstrumentDetail,
    InstrumentList,
    LanguageList,
    ProblemType,
)
from app.http.language import Lang
from app.http.problems import PROBLEMS, problem_responses
from app.http.responses import json_response, localized
from app.http.schemas import Text
from app.http.state import State
from app.languages.catalogues import SOURCE_LANGUAGE
from app.platform.errors import UnknownProblemTypeError, problem_types

router = APIRouter()


VersionQuery = Annotated[Text | None, Query(description="A loaded version; latest if absent.")]


@router.get(
    "/problems/{code}",
    operation_id="getProblemType",
    tags=["problems"],
    response_model=ProblemType,
    responses=problem_responses(404, 422),
    dependencies=[Depends(public)],
)
async def get_problem_type(code: str, state: State, lang: Lang) -> Response:
    """What a problem `type` means: each problem's `type` is `/problems/{code}`. The title
    is in the caller's language, the description in English (it is for developers)."""
    kind = problem_types().get(code)
    if kind is None:
        raise UnknownProblemTypeError(f"no problem type {code!r}")
    description = " ".join((kind.__doc__ or kind.title).split())
    title = state.languages.texts(PROBLEMS, lang).get(kind.code, kind.title)
    body = {"code": kind.code, "title": title, "status": kind.status, "description": description}
    return localized(body, lang)


@router.get(
    "/v1/languages",
    operation_id="listLanguages",
    tags=["languages"],
    response_model=LanguageList,
    responses=problem_responses(422),
    dependencies=[Depends(public)],
)
async def list_languages(state: State) -> Response:
    """The languages the service speaks (`Accept-Language` picks among them, English when none
    matches), each with the texts it does not translate yet, which are shown in English.
    Adding a language is adding a folder of catalogues: see the README."""
    languages = state.languages
    items = []
    for code in languages.languages:
        missing = [
            f"{entry.domain}: {key}"
            for entry in languages.missing
            if entry.language == code
            for key in entry.keys
        ]
        items.append(
            {
                "code": code,
                "name": languages.text("language.name", code),
                "source": code == SOURCE_LANGUAGE,
                "missing": len(missing),
                "missing_keys": missing,
            }
        )
    return json_response({"source": SOURCE_LANGUAGE, "items": items})


@router.get(
    "/v1/guidance",
    operation_id="listGuidance",
    tags=["guidance"],
    response_model=GuidanceCatalogue,
    responses=problem_responses(422),
    dependencies=[Depends(public)],
)
async def list_guidance(state: State, lang: Lang) -> Response:
    """The repair guidance catalogue, for front-ends that show it on their own, with the kinds
    of source its entries cite (strongest first) in the caller's language."""
    catalogue = state.records.guidance
    assert catalogue is not None  # create_app always loads it
    items = [
        {
            **catalogue.render([entry.id], lang)[0],
            "applies": entry.applies.model_dump(mode="json", exclude_defaults=True),
        }
        for entry in catalogue.entries
    ]
    body = {"version": catalogue.version, "source_kinds": catalogue.legend(lang), "items": items}
    return localized(body, lang)


@router.get(
    "/v1/instruments",
    operation_id="listInstruments",
    tags=["instruments"],
    response_model=InstrumentList,
    responses=problem_responses(422),
    dependencies=[Depends(public)],
)
async def list_instruments(state: State, lang: Lang) -> Response:
    """The latest version of every instrument."""
    registry = state.registry
    items = [
        instrument_summary(registry, loaded, state.languages, lang) for loaded in registry.latest()
    ]
    return localized({"items": items, "next_cursor": None}, lang)


@router.get(
    "/v1/instruments/{instrument_id}",
    operation_id="getInstrument",
    tags=["instruments"],
    response_model=InstrumentDetail,
    responses=problem_responses(404, 422),
    dependencies=[Depends(public)],
)
async def get_instrument(
    instrument_id: str,
    state: State,
    lang: Lang,
    version: VersionQuery = None,
) -> Response:
    """The full definition: items, scales, reverse keys, missing rules, cut-offs, rupture rules."""
    loaded = state.registry.get(instrument_id, version)
    return localized(instrument_detail(state.registry, loaded, state.languages, lang), lang)
