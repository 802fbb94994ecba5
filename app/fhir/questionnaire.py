"""An instrument definition as a FHIR R4 Questionnaire a renderer can use as it is: one
resource per language, required answers, SDC item controls, and no scoring weight shown."""

from __future__ import annotations

import re

from app.fhir.terms import (
    DEFINITION_HASH_TAG,
    ITEM_CONTROL,
    ITEM_CONTROL_SYSTEM,
    ITEM_WEIGHT,
    MAX_DECIMAL_PLACES,
    MAX_VALUE,
    MIN_VALUE,
    ORDINAL_VALUE,
    Json,
    answer_system,
    questionnaire_url,
)
from app.instruments.definition import InstrumentDefinition, Item, ResponseScale
from app.instruments.texts import InstrumentTexts
from app.languages.catalogues import SOURCE_LANGUAGE, Words


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


def questionnaire(
    definition: InstrumentDefinition,
    definition_hash: str,
    words: Words,
    *,
    weights: bool = False,
) -> Json:
    """The Questionnaire of one instrument version, in the language of `words`.

    Every language is a resource of its own (`language`, and its texts), with the same
    canonical url and version. `linkId` is the item id. An item is `required` when a scale
    it belongs to allows no missing answer (the server would refuse to score it). Choice
    items are radio buttons, the SRS lines sliders (SDC `itemControl`).

    The form shows no scoring weight: renderers such as LHC-Forms print an option's weight
    beside its text ("Always - 1" on a reverse-keyed item), which means nothing to a
    patient. With `weights`, for systems that score the form themselves, each coded
    answer carries its weight, the value that counts towards the score (a reverse-keyed
    item weighs max + min - answer), in the R4 `ordinalValue` on the Coding and `itemWeight`
    on the answerOption; 'not assessed' answers have none: they are never scored.
    """
    resource_id = f"{definition.id}-{definition.version}".replace("_", "-")
    required = _required_items(definition)
    language = words.language
    texts = InstrumentTexts.of(words, definition)
    return {
        "resourceType": "Questionnaire",
        "id": resource_id if language == SOURCE_LANGUAGE else f"{resource_id}-{language}",
        "meta": {"tag": [{"system": DEFINITION_HASH_TAG, "code": definition_hash}]},
        "language": language,
        "url": questionnaire_url(definition.id),
        "version": definition.version,
        "name": _computable_name(definition.id),
        "title": texts.title,
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": "Bordin",
        "description": words(
            "fhir.questionnaire.description",
            title=texts.title,
            respondent=words(f"respondents.{definition.respondent.value}"),
            key_status=words(f"key_statuses.{definition.key_status.value}"),
        ),
        "item": [
            _item(definition, item, texts, required=item.id in required, weights=weights)
            for item in definition.items
        ],
    }


def _required_items(definition: InstrumentDefinition) -> set[str]:
    """Items of a scale whose missing rule allows none: leaving one out makes the form one
    the server cannot score (a gated item only when its gate enables it)."""
    return {
        item_id
        for scale in definition.scales
        if scale.missing.max_missing == 0
        for item_id in scale.items
    }


def _item(
    definition: InstrumentDefinition,
    item: Item,
    texts: InstrumentTexts,
    *,
    required: bool,
    weights: bool,
) -> Json:
    scale = definition.scale_of(item)
    entry: Json = {"linkId": item.id, "text": texts.item(item)}
    if is_choice(scale):
        entry["type"] = "choice"
        entry["extension"] = [_item_control("radio-button", "Radio Button")]
        entry["answerOption"] = [
            _option(definition, item, scale, value, texts, weights=weights)
            for value in [*choice_values(scale), *scale.not_assessed]
        ]
    else:
        decimals = len(answer_code(scale.step).partition(".")[2])
        entry["type"] = "decimal"
        entry["extension"] = [
            _item_control("slider", "Slider"),
            {"url": MIN_VALUE, "valueDecimal": plain_number(scale.min)},
            {"url": MAX_VALUE, "valueDecimal": plain_number(scale.max)},
            {"url": MAX_DECIMAL_PLACES, "valueInteger": decimals},
        ]
    if required:
        entry["required"] = True
    condition = item.applies_when
    if condition is not None:
        gate = next(other for other in definition.items if other.id == condition.item)
        gate_scale = definition.scale_of(gate)
        answer: Json = (
            {"answerCoding": _coding(definition, gate_scale, condition.equals, texts, gate)}
            if is_choice(gate_scale)
            else {"answerDecimal": plain_number(condition.equals)}
        )
        entry["enableWhen"] = [{"question": gate.id, "operator": "=", **answer}]
    return entry


def _item_control(code: str, display: str) -> Json:
    return {
        "url": ITEM_CONTROL,
        "valueCodeableConcept": {
            "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": code, "display": display}]
        },
    }


def _option(
    definition: InstrumentDefinition,
    item: Item,
    scale: ResponseScale,
    value: float,
    texts: InstrumentTexts,
    *,
    weights: bool,
) -> Json:
    coding = _coding(definition, scale, value, texts, item)
    option: Json = {"valueCoding": coding}
    if weights and value not in scale.not_assessed:
        weight = plain_number(scale.min + scale.max - value if item.reverse else value)
        coding["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": weight}]
        option["extension"] = [{"url": ITEM_WEIGHT, "valueDecimal": weight}]
    return option


def _coding(
    definition: InstrumentDefinition,
    scale: ResponseScale,
    value: float,
    texts: InstrumentTexts,
    item: Item,
) -> Json:
    """The answer's coding: its code is the answer as printed, its display the anchor's
    label where the scale labels it (the number otherwise), never a weight."""
    code = answer_code(value)
    display = texts.anchor(scale, value, item) or code
    return {"system": answer_system(definition.id), "code": code, "display": display}


def _computable_name(instrument_id: str) -> str:
    """FHIR's `name` is machine-processable: letters and digits, starting with a capital."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", instrument_id))


def answer_code_system(definition: InstrumentDefinition, words: Words) -> Json:
    """The CodeSystem of an instrument's answer codes (the system of every coded answer of
    its Questionnaire): a code is an answer as printed, its display the label the response
    scales give it, where they agree (else the number: items of one instrument may label a
    value differently). Not a weight: a reverse-keyed item scores a code otherwise."""
    texts = InstrumentTexts.of(words, definition)
    labels: dict[str, set[str]] = {}
    for item in definition.items:
        scale = definition.scale_of(item)
        if not is_choice(scale):
            continue
        for value in [*choice_values(scale), *scale.not_assessed]:
            shown = texts.anchor(scale, value, item) or ""
            labels.setdefault(answer_code(value), set()).add(shown)
    concepts = []
    for code in sorted(labels, key=float):
        (only, *others) = sorted(labels[code])
        display = only if only and not others else code
        concept: Json = {"code": code, "display": display}
        if float(code) in _not_assessed(definition):
            concept["definition"] = words("fhir.answers.not_assessed")
        concepts.append(concept)
    return {
        "resourceType": "CodeSystem",
        "id": f"{definition.id}-answers".replace("_", "-"),
        "language": words.language,
        "url": answer_system(definition.id),
        "version": definition.version,
        "name": f"{_computable_name(definition.id)}Answers",
        "title": words("fhir.answers.title", title=texts.title),
        "status": "active",
        "publisher": "Bordin",
        "description": words("fhir.answers.description", title=texts.title),
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def _not_assessed(definition: InstrumentDefinition) -> set[float]:
    return {value for item in definition.items for value in definition.scale_of(item).not_assessed}
