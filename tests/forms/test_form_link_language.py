"""A form link's language is any language found, whatever the length of its tag: the tag's
pattern, the request's bound and the column's width agree, and the database keeps it whole."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import Engine, String, select

from app.forms.schemas import InvitationCreate
from app.languages.catalogues import LANGUAGE_TAG
from app.platform.tables import Invitation
from tests.forms.conftest import LONG_TAG
from tests.forms.test_form_pages import episode, invite, path_of


def test_the_longest_language_tag_fits_the_request_and_the_column() -> None:
    # A primary language of 3 letters and a subtag of 8: the longest the pattern takes.
    assert len(LONG_TAG) == 12
    assert LANGUAGE_TAG.match(LONG_TAG)
    assert not LANGUAGE_TAG.match(LONG_TAG + "s")
    assert not LANGUAGE_TAG.match("yuey-jyutping")
    field = InvitationCreate.model_json_schema()["properties"]["language"]["anyOf"][0]
    assert field["maxLength"] == 12
    column = Invitation.__table__.c.language.type
    assert isinstance(column, String)
    assert column.length == 12


def test_a_form_link_in_a_language_of_the_longest_tag_is_kept_and_served_in_it(
    long_tag_api: TestClient, engine: Engine
) -> None:
    created = invite(long_tag_api, episode(long_tag_api), language=LONG_TAG)
    with engine.connect() as connection:
        stored = connection.execute(
            select(Invitation.language).where(Invitation.id == uuid.UUID(created["id"]))
        ).scalar_one()
    assert stored == LONG_TAG
    page = long_tag_api.get(path_of(created["url"]))
    assert page.status_code == 200
    assert page.headers["content-language"] == LONG_TAG
