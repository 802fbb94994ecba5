"""The YAML instrument definition format, as Pydantic models (one file = one instrument version).

These models describe what an author writes in `instruments/<id>/<version>.yaml`. They are
validated with `extra="forbid"` so that a typo names its field. Checks that need the whole
definition (a scale naming an unknown item, an item in no scale, an anchor outside the scale)
live in the model validators below; checks across files live in `registry.py`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=32)]
Number = float  # JSON numbers; integer scales are checked through `step`

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def parse_version(version: str) -> tuple[int, int, int]:
    """MAJOR.MINOR.PATCH as a tuple that sorts like the version (no pre-release tags)."""
    match = _SEMVER.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not a semantic version MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


Location = tuple[str | int, ...]


class DefinitionError(ValueError):
    """A definition error found by a cross-check, with the field path it belongs to.

    Pydantic keeps the exception in the error's context, so the loader can report
    `scales.2.items.3` instead of the model's root.
    """

    def __init__(self, loc: Location, reason: str) -> None:
        super().__init__(reason)
        self.loc = loc
        self.reason = reason


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A text shown to people, in English, the source language: its translations live in the
# language catalogues (languages/<tag>/instruments/<id>/<version>.yaml, `app.instruments.texts`).
Text = Annotated[str, Field(min_length=1)]


class Respondent(StrEnum):
    client = "client"
    therapist = "therapist"
    observer = "observer"
    clinician = "clinician"


class CareSetting(StrEnum):
    psychotherapy = "psychotherapy"
    nursing = "nursing"
    physiotherapy = "physiotherapy"


class KeyStatus(StrEnum):
    """How far the scoring key has been checked (see shared/spec/instruments.md)."""

    confirmed = "confirmed"
    single_source = "single-source"
    derived = "derived"


class Dimension(StrEnum):
    """Which part of Bordin's working alliance a scale measures, if any."""

    goal = "goal"
    task = "task"
    bond = "bond"
    alliance = "alliance"


class RuptureKind(StrEnum):
    """Rupture kinds of the Rupture Resolution Rating System (Eubanks, Muran & Safran 2015)."""

    withdrawal = "withdrawal"
    confrontation = "confrontation"


class Reference(Strict):
    citation: Annotated[str, Field(min_length=1)]
    doi: str | None = None
    url: str | None = None


class Anchor(Strict):
    value: Number
    label: Text


class ResponseScale(Strict):
    """The answers an item accepts: min..max in steps of `step`, plus 'not assessed' codes."""

    min: Number
    max: Number
    step: Annotated[Number, Field(gt=0)]
    anchors: list[Anchor] = []
    not_assessed: list[Number] = Field(
        default=[],
        description="Values that mean 'not assessed': recorded as missing, never scored.",
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        if self.min >= self.max:
            raise DefinitionError(("max",), f"max ({self.max}) must be above min ({self.min})")
        steps = (self.max - self.min) / self.step
        if abs(steps - round(steps)) > 1e-9:
            raise DefinitionError(
                ("step",), f"{self.max} - {self.min} is not a whole number of steps"
            )
        for index, anchor in enumerate(self.anchors):
            inside = self.min <= anchor.value <= self.max
            if not inside and anchor.value not in self.not_assessed:
                raise DefinitionError(
                    ("anchors", index, "value"),
                    f"{anchor.value} lies outside {self.min}..{self.max}"
                    " and is not a 'not assessed' value",
                )
        for index, value in enumerate(self.not_assessed):
            if self.min <= value <= self.max:
                raise DefinitionError(
                    ("not_assessed", index),
                    f"{value} lies inside {self.min}..{self.max}: it would hide a real answer",
                )
        return self


class Condition(Strict):
    """An item applies only when another item was answered with `equals`."""

    item: ItemId
    equals: Number


class Item(Strict):
    id: ItemId
    label: Text
    reverse: bool = False
    response_scale: ResponseScale | None = Field(
        default=None, description="Overrides the instrument's response scale for this item."
    )
    applies_when: Condition | None = None
    rupture_kind: RuptureKind | None = Field(
        default=None, description="For rupture markers: the kind of rupture this item signals."
    )


class MissingRule(Strict):
    """How many items of a scale may be unanswered; the score is then prorated.

    `basis` says where the rule comes from: a published rule, or Bordin's stated default
    where none is published.
    """

    max_missing: Annotated[int, Field(ge=0)]
    basis: Annotated[str, Field(min_length=1)]


class Scale(Strict):
    id: Identifier
    label: Text
    items: Annotated[list[ItemId], Field(min_length=1)]
    method: Literal["sum", "mean"] = "sum"
    dimension: Dimension | None = None
    missing: MissingRule


class AlertZone(StrEnum):
    at_or_below = "at_or_below"
    below = "below"
    at_or_above = "at_or_above"
    above = "above"


class Cutoff(Strict):
    """A score boundary and the side of it that should alert a clinician."""

    scale: Identifier
    value: Number
    alert_zone: AlertZone
    label: Text
    source: Annotated[str, Field(min_length=1)]


# The highest reliability a reliable-change rule accepts. Published alliance reliabilities
# stay below it (WAI-36 alpha about .92, Hanson et al. 2002; WAI-SR above .80, Munder et al.
# 2010; SRS test-retest .54-.70); an alpha above .98 says that the items repeat one another
# (straight-lined or duplicated answers), not that the scale measures without error, and it
# would shrink the reliable-change threshold towards zero (SD x sqrt(1 - r)): at .98 it is
# already 0.39 SD, at 1 every unchanged score would count as a reliable drop.
MAX_RELIABILITY = 0.98


class Reliability(Strict):
    value: Annotated[
        float,
        Field(
            gt=0,
            le=MAX_RELIABILITY,
            description="At most .98: above it a reliable-change threshold shrinks to nothing.",
        ),
    ]
    kind: Literal["cronbach_alpha", "test_retest"]
    source: Annotated[str, Field(min_length=1)]


class Norm(Strict):
    """A published mean / SD / reliability of one scale, on the declared basis."""

    scale: Identifier
    basis: Literal["sum", "item_mean"]
    mean: Number | None = None
    sd: Annotated[Number, Field(gt=0)] | None = None
    n: Annotated[int, Field(gt=0)] | None = None
    reliability: Reliability | None = None
    population: str | None = None
    source: Annotated[str, Field(min_length=1)]


class RuleBase(Strict):
    scales: Annotated[list[Identifier], Field(min_length=1)]
    citation: Annotated[str, Field(min_length=1)]


class BelowCutoffRule(RuleBase):
    """Rule 1: the score lies in the alert zone of the scale's declared cut-off."""

    rule: Literal["below_cutoff"]


class DropFromPreviousRule(RuleBase):
    """Rule 2: the score fell by at least `points` since the previous administration."""

    rule: Literal["drop_from_previous"]
    points: Annotated[Number, Field(gt=0)]
    repair_window: Annotated[int, Field(ge=1)]


class ReliableDropRule(RuleBase):
    """Rule 3: Jacobson & Truax (1991) reliable deterioration against the previous session."""

    rule: Literal["reliable_drop"]
    z: Annotated[Number, Field(gt=0)] = 1.96
    min_organisation_n: Annotated[int, Field(ge=2)]
    repair_window: Annotated[int, Field(ge=1)]


class VDropThresholds(Strict):
    strict: Annotated[Number, Field(gt=0)] = 2.0
    lenient: Annotated[Number, Field(gt=0)] | None = 1.0


class VDropRule(RuleBase):
    """Rule 4: a V-shaped dip below the mean of the client's earlier scores by k x spread."""

    rule: Literal["v_drop"]
    min_history: Annotated[int, Field(ge=2)]
    thresholds: VDropThresholds = VDropThresholds()
    min_spread_pomp: Annotated[Number, Field(ge=0, lt=100)] = Field(
        description=(
            "Floor of the spread, in percent of the scale's range (POMP points), so that it"
            " means the same on every scale: a steady history (SD near 0) cannot make a small"
            " dip a V-drop."
        )
    )
    min_organisation_n: Annotated[int, Field(ge=2)]
    repair_window: Annotated[int, Field(ge=1)]


class SuddenLossCriticalValues(Strict):
    none_missing: Number = 2.776
    one_missing: Number = 3.182
    one_missing_each_side: Number = 4.303


class SuddenLossRule(RuleBase):
    """Rule 5: Tang & DeRubeis (1999) sudden-gain criteria mirrored for a loss."""

    rule: Literal["sudden_loss"]
    min_fraction: Annotated[Number, Field(gt=0, lt=1)] = 0.25
    critical_values: SuddenLossCriticalValues = SuddenLossCriticalValues()
    min_organisation_n: Annotated[int, Field(ge=2)]
    repair_window: Annotated[int, Field(ge=1)]


class ReportedRuptureRule(RuleBase):
    """Rule 6: the respondent said a rupture happened (scale score at least `at_least`).

    `sign` says how directly: `direct` (the client or clinician says so, or a direct sign of
    rupture) or `marker` (a withdrawal or confrontation marker of the 3RS, which the clinician
    sees but nobody said); the flag carries it as its `severity`.
    """

    rule: Literal["reported_rupture"]
    at_least: Number
    sign: Literal["direct", "marker"] = "direct"
    details: dict[Identifier, ItemId] = Field(
        default={}, description="Items reported with the flag, e.g. intensity and resolution."
    )


class RaterDiscrepancyRule(RuleBase):
    """Rule 7: client and therapist ratings of one session differ by more than `max_gap_pomp`."""

    rule: Literal["rater_discrepancy"]
    counterpart: Identifier
    max_gap_pomp: Annotated[Number, Field(gt=0, le=100)]


RuptureRule = Annotated[
    BelowCutoffRule
    | DropFromPreviousRule
    | ReliableDropRule
    | VDropRule
    | SuddenLossRule
    | ReportedRuptureRule
    | RaterDiscrepancyRule,
    Field(discriminator="rule"),
]


class InstrumentDefinition(Strict):
    id: Identifier
    version: str
    title: Text
    aliases: list[str] = []
    respondent: Respondent
    care_settings: Annotated[list[CareSetting], Field(min_length=1)]
    references: Annotated[list[Reference], Field(min_length=1)]
    key_status: KeyStatus
    key_note: str | None = Field(
        default=None, description="Why the key has this status; required when it is derived."
    )
    response_scale: ResponseScale
    items: Annotated[list[Item], Field(min_length=1)]
    scales: Annotated[list[Scale], Field(min_length=1)]
    cutoffs: list[Cutoff] = []
    norms: list[Norm] = []
    ruptures: list[RuptureRule] = []

    @field_validator("version")
    @classmethod
    def _version_parses(cls, version: str) -> str:
        parse_version(version)
        return version

    @model_validator(mode="after")
    def _check_cross_references(self) -> Self:
        if self.key_status is KeyStatus.derived and not self.key_note:
            raise DefinitionError(("key_note",), "a derived key must state its deduction")
        _unique(("items",), [item.id for item in self.items])
        _unique(("scales",), [scale.id for scale in self.scales])
        _unique(("cutoffs",), [cutoff.scale for cutoff in self.cutoffs])
        items = {item.id: item for item in self.items}
        scales = {scale.id for scale in self.scales}
        for index, item in enumerate(self.items):
            condition = item.applies_when
            if condition is not None and condition.item not in items:
                raise DefinitionError(
                    ("items", index, "applies_when", "item"), f"unknown item {condition.item!r}"
                )
            if condition is not None and condition.item == item.id:
                raise DefinitionError(
                    ("items", index, "applies_when", "item"), "an item cannot gate itself"
                )
        in_a_scale: set[str] = set()
        for index, scale in enumerate(self.scales):
            _unique(("scales", index, "items"), scale.items)
            for position, item_id in enumerate(scale.items):
                if item_id not in items:
                    raise DefinitionError(
                        ("scales", index, "items", position), f"unknown item {item_id!r}"
                    )
            if scale.missing.max_missing >= len(scale.items):
                raise DefinitionError(
                    ("scales", index, "missing", "max_missing"),
                    f"{scale.missing.max_missing} would allow a score with no item answered"
                    f" (the scale has {len(scale.items)})",
                )
            bounds = {
                (self.scale_of(items[i]).min, self.scale_of(items[i]).max) for i in scale.items
            }
            if len(bounds) > 1:
                raise DefinitionError(
                    ("scales", index, "items"),
                    "items of one scale must share the same min and max, or sums and"
                    " prorated scores would mix units",
                )
            in_a_scale.update(scale.items)
        for index, item in enumerate(self.items):
            if item.id not in in_a_scale:
                raise DefinitionError(("items", index), f"item {item.id!r} belongs to no scale")
        scale_refs = [("cutoffs", i, c.scale) for i, c in enumerate(self.cutoffs)]
        scale_refs += [("norms", i, n.scale) for i, n in enumerate(self.norms)]
        for field, index, scale_id in scale_refs:
            if scale_id not in scales:
                raise DefinitionError((field, index, "scale"), f"unknown scale {scale_id!r}")
        with_cutoff = {cutoff.scale for cutoff in self.cutoffs}
        for index, rule in enumerate(self.ruptures):
            for position, scale_id in enumerate(rule.scales):
                where = ("ruptures", index, "scales", position)
                if scale_id not in scales:
                    raise DefinitionError(where, f"unknown scale {scale_id!r}")
                if isinstance(rule, BelowCutoffRule) and scale_id not in with_cutoff:
                    raise DefinitionError(where, f"scale {scale_id!r} has no cut-off")
            if isinstance(rule, ReportedRuptureRule):
                for name, item_id in rule.details.items():
                    if item_id not in items:
                        raise DefinitionError(
                            ("ruptures", index, "details", name), f"unknown item {item_id!r}"
                        )
        return self

    def scale_of(self, item: Item) -> ResponseScale:
        return item.response_scale or self.response_scale


def _unique(where: Location, ids: list[str]) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise DefinitionError(where, f"{value!r} appears twice")
        seen.add(value)
