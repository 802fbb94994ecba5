"""Invariants of the scoring core, checked on every shipped instrument with generated answers."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from app.core.scoring import Scorer, compile_scorer
from app.instruments.definition import InstrumentDefinition, Item
from app.instruments.registry import InstrumentRegistry, definition_hash, load_registry
from app.platform.errors import InvalidResponsesError
from tests.conftest import INSTRUMENTS

REGISTRY: InstrumentRegistry = load_registry(INSTRUMENTS)
DEFINITIONS = [loaded.definition for loaded in REGISTRY]

Answers = dict[str, float | None]


def _grid(definition: InstrumentDefinition, item: Item) -> list[float]:
    """Every valid answer; whole numbers as JSON integers where the scale is whole-numbered."""
    scale = definition.scale_of(item)
    steps = round((scale.max - scale.min) / scale.step)
    grid = [round(scale.min + k * scale.step, 6) for k in range(steps + 1)]
    if scale.step.is_integer() and scale.min.is_integer():
        return [int(value) for value in grid]
    return grid


@st.composite
def complete_answers(draw: st.DrawFn) -> tuple[InstrumentDefinition, Answers]:
    definition = draw(st.sampled_from(DEFINITIONS))
    answers: Answers = {
        item.id: draw(st.sampled_from(_grid(definition, item))) for item in definition.items
    }
    return definition, answers


@st.composite
def partial_answers(draw: st.DrawFn) -> tuple[InstrumentDefinition, Answers]:
    definition, answers = draw(complete_answers())
    for item_id in list(answers):
        choice = draw(st.sampled_from(["keep", "keep", "null", "omit"]))
        if choice == "null":
            answers[item_id] = None
        elif choice == "omit":
            del answers[item_id]
    return definition, answers


def _mirror(definition: InstrumentDefinition, answers: Answers) -> Answers:
    items = {item.id: item for item in definition.items}
    mirrored: Answers = {}
    for item_id, value in answers.items():
        scale = definition.scale_of(items[item_id])
        mirrored[item_id] = None if value is None else round(scale.min + scale.max - value, 6)
    return mirrored


def _flip_keys(definition: InstrumentDefinition) -> InstrumentDefinition:
    items = [item.model_copy(update={"reverse": not item.reverse}) for item in definition.items]
    return definition.model_copy(update={"items": items})


def test_answers_at_the_keyed_maximum_give_every_scale_its_maximum() -> None:
    for loaded in REGISTRY:
        definition = loaded.definition
        answers = {
            item.id: definition.scale_of(item).min
            if item.reverse
            else definition.scale_of(item).max
            for item in definition.items
        }
        for scale_id, scale in loaded.scorer.score(answers)["scales"].items():
            assert scale["score"] == scale["max"], (definition.id, scale_id)
            assert scale["pomp"] == 100, (definition.id, scale_id)


@given(partial_answers())
def test_pomp_lies_within_0_and_100_and_scores_within_the_scale(
    case: tuple[InstrumentDefinition, Answers],
) -> None:
    definition, answers = case
    result = REGISTRY.get(definition.id, definition.version).scorer.score(answers)
    for scale in result["scales"].values():
        if scale["score"] is None:
            assert scale["mean"] is None
            assert scale["pomp"] is None
            assert scale["reason"] in {"too_many_missing", "not_applicable"}
            continue
        assert scale["pomp"] is not None
        assert 0 <= scale["pomp"] <= 100
        assert scale["min"] - 1e-9 <= scale["score"] <= scale["max"] + 1e-9
        assert scale["prorated"] == (scale["answered"] < scale["expected"])


@given(complete_answers())
def test_reversing_the_key_and_mirroring_the_answers_changes_no_score(
    case: tuple[InstrumentDefinition, Answers],
) -> None:
    """Reversal applied twice is the identity: (min + max) - ((min + max) - x) = x."""
    definition, answers = case
    if any(item.applies_when for item in definition.items):
        return  # mirroring a gate's answer would change which items apply
    flipped = _flip_keys(definition)
    original = compile_scorer(definition, definition_hash(definition)).score(answers)
    twice = compile_scorer(flipped, definition_hash(flipped)).score(_mirror(definition, answers))
    for scale_id, scale in original["scales"].items():
        other = twice["scales"][scale_id]
        assert scale["score"] is not None
        assert other["score"] is not None
        assert math.isclose(scale["score"], other["score"], abs_tol=1e-6), scale_id


@given(complete_answers())
def test_mirrored_answers_reflect_each_complete_scale_about_its_midpoint(
    case: tuple[InstrumentDefinition, Answers],
) -> None:
    definition, answers = case
    if any(item.applies_when for item in definition.items):
        return  # mirroring the gate would change which items apply
    scorer = REGISTRY.get(definition.id, definition.version).scorer
    result = scorer.score(answers)
    mirrored = scorer.score(_mirror(definition, answers))
    for scale_id, scale in result["scales"].items():
        other = mirrored["scales"][scale_id]
        assert scale["score"] is not None
        assert other["score"] is not None
        assert math.isclose(
            scale["score"] + other["score"], scale["min"] + scale["max"], abs_tol=1e-6
        ), scale_id


@st.composite
def near_complete_answers(draw: st.DrawFn) -> tuple[InstrumentDefinition, dict[str, object]]:
    """Complete whole-number answers, sometimes spoiled in one of the ways the short path
    must hand over to the item-by-item path."""
    definition, answers = draw(complete_answers())
    spoiled: dict[str, object] = dict(answers)
    item_id = draw(st.sampled_from(sorted(spoiled)))
    spoil = draw(st.sampled_from(["none", "none", "float", "null", "omit", "bool", "unknown"]))
    if spoil == "float" and isinstance(spoiled[item_id], int | float):
        spoiled[item_id] = float(spoiled[item_id])  # type: ignore[arg-type]
    elif spoil == "null":
        spoiled[item_id] = None
    elif spoil == "omit":
        del spoiled[item_id]
    elif spoil == "bool":
        spoiled[item_id] = True
    elif spoil == "unknown":
        spoiled["extra"] = 3
    return definition, spoiled


@given(near_complete_answers())
def test_the_short_path_scores_exactly_as_the_item_by_item_path(
    case: tuple[InstrumentDefinition, dict[str, object]],
) -> None:
    definition, answers = case
    digest = definition_hash(definition)
    outcomes: list[tuple[str, object]] = []
    for short_path in (True, False):
        scorer = Scorer(definition, digest, short_path=short_path)
        try:
            outcomes.append(("ok", scorer.score(answers)))
        except InvalidResponsesError as error:
            outcomes.append(("invalid", error.errors))
    assert outcomes[0] == outcomes[1]
