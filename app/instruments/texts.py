"""The texts of an instrument definition as catalogue keys, and an instrument's texts in one
language (each key's translation, else the definition's English).

Keys of `languages/<tag>/instruments/<id>/<version>.yaml`:

    title                       the instrument's title
    anchors.<value>             an anchor of the instrument's response scale
    items.<item id>             an item's label
    item_anchors.<item id>.<value>   an anchor of an item's own response scale
    scales.<scale id>           a scale's label
    cutoffs.<scale id>          a cut-off's label

A value is written as printed ("4", "0.5"). Keys, reverse keys, scales and rules stay in the
definition: a translation holds words only, so adding one changes no score and no hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.instruments.definition import Anchor, InstrumentDefinition, Item, ResponseScale
from app.languages.catalogues import Texts, Words


def domain(definition: InstrumentDefinition) -> str:
    """The catalogue domain (and file, under a language's folder) of a definition's texts."""
    return f"instruments/{definition.id}/{definition.version}"


def value_key(value: float) -> str:
    """A value as a key: as printed ("4", not "4.0")."""
    return str(int(value)) if float(value).is_integer() else str(value)


def source_texts(definition: InstrumentDefinition) -> dict[str, str]:
    """Every text of a definition by key, in English (the definition's own words)."""
    texts = {"title": definition.title}
    for anchor in definition.response_scale.anchors:
        texts[f"anchors.{value_key(anchor.value)}"] = anchor.label
    for item in definition.items:
        texts[f"items.{item.id}"] = item.label
        for anchor in item.response_scale.anchors if item.response_scale else ():
            texts[f"item_anchors.{item.id}.{value_key(anchor.value)}"] = anchor.label
    for scale in definition.scales:
        texts[f"scales.{scale.id}"] = scale.label
    for cutoff in definition.cutoffs:
        texts[f"cutoffs.{cutoff.scale}"] = cutoff.label
    return texts


@dataclass(frozen=True)
class InstrumentTexts:
    """An instrument's texts in one language, English where the language lacks one."""

    definition: InstrumentDefinition
    texts: Texts

    @classmethod
    def of(cls, words: Words, definition: InstrumentDefinition) -> InstrumentTexts:
        return cls(definition, words.texts(domain(definition)))

    @property
    def language(self) -> str:
        return self.texts.language

    @property
    def title(self) -> str:
        return self.texts.get("title", self.definition.title)

    def item(self, item: Item) -> str:
        return self.texts.get(f"items.{item.id}", item.label)

    def scale(self, scale_id: str) -> str:
        scale = next((scale for scale in self.definition.scales if scale.id == scale_id), None)
        if scale is None:
            return scale_id
        return self.texts.get(f"scales.{scale.id}", scale.label)

    def cutoff(self, scale_id: str) -> str:
        cutoff = next(cutoff for cutoff in self.definition.cutoffs if cutoff.scale == scale_id)
        return self.texts.get(f"cutoffs.{scale_id}", cutoff.label)

    def anchor(self, scale: ResponseScale, value: float, item: Item | None = None) -> str | None:
        """The label of `value` on `scale` (the item's own scale when it has one), or None
        where the scale labels no such value."""
        anchor = next((anchor for anchor in scale.anchors if anchor.value == value), None)
        return None if anchor is None else self.anchor_label(anchor, scale, item)

    def anchor_label(self, anchor: Anchor, scale: ResponseScale, item: Item | None = None) -> str:
        """The label of one anchor of `scale` (`item`'s own scale when it has one)."""
        if item is not None and item.response_scale is scale:
            key = f"item_anchors.{item.id}.{value_key(anchor.value)}"
        else:
            key = f"anchors.{value_key(anchor.value)}"
        return self.texts.get(key, anchor.label)
