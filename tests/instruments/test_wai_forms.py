"""The WAI's client and therapist forms share one key but not every question.

Horvath & Greenberg's therapist form asks some items from the therapist's own side (item 5: I
understand my client; 36: I respect my client), some about what the therapist believes of the
client (8: my client likes me; 35: my client believes our way of working is right), and some
with content of its own (4, 12, 18). The labels are the question text of the FHIR
Questionnaire, so each form's labels must carry its own form's content. Below, for every
item where the published forms differ, the content of each form in our own words (after the
published forms, as listed by a public form implementation found with the search tool), and
the words that each label must then contain, in English and French.
"""

from __future__ import annotations

import pytest

from app.instruments.registry import InstrumentRegistry, load_registry
from app.instruments.texts import InstrumentTexts
from tests.conftest import INSTRUMENTS, shipped_languages

REGISTRY: InstrumentRegistry = load_registry(INSTRUMENTS)
LANGUAGES = shipped_languages(REGISTRY)

# item: (client form content, therapist form content,
#        words of the client label (en, fr), words of the therapist label (en, fr))
DIFFERING: dict[str, tuple[str, str, tuple[list[str], list[str]], tuple[list[str], list[str]]]] = {
    "4": (
        "what I do in therapy gives me new ways of seeing my problem",
        "my client and I are both confident our current activity is useful",
        (["new ways", "problem"], ["nouvelles façons", "problème"]),
        (["both", "useful"], ["tous deux", "utilité"]),
    ),
    "5": (
        "my therapist and I understand each other (mutual)",
        "I truly understand my client (the therapist's own understanding)",
        (["understand each other"], ["nous nous comprenons"]),
        (["i truly understand my client"], ["je comprends vraiment mon patient"]),
    ),
    "6": (
        "my therapist perceives my goals accurately",
        "my client and I see the client's goals the same way",
        (["therapist", "goals"], ["thérapeute", "objectifs"]),
        (["my client and i", "same way"], ["mon patient et moi", "même façon"]),
    ),
    "8": (
        "I believe my therapist likes me",
        "I believe my client likes me (not: I like my client)",
        (["my therapist likes me"], ["sympathie pour moi"]),
        (["believe my client likes me"], ["mon patient m'apprécie"]),
    ),
    "9": (
        "I wish we could clarify the purpose of the sessions",
        "I sense that the purpose of sessions needs clarifying for my client",
        (["wish", "purpose"], ["voudrais", "but des séances"]),
        (["purpose", "for my client"], ["but des séances", "pour mon patient"]),
    ),
    "12": (
        "my therapist does not understand what I want to achieve",
        "I have doubts about what we are trying to accomplish",
        (["my therapist", "achieve"], ["mon thérapeute", "accomplir"]),
        (["i doubt", "we are trying"], ["j'ai des doutes", "nous cherchons"]),
    ),
    "13": (
        "I am clear about my responsibilities",
        "I make my client's responsibilities clear and explicit",
        (["clear", "my part"], ["mon rôle"]),
        (["i make", "explicit"], ["je rends explicite", "mon patient"]),
    ),
    "18": (
        "I know what my therapist wants me to do",
        "I am clear about what I expect my client to do",
        (["my therapist expects of me"], ["mon thérapeute attend de moi"]),
        (["i am clear", "i expect my client"], ["je sais clairement", "j'attends de mon patient"]),
    ),
    "31": (
        "I am frustrated by the things I do in therapy",
        "my client is frustrated by what I ask them to do",
        (["frustrated", "things i do"], ["frustration", "ce que je fais"]),
        (["my client is frustrated", "what i ask"], ["mon patient est frustré", "je lui demande"]),
    ),
    "33": (
        "what my therapist asks me to do makes no sense",
        "what we do in therapy makes little sense to my client",
        (["asked to do", "no sense"], ["on me demande", "pas de sens"]),
        (["what we do", "my client"], ["ce que nous faisons", "pour mon patient"]),
    ),
    "35": (
        "I believe our way of working on my problem is right",
        "my client believes our way of working is right",
        (["our way of working", "my problem"], ["notre façon de travailler", "mon problème"]),
        (["my client believes"], ["mon patient pense"]),
    ),
    "36": (
        "my therapist cares about me even when I do things they disapprove of",
        "I respect my client even when I disapprove of what they do",
        (["cares"], ["tient à moi"]),
        (["i respect my client"], ["je respecte mon patient"]),
    ),
}


def _labels(instrument: str) -> dict[str, dict[str, str]]:
    """Each item's label by language (the definition's English, the catalogue's French)."""
    definition = REGISTRY.get(instrument).definition
    french = InstrumentTexts.of(LANGUAGES.words("fr"), definition)
    return {item.id: {"en": item.label, "fr": french.item(item)} for item in definition.items}


CLIENT, THERAPIST = _labels("wai-client"), _labels("wai-therapist")


@pytest.mark.parametrize("item", [str(n) for n in sorted(int(key) for key in DIFFERING)])
def test_each_form_asks_its_own_question_where_the_published_forms_differ(item: str) -> None:
    _, _, client_words, therapist_words = DIFFERING[item]
    for language, index in (("en", 0), ("fr", 1)):
        client = CLIENT[item][language].lower()
        therapist = THERAPIST[item][language].lower()
        assert all(word in client for word in client_words[index]), (item, language, client)
        assert all(word in therapist for word in therapist_words[index]), (
            item,
            language,
            therapist,
        )
        # The other form's content is not what this label asks.
        assert not all(word in therapist for word in client_words[index]), (item, language)
        assert not all(word in client for word in therapist_words[index]), (item, language)


def test_the_therapist_form_never_says_i_like_my_client() -> None:
    assert all("i like my client" not in label["en"].lower() for label in THERAPIST.values())


def test_both_forms_share_the_same_key() -> None:
    client = REGISTRY.get("wai-client").definition
    therapist = REGISTRY.get("wai-therapist").definition
    assert [(i.id, i.reverse) for i in client.items] == [(i.id, i.reverse) for i in therapist.items]
    assert [(s.id, s.items) for s in client.scales] == [(s.id, s.items) for s in therapist.scales]
