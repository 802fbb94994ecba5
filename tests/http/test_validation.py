"""Every input the contract does not allow is a 422 problem naming the field, before anything
else reads the request: numbers beyond any scale, times outside the UTC calendar, cursors no
list gave, NUL in text, and numbers where the schema says a date, a time or a boolean. One
property test per class of input, over every route that takes it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.fhir.terms import SESSION_EXTENSION
from app.main import create_app
from app.platform.cursors import encode_cursor
from app.platform.settings import Settings
from tests.conftest import INSTRUMENTS

PROBLEM = "application/problem+json"
SRS = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
AT = "2026-03-01T10:00:00+01:00"
few = settings(max_examples=25)


@pytest.fixture(scope="module")
def client(database_url: str, api_key: str) -> Iterator[TestClient]:
    """A client holding every scope, for the module (hypothesis runs each test many times)."""
    app = create_app(
        Settings(
            database_url=database_url,
            instruments_dir=INSTRUMENTS,
            webhook_dispatch=False,
            rate_limit_per_minute=0,
        )
    )
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client


@pytest.fixture(scope="module")
def recorded(client: TestClient) -> dict[str, str]:
    """An episode with one SRS administration: the paths that correct or withdraw it."""
    patient = f"ehr-{uuid.uuid4()}"
    episode = client.post("/v1/episodes", json={"patient_ref": patient, "clinician_ref": "c"})
    episode_id = episode.json()["id"]
    administration = client.post(
        f"/v1/episodes/{episode_id}/administrations",
        json={"instrument": "srs", "rater": "client", "session": 1, "administered_at": AT,
              "responses": SRS},
    )  # fmt: skip
    assert administration.status_code == 201
    base = f"/v1/episodes/{episode_id}"
    return {
        "patient": patient,
        "episode": base,
        "administrations": f"{base}/administrations",
        "administration": f"{base}/administrations/{administration.json()['id']}",
    }


def _refused(response: Any, *loc: str | int, code: str | None = None) -> None:
    """A 422 problem with an error whose `loc` is `loc` (and whose code is `code`)."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    errors = response.json()["errors"]
    named = [error for error in errors if tuple(error["loc"]) == loc]
    assert named, errors
    if code is not None:
        assert {error["code"] for error in named} == {code}, errors


def _fhir_srs(patient: str, **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://bordin.dev/fhir/Questionnaire/srs|1.1.0",
        "status": "completed",
        "subject": {"identifier": {"value": patient}},
        "authored": AT,
        "source": {"reference": "Patient/1"},
        "extension": [{"url": SESSION_EXTENSION, "valuePositiveInt": 2}],
        "item": [{"linkId": i, "answer": [{"valueDecimal": v}]} for i, v in SRS.items()],
        **changes,
    }


# -- Numbers: whatever their size, never a crash ----------------------------------------------

huge_integers = st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1))
beyond_any_scale = st.one_of(
    huge_integers.filter(lambda n: abs(n) < 10**1000),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -1e308]),
)


@few
@given(answer=beyond_any_scale, item=st.sampled_from(["1", "4"]), session=huge_integers)
def test_numbers_beyond_any_scale_are_refused_naming_the_item(
    client: TestClient, recorded: dict[str, str], answer: float, item: str, session: int
) -> None:
    responses = {**SRS, item: answer}
    body = {"instrument": "srs", "rater": "client", "session": 2, "administered_at": AT,
            "responses": responses}  # fmt: skip
    for key in ("replay-it", None):  # an idempotency key hashes the request: not before this
        headers = {"Idempotency-Key": key} if key else {}
        _refused(_post(client, recorded["administrations"], body, headers), "responses", item)
    _refused(_post(client, recorded["administrations"], {**body, "session": session}), "session")
    correction = {"responses": responses, "reason": "typo"}
    _refused(_post(client, f"{recorded['administration']}/corrections", correction),
             "responses", item)  # fmt: skip
    scores = {"instrument": "srs", "responses": responses}
    _refused(_post(client, "/v1/scores", scores), "responses", item)


def _post(client: TestClient, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    """POST `body` as Python writes JSON: NaN and Infinity as such (httpx refuses them)."""
    return client.post(
        path,
        content=json.dumps(body),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


# -- Times: aware, and inside the calendar once in UTC ----------------------------------------


@st.composite
def times_outside_utc(draw: st.DrawFn) -> str:
    """Year 1 just after midnight at a positive offset, or year 9999 just before midnight at
    a negative one: valid where they are written, before year 1 or after 9999 in UTC."""
    offset = draw(st.integers(min_value=1, max_value=23 * 60 + 59))
    into = timedelta(minutes=draw(st.integers(min_value=0, max_value=offset - 1)))
    hours, minutes = divmod(offset, 60)
    if draw(st.booleans()):
        clock = str(timedelta(0) + into).zfill(8)
        return f"0001-01-01T{clock}+{hours:02d}:{minutes:02d}"
    clock = str(timedelta(days=1) - timedelta(minutes=1) - into).zfill(8)
    return f"9999-12-31T{clock}-{hours:02d}:{minutes:02d}"


@few
@given(at=times_outside_utc())
def test_times_outside_the_utc_calendar_are_refused_naming_the_field(
    client: TestClient, recorded: dict[str, str], at: str
) -> None:
    body = {"instrument": "srs", "rater": "client", "session": 3, "administered_at": at,
            "responses": SRS}  # fmt: skip
    _refused(client.post(recorded["administrations"], json=body), "administered_at",
             code="datetime_out_of_range")  # fmt: skip
    correction = {"responses": SRS, "reason": "typo", "administered_at": at}
    _refused(client.post(f"{recorded['administration']}/corrections", json=correction),
             "administered_at", code="datetime_out_of_range")  # fmt: skip
    key = {"name": "kiosk", "scopes": ["submit"], "expires_at": at}
    _refused(client.post("/v1/api-keys", json=key), "expires_at", code="datetime_out_of_range")
    resource = _fhir_srs(recorded["patient"], authored=at)
    for path in (f"{recorded['episode']}/questionnaire-responses", "/v1/scores/fhir"):
        _refused(client.post(path, json=resource), "authored", code="invalid_authored")


# -- Cursors: only what a list gave ------------------------------------------------------------

crafted_positions = st.one_of(
    st.tuples(
        st.sampled_from(["2026-03-01T10:00:00", "0001-01-01T00:00:00+05:00",
                         "9999-12-31T23:59:59-05:00", "not a time", ""]),
        st.just(str(uuid.uuid4())),
    ).map(list),
    st.tuples(st.just("2026-03-01T10:00:00+00:00"), st.text(max_size=5)).map(list),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=3),
)  # fmt: skip
garbage = st.text(max_size=30)


@few
@given(cursor=st.one_of(crafted_positions.map(encode_cursor), garbage))
def test_cursors_no_list_gave_are_refused(client: TestClient, cursor: str) -> None:
    webhook = str(uuid.uuid4())  # the cursor is read before the endpoint is looked up
    for path in ("/v1/episodes", "/v1/audit-events", f"/v1/webhooks/{webhook}/deliveries"):
        response = client.get(path, params={"cursor": cursor})
        assert response.status_code == 422, (path, cursor, response.text)
        assert response.json()["code"] in ("invalid_cursor", "invalid_request")


# -- Text: never a NUL (PostgreSQL refuses them; SQLite must refuse them too) -----------------

TEXT_FIELDS = [
    # (method, path key or path, body or None, where the text goes: loc)
    ("post", "/v1/episodes", {"patient_ref": "p", "clinician_ref": "c"}, ("patient_ref",)),
    ("post", "/v1/episodes", {"patient_ref": "p", "clinician_ref": "c"}, ("clinician_ref",)),
    ("post", "/v1/episodes", {"patient_ref": "p", "clinician_ref": "c", "label": "l"}, ("label",)),
    ("post", "administrations", {"instrument": "srs", "rater": "client", "session": 4,
                                 "administered_at": AT, "responses": SRS,
                                 "encounter_ref": "v"}, ("encounter_ref",)),
    ("post", "administrations", {"instrument": "srs", "rater": "client", "session": 4,
                                 "administered_at": AT, "responses": SRS}, ("instrument",)),
    ("post", "corrections", {"responses": SRS, "reason": "r"}, ("reason",)),
    ("post", "corrections", {"responses": SRS, "reason": "r", "version": "1.1.0"}, ("version",)),
    ("post", "withdrawal", {"reason": "r"}, ("reason",)),
    ("post", "/v1/api-keys", {"name": "n", "scopes": ["submit"]}, ("name",)),
    ("post", "/v1/webhooks", {"url": "https://ehr.example.org/a", "description": "d"},
     ("description",)),
    ("post", "/v1/webhooks", {"url": "https://ehr.example.org/a"}, ("url",)),
    ("post", "/v1/scores", {"instrument": "srs", "responses": SRS}, ("instrument",)),
    ("post", "/v1/scores/batch", {"instrument": "srs", "rows": [{"ref": "r", "responses": SRS}]},
     ("rows", 0, "ref")),
    ("post", "/v1/scores/batch", {"instrument": "srs", "rows": []}, ("instrument",)),
    ("get", "/v1/episodes", {"patient_ref": "p"}, ("query", "patient_ref")),
    ("get", "/v1/instruments/srs", {"version": "1.1.0"}, ("query", "version")),
]  # fmt: skip


def _with_text(document: Any, loc: tuple[str | int, ...], text: str) -> Any:
    if not loc:
        return text
    head, *rest = loc
    if isinstance(document, list):
        return [_with_text(part, tuple(rest), text) if i == head else part
                for i, part in enumerate(document)]  # fmt: skip
    return {**document, head: _with_text(document.get(head, ""), tuple(rest), text)}


@few
@given(
    field=st.sampled_from(TEXT_FIELDS),
    before=st.text(max_size=5).map(lambda t: t.replace("\x00", "")),
    after=st.text(max_size=5),
)
def test_a_nul_in_any_text_is_refused_naming_the_field(
    client: TestClient,
    recorded: dict[str, str],
    field: tuple[str, str, dict[str, Any], tuple[str | int, ...]],
    before: str,
    after: str,
) -> None:
    method, where, body, loc = field
    paths = {
        "administrations": recorded["administrations"],
        "corrections": f"{recorded['administration']}/corrections",
        "withdrawal": f"{recorded['administration']}/withdrawal",
    }
    path = paths.get(where, where)
    text = before + "\x00" + after
    if method == "get":
        response = client.get(path, params=_with_text(body, loc[1:], text))
    else:
        response = client.post(path, json=_with_text(body, loc, text))
    _refused(response, *loc, code="nul_character")


def test_a_nul_in_a_fhir_encounter_is_refused_naming_it(
    client: TestClient, recorded: dict[str, str]
) -> None:
    resource = _fhir_srs(recorded["patient"], encounter={"identifier": {"value": "v\x00"}})
    response = client.post(f"{recorded['episode']}/questionnaire-responses", json=resource)
    _refused(response, "encounter", "identifier", "value", code="nul_character")


# -- Strict types: a number is not a date, a time, a boolean, nor a text's whole number --------

ADMINISTRATION = {"instrument": "srs", "rater": "client", "session": 6, "administered_at": AT,
                  "responses": SRS}  # fmt: skip
# (where, a valid body, the field, values of another type than the schema's)
TYPED_FIELDS = [
    ("/v1/episodes", {"patient_ref": "p", "clinician_ref": "c"}, "started_on",
     [0, 20260301, 1.5, "5", "1700000000", True, [], "2026-03-01T00:00:00"]),
    ("administrations", ADMINISTRATION, "session",
     [5.0, 1.5, "5", True, None, [], -1, 100_001]),
    ("administrations", ADMINISTRATION, "administered_at",
     [0, 1700000000, 1.5, "1700000000", True, None, "2026-03-01", "2026-03-01T10:00:00"]),
    ("/v1/api-keys", {"name": "n", "scopes": ["submit"]}, "expires_at",
     [0, 4102444800, "4102444800", True, "2099-01-01"]),
    ("/v1/webhooks", {"url": "https://ehr.example.org/a"}, "include_fhir_flag",
     [0, 1, "true", "yes", None, []]),
]  # fmt: skip
WRONGLY_TYPED = [
    (where, body, name, value) for where, body, name, values in TYPED_FIELDS for value in values
]


@settings(max_examples=2 * len(WRONGLY_TYPED))
@given(case=st.sampled_from(WRONGLY_TYPED))
def test_values_of_another_type_are_refused_naming_the_field(
    client: TestClient, recorded: dict[str, str], case: tuple[str, dict[str, Any], str, Any]
) -> None:
    where, body, name, value = case
    path = recorded.get(where, where)
    _refused(client.post(path, json={**body, name: value}), name)
