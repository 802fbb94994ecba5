"""The questions of one form page as the patient sees them, and the answers a page sends back.

Items whose response scale has more than `SLIDER_ABOVE` steps (the SRS's 0-10 line with one
decimal) are sliders; the others are radio groups, one choice per value, named by its anchor
where the definition gives one. A 'not assessed' value with an anchor is offered as a choice
too. Nothing here shows or computes a score: the patient never sees one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.instruments.definition import InstrumentDefinition, Item, ResponseScale
from app.instruments.texts import InstrumentTexts

SLIDER_ABOVE = 12


@dataclass
class Question:
    id: str
    number: int
    label: str
    kind: str  # "radio" or "slider"
    required: bool
    options: list[dict[str, Any]] = field(default_factory=list)
    min: str = ""
    max: str = ""
    step: str = ""
    low: str = ""
    high: str = ""
    value: str = ""
    value_text: str = ""
    touched: bool = False
    error: str | None = None


@dataclass(frozen=True)
class PageAnswers:
    """What a page sent: the answers that can be scored, and the items to ask again (item id
    -> the kind of problem: missing, slider, invalid)."""

    responses: dict[str, float]
    problems: dict[str, str]


def number_text(value: float, decimal_separator: str = ".") -> str:
    """A value as the patient reads it (`decimal_separator` from the page language's
    `format.decimal_separator`), or as a form field carries it (the default)."""
    text = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return text.replace(".", decimal_separator)


def questions(
    definition: InstrumentDefinition,
    texts: InstrumentTexts,
    sent: Mapping[str, str] | None = None,
    decimal_separator: str = ".",
) -> list[Question]:
    """The page's questions in the language of `texts` (its numbers written with
    `decimal_separator`), with what was sent (`sent`, the raw form) kept as their answers."""
    sent = sent or {}
    shown = []
    for number, item in enumerate(definition.items, start=1):
        scale = definition.scale_of(item)
        label = texts.item(item)
        if _is_slider(scale):
            middle = scale.min + round((scale.max - scale.min) / scale.step / 2) * scale.step
            raw = sent.get(f"item-{item.id}")
            value = _number(raw) if raw is not None else None
            current = value if value is not None else middle
            anchors = {a.value: texts.anchor_label(a, scale, item) for a in scale.anchors}
            shown.append(
                Question(
                    id=item.id,
                    number=number,
                    label=label,
                    kind="slider",
                    required=item.applies_when is None,
                    min=number_text(scale.min),
                    max=number_text(scale.max),
                    step=number_text(scale.step),
                    value=number_text(current),
                    value_text=number_text(current, decimal_separator),
                    low=anchors.get(scale.min, number_text(scale.min, decimal_separator)),
                    high=anchors.get(scale.max, number_text(scale.max, decimal_separator)),
                    touched=bool(sent.get(f"touched-{item.id}")),
                )
            )
        else:
            chosen = _number(sent.get(f"item-{item.id}"))
            shown.append(
                Question(
                    id=item.id,
                    number=number,
                    label=label,
                    kind="radio",
                    required=item.applies_when is None,
                    options=[
                        {**option, "checked": chosen is not None and option["number"] == chosen}
                        for option in _options(scale, texts, item, decimal_separator)
                    ],
                )
            )
    return shown


def read_answers(definition: InstrumentDefinition, sent: Mapping[str, str]) -> PageAnswers:
    """The answers of a page. A required item left blank is `missing`; with the page's script
    running (`js=1`), a slider never moved is `slider` (without the script a slider's value is
    taken as it stands); a value that is no choice of the item is `invalid`."""
    responses: dict[str, float] = {}
    problems: dict[str, str] = {}
    scripted = sent.get("js") == "1"
    for item in definition.items:
        scale = definition.scale_of(item)
        raw = sent.get(f"item-{item.id}")
        if raw is None or raw.strip() == "":
            if item.applies_when is None:
                problems[item.id] = "missing"
            continue
        value = _number(raw)
        if value is None or not _allowed(scale, value):
            problems[item.id] = "invalid"
            continue
        if _is_slider(scale) and scripted and not sent.get(f"touched-{item.id}"):
            problems[item.id] = "slider"
            continue
        responses[item.id] = value
    return PageAnswers(responses, problems)


def item_of(definition: InstrumentDefinition, item_id: str) -> Item | None:
    return next((item for item in definition.items if item.id == item_id), None)


def _is_slider(scale: ResponseScale) -> bool:
    return (scale.max - scale.min) / scale.step > SLIDER_ABOVE


def _options(
    scale: ResponseScale, texts: InstrumentTexts, item: Item, separator: str
) -> list[dict[str, Any]]:
    anchors = {anchor.value: texts.anchor_label(anchor, scale, item) for anchor in scale.anchors}
    count = round((scale.max - scale.min) / scale.step)
    values = [scale.min + index * scale.step for index in range(count + 1)]
    values += [value for value in scale.not_assessed if value in anchors]
    every_value_named = all(value in anchors for value in values)
    options = []
    for value in values:
        number = number_text(value, separator)
        if value in anchors:
            label = (
                anchors[value] if every_value_named else f"{number} \N{EN DASH} {anchors[value]}"
            )
        else:
            label = number
        options.append({"value": number_text(value), "number": float(value), "label": label})
    return options


def _allowed(scale: ResponseScale, value: float) -> bool:
    if value in scale.not_assessed:
        return True
    if not scale.min <= value <= scale.max:
        return False
    steps = (value - scale.min) / scale.step
    return abs(steps - round(steps)) < 1e-6


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip().replace(",", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None
