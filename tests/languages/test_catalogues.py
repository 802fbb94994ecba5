"""The language catalogues: the shipped languages are complete, a broken catalogue stops
start-up naming its file and key, a missing text falls back to English and is reported, and
Accept-Language picks among the languages found."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from app.instruments.registry import InstrumentRegistry
from app.languages.catalogues import CatalogueError, Catalogues, load_catalogues
from app.main import create_app
from app.platform.settings import PROJECT_ROOT, Settings

SHIPPED = PROJECT_ROOT / "languages"


def _languages(tmp_path: Path, files: dict[str, str]) -> Path:
    """A catalogue folder: the shipped English words, and `files` (path -> YAML) beside them."""
    folder = tmp_path / "languages"
    (folder / "en").mkdir(parents=True)
    shutil.copy(SHIPPED / "en" / "ui.yaml", folder / "en" / "ui.yaml")
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _refusal(tmp_path: Path, settings: Settings, files: dict[str, str]) -> str:
    folder = _languages(tmp_path, files)
    with pytest.raises(CatalogueError) as raised:
        create_app(settings.model_copy(update={"languages_dir": folder}))
    return str(raised.value)


def test_every_shipped_language_translates_every_text(languages: Catalogues) -> None:
    assert languages.languages[0] == "en"
    assert "fr" in languages.languages
    assert [(m.language, str(m.path), m.keys[:3]) for m in languages.missing] == []


def test_a_key_its_source_lacks_stops_start_up_naming_file_and_key(
    tmp_path: Path, settings: Settings
) -> None:
    message = _refusal(
        tmp_path,
        settings,
        {
            "es/ui.yaml": "chart: {sesion: Sesión}\n",
            "es/instruments/wai-sr/1.1.0.yaml": "items: {'13': Trece}\n",
            "es/problems.yaml": "no_such_problem: Nada\n",
        },
    )
    folder = tmp_path / "languages" / "es"
    assert f"{folder / 'ui.yaml'}: chart.sesion: no such key in the source" in message
    assert f"{folder / 'instruments/wai-sr/1.1.0.yaml'}: items.13: no such key" in message
    assert f"{folder / 'problems.yaml'}: no_such_problem: no such key" in message


def test_a_text_must_be_a_text_with_the_fields_its_source_fills(
    tmp_path: Path, settings: Settings
) -> None:
    message = _refusal(
        tmp_path,
        settings,
        {
            "es/ui.yaml": (
                "chart: {session: 3, no_data: ''}\n"
                "fhir: {answers: {title: '{titulo}: respuestas'}}\n"
                "months: {1: 'ene {'}\n"
            ),
        },
    )
    path = tmp_path / "languages" / "es" / "ui.yaml"
    assert f"{path}: chart.session: a text is expected, not 3" in message
    assert f"{path}: chart.no_data: a text is expected" in message
    assert f"{path}: fhir.answers.title: a {{field}} its source does not fill (it has: title)" in (
        message
    )
    assert f"{path}: months.1: unbalanced braces" in message


def test_a_folder_that_is_not_a_language_tag_or_english_beyond_its_words_is_refused(
    tmp_path: Path, settings: Settings
) -> None:
    message = _refusal(
        tmp_path,
        settings,
        {"Spanish/ui.yaml": "chart: {session: Sesión}\n", "en/guidance.yaml": "entries: {}\n"},
    )
    assert f"{tmp_path / 'languages' / 'Spanish'}: not a language tag" in message
    assert f"{tmp_path / 'languages' / 'en' / 'guidance.yaml'}: English is the source" in message


def test_without_its_english_words_the_service_does_not_start(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(CatalogueError, match=r"en/ui\.yaml: missing"):
        create_app(settings.model_copy(update={"languages_dir": folder}))


def test_a_missing_text_is_shown_in_english_and_reported_at_start_up(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _languages(tmp_path, {"es/ui.yaml": "chart: {session: Sesión}\n"})
    with caplog.at_level(logging.WARNING, logger="bordin.languages"):
        app = create_app(settings.model_copy(update={"languages_dir": folder}))
    languages: Catalogues = app.state.bordin.languages
    assert languages.languages == ("en", "es")
    assert languages.text("chart.session", "es") == "Sesión"
    assert languages.text("chart.no_data", "es") == "No administration yet"  # English
    shown = [record.getMessage() for record in caplog.records]
    assert any(
        str(folder / "es" / "ui.yaml") in line and "shown in English" in line for line in shown
    )
    (ui,) = [m for m in languages.missing if m.domain == "ui"]
    assert "chart.no_data" in ui.keys
    assert "chart.session" not in ui.keys
    # Nothing of the instruments or the guidance is translated: all of it is reported.
    assert {m.domain for m in languages.missing} >= {
        "guidance",
        "problems",
        "instruments/srs/1.1.0",
    }


def test_a_translation_of_an_instrument_version_not_loaded_is_not_read(
    tmp_path: Path, registry: InstrumentRegistry
) -> None:
    folder = _languages(tmp_path, {"es/instruments/retired/1.0.0.yaml": "title: {broken\n"})
    languages = load_catalogues(folder, {})
    assert languages.languages == ("en", "es")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("es", "es"),
        ("es-MX", "es"),  # a regional range gets the language
        ("ES-mx;q=0.8", "es"),
        ("pt", "pt-BR"),  # the language gets its one regional variant
        ("pt-BR", "pt-BR"),
        ("de, es;q=0.5", "es"),  # German is not spoken: the next preference
        ("fr;q=0.4, es;q=0.9", "es"),  # the highest q-value wins
        ("es, fr", "es"),  # the earliest wins a tie
        ("es;q=0", "en"),  # q=0 means "not this one"
        ("*, es;q=0.5", "en"),  # anything, first: the source language
        ("de", "en"),  # nothing spoken: English
        ("es;q=abc", "en"),
    ],
)
def test_accept_language_picks_among_the_languages_found(
    tmp_path: Path, header: str | None, expected: str
) -> None:
    folder = _languages(
        tmp_path,
        {"es/ui.yaml": "chart: {session: Sesión}\n", "pt-BR/ui.yaml": "chart: {session: Sessão}\n"},
    )
    (folder / "fr").mkdir()
    languages = load_catalogues(folder, {})
    assert languages.languages == ("en", "es", "fr", "pt-BR")
    assert languages.negotiate(header) == expected
