"""The annotated example of instruments/README.md is a valid definition, and its example
cases pass: the documentation cannot drift from the format."""

from __future__ import annotations

import re
import textwrap
from typing import Any

import pytest
import yaml

from app.core.scoring import compile_scorer
from app.instruments.definition import InstrumentDefinition
from app.instruments.registry import definition_hash
from app.instruments.texts import source_texts
from tests.conftest import INSTRUMENTS
from tests.core.test_known_answers import check_case

BLOCKS = re.findall(
    r"```yaml\n(.*?)```", (INSTRUMENTS / "README.md").read_text(encoding="utf-8"), re.S
)


def _example(key: str) -> Any:
    for block in BLOCKS:
        document = yaml.safe_load(textwrap.dedent(block))
        if isinstance(document, dict) and key in document:
            return document
    raise AssertionError(f"no YAML example with {key!r} in instruments/README.md")


def test_the_annotated_example_is_a_valid_definition() -> None:
    InstrumentDefinition.model_validate(_example("scales"))


@pytest.mark.parametrize("case", _example("cases")["cases"], ids=lambda case: case["name"])
def test_the_example_cases_pass_against_the_example(case: dict[str, Any]) -> None:
    definition = InstrumentDefinition.model_validate(_example("scales"))
    check_case(compile_scorer(definition, definition_hash(definition)), case)


def test_the_example_translation_translates_every_text_of_the_example() -> None:
    definition = InstrumentDefinition.model_validate(_example("scales"))
    translation = _example("item_anchors")
    flat = dict(_flatten(translation))
    assert set(flat) == set(source_texts(definition))


def _flatten(document: dict[Any, Any], prefix: str = "") -> Any:
    for key, value in document.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
