"""Renders loaded instrument definitions as /v1 catalogue entries, in the caller's language."""

from __future__ import annotations

from typing import Any

from app.instruments.definition import InstrumentDefinition, Item, ResponseScale
from app.instruments.registry import InstrumentRegistry, LoadedInstrument
from app.instruments.texts import InstrumentTexts
from app.languages.catalogues import Catalogues


def instrument_summary(
    registry: InstrumentRegistry, loaded: LoadedInstrument, languages: Catalogues, lang: str
) -> dict[str, Any]:
    definition = loaded.definition
    words = InstrumentTexts.of(languages.words(lang), definition)
    return {
        "id": definition.id,
        "version": definition.version,
        "versions": registry.versions(definition.id),
        "title": words.title,
        "respondent": definition.respondent.value,
        "key_status": definition.key_status.value,
        "item_count": len(definition.items),
        "scales": [scale.id for scale in definition.scales],
        "definition_hash": loaded.definition_hash,
    }


def instrument_detail(
    registry: InstrumentRegistry, loaded: LoadedInstrument, languages: Catalogues, lang: str
) -> dict[str, Any]:
    definition = loaded.definition
    words = InstrumentTexts.of(languages.words(lang), definition)
    scales_of_item: dict[str, list[str]] = {item.id: [] for item in definition.items}
    for scale in definition.scales:
        for item_id in scale.items:
            scales_of_item[item_id].append(scale.id)
    return {
        "id": definition.id,
        "version": definition.version,
        "versions": registry.versions(definition.id),
        "title": words.title,
        "aliases": definition.aliases,
        "respondent": definition.respondent.value,
        "care_settings": [setting.value for setting in definition.care_settings],
        "references": [reference.model_dump() for reference in definition.references],
        "key_status": definition.key_status.value,
        "key_note": definition.key_note,
        "definition_hash": loaded.definition_hash,
        "response_scale": _response_scale(definition.response_scale, words),
        "items": [
            {
                "id": item.id,
                "label": words.item(item),
                "reverse": item.reverse,
                "scales": scales_of_item[item.id],
                "response_scale": (
                    _response_scale(item.response_scale, words, item)
                    if item.response_scale
                    else None
                ),
                "applies_when": item.applies_when.model_dump() if item.applies_when else None,
                "rupture_kind": item.rupture_kind.value if item.rupture_kind else None,
            }
            for item in definition.items
        ],
        "scales": [_scale(definition, index, words) for index in range(len(definition.scales))],
        "cutoffs": [
            {**cutoff.model_dump(mode="json"), "label": words.cutoff(cutoff.scale)}
            for cutoff in definition.cutoffs
        ],
        "norms": [norm.model_dump(mode="json") for norm in definition.norms],
        "ruptures": [rule.model_dump(mode="json") for rule in definition.ruptures],
    }


def _scale(definition: InstrumentDefinition, index: int, words: InstrumentTexts) -> dict[str, Any]:
    scale = definition.scales[index]
    items = {item.id: item for item in definition.items}
    response_scale = definition.scale_of(items[scale.items[0]])
    count = 1 if scale.method == "mean" else len(scale.items)
    return {
        "id": scale.id,
        "label": words.scale(scale.id),
        "items": scale.items,
        "method": scale.method,
        "dimension": scale.dimension.value if scale.dimension else None,
        "min": response_scale.min * count,
        "max": response_scale.max * count,
        "missing": scale.missing.model_dump(),
    }


def _response_scale(
    scale: ResponseScale, words: InstrumentTexts, item: Item | None = None
) -> dict[str, Any]:
    return {
        "min": scale.min,
        "max": scale.max,
        "step": scale.step,
        "anchors": [
            {"value": anchor.value, "label": words.anchor_label(anchor, scale, item)}
            for anchor in scale.anchors
        ],
        "not_assessed": scale.not_assessed,
    }
