"""The `bordin` command's keys: a new key of an existing organisation, and the organisations."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from app.cli import main as cli


@pytest.fixture
def on_test_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


@pytest.mark.usefixtures("on_test_database")
def test_a_lost_admin_key_is_replaced_by_a_new_key_of_the_organisation(
    capsys: pytest.CaptureFixture[str], client: TestClient
) -> None:
    name = f"Clinique {uuid.uuid4().hex[:8]}"
    assert cli(["create-organization", name]) == 0
    organization = re.search(r"organisation (\S+)", capsys.readouterr().out)
    assert organization is not None
    organization_id = organization.group(1)

    assert cli(["list-organizations"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.endswith(name)]
    assert listed == [listed[0]]
    assert listed[0].startswith(f"{organization_id}  1 key(s)  created ")

    code = cli(
        ["create-key", "--organization", organization_id, "--scopes", "admin", "records:read",
         "--name", "replacement"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert f"of organisation {organization_id}, scopes admin records:read" in out
    key = re.search(r"key \(shown once\): (bordin_\S+)", out)
    assert key is not None
    headers = {"Authorization": f"Bearer {key.group(1)}"}
    keys = client.get("/v1/api-keys", headers=headers)
    assert keys.status_code == 200
    assert sorted(k["name"] for k in keys.json()["items"]) == ["first admin key", "replacement"]
    assert client.get("/v1/episodes", headers=headers).status_code == 200  # records:read

    assert cli(["list-organizations"]) == 0
    assert f"{organization_id}  2 key(s)" in capsys.readouterr().out


@pytest.mark.usefixtures("on_test_database")
def test_a_key_of_an_unknown_organisation_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    unknown = str(uuid.uuid4())
    assert cli(["create-key", "--organization", unknown, "--scopes", "admin"]) == 1
    assert f"no organisation {unknown}" in capsys.readouterr().err


def test_an_unknown_scope_is_refused_before_anything_is_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli(["create-key", "--organization", str(uuid.uuid4()), "--scopes", "everything"])
    assert exit_.value.code == 2
    assert "invalid choice: 'everything'" in capsys.readouterr().err
