"""The patient form over HTTP, on the real database: form links, the pages in both languages,
recording through the API's own use case, errors that keep answers, thank-you, then 410."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from app.platform.tables import AuditEvent, Invitation, Organization

SRS_ANSWERS = {"1": 7.5, "2": 8.0, "3": 6.2, "4": 9.0}


def episode(client: TestClient, clinician: str = "dr-ada") -> str:
    body = {"patient_ref": f"ehr-{uuid.uuid4()}", "clinician_ref": clinician}
    created = client.post("/v1/episodes", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def invite(client: TestClient, episode_id: str, **body: Any) -> dict[str, Any]:
    created = client.post(
        f"/v1/episodes/{episode_id}/invitations",
        json={"instruments": ["srs"], "session": 1, **body},
    )
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def srs_form(answers: dict[str, float], *, js: bool = False) -> dict[str, str]:
    sent = {"instrument": "srs", "js": "1" if js else ""}
    for item, value in answers.items():
        sent[f"item-{item}"] = str(value)
        sent[f"touched-{item}"] = "1"
    return sent


def test_a_form_link_is_made_for_one_session_and_opens_the_first_page(client: TestClient) -> None:
    episode_id = episode(client)
    created = invite(client, episode_id, session=4, language="fr")
    assert set(created) == {"id", "url", "expires_at"}
    assert re.fullmatch(r"http://testserver/f/[A-Za-z0-9_-]{43}", created["url"])
    expires = datetime.fromisoformat(created["expires_at"])
    assert timedelta(hours=47) < expires - datetime.now(UTC) <= timedelta(hours=48)
    page = client.get(path_of(created["url"]))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-language"] == "fr"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<html lang="fr">' in page.text
    assert "Échelle d&#39;évaluation de la séance" in page.text
    assert page.text.count('type="range"') == 4


def test_the_token_is_kept_only_as_a_hash(client: TestClient, engine: Engine) -> None:
    created = invite(client, episode(client))
    token = created["url"].rsplit("/", 1)[1]
    with engine.connect() as connection:
        stored = connection.execute(
            select(Invitation.token_hash).where(Invitation.id == uuid.UUID(created["id"]))
        ).scalar_one()
    assert token not in stored
    assert stored.startswith("sha256:")


def test_the_language_is_the_query_then_the_link_then_the_browser(client: TestClient) -> None:
    path = path_of(invite(client, episode(client))["url"])
    assert (
        client.get(path, headers={"Accept-Language": "fr-CH, en;q=0.5"}).headers["content-language"]
        == "fr"
    )
    assert (
        client.get(f"{path}?lang=en", headers={"Accept-Language": "fr"}).headers["content-language"]
        == "en"
    )
    french_link = path_of(invite(client, episode(client), language="fr")["url"])
    assert (
        client.get(french_link, headers={"Accept-Language": "en"}).headers["content-language"]
        == "fr"
    )


def test_sending_the_form_records_as_the_api_does_then_the_link_is_gone(
    client: TestClient, engine: Engine
) -> None:
    episode_id = episode(client)
    created = invite(client, episode_id, session=3)
    path = path_of(created["url"])
    sent = client.post(path, data=srs_form(SRS_ANSWERS))
    assert sent.status_code == 200
    assert "Thank you" in sent.text
    assert "31" not in sent.text  # no score is ever shown to the patient
    recorded = client.get(f"/v1/episodes/{episode_id}/administrations").json()["items"]
    assert [(a["instrument"], a["rater"], a["session"]) for a in recorded] == [("srs", "client", 3)]
    scored = client.post("/v1/scores", json={"instrument": "srs", "responses": SRS_ANSWERS})
    assert recorded[0]["result"]["scales"] == scored.json()["scales"]
    assert client.get(path).status_code == 410
    again = client.post(path, data=srs_form(SRS_ANSWERS))
    assert again.status_code == 410
    assert "no longer valid" in again.text
    with engine.connect() as connection:
        subjects = connection.execute(
            select(AuditEvent.action, AuditEvent.jwt_subject).where(
                AuditEvent.resource_id == episode_id
            )
        ).all()
    assert ("createInvitation", None) in subjects
    assert ("recordAdministration", f"form-link:{created['id']}") in subjects


def test_the_form_raises_the_same_alerts_as_the_api(client: TestClient) -> None:
    by_form, by_api = episode(client), episode(client)
    high = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
    low = {"1": 5.0, "2": 5.0, "3": 5.0, "4": 5.0}
    for session, answers in ((1, high), (2, low)):
        path = path_of(invite(client, by_form, session=session)["url"])
        assert client.post(path, data=srs_form(answers)).status_code == 200
        recorded = client.post(
            f"/v1/episodes/{by_api}/administrations",
            json={"instrument": "srs", "rater": "client", "session": session,
                  "administered_at": datetime.now(UTC).isoformat(), "responses": answers},
        )  # fmt: skip
        assert recorded.status_code == 201

    def alerts(episode_id: str) -> list[tuple[Any, ...]]:
        items = client.get(f"/v1/episodes/{episode_id}/alerts").json()["items"]
        return [(a["opened_session"], a["priority"], a["status"], a["dimensions"]) for a in items]

    assert alerts(by_form) == alerts(by_api)
    assert [alert[0] for alert in alerts(by_form)] == [2]


def test_a_missing_answer_is_asked_again_and_the_others_are_kept(client: TestClient) -> None:
    episode_id = episode(client)
    path = path_of(invite(client, episode_id, instruments=["wai-sr"])["url"])
    answers = {f"item-{item}": "4" for item in range(1, 13) if item != 7}
    page = client.post(path, data={"instrument": "wai-sr", "js": "", **answers})
    assert page.status_code == 422
    assert 'id="error-summary"' in page.text
    assert 'href="#item-7-1"' in page.text
    assert page.text.count("checked") == 11
    assert 'id="item-7-1" name="item-7" value="1" aria-invalid="true"' in page.text
    assert client.get(f"/v1/episodes/{episode_id}/administrations").json()["items"] == []


def test_a_slider_never_moved_is_asked_again_when_the_script_ran(client: TestClient) -> None:
    path = path_of(invite(client, episode(client))["url"])
    sent = srs_form(SRS_ANSWERS, js=True)
    sent["touched-2"] = ""
    page = client.post(path, data=sent)
    assert page.status_code == 422
    assert 'href="#item-2"' in page.text
    assert 'value="7.5"' in page.text  # item 1's answer stays


def test_without_the_script_a_slider_counts_as_it_stands(client: TestClient) -> None:
    episode_id = episode(client)
    path = path_of(invite(client, episode_id)["url"])
    sent = {"instrument": "srs", "js": "", **{f"item-{i}": "5" for i in range(1, 5)}}
    assert client.post(path, data=sent).status_code == 200


def test_an_answer_off_the_scale_is_refused_with_the_page(client: TestClient) -> None:
    path = path_of(invite(client, episode(client))["url"])
    sent = srs_form({**SRS_ANSWERS, "3": 11.0})
    page = client.post(path, data=sent)
    assert page.status_code == 422
    assert 'href="#item-3"' in page.text


def test_several_instruments_are_one_page_each(client: TestClient) -> None:
    episode_id = episode(client)
    path = path_of(invite(client, episode_id, instruments=["srs", "wai-sr"], language="fr")["url"])
    first = client.post(path, data=srs_form(SRS_ANSWERS), follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == f"{path}?lang=fr"
    second = client.get(first.headers["location"])
    assert "Page 2 sur 2" in second.text
    assert "Inventaire de l&#39;alliance" in second.text
    # page 1 sent again (the back button): nothing is recorded twice
    replay = client.post(path, data=srs_form(SRS_ANSWERS), follow_redirects=False)
    assert replay.status_code == 303
    answers = {f"item-{item}": "5" for item in range(1, 13)}
    done = client.post(path, data={"instrument": "wai-sr", **answers})
    assert done.status_code == 200
    assert "Merci" in done.text
    recorded = client.get(f"/v1/episodes/{episode_id}/administrations").json()["items"]
    assert sorted(a["instrument"] for a in recorded) == ["srs", "wai-sr"]


def test_an_expired_link_is_gone_and_an_unknown_one_is_not_found(
    client: TestClient, engine: Engine
) -> None:
    created = invite(client, episode(client))
    with engine.begin() as connection:
        connection.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(created["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert client.get(path_of(created["url"])).status_code == 410
    unknown = client.get("/f/" + "x" * 43)
    assert unknown.status_code == 404
    assert "does not work" in unknown.text


def test_the_thank_you_page_shows_the_organisations_crisis_text_and_kiosk_return(
    client: TestClient, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Organization).values(
                crisis_text={"en": "Call 112 now.", "fr": "Appelez le 112 ou le 3114."}
            )
        )
    try:
        path = path_of(invite(client, episode(client), language="fr", kiosk=True)["url"])
        done = client.post(path, data=srs_form(SRS_ANSWERS))
        assert "Appelez le 112 ou le 3114." in done.text
        assert 'data-kiosk-url="/f/kiosk?lang=fr"' in done.text
        neutral = client.get("/f/kiosk?lang=fr")
        assert neutral.status_code == 200
        assert "rendre l&#39;appareil" in neutral.text
    finally:
        with engine.begin() as connection:
            connection.execute(update(Organization).values(crisis_text=None))


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        ({"instruments": ["wai-therapist"], "session": 1}, 422, ["instruments", 0]),
        ({"instruments": [], "session": 1}, 422, ["instruments"]),
        ({"instruments": ["srs"], "session": 1, "expires_in_hours": 0}, 422,
         ["expires_in_hours"]),
        ({"instruments": ["srs"], "session": 1, "language": "de"}, 422, ["language"]),
    ],
)  # fmt: skip
def test_a_form_link_request_that_cannot_be_served_names_its_field(
    client: TestClient, body: dict[str, Any], status: int, loc: list[Any]
) -> None:
    answer = client.post(f"/v1/episodes/{episode(client)}/invitations", json=body)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert [error["loc"] for error in answer.json()["errors"]] == [loc]


def test_a_form_link_for_an_unknown_episode_or_instrument_is_not_found(client: TestClient) -> None:
    missing = client.post(
        f"/v1/episodes/{uuid.uuid4()}/invitations", json={"instruments": ["srs"], "session": 1}
    )
    assert missing.status_code == 404
    unknown = client.post(
        f"/v1/episodes/{episode(client)}/invitations", json={"instruments": ["nope"], "session": 1}
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_instrument"
