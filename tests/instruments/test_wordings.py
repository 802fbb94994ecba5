"""Wordings a clinical review found misleading, and the figures a definition must cite."""

from __future__ import annotations

from app.instruments.registry import InstrumentRegistry, load_registry
from app.instruments.texts import InstrumentTexts
from tests.conftest import INSTRUMENTS, shipped_languages

REGISTRY: InstrumentRegistry = load_registry(INSTRUMENTS)
LANGUAGES = shipped_languages(REGISTRY)


def _label(instrument: str, item: str) -> tuple[str, str]:
    definition = REGISTRY.get(instrument).definition
    label = next(i for i in definition.items if i.id == item)
    french = InstrumentTexts.of(LANGUAGES.words("fr"), definition).item(label)
    return label.label.lower(), french.lower()


def test_haq_ii_item_17_is_a_shared_talk_about_the_past_not_going_over_it_again() -> None:
    # "From time to time, we both talk about the same important events in my past": a shared
    # focus of patient and therapist, not rumination over the same events.
    en, fr = _label("haq-ii-alliance", "17")
    assert "both" in en
    assert "past" in en
    assert "tous les deux" in fr
    assert "passé" in fr
    assert "revenons" not in fr
    assert "mêmes" not in fr


def test_wai_client_item_31_is_about_what_the_client_does_in_therapy() -> None:
    en, fr = _label("wai-client", "31")
    assert "things i do" in en
    assert "asked" not in en
    assert "ce que je fais" in fr
    assert "demande" not in fr


def test_the_srs_reliability_is_the_spec_figure_and_cites_it() -> None:
    (norm,) = REGISTRY.get("srs").definition.norms
    assert norm.reliability is not None
    assert norm.reliability.value == 0.64
    assert norm.reliability.kind == "test_retest"
    assert ".54\N{EN DASH}.70" in norm.reliability.source
    assert "shared/spec/instruments.md" in norm.reliability.source
    assert (norm.sd, norm.n) == (4.19, 168)
