"""Loads a folder of instrument definitions, checks them across files, and serves lookups.

Layout: `<folder>/<instrument id>/<version>.yaml`. Every problem is reported as
`<file>: <field path>: <reason>`, and any problem stops the load: a service must never start
with a key it could not check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.core.scoring import Scorer, compile_scorer
from app.instruments.definition import (
    DefinitionError,
    InstrumentDefinition,
    RaterDiscrepancyRule,
    parse_version,
)
from app.platform.errors import UnknownInstrumentError


class DefinitionLoadError(Exception):
    """One or more definition files are invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid instrument definitions:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedInstrument:
    """A validated definition, where it came from, its hash and its compiled scorer."""

    definition: InstrumentDefinition
    path: Path
    definition_hash: str
    scorer: Scorer = field(repr=False)

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def version(self) -> str:
        return self.definition.version


class InstrumentRegistry:
    """Every loaded instrument version; `latest` is the highest semantic version of an id."""

    def __init__(self, instruments: Iterable[LoadedInstrument]) -> None:
        by_id: dict[str, dict[str, LoadedInstrument]] = {}
        for instrument in instruments:
            by_id.setdefault(instrument.id, {})[instrument.version] = instrument
        self._versions = {
            instrument_id: dict(
                sorted(versions.items(), key=lambda pair: parse_version(pair[0]), reverse=True)
            )
            for instrument_id, versions in sorted(by_id.items())
        }

    def get(self, instrument_id: str, version: str | None = None) -> LoadedInstrument:
        versions = self._versions.get(instrument_id)
        if versions is None:
            raise UnknownInstrumentError(f"no instrument {instrument_id!r}")
        if version is None or version == "latest":
            return next(iter(versions.values()))
        instrument = versions.get(version)
        if instrument is None:
            known = ", ".join(versions)
            raise UnknownInstrumentError(
                f"instrument {instrument_id!r} has no version {version!r} (known: {known})"
            )
        return instrument

    def versions(self, instrument_id: str) -> list[str]:
        """Loaded versions of an instrument, highest first."""
        return list(self._versions.get(instrument_id, ()))

    def latest(self) -> list[LoadedInstrument]:
        return [next(iter(versions.values())) for versions in self._versions.values()]

    def __iter__(self) -> Iterator[LoadedInstrument]:
        for versions in self._versions.values():
            yield from versions.values()

    def __len__(self) -> int:
        return sum(len(versions) for versions in self._versions.values())


def load_registry(folder: Path) -> InstrumentRegistry:
    """Load and cross-check every definition under `folder`, or raise `DefinitionLoadError`."""
    paths = sorted(folder.glob("*/*.yaml"))
    if not paths:
        raise DefinitionLoadError([f"{folder}: no instrument definitions (<id>/<version>.yaml)"])
    problems: list[str] = []
    loaded: list[LoadedInstrument] = []
    for path in paths:
        try:
            definition = load_definition(path)
        except DefinitionLoadError as error:
            problems.extend(error.problems)
            continue
        if definition.id != path.parent.name or definition.version != path.stem:
            problems.append(
                f"{path}: id/version: the file declares {definition.id} {definition.version};"
                f" it must live at {definition.id}/{definition.version}.yaml"
            )
            continue
        digest = definition_hash(definition)
        loaded.append(
            LoadedInstrument(definition, path, digest, compile_scorer(definition, digest))
        )
    problems.extend(_cross_file_problems(loaded))
    if problems:
        raise DefinitionLoadError(problems)
    return InstrumentRegistry(loaded)


def read_yaml(path: Path) -> Any:
    """A YAML file's document (safe loader, duplicate keys refused), or `DefinitionLoadError`."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise DefinitionLoadError([f"{path}: {_one_line(str(error))}"]) from error


def load_definition(path: Path) -> InstrumentDefinition:
    """Parse and validate one definition file, or raise `DefinitionLoadError` naming it."""
    document = read_yaml(path)
    try:
        return InstrumentDefinition.model_validate(document)
    except ValidationError as error:
        raise DefinitionLoadError(
            [f"{path}: {loc}: {reason}" for loc, reason in located(error)]
        ) from error


def definition_hash(definition: InstrumentDefinition) -> str:
    """A stable hash of what a definition says (not of its file's comments or layout)."""
    canonical = json.dumps(
        definition.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _cross_file_problems(loaded: list[LoadedInstrument]) -> list[str]:
    problems: list[str] = []
    pairs: set[tuple[str, str]] = set()
    scales_by_id: dict[str, set[str]] = {}
    for instrument in loaded:
        scales_by_id.setdefault(instrument.id, set()).update(
            scale.id for scale in instrument.definition.scales
        )
    for instrument in loaded:
        for index, rule in enumerate(instrument.definition.ruptures):
            if not isinstance(rule, RaterDiscrepancyRule):
                continue
            where = f"{instrument.path}: ruptures.{index}.counterpart"
            if rule.counterpart not in scales_by_id:
                problems.append(f"{where}: unknown instrument {rule.counterpart!r}")
                continue
            if (rule.counterpart, instrument.id) in pairs:
                problems.append(
                    f"{where}: the pair with {rule.counterpart!r} is already declared there;"
                    " declare a client-therapist comparison once"
                )
            pairs.add((instrument.id, rule.counterpart))
            missing = sorted(set(rule.scales) - scales_by_id[rule.counterpart])
            if missing:
                problems.append(
                    f"{where}: {rule.counterpart!r} has no scale(s) {', '.join(missing)}"
                )
    return problems


def located(error: ValidationError) -> Iterator[tuple[str, str]]:
    """Each problem of a validation error as (field path, reason), a cross-check's
    `DefinitionError` at the path it names."""
    for entry in error.errors():
        loc: tuple[str | int, ...] = tuple(entry["loc"])
        reason = entry["msg"]
        cause = (entry.get("ctx") or {}).get("error")
        if isinstance(cause, DefinitionError):
            loc += cause.loc
            reason = cause.reason
        yield ".".join(str(part) for part in loc) or "(document)", reason


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys instead of keeping the last one."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping_without_duplicates,
)
