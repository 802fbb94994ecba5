"""The organisation's crisis text, in any language found: set by an admin through
`PUT /v1/form-settings` (audited) or the command line, read back with a reader scope, checked
field by field, and shown by the thank-you page in its language, else English, else not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.cli import main as cli
from app.platform.tables import AuditEvent, Organization
from tests.forms.conftest import LONG_TAG
from tests.forms.test_form_pages import SRS_ANSWERS, episode, invite, path_of, srs_form
from tests.webhooks_support import Organisation

SETTINGS = "/v1/form-settings"


def thank_you_page(api: TestClient, language: str | None) -> str:
    """The thank-you page of a new one-page form link in `language`, once answered."""
    path = path_of(invite(api, episode(api), language=language)["url"])
    done = api.post(path, data=srs_form(SRS_ANSWERS))
    assert done.status_code == 200, done.text
    return str(done.text)


def test_an_admin_sets_the_text_in_any_language_found_trimmed_and_audited(
    long_tag_api: TestClient, engine: Engine, organisation: Organisation
) -> None:
    assert long_tag_api.get(SETTINGS).json() == {"crisis_text": None}
    texts = {LONG_TAG: "  Call 999.  ", "en": "In an emergency call 112.", "fr": "Appelez le 112."}
    answer = long_tag_api.put(SETTINGS, json={"crisis_text": texts})
    assert answer.status_code == 200, answer.text
    expected = {"en": "In an emergency call 112.", "fr": "Appelez le 112.", LONG_TAG: "Call 999."}
    assert answer.json() == {"crisis_text": expected}
    assert list(answer.json()["crisis_text"]) == ["en", "fr", LONG_TAG]  # as the languages are
    assert long_tag_api.get(SETTINGS).json() == {"crisis_text": expected}
    with engine.connect() as connection:
        events = connection.execute(
            select(AuditEvent.action, AuditEvent.resource_type, AuditEvent.resource_id,
                   AuditEvent.status)
            .where(AuditEvent.organization_id == organisation.id,
                   AuditEvent.action.in_(["setFormSettings", "getFormSettings"]))
        ).all()  # fmt: skip
    assert ("setFormSettings", "organization", str(organisation.id), 200) in events
    assert ("getFormSettings", "organization", None, 200) in events
    cleared: dict[str, str] | None
    for cleared in (None, {}):
        emptied = long_tag_api.put(SETTINGS, json={"crisis_text": cleared})
        assert emptied.json() == {"crisis_text": None}
        assert long_tag_api.get(SETTINGS).json() == {"crisis_text": None}


def test_a_reader_reads_the_settings_and_only_an_admin_changes_them(
    long_tag_api: TestClient, long_tag_app: FastAPI
) -> None:
    long_tag_api.put(SETTINGS, json={"crisis_text": {"en": "Call 112."}})
    reader = long_tag_api.post("/v1/api-keys", json={"name": "reader", "scopes": ["records:read"]})
    headers = {"Authorization": f"Bearer {reader.json()['key']}"}
    with TestClient(long_tag_app, headers=headers) as other:
        assert other.get(SETTINGS).json() == {"crisis_text": {"en": "Call 112."}}
        refused = other.put(SETTINGS, json={"crisis_text": None})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
    assert long_tag_api.get(SETTINGS).json() == {"crisis_text": {"en": "Call 112."}}


@pytest.mark.parametrize(
    ("crisis_text", "loc", "code"),
    [
        ({"de": "Rufen Sie 112 an."}, ["crisis_text", "de"], "unknown_language"),
        ({"EN": "Call 112."}, ["crisis_text", "EN", "[key]"], "string_pattern_mismatch"),
        ({"en": "Call\n112."}, ["crisis_text", "en"], "control_character"),
        ({"en": "Call\u0085112."}, ["crisis_text", "en"], "control_character"),
        ({"en": "x" * 1001}, ["crisis_text", "en"], "string_too_long"),
        ({"en": ""}, ["crisis_text", "en"], "string_too_short"),
        ({"en": "   "}, ["crisis_text", "en"], "empty_text"),
        ({"en": 112}, ["crisis_text", "en"], "string_type"),
        ("Call 112.", ["crisis_text"], "dict_type"),
    ],
)
def test_a_text_that_cannot_be_kept_is_a_422_naming_its_language(
    long_tag_api: TestClient, crisis_text: Any, loc: list[str], code: str
) -> None:
    long_tag_api.put(SETTINGS, json={"crisis_text": {"en": "Call 112."}})
    answer = long_tag_api.put(SETTINGS, json={"crisis_text": crisis_text})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [(e["loc"], e["code"]) for e in answer.json()["errors"]] == [(loc, code)]
    assert long_tag_api.get(SETTINGS).json() == {"crisis_text": {"en": "Call 112."}}


def test_the_body_names_the_text_even_to_remove_it(long_tag_api: TestClient) -> None:
    answer = long_tag_api.put(SETTINGS, json={})
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["errors"]] == [["crisis_text"]]


def test_the_thank_you_page_says_the_text_of_its_language_else_english_else_none(
    long_tag_api: TestClient,
) -> None:
    texts = {"en": "In an emergency call 112.", LONG_TAG: "Call 999 (yue)."}
    long_tag_api.put(SETTINGS, json={"crisis_text": texts})
    assert "Call 999 (yue)." in thank_you_page(long_tag_api, LONG_TAG)
    french = thank_you_page(long_tag_api, "fr")
    assert "In an emergency call 112." in french
    assert 'class="crisis"' in french
    long_tag_api.put(SETTINGS, json={"crisis_text": {LONG_TAG: "Call 999 (yue)."}})
    assert 'class="crisis"' not in thank_you_page(long_tag_api, "fr")


def test_the_command_line_sets_the_text_in_any_language_found(
    organisation: Organisation, database_url: str, engine: Engine, long_tag_languages: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LANGUAGES_DIR", str(long_tag_languages))
    organization = str(organisation.id)

    def stored() -> Any:
        with engine.connect() as connection:
            return connection.execute(
                select(Organization.crisis_text).where(Organization.id == organisation.id)
            ).scalar_one()

    command = ["set-crisis-text", "--organization", organization]
    assert cli([*command, "--text", f"{LONG_TAG}= Call 999. ", "--en", "Call 112."]) == 0
    assert f"crisis text of {organization}: en, {LONG_TAG}" in capsys.readouterr().out
    assert stored() == {"en": "Call 112.", LONG_TAG: "Call 999."}
    assert cli([*command, "--text", "de=Rufen Sie 112 an.", "--fr", "Appelez le 112."]) == 1
    assert "crisis_text.de: one of en, fr, yue-jyutping" in capsys.readouterr().err
    assert cli([*command, "--text", "en=Call 112.", "--en", "Call 999."]) == 1
    assert "en: one text per language" in capsys.readouterr().err
    assert stored() == {"en": "Call 112.", LONG_TAG: "Call 999."}
    assert cli(command) == 0
    assert stored() is None
