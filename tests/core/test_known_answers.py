"""Known-answer cases (tests/cases/<instrument>.yaml), hand-checked against the published keys."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.scoring import Scorer
from app.instruments.registry import InstrumentRegistry
from app.platform.errors import InvalidResponsesError

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
TOLERANCE = 1e-6


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in document["cases"]:
            params.append(
                pytest.param(document["instrument"], case, id=f"{path.stem}: {case['name']}")
            )
    return params


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(actual, int | float) and math.isclose(
            expected, actual, rel_tol=0, abs_tol=TOLERANCE
        )
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _same(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def test_every_shipped_instrument_has_known_answer_cases(registry: InstrumentRegistry) -> None:
    covered = {path.stem for path in CASES_DIR.glob("*.yaml")}
    assert {loaded.id for loaded in registry} <= covered


@pytest.mark.parametrize(("instrument", "case"), _load_cases())
def test_scoring_matches_the_hand_checked_answer(
    registry: InstrumentRegistry, instrument: str, case: dict[str, Any]
) -> None:
    check_case(registry.get(instrument, case.get("version")).scorer, case)


def check_case(scorer: Scorer, case: dict[str, Any]) -> None:
    """Score the case's responses and compare with what the case expects."""
    if "errors" in case:
        with pytest.raises(InvalidResponsesError) as raised:
            scorer.score(case["responses"])
        actual_errors = sorted(raised.value.errors, key=lambda error: str(error["loc"]))
        expected_errors = sorted(case["errors"], key=lambda error: str(error["loc"]))
        assert [(e["loc"], e["code"]) for e in actual_errors] == [
            (e["loc"], e["code"]) for e in expected_errors
        ]
        return
    result = scorer.score(case["responses"])
    assert set(result["scales"]) == set(case["scales"]), "every scale must be checked"
    for scale_id, expected in case["scales"].items():
        actual = result["scales"][scale_id]
        assert _same(expected, actual), f"{scale_id}: expected {expected}, got {actual}"
    assert _same(case.get("flags", []), result["flags"]), result["flags"]
    actual_warnings = [{"code": w["code"], "item": w["item"]} for w in result["warnings"]]
    assert sorted(case.get("warnings", []), key=str) == sorted(actual_warnings, key=str)
