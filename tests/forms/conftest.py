"""A service that also speaks a language whose tag is as long as a tag may be (12 characters:
`yue-jyutping`, Cantonese in Jyutping), from a catalogue folder of the test's own."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.platform.settings import PROJECT_ROOT, Settings
from tests.webhooks_support import Organisation, resolve_test_hosts

LONG_TAG = "yue-jyutping"


@pytest.fixture
def long_tag_languages(tmp_path: Path) -> Path:
    """The shipped languages and a `yue-jyutping` of one word (the rest shown in English)."""
    folder = tmp_path / "languages"
    shutil.copytree(PROJECT_ROOT / "languages", folder)
    ui = folder / LONG_TAG / "ui.yaml"
    ui.parent.mkdir()
    ui.write_text(yaml.safe_dump({"language": {"name": "Jyut6 ping3"}}), encoding="utf-8")
    return folder


@pytest.fixture
def long_tag_app(long_tag_languages: Path, settings: Settings) -> FastAPI:
    return create_app(
        settings.model_copy(update={"languages_dir": long_tag_languages}),
        resolve=resolve_test_hosts,
    )


@pytest.fixture
def long_tag_api(long_tag_app: FastAPI, organisation: Organisation) -> Iterator[TestClient]:
    """An admin of an organisation of the test's own, on that service."""
    with TestClient(long_tag_app, headers=organisation.headers) as client:
        yield client
