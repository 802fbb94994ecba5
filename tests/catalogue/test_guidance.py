"""Repair guidance: the shipped catalogue loads, selection follows the data-driven cases, every
entry is reachable and speaks every language, and every source is a full reference of a known
kind, cited by id, strongest first."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.catalogue.guidance import DOMAIN, SOURCE_KINDS, Catalogue, Guidance, load_catalogue
from app.instruments.registry import DefinitionLoadError, load_registry
from app.platform.settings import Settings
from tests.conftest import INSTRUMENTS, shipped_languages

CATALOGUE: Catalogue = load_catalogue(Settings().guidance_file)
LANGUAGES = shipped_languages(load_registry(INSTRUMENTS))
GUIDANCE = Guidance(CATALOGUE, LANGUAGES)
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


def test_every_entry_is_in_every_language_and_has_a_source() -> None:
    sources = {source.id for source in CATALOGUE.sources}
    for entry in CATALOGUE.entries:
        assert entry.text.strip()
        for language in LANGUAGES.languages[1:]:
            translated = LANGUAGES.texts(DOMAIN, language).translated[f"entries.{entry.id}"]
            assert translated.strip()
            assert translated != entry.text
        assert entry.sources
        assert set(entry.sources) <= sources


def test_every_published_source_is_a_full_reference_with_its_year() -> None:
    # Authors, (year), title, then journal or publisher: not a bare "Safran & Muran".
    full = re.compile(r"^[A-Z][^()]+ \(\d{4}\)\. .{20,}\. .+\.$")
    for source in CATALOGUE.sources:
        if source.kind != "practice-text":
            assert full.match(source.citation), source.citation
        assert source.kind in SOURCE_KINDS


def test_an_entry_with_peer_reviewed_support_lists_it_before_the_practice_texts() -> None:
    kinds = {source.id: source.kind for source in CATALOGUE.sources}
    for entry in CATALOGUE.entries:
        ranks = [SOURCE_KINDS.index(kinds[source_id]) for source_id in entry.sources]
        assert ranks == sorted(ranks), entry.id


def test_rendering_picks_the_language() -> None:
    (french,) = GUIDANCE.render(["repaired-rupture"], "fr")
    (english,) = GUIDANCE.render(["repaired-rupture"], "en")
    assert french["text"].startswith("La rupture a été réparée")
    assert english["text"].startswith("The rupture was repaired")
    assert french["sources"] == english["sources"]
    assert french["references"] == english["references"]
    assert (english["support"], english["support_label"]) == (
        "meta-analysis", "backed by a meta-analysis"
    )  # fmt: skip
    assert french["support_label"] == "appuyé par une méta-analyse"


def test_a_rendered_entry_carries_its_references_with_their_kind_strongest_first() -> None:
    (entry,) = GUIDANCE.render(["repaired-rupture"], "en")
    first, second = entry["references"]
    assert first == {
        "id": "eubanks-muran-safran-2018",
        "citation": first["citation"],
        "kind": "meta-analysis",
    }  # no DOI was verified: none is given
    assert first["citation"].startswith(
        "Eubanks, C. F., Muran, J. C., & Safran, J. D. (2018). Alliance rupture repair: A"
        " meta-analysis. Psychotherapy, 55(4), 508"
    )
    assert (second["id"], second["kind"], second["doi"]) == (
        "mclaughlin-et-al-2014", "empirical-study", "10.1037/a0034696"
    )  # fmt: skip
    assert entry["sources"] == [first["citation"], second["citation"]]  # strings, as in v1


def test_support_is_the_strongest_kind_an_entry_cites() -> None:
    support = {entry.id: GUIDANCE.render([entry.id], "en")[0]["support"]
               for entry in CATALOGUE.entries}  # fmt: skip
    assert support["rater-gap"] == "empirical-study"
    assert support["physiotherapy-alliance"] == "systematic-review"
    assert support["nursing-discouraged-client"] == "theory"
    assert support["unrepaired-supervision"] == "practice-text"
    assert support["withdrawal-markers"] == "consensus-or-manual"


def test_the_legend_lists_every_kind_strongest_first_in_the_language() -> None:
    legend = GUIDANCE.legend("fr")
    assert [kind["id"] for kind in legend] == list(SOURCE_KINDS)
    assert legend[0]["label"] == "appuyé par une méta-analyse"
    assert all(kind["definition"] for kind in legend)


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
    assert f"{broken}: entries.0.text: Input should be a valid string" in message


def _catalogue(**changes: Any) -> dict[str, Any]:
    """A small valid catalogue (the shipped kinds of source), `changes` applied to its top."""
    document: dict[str, Any] = {
        "version": "1.0.0",
        "source_kinds": [kind.model_dump(mode="json") for kind in CATALOGUE.source_kinds],
        "sources": [
            {"id": "meta", "citation": "A, B. (2018). A title. Journal, 1(2), 3-4.",
             "kind": "meta-analysis", "doi": "10.1037/x"},
            {"id": "blog", "citation": "A practice blog; full reference not available.",
             "kind": "practice-text"},
        ],
        "entries": [
            {"id": "x", "applies": {"states": ["new"]}, "text": "a",
             "sources": ["meta", "blog"]},
        ],
    }  # fmt: skip
    return {**document, **changes}


def _refusal(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionLoadError) as raised:
        load_catalogue(path)
    return str(raised.value)


def test_the_small_catalogue_of_these_tests_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(_catalogue(), allow_unicode=True), encoding="utf-8")
    assert (
        Guidance(load_catalogue(path), LANGUAGES).render(["x"], "en")[0]["support"]
        == "meta-analysis"
    )


def test_an_entry_citing_an_unknown_source_stops_start_up_naming_file_and_field(
    tmp_path: Path,
) -> None:
    entry = {**_catalogue()["entries"][0], "sources": ["meta", "safran-muran-2001"]}
    message = _refusal(tmp_path, _catalogue(entries=[entry]))
    assert f"{tmp_path / 'catalogue.yaml'}: entries.0.sources.1: " in message
    assert "unknown source 'safran-muran-2001'" in message


def test_a_source_no_entry_cites_stops_start_up(tmp_path: Path) -> None:
    entry = {**_catalogue()["entries"][0], "sources": ["meta"]}
    message = _refusal(tmp_path, _catalogue(entries=[entry]))
    assert f"{tmp_path / 'catalogue.yaml'}: sources.1.id: 'blog' is cited by no entry" in message


def test_an_entry_without_a_source_stops_start_up(tmp_path: Path) -> None:
    entry = {**_catalogue()["entries"][0], "sources": []}
    message = _refusal(tmp_path, _catalogue(entries=[entry]))
    field = f"{tmp_path / 'catalogue.yaml'}: entries.0.sources"
    assert f"{field}: List should have at least 1 item" in message


def test_a_practice_text_listed_before_a_meta_analysis_stops_start_up(tmp_path: Path) -> None:
    entry = {**_catalogue()["entries"][0], "sources": ["blog", "meta"]}
    message = _refusal(tmp_path, _catalogue(entries=[entry]))
    assert "entries.0.sources.1: 'meta' (meta-analysis) must come before 'blog'" in message


def test_a_source_cited_twice_by_an_entry_or_declared_twice_stops_start_up(
    tmp_path: Path,
) -> None:
    entry = {**_catalogue()["entries"][0], "sources": ["meta", "meta", "blog"]}
    assert "entries.0.sources.1: 'meta' is cited twice" in _refusal(
        tmp_path, _catalogue(entries=[entry])
    )
    sources = _catalogue()["sources"]
    message = _refusal(tmp_path, _catalogue(sources=[*sources, sources[0]]))
    assert "sources.2.id: 'meta' appears twice" in message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "trial"}, "sources.0.kind: Input should be 'meta-analysis'"),
        ({"doi": "https://doi.org/10.1037/x"}, "sources.0.doi: String should match pattern"),
        ({"url": "http://example.org"}, "sources.0.url: String should match pattern"),
        ({"citation": ""}, "sources.0.citation: String should have at least 1 character"),
    ],
)
def test_a_source_of_an_unknown_kind_or_with_a_malformed_doi_or_url_is_refused(
    tmp_path: Path, change: dict[str, str], field: str
) -> None:
    meta, blog = _catalogue()["sources"]
    message = _refusal(tmp_path, _catalogue(sources=[{**meta, **change}, blog]))
    assert f"{tmp_path / 'catalogue.yaml'}: {field}" in message


def test_the_kinds_must_be_the_known_ones_strongest_first(tmp_path: Path) -> None:
    kinds = _catalogue()["source_kinds"]
    message = _refusal(tmp_path, _catalogue(source_kinds=[kinds[1], kinds[0], *kinds[2:]]))
    assert "source_kinds: must define each kind once, strongest first: meta-analysis," in message
