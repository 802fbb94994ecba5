"""Repair guidance: a catalogue of next clinical steps (YAML, validated like the instruments),
and the choice of the entries that fit a rupture flag.

An entry fits a flag when each of its criteria matches: the flagged scale's Bordin dimension,
the rupture kinds the flag carries, the rule, the repair state, the episode's care setting,
and, for first-contact advice, how early the session is. "any" matches everything.

Every entry cites sources from the catalogue's bibliography by id, strongest first; each source
is a full reference tagged with its kind, so that a clinician sees how strong the support for a
suggestion is (`support`: the strongest kind an entry cites).

The catalogue's texts are in English, the source language; their translations are the
`guidance` domain of the language catalogues (`languages/<tag>/guidance.yaml`, keys
`source_kinds.<id>.label`, `source_kinds.<id>.definition` and `entries.<id>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import Field, ValidationError, model_validator

from app.instruments.definition import DefinitionError, Strict, Text
from app.instruments.registry import DefinitionLoadError, located, read_yaml
from app.languages.catalogues import Catalogues, Texts

DOMAIN = "guidance"

Dimension = Literal["goal", "task", "bond", "alliance", "any"]
Kind = Literal["withdrawal", "confrontation", "any"]
Rule = Literal[
    "below_cutoff", "drop_from_previous", "reliable_drop", "v_drop", "sudden_loss",
    "reported_rupture", "rater_discrepancy", "any",
]  # fmt: skip
State = Literal["new", "unrepaired", "repaired", "any"]
Setting = Literal["psychotherapy", "nursing", "physiotherapy", "any"]
# What kind of work a source is, strongest support first (the order ranks them):
#   meta-analysis: pools the results of many studies; systematic-review: a systematic search of
#   studies, synthesised without pooling; empirical-study: one study with data (a trial, a cohort,
#   a secondary analysis of a trial); consensus-or-manual: an expert consensus study, a treatment
#   guide or manual, a rating manual, a textbook; theory: a published theoretical account, which
#   explains but tests nothing; practice-text: blogs, practice texts, student work, and any text
#   whose full reference could not be verified.
SourceKind = Literal[
    "meta-analysis", "systematic-review", "empirical-study", "consensus-or-manual", "theory",
    "practice-text",
]  # fmt: skip
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]  # an entry's or a source's id


class Applies(Strict):
    dimensions: tuple[Dimension, ...] = ("any",)
    kinds: tuple[Kind, ...] = ("any",)
    rules: tuple[Rule, ...] = ("any",)
    states: tuple[State, ...] = ("any",)
    settings: tuple[Setting, ...] = ("any",)
    early_sessions: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Only flags raised at this session number or earlier."
    )


class SourceKindDefinition(Strict):
    """How a kind of source reads to a clinician: `label` says what backs an entry."""

    id: SourceKind
    label: Text
    definition: Text


class Source(Strict):
    """One work the guidance rests on, as a full reference."""

    id: Slug
    citation: Annotated[str, Field(min_length=1)] = Field(
        description="Full reference: authors, year, title, journal or publisher, volume, pages."
    )
    kind: SourceKind
    doi: Annotated[str, Field(pattern=r"^10\.\d{4,9}/\S+$")] | None = None
    url: Annotated[str, Field(pattern=r"^https://\S+$")] | None = None


class Entry(Strict):
    id: Slug
    applies: Applies
    text: Text
    sources: Annotated[list[Slug], Field(min_length=1)] = Field(
        description="Ids of the catalogue's sources behind this entry, strongest kind first."
    )


class Catalogue(Strict):
    version: str
    source_kinds: list[SourceKindDefinition]
    sources: Annotated[list[Source], Field(min_length=1)]
    entries: Annotated[list[Entry], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        for field, ids in (
            ("entries", [entry.id for entry in self.entries]),
            ("sources", [source.id for source in self.sources]),
        ):
            seen: set[str] = set()
            for index, item_id in enumerate(ids):
                if item_id in seen:
                    raise DefinitionError((field, index, "id"), f"{item_id!r} appears twice")
                seen.add(item_id)
        return self

    @model_validator(mode="after")
    def _source_kinds_in_order(self) -> Self:
        declared = tuple(kind.id for kind in self.source_kinds)
        if declared != SOURCE_KINDS:
            raise DefinitionError(
                ("source_kinds",),
                f"must define each kind once, strongest first: {', '.join(SOURCE_KINDS)}",
            )
        return self

    @model_validator(mode="after")
    def _sources_cited_and_ranked(self) -> Self:
        """Each entry cites known sources, each once, strongest first; each source is cited."""
        kinds = {source.id: source.kind for source in self.sources}
        for index, entry in enumerate(self.entries):
            for position, source_id in enumerate(entry.sources):
                where = ("entries", index, "sources", position)
                if source_id not in kinds:
                    raise DefinitionError(where, f"unknown source {source_id!r}")
                if source_id in entry.sources[:position]:
                    raise DefinitionError(where, f"{source_id!r} is cited twice")
                before = entry.sources[position - 1] if position else None
                if before is not None and _rank(kinds[source_id]) < _rank(kinds[before]):
                    raise DefinitionError(
                        where,
                        f"{source_id!r} ({kinds[source_id]}) must come before {before!r}"
                        f" ({kinds[before]}): the strongest sources first",
                    )
        cited = {source_id for entry in self.entries for source_id in entry.sources}
        for index, source in enumerate(self.sources):
            if source.id not in cited:
                raise DefinitionError(
                    ("sources", index, "id"), f"{source.id!r} is cited by no entry"
                )
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

    def source_texts(self) -> dict[str, str]:
        """Every text of the catalogue by key, in English (the source of its translations)."""
        texts: dict[str, str] = {}
        for kind in self.source_kinds:
            texts[f"source_kinds.{kind.id}.label"] = kind.label
            texts[f"source_kinds.{kind.id}.definition"] = kind.definition
        for entry in self.entries:
            texts[f"entries.{entry.id}"] = entry.text
        return texts

    def render(self, entry_ids: list[str], texts: Texts) -> list[dict[str, Any]]:
        """The entries as a flag carries them, in the language of `texts`: id, text, `support`
        (the strongest kind of source cited) and its label, `sources` (the full citations, as
        strings since v1) and `references` (each source with its kind, DOI and URL)."""
        entries = {entry.id: entry for entry in self.entries}
        sources = {source.id: source for source in self.sources}
        labels = {
            kind.id: texts.get(f"source_kinds.{kind.id}.label", kind.label)
            for kind in self.source_kinds
        }
        rendered = []
        for entry_id in entry_ids:
            if entry_id not in entries:
                continue
            cited = [sources[source_id] for source_id in entries[entry_id].sources]
            support = min((source.kind for source in cited), key=_rank)
            rendered.append(
                {
                    "id": entry_id,
                    "text": texts.get(f"entries.{entry_id}", entries[entry_id].text),
                    "support": support,
                    "support_label": labels[support],
                    "sources": [source.citation for source in cited],
                    "references": [
                        source.model_dump(mode="json", exclude_none=True) for source in cited
                    ],
                }
            )
        return rendered

    def legend(self, texts: Texts) -> list[dict[str, str]]:
        """The kinds of source, strongest first, with their label and definition."""
        return [
            {
                "id": kind.id,
                "label": texts.get(f"source_kinds.{kind.id}.label", kind.label),
                "definition": texts.get(f"source_kinds.{kind.id}.definition", kind.definition),
            }
            for kind in self.source_kinds
        ]


@dataclass(frozen=True)
class Guidance:
    """The guidance catalogue and the languages it is shown in."""

    catalogue: Catalogue
    languages: Catalogues

    @property
    def version(self) -> str:
        return self.catalogue.version

    @property
    def entries(self) -> list[Entry]:
        return self.catalogue.entries

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
        """Ids of the entries that fit a flag, in catalogue order (`Catalogue.select`)."""
        return self.catalogue.select(
            dimension=dimension, kinds=kinds, rule=rule, state=state, setting=setting,
            session=session,
        )  # fmt: skip

    def render(self, entry_ids: list[str], language: str) -> list[dict[str, Any]]:
        """The entries as a flag carries them, texts in `language` (`Catalogue.render`)."""
        return self.catalogue.render(entry_ids, self.languages.texts(DOMAIN, language))

    def legend(self, language: str) -> list[dict[str, str]]:
        """The kinds of source in `language` (`Catalogue.legend`)."""
        return self.catalogue.legend(self.languages.texts(DOMAIN, language))


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
            [f"{path}: {loc}: {reason}" for loc, reason in located(error)]
        ) from error


def _matches(allowed: tuple[str, ...], values: list[str]) -> bool:
    return "any" in allowed or any(value in allowed for value in values)


def _rank(kind: SourceKind) -> int:
    return SOURCE_KINDS.index(kind)
