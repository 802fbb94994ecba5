"""The patient form: `POST /v1/episodes/{id}/invitations` makes a form link, and `/f/{token}`
serves it, one page per instrument, in any language of the catalogues, never cached, recording
each page through the API's own use case; then a thank-you page (with the organisation's
crisis text, `GET/PUT /v1/form-settings`), and the link answers 410."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from app.access.guard import caller, public
from app.access.keys import Principal
from app.forms import crisis, invitations, questions
from app.forms.schemas import (
    FormSettingsUpdate,
    FormSettingsView,
    InvitationCreate,
    InvitationCreated,
)
from app.http.language import Language
from app.http.pages import page, page_language, page_words
from app.http.problems import problem_responses
from app.http.responses import json_response
from app.http.state import AppState, State
from app.instruments.texts import InstrumentTexts
from app.platform.errors import (
    FormLinkGoneError,
    FormLinkNotFoundError,
    InvalidRequestError,
    InvalidResponsesError,
    SessionAlreadyRecordedError,
)
from app.records.routes import records_of

router = APIRouter(tags=["episodes"])
settings_router = APIRouter(tags=["forms"])
pages = APIRouter(dependencies=[Depends(public)], include_in_schema=False)
Submitter = Annotated[Principal, Depends(caller("records:write", "submit"))]
Reader = Annotated[Principal, Depends(caller("records:read"))]
Admin = Annotated[Principal, Depends(caller("admin"))]
KIOSK_PATH = "/f/kiosk"


@router.post(
    "/v1/episodes/{episode_id}/invitations",
    operation_id="createInvitation",
    status_code=201,
    response_model=InvitationCreated,
    responses=problem_responses(400, 401, 403, 404, 413, 422),
)
def create_invitation(
    episode_id: UUID, body: InvitationCreate, request: Request, state: State, principal: Submitter
) -> Response:
    """A form link for one session of the episode, for the patient (sending it is the
    caller's job). Single use: once every instrument is answered, or once it expires, it
    answers 410. Each page is recorded as `POST …/administrations` records it."""
    view, token = invitations.create_invitation(
        records_of(state, principal), episode_id, **body.model_dump()
    )
    url = f"{base_url(request, state)}/f/{token}"
    return json_response({**view, "url": url}, {"Location": url}, 201)


@settings_router.get(
    "/v1/form-settings",
    operation_id="getFormSettings",
    response_model=FormSettingsView,
    responses=problem_responses(401, 403),
)
def get_form_settings(state: State, principal: Reader) -> Response:
    """What the patient form says of the organisation's own: its crisis text."""
    texts = crisis.crisis_text(records_of(state, principal))
    return json_response({"crisis_text": texts})


@settings_router.put(
    "/v1/form-settings",
    operation_id="setFormSettings",
    response_model=FormSettingsView,
    responses=problem_responses(400, 401, 403, 413, 422),
)
def set_form_settings(body: FormSettingsUpdate, state: State, admin: Admin) -> Response:
    """Replace the organisation's crisis text, in any language of `GET /v1/languages`: the
    thank-you page shows the text of its own language, else the English one, else none. It
    applies to the next thank-you page."""
    texts = crisis.set_crisis_text(records_of(state, admin), body.crisis_text)
    return json_response({"crisis_text": texts})


@pages.get(KIOSK_PATH)
def kiosk_page(request: Request) -> Response:
    """Where a shared device rests between patients: no data of anyone."""
    lang = page_language(request)
    words = page_words(request, lang)
    context = {"heading": words("form.kiosk.title"), "body": words("form.kiosk.body")}
    return page(request, "message.html", lang, context)


@pages.get("/f/{token}")
def form_page(token: str, request: Request, state: State) -> Response:
    try:
        form = invitations.open_form(state.records, token)
    except (FormLinkNotFoundError, FormLinkGoneError) as error:
        return _link_problem(request, error)
    lang = page_language(request, form.language)
    return _questions_page(request, state, form, lang)


@pages.post("/f/{token}")
async def send_page(token: str, request: Request, state: State) -> Response:
    sent = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    try:
        form = invitations.open_form(state.records, token)
    except (FormLinkNotFoundError, FormLinkGoneError) as error:
        return _link_problem(request, error)
    lang = page_language(request, form.language)
    instrument = sent.get("instrument", "")
    if instrument not in form.pending[:1]:  # an earlier page sent again: show where we are
        return _see_form(token, lang)
    definition = state.registry.get(instrument).definition
    answers = questions.read_answers(definition, sent)
    if answers.problems:
        return _questions_page(request, state, form, lang, sent, answers.problems)
    try:
        after, _ = invitations.record_page(state.records, token, instrument, answers.responses)
    except InvalidResponsesError as error:
        problems = {str(item["loc"][-1]): "invalid" for item in error.errors}
        return _questions_page(request, state, form, lang, sent, problems)
    except SessionAlreadyRecordedError:
        words = state.languages.words(lang)
        recorded = {"heading": words("pages.error_title"), "body": words("form.errors.recorded")}
        return page(request, "message.html", lang, recorded, 409)
    except InvalidRequestError:  # not asked any more: another tab sent it first
        return _see_form(token, lang)
    except (FormLinkNotFoundError, FormLinkGoneError) as error:
        return _link_problem(request, error)
    if after.pending:
        return _see_form(token, lang)
    crisis = (after.crisis_text or {}).get(lang) or (after.crisis_text or {}).get("en")
    context = {
        "crisis_text": crisis,
        "kiosk": after.kiosk,
        "kiosk_url": f"{KIOSK_PATH}?lang={lang}",
        "kiosk_seconds": state.settings.form_kiosk_seconds,
    }
    return page(request, "form_done.html", lang, context)


def _questions_page(
    request: Request,
    state: AppState,
    form: invitations.OpenForm,
    lang: Language,
    sent: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
) -> Response:
    instrument = form.pending[0]
    definition = state.registry.get(instrument).definition
    words = state.languages.words(lang)
    texts = InstrumentTexts.of(words, definition)
    shown = questions.questions(definition, texts, sent, words("format.decimal_separator"))
    errors = []
    for question in shown:
        problem = (problems or {}).get(question.id)
        if problem is None:
            continue
        question.error = words(f"form.errors.{problem}.field")
        target = f"item-{question.id}" + ("-1" if question.kind == "radio" else "")
        item = f"{question.number}. {question.label}"
        summary = words(f"form.errors.{problem}.summary", item=item)
        errors.append({"target": target, "message": summary})
    context = {
        "title": texts.title,
        "instrument": instrument,
        "items": shown,
        "errors": errors,
        "page": form.page,
        "pages": len(form.instruments),
        "last_page": len(form.pending) == 1,
        "action": f"{request.url.path}?lang={lang}",
    }
    return page(request, "form.html", lang, context, 422 if errors else 200)


def _see_form(token: str, lang: str) -> Response:
    return RedirectResponse(f"/f/{token}?lang={lang}", status_code=303)


def _link_problem(request: Request, error: FormLinkNotFoundError | FormLinkGoneError) -> Response:
    lang = page_language(request)
    words = page_words(request, lang)
    kind = "gone" if isinstance(error, FormLinkGoneError) else "unknown"
    context = {"heading": words(f"form.link.{kind}.title"), "body": words(f"form.link.{kind}.body")}
    return page(request, "message.html", lang, context, error.status)


def base_url(request: Request, state: AppState) -> str:
    """Where patients and clinicians reach the service: the configured address, else the one
    this request came to."""
    configured = state.settings.public_base_url
    return (configured or str(request.base_url)).rstrip("/")
