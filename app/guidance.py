"""Repair guidance: a catalogue of next clinical steps (YAML, validated like the instruments),
and the choice of the entries that fit a rupture flag.

An entry fits a flag when each of its criteria matches: the flagged scale's Bordin dimension,
the rupture kinds the flag carries, the rule, the repair state, the episode's care setting,
and, for first-contact advice, how early the session is. "any" matches everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from app.instruments.definition import Strict, Text
from app.instruments.registry import DefinitionLoadError, read_yaml

Dimension = Literal["goal", "task", "bond", "alliance", "any"]
Kind = Literal["withdrawal", "confrontation", "any"]
Rule = Literal[
    "below_cutoff", "drop_from_previous", "reliable_drop", "v_drop", "sudden_loss",
    "reported_rupture", "rater_discrepancy", "any",
]  # fmt: skip
State = Literal["new", "unrepaired", "repaired", "any"]
Setting = Literal["psychotherapy", "nursing", "physiotherapy", "any"]


class Applies(Strict):
    dimensions: tuple[Dimension, ...] = ("any",)
    kinds: tuple[Kind, ...] = ("any",)
    rules: tuple[Rule, ...] = ("any",)
    states: tuple[State, ...] = ("any",)
    settings: tuple[Setting, ...] = ("any",)
    early_sessions: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Only flags raised at this session number or earlier."
    )


class Entry(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    applies: Applies
    text: Text
    sources: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class Catalogue(Strict):
    version: str
    entries: Annotated[list[Entry], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for entry in self.entries:
            if entry.id in seen:
                raise ValueError(f"entries: id {entry.id!r} appears twice")
            seen.add(entry.id)
        return self

    def select(
        self,
        *,
        dimension: str | None,
        kinds: list[str],
        rule: str,
        state: str,
        setting: str | None,
        session: int,
    ) -> list[str]:
        """Ids of the entries that fit a flag, in catalogue order."""
        chosen = []
        for entry in self.entries:
            applies = entry.applies
            if not _matches(applies.dimensions, [dimension] if dimension else []):
                continue
            if not _matches(applies.kinds, kinds):
                continue
            if not _matches(applies.rules, [rule]) or not _matches(applies.states, [state]):
                continue
            if not _matches(applies.settings, [setting] if setting else []):
                continue
            if applies.early_sessions is not None and session > applies.early_sessions:
                continue
            chosen.append(entry.id)
        return chosen

    def render(self, entry_ids: list[str], language: str) -> list[dict[str, Any]]:
        """The entries as a flag carries them: id, text in `language`, sources."""
        entries = {entry.id: entry for entry in self.entries}
        return [
            {
                "id": entry_id,
                "text": entries[entry_id].text.fr
                if language == "fr"
                else entries[entry_id].text.en,
                "sources": entries[entry_id].sources,
            }
            for entry_id in entry_ids
            if entry_id in entries
        ]


def flag_state(state: str | None) -> str:
    """A flag's guidance state: repaired, unrepaired, or new (pending or without repair)."""
    return state if state in ("repaired", "unrepaired") else "new"


def load_catalogue(path: Path) -> Catalogue:
    """Parse and validate the catalogue, or raise `DefinitionLoadError` naming file and field."""
    document = read_yaml(path)
    try:
        return Catalogue.model_validate(document)
    except ValidationError as error:
        raise DefinitionLoadError(
            [
                f"{path}: {'.'.join(str(part) for part in entry['loc']) or '(document)'}: "
                f"{entry['msg']}"
                for entry in error.errors()
            ]
        ) from error


def _matches(allowed: tuple[str, ...], values: list[str]) -> bool:
    return "any" in allowed or any(value in allowed for value in values)
