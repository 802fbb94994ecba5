"""The clinician console: sign-in (one-time links an EHR asks for with `POST
/v1/console-links`, local accounts), the worklist (`/console`), the episode view
(`/console/episodes/{id}`), acknowledging and closing an alert, and a form link for the next
session. Server-rendered pages that work without JavaScript; every view of patient data is
audited as the API's reads are (the request layer, by the route's tag)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.access import audit, console_sessions
from app.access.console_sessions import Clinician
from app.access.guard import COOKIE, caller, clinician, public
from app.access.keys import Principal
from app.alerts import alerts
from app.console import views
from app.console.schemas import ConsoleLinkCreate, ConsoleLinkCreated
from app.forms import invitations
from app.forms.routes import base_url
from app.http.language import Language
from app.http.pages import page, page_language, page_words
from app.http.problems import problem_responses
from app.http.responses import json_response
from app.http.state import AppState, State
from app.languages.catalogues import Words
from app.platform.errors import (
    AlertNotFoundError,
    ConsoleForbiddenError,
    ConsoleSignInRequiredError,
    DomainError,
)
from app.platform.errors import EpisodeNotFoundError as EpisodeMissing
from app.platform.logs import request_id
from app.records.context import Records

router = APIRouter(tags=["console"])
pages = APIRouter(include_in_schema=False)
Issuer = Annotated[Principal, Depends(caller("admin", "console:issue"))]
Signed = Annotated[Clinician, Depends(clinician())]
Lead = Annotated[Clinician, Depends(clinician("lead"))]
FORM_LINK_HOURS = 48


@router.post(
    "/v1/console-links",
    operation_id="createConsoleLink",
    status_code=201,
    response_model=ConsoleLinkCreated,
    responses=problem_responses(400, 401, 403, 413, 422),
)
def create_console_link(
    body: ConsoleLinkCreate, request: Request, state: State, principal: Issuer
) -> Response:
    """A one-time link that opens the clinician console for the EHR's signed-in clinician:
    valid a minute, used once. A clinician sees the episodes whose `clinician_ref` is theirs;
    a lead sees the organisation's."""
    token, expires_at = console_sessions.issue_link(
        state.database, principal.organization_id, clinician_ref=body.clinician_ref,
        role=body.role, next_path=body.next, now=datetime.now(UTC),
    )  # fmt: skip
    url = f"{base_url(request, state)}/console/link/{token}"
    return json_response({"url": url, "expires_at": expires_at}, {"Location": url}, 201)


# -- Signing in and out -----------------------------------------------------------------------


@pages.get("/console/link/{token}", dependencies=[Depends(public)])
def link_page(token: str, request: Request) -> Response:
    """The link's landing page: its form (sent by a script at once, or by the button) uses the
    link, so that a link preview or a mail scanner that only GETs it never spends it."""
    lang = page_language(request)
    return page(request, "console_link.html", lang, {"action": request.url.path})


@pages.post("/console/link/{token}", dependencies=[Depends(public)])
async def use_link(token: str, request: Request, state: State) -> Response:
    lifetime = timedelta(hours=state.settings.console_session_hours)
    used = await run_in_threadpool(
        console_sessions.use_link, state.database, token, datetime.now(UTC), lifetime
    )
    lang = page_language(request)
    if used is None:
        words = state.languages.words(lang)
        context = {"heading": words("console.link.title"), "body": words("console.link.invalid"),
                   "sign_in": True}  # fmt: skip
        return page(request, "console_message.html", lang, context, 401)
    session, next_path = used
    return _signed_in(request, state, session, next_path or "/console")


@pages.get("/console/sign-in", dependencies=[Depends(public)])
def sign_in_page(request: Request) -> Response:
    lang = page_language(request)
    return page(request, "console_sign_in.html", lang, {"next": _next(request), "failed": False})


@pages.post("/console/sign-in", dependencies=[Depends(public)])
async def sign_in(request: Request, state: State) -> Response:
    lang = page_language(request)
    address = request.client.host if request.client else "unknown"
    wait = await state.failed_auth_limiter.peek(address)
    sent = await request.form()
    email, password = str(sent.get("email", "")), str(sent.get("password", ""))
    session = None
    if wait <= 0 and email and password:
        lifetime = timedelta(hours=state.settings.console_session_hours)
        session = await run_in_threadpool(
            console_sessions.sign_in_with_password, state.database, email, password,
            datetime.now(UTC), lifetime,
        )  # fmt: skip
    if session is None:
        await state.failed_auth_limiter.wait_for(address)
        context = {"next": _next(request), "failed": True, "email": email}
        return page(request, "console_sign_in.html", lang, context, 401)
    return _signed_in(request, state, session, _next(request))


@pages.post("/console/sign-out")
def sign_out(request: Request, state: State, who: Signed) -> Response:
    console_sessions.sign_out(state.database, who.session_id, datetime.now(UTC))
    response = RedirectResponse(f"/console/sign-in?lang={page_language(request)}", 303)
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
    return response


# -- The worklist and the episode view --------------------------------------------------------


@pages.get("/console", tags=["alerts"], operation_id="consoleWorklist")
def worklist(request: Request, state: State, who: Signed) -> Response:
    lang = page_language(request)
    words = state.languages.words(lang)
    whose = request.query_params.get("whose", "mine" if not who.is_lead else "all")
    priority = request.query_params.get("priority", "")
    chosen = [priority] if priority in views.PRIORITIES else None
    rows = views.worklist(
        records_for(state, who), who, mine=whose == "mine", priorities=chosen, words=words,
        now=datetime.now(UTC),
    )  # fmt: skip
    context = {
        "who": who, "rows": rows, "whose": whose, "priority": priority,
        "notice": _notice(request, words),
    }  # fmt: skip
    return page(request, "console_worklist.html", lang, context)


@pages.get("/console/episodes/{episode_id}", tags=["episodes"], operation_id="consoleEpisode")
def episode(episode_id: UUID, request: Request, state: State, who: Signed) -> Response:
    lang = page_language(request)
    return _episode_page(request, state, who, episode_id, lang)


@pages.post(
    "/console/alerts/{alert_id}/acknowledgement",
    tags=["alerts"],
    operation_id="consoleAcknowledgeAlert",
)
async def acknowledge(alert_id: UUID, request: Request, state: State, who: Signed) -> Response:
    form = await _alert_form(alert_id, request, state, who)
    if isinstance(form, Response):
        return form
    sent, records, lang, episode_id = form
    await run_in_threadpool(alerts.acknowledge, records, alert_id, note=_note(sent))
    return _back(sent.get("back"), episode_id, alert_id, lang, "acknowledged")


@pages.post("/console/alerts/{alert_id}/closure", tags=["alerts"], operation_id="consoleCloseAlert")
async def close(alert_id: UUID, request: Request, state: State, who: Signed) -> Response:
    form = await _alert_form(alert_id, request, state, who)
    if isinstance(form, Response):
        return form
    sent, records, lang, episode_id = form
    reason = str(sent.get("reason", ""))
    if reason not in views.CLOSURE_REASONS:
        message = state.languages.text("console.alerts.close_reason_missing", lang)
        problem = {"alert_id": str(alert_id), "message": message}
        return await run_in_threadpool(
            _episode_page, request, state, who, episode_id, lang, problem
        )
    await run_in_threadpool(alerts.close, records, alert_id, reason=reason, note=_note(sent))
    return _back(sent.get("back"), episode_id, alert_id, lang, "closed")


async def _alert_form(
    alert_id: UUID, request: Request, state: AppState, who: Clinician
) -> tuple[FormData, Records, str, UUID] | Response:
    """A console form about an alert: what it sent, the clinician's records, the page's
    language and the alert's episode; the not-found page for an alert the clinician does not
    see."""
    sent = await request.form()
    records = records_for(state, who)
    lang = page_language(request)
    try:
        episode_id = await run_in_threadpool(views.visible_alert, records, who, alert_id)
    except AlertNotFoundError:
        return _not_found(request, lang)
    return sent, records, lang, episode_id


def _note(sent: FormData) -> str | None:
    """A clinician's optional note, trimmed to 1000 characters."""
    return str(sent.get("note", "")).strip()[:1000] or None


@pages.post(
    "/console/episodes/{episode_id}/invitations",
    tags=["episodes"],
    operation_id="consoleCreateInvitation",
)
async def create_form_link(
    episode_id: UUID, request: Request, state: State, who: Signed
) -> Response:
    sent = await request.form()
    records = records_for(state, who)
    lang = page_language(request)
    try:
        await run_in_threadpool(views.visible_episode, records, who, episode_id)
        session = int(str(sent.get("session", "")))
    except EpisodeMissing:
        return _not_found(request, lang)
    except ValueError:
        session = 0
    chosen = [str(name) for name in sent.getlist("instrument")] or ["srs"]
    try:
        _, token = await run_in_threadpool(
            lambda: invitations.create_invitation(
                records, episode_id, instruments=chosen, session=max(session, 1),
                expires_in_hours=FORM_LINK_HOURS, language=lang, kiosk=False,
            )
        )  # fmt: skip
    except DomainError:
        return _episode_page(request, state, who, episode_id, lang)
    link = {"url": f"{base_url(request, state)}/f/{token}", "session": max(session, 1),
            "hours": FORM_LINK_HOURS}  # fmt: skip
    return await run_in_threadpool(_episode_page, request, state, who, episode_id, lang, None, link)


@pages.get("/console/accounts", tags=["console"], operation_id="consoleAccounts")
def accounts_page(request: Request, who: Lead) -> Response:
    lang = page_language(request)
    return page(request, "console_accounts.html", lang, {"who": who, "current": "accounts"})


@pages.post("/console/accounts", tags=["console"], operation_id="consoleCreateAccount")
async def create_account(request: Request, state: State, who: Lead) -> Response:
    """A lead makes a local account in their own organisation."""
    sent = await request.form()
    lang = page_language(request)
    words = state.languages.words(lang)
    email = str(sent.get("email", "")).strip()
    try:
        await run_in_threadpool(
            lambda: console_sessions.create_account(
                state.database, who.organization_id, email=email,
                password=str(sent.get("password", "")),
                clinician_ref=str(sent.get("clinician_ref", "")).strip(),
                role=str(sent.get("role", "")), now=datetime.now(UTC),
            )
        )  # fmt: skip
    except console_sessions.AccountRefusedError as error:
        refusal = words(f"console.accounts.errors.{error.code}")
        reason = words("console.accounts.refused", reason=refusal)
        context = {"who": who, "current": "accounts", "problem": reason, "sent": sent}
        return page(request, "console_accounts.html", lang, context, 422)
    context = {"who": who, "current": "accounts", "created": email}
    return page(request, "console_accounts.html", lang, context)


def console_refused(request: Request, error: Exception) -> Response:
    """Where a browser without a console session goes: the sign-in page, then back here; a
    page refused to a signed-in clinician is a page that says so (403)."""
    if isinstance(error, ConsoleForbiddenError):
        lang = page_language(request)
        words = page_words(request, lang)
        context = {
            "heading": words("console.forbidden.title"),
            "body": words("console.forbidden.body"),
        }
        return page(request, "console_message.html", lang, context, 403)
    assert isinstance(error, ConsoleSignInRequiredError)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/sign-in?next={quote(target, safe='')}", 303)


def records_for(state: AppState, who: Clinician) -> Records:
    """The records of the clinician's organisation; writes audit themselves as the console's
    clinician (issuer "console", subject the clinician's reference)."""
    caller_ = audit.Caller(None, request_id.get() or "", "console", who.clinician_ref)
    return state.records.for_caller(who.organization_id, caller_)


def _episode_page(
    request: Request,
    state: AppState,
    who: Clinician,
    episode_id: UUID,
    lang: Language,
    problem: dict[str, str] | None = None,
    link: dict[str, object] | None = None,
) -> Response:
    words = state.languages.words(lang)
    try:
        shown = views.episode_page(records_for(state, who), who, episode_id, words=words)
    except EpisodeMissing:
        return _not_found(request, lang)
    context = {
        "who": who, **shown, "problem": problem, "link": link,
        "notice": _notice(request, words), "reasons": views.CLOSURE_REASONS,
    }  # fmt: skip
    return page(request, "console_episode.html", lang, context, 422 if problem else 200)


def _signed_in(request: Request, state: AppState, session_id: UUID, target: str) -> Response:
    """To `target`, with the session cookie: signed, HttpOnly, SameSite=Strict, for the
    console's paths only, and Secure wherever the service is reached over HTTPS."""
    response = RedirectResponse(_safe(target), 303)
    secure = request.url.scheme == "https" or (state.settings.public_base_url or "").startswith(
        "https:"
    )
    response.set_cookie(
        COOKIE,
        console_sessions.signed(session_id, state.console_secret),
        max_age=int(state.settings.console_session_hours * 3600),
        path="/console",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return response


def _next(request: Request) -> str:
    return _safe(request.query_params.get("next", "/console"))


def _safe(target: str) -> str:
    """Only a console page of this site (never `//elsewhere` or a full URL)."""
    if target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _back(back: object, episode_id: UUID, alert_id: UUID, lang: str, done: str) -> Response:
    if back == "worklist":
        return RedirectResponse(f"/console?lang={lang}&done={done}", 303)
    return RedirectResponse(
        f"/console/episodes/{episode_id}?lang={lang}&done={done}#alert-{alert_id}", 303
    )


def _notice(request: Request, words: Words) -> str | None:
    """What the last action did (after its redirect): acknowledged, closed."""
    done = request.query_params.get("done")
    return words(f"console.notices.{done}") if done in ("acknowledged", "closed") else None


def _not_found(request: Request, lang: Language) -> Response:
    words = page_words(request, lang)
    context = {"heading": words("console.not_found.title"), "body": words("console.not_found.body")}
    return page(request, "console_message.html", lang, context, 404)
