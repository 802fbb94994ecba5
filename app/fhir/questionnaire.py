"""An instrument definition as a FHIR R4 Questionnaire (SDC-style extensions for weights)."""

from __future__ import annotations

import re

from app.fhir.terms import (
    DEFINITION_HASH_TAG,
    ITEM_WEIGHT,
    MAX_DECIMAL_PLACES,
    MAX_VALUE,
    MIN_VALUE,
    ORDINAL_VALUE,
    TRANSLATION,
    Json,
    answer_system,
    questionnaire_url,
)
from app.instruments.definition import InstrumentDefinition, Item, ResponseScale, Text


def is_choice(scale: ResponseScale) -> bool:
    """Whole-number scales are choices (one coded option per value); finer ones (the SRS's
    0-10 line in tenths) are decimal answers between a min and a max."""
    return scale.step == 1 and float(scale.min).is_integer()


def answer_code(value: float) -> str:
    """The code of an answer: its printed value ("4", not "4.0")."""
    return str(int(value)) if float(value).is_integer() else str(value)


def plain_number(value: float) -> float | int:
    """4.0 as 4: FHIR decimals keep what they are given, and weights are whole numbers."""
    return int(value) if float(value).is_integer() else value


def choice_values(scale: ResponseScale) -> list[float]:
    count = round((scale.max - scale.min) / scale.step)
    return [scale.min + index * scale.step for index in range(count + 1)]


def questionnaire(definition: InstrumentDefinition, definition_hash: str) -> Json:
    """The Questionnaire of one instrument version.

    `linkId` is the item id. Each coded answer carries its scoring weight twice: in the R4
    `ordinalValue` extension on the Coding and in the newer `itemWeight` on the answerOption.
    The weight is the value that counts towards the score, so a reverse-keyed item weighs
    max + min - answer; the code stays the answer as printed. 'Not assessed' answers are
    offered without a weight: they are never scored.
    """
    return {
        "resourceType": "Questionnaire",
        "id": f"{definition.id}-{definition.version}".replace("_", "-"),
        "meta": {"tag": [{"system": DEFINITION_HASH_TAG, "code": definition_hash}]},
        "language": "en",
        "url": questionnaire_url(definition.id),
        "version": definition.version,
        "name": _computable_name(definition.id),
        "title": definition.title.en,
        "_title": _translations(definition.title),
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "Bordin",
        "description": (
            f"{definition.title.en}, filled in by the {definition.respondent.value}."
            f" Scoring key: {definition.key_status.value}. Items carry short labels in"
            f" Bordin's own words, not the instrument's printed text."
        ),
        "item": [_item(definition, item) for item in definition.items],
    }


def _item(definition: InstrumentDefinition, item: Item) -> Json:
    scale = definition.scale_of(item)
    entry: Json = {"linkId": item.id, "text": item.label.en, "_text": _translations(item.label)}
    if is_choice(scale):
        entry["type"] = "choice"
        entry["answerOption"] = [
            _option(definition, item, scale, value)
            for value in [*choice_values(scale), *scale.not_assessed]
        ]
    else:
        decimals = len(answer_code(scale.step).partition(".")[2])
        entry["type"] = "decimal"
        entry["extension"] = [
            {"url": MIN_VALUE, "valueDecimal": plain_number(scale.min)},
            {"url": MAX_VALUE, "valueDecimal": plain_number(scale.max)},
            {"url": MAX_DECIMAL_PLACES, "valueInteger": decimals},
        ]
    condition = item.applies_when
    if condition is not None:
        gate = next(other for other in definition.items if other.id == condition.item)
        answer: Json = (
            {"answerCoding": _coding(definition, definition.scale_of(gate), condition.equals)}
            if is_choice(definition.scale_of(gate))
            else {"answerDecimal": plain_number(condition.equals)}
        )
        entry["enableWhen"] = [{"question": gate.id, "operator": "=", **answer}]
    return entry


def _option(
    definition: InstrumentDefinition, item: Item, scale: ResponseScale, value: float
) -> Json:
    coding = _coding(definition, scale, value)
    option: Json = {"valueCoding": coding}
    if value not in scale.not_assessed:
        weight = plain_number(scale.min + scale.max - value if item.reverse else value)
        coding["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": weight}]
        option["extension"] = [{"url": ITEM_WEIGHT, "valueDecimal": weight}]
    return option


def _coding(definition: InstrumentDefinition, scale: ResponseScale, value: float) -> Json:
    code = answer_code(value)
    coding: Json = {"system": answer_system(definition.id), "code": code, "display": code}
    anchor = next((anchor for anchor in scale.anchors if anchor.value == value), None)
    if anchor is not None:
        coding["display"] = anchor.label.en
        coding["_display"] = _translations(anchor.label)
    return coding


def _translations(text: Text) -> Json:
    """The French text as a `translation` extension of an English string element."""
    return {
        "extension": [
            {
                "url": TRANSLATION,
                "extension": [
                    {"url": "lang", "valueCode": "fr"},
                    {"url": "content", "valueString": text.fr},
                ],
            }
        ]
    }


def _computable_name(instrument_id: str) -> str:
    """FHIR's `name` is machine-processable: letters and digits, starting with a capital."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", instrument_id))
