"""Repair guidance: the shipped catalogue loads, selection follows the data-driven cases, and
every entry is reachable and speaks both languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.guidance import Catalogue, load_catalogue
from app.instruments.registry import DefinitionLoadError
from app.settings import Settings

CATALOGUE: Catalogue = load_catalogue(Settings().guidance_file)
CASES = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "cases" / "guidance" / "selection.yaml").read_text(
        encoding="utf-8"
    )
)["cases"]


def _select(case: dict[str, Any]) -> list[str]:
    flag = case["flag"]
    return CATALOGUE.select(
        dimension=flag.get("dimension"),
        kinds=flag.get("kinds", []),
        rule=flag["rule"],
        state=flag["state"],
        setting=case.get("setting"),
        session=flag["session"],
    )


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_a_flag_gets_the_entries_that_fit_it(case: dict[str, Any]) -> None:
    chosen = _select(case)
    assert set(case.get("includes", [])) <= set(chosen), chosen
    assert not set(case.get("excludes", [])) & set(chosen), chosen


def test_every_entry_is_reachable_by_a_case() -> None:
    reached = {entry for case in CASES for entry in _select(case)}
    assert reached == {entry.id for entry in CATALOGUE.entries}


def test_every_entry_has_both_languages_and_a_source() -> None:
    for entry in CATALOGUE.entries:
        assert entry.text.en.strip()
        assert entry.text.fr.strip()
        assert entry.text.en != entry.text.fr
        assert entry.sources


def test_rendering_picks_the_language() -> None:
    (french,) = CATALOGUE.render(["repaired-rupture"], "fr")
    (english,) = CATALOGUE.render(["repaired-rupture"], "en")
    assert french["text"].startswith("La rupture a été réparée")
    assert english["text"].startswith("The rupture was repaired")
    assert french["sources"] == english["sources"]


def test_an_invalid_catalogue_is_refused_with_file_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "catalogue.yaml"
    broken.write_text(
        "version: 1.0.0\nentries:\n  - id: x\n    applies: {states: [sometimes]}\n"
        "    text: {en: a}\n    sources: [s]\n",
        encoding="utf-8",
    )
    with pytest.raises(DefinitionLoadError) as raised:
        load_catalogue(broken)
    message = str(raised.value)
    assert f"{broken}: entries.0.applies.states.0" in message
    assert f"{broken}: entries.0.text.fr: Field required" in message
