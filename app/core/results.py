"""Plain result records of the scoring core: typed dicts, cheap to build and to serialise."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

MissingReason = Literal["too_many_missing", "not_applicable"]


class ScaleResult(TypedDict):
    """One scale of one administration. `score`, `mean` and `pomp` are null together."""

    score: float | None
    mean: float | None
    pomp: float | None
    min: float
    max: float
    answered: int
    expected: int
    prorated: bool
    reason: MissingReason | None


class Flag(TypedDict):
    """A rupture flag raised by one administration (rules that need no earlier session)."""

    rule: str
    scale: str
    value: float
    threshold: float
    citation: str
    severity: NotRequired[str]
    alert_zone: NotRequired[str]
    kinds: NotRequired[list[str]]
    details: NotRequired[dict[str, float | None]]


class ScoreWarning(TypedDict):
    code: Literal["not_assessed", "not_applicable", "gate_unanswered"]
    item: str
    message: str


class ScoreResult(TypedDict):
    instrument: str
    version: str
    definition_hash: str
    scales: dict[str, ScaleResult]
    flags: list[Flag]
    warnings: list[ScoreWarning]
