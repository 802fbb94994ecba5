"""Per-language catalogues of texts: found on disk, checked against their source at start-up,
and looked up by key with an explicit English fallback.

A catalogue folder holds one folder per language (`<folder>/<tag>/`, the tag as in BCP 47:
`fr`, `es`, `pt-BR`); the languages the service speaks are the folders found, plus English.
Texts are grouped in *domains*, one file each:

    <tag>/ui.yaml                               words of the service's own (pages, charts,
                                                narratives)
    <tag>/guidance.yaml                         the repair guidance catalogue
    <tag>/problems.yaml                         problem titles
    <tag>/instruments/<id>/<version>.yaml       one instrument version

A file is a YAML mapping of keys to texts; nested mappings are read as dotted keys
(`chart: {session: Séance}` is `chart.session`). English is the source of every domain:
`en/ui.yaml` for the service's words, the definitions and the guidance catalogue for theirs,
the error classes for problem titles. A translated key that its source lacks (a typo, a key
removed from the source) stops start-up with the file and key named; a source key that a
translation lacks is shown in English and reported (`Catalogues.missing`, a warning at
start-up, `GET /v1/languages`), so that a language can be added a domain at a time.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.instruments.registry import DefinitionLoadError, read_yaml

SOURCE_LANGUAGE = "en"
UI = "ui"
# A language folder's name: a BCP 47 language tag, primary language and optional region or
# script (`fr`, `pt-BR`, `zh-Hant`); Accept-Language ranges are matched against it.
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_FORMATTER = string.Formatter()


class CatalogueError(DefinitionLoadError):
    """One or more catalogue files are invalid; the message names each file and key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.args = ("invalid language catalogues:\n" + "\n".join(problems),)


@dataclass(frozen=True)
class Missing:
    """The keys of a domain that a language does not translate (shown in English)."""

    language: str
    domain: str
    path: Path
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Texts:
    """The texts of one domain in one language: each key's translation, else its source
    (English) text. A key the source lacks is a bug of the caller: `KeyError`."""

    language: str
    domain: str
    translated: Mapping[str, str]
    source: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        text = self.translated.get(key)
        return text if text is not None else self.source[key]

    def get(self, key: str, default: str) -> str:
        """The text of `key`, or `default` where the source has no such key."""
        return self[key] if key in self.source else default

    def format(self, key: str, /, **values: object) -> str:
        """The text of `key` with its `{name}` fields filled in."""
        return self[key].format(**values)


@dataclass(frozen=True)
class Words:
    """Everything the service says, in one language: `words("chart.session")` is a word of
    its own (the `ui` domain), `words.texts(domain)` the texts of another domain."""

    catalogues: Catalogues
    language: str

    def __call__(self, key: str, /, **values: object) -> str:
        return self.catalogues.text(key, self.language, **values)

    def texts(self, domain: str) -> Texts:
        return self.catalogues.texts(domain, self.language)


@dataclass(frozen=True)
class Catalogues:
    """Every language the service speaks and its texts, by domain.

    `languages` lists the source language first, then the others by tag. `text(key,
    language)` is the one way to get a word of the service's own (the `ui` domain):
    `catalogues.text("chart.session", "fr")` is "Séance"; `{name}` fields are filled from
    keyword arguments."""

    sources: Mapping[str, Mapping[str, str]]
    translations: Mapping[str, Mapping[str, Mapping[str, str]]]  # language -> domain -> texts
    missing: tuple[Missing, ...] = ()
    languages: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        others = sorted(language for language in self.translations if language != SOURCE_LANGUAGE)
        object.__setattr__(self, "languages", (SOURCE_LANGUAGE, *others))

    def texts(self, domain: str, language: str) -> Texts:
        """The texts of `domain` in `language` (English where it translates none)."""
        translated = self.translations.get(language, {}).get(domain, {})
        return Texts(language, domain, translated, self.sources.get(domain, {}))

    def text(self, key: str, language: str, /, **values: object) -> str:
        """A word of the service's own (`ui` domain) in `language`, its fields filled in."""
        return self.texts(UI, language).format(key, **values)

    def words(self, language: str) -> Words:
        """Everything the service says, in `language`."""
        return Words(self, language)

    def negotiate(self, header: str | None) -> str:
        """The language of `Accept-Language` (RFC 9110 12.5.4) the service speaks, with the
        highest q-value (the earliest on a tie): a range matches a language with the same
        tag, else one with the same primary language (`es-MX` gets `es`; `pt` gets `pt-BR`
        when it is the only Portuguese). English when nothing matches."""
        best, best_q = SOURCE_LANGUAGE, 0.0
        for position, (tag, q) in enumerate(_ranges(header)):
            if q <= best_q:
                continue
            if tag == "*":
                if position == 0:
                    best, best_q = SOURCE_LANGUAGE, q
                continue
            match = self._match(tag)
            if match is not None:
                best, best_q = match, q
        return best

    def _match(self, tag: str) -> str | None:
        by_tag = {language.lower(): language for language in self.languages}
        if tag in by_tag:
            return by_tag[tag]
        primary = tag.split("-")[0]
        if primary in by_tag:
            return by_tag[primary]
        return next(
            (lang for lang in self.languages if lang.lower().split("-")[0] == primary), None
        )


def load_catalogues(folder: Path, sources: Mapping[str, Mapping[str, str]]) -> Catalogues:
    """Read every language under `folder` and check it against `sources` (domain -> key ->
    English text; the `ui` domain's source is `folder/en/ui.yaml`). Raises `CatalogueError`
    naming each file and key that is malformed or unknown to its source."""
    problems: list[str] = []
    source_ui = folder / SOURCE_LANGUAGE / f"{UI}.yaml"
    ui, ui_problems = _read(source_ui) if source_ui.is_file() else ({}, [])
    problems += ui_problems
    if not source_ui.is_file():
        problems.append(f"{source_ui}: missing: the source (English) words of the service")
    all_sources: dict[str, Mapping[str, str]] = {**sources, UI: ui}
    translations: dict[str, dict[str, Mapping[str, str]]] = {}
    missing: list[Missing] = []
    folders = sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []
    for language_folder in folders:
        language = language_folder.name
        if not LANGUAGE_TAG.match(language):
            problems.append(
                f"{language_folder}: not a language tag (a folder per language: fr, es, pt-BR)"
            )
            continue
        by_domain: dict[str, Mapping[str, str]] = {}
        for path in sorted(language_folder.rglob("*.yaml")):
            domain = path.relative_to(language_folder).with_suffix("").as_posix()
            if language == SOURCE_LANGUAGE:
                if domain != UI:
                    problems.append(
                        f"{path}: English is the source language: its texts live in the"
                        " definitions, the guidance catalogue and en/ui.yaml"
                    )
                continue
            source = all_sources.get(domain)
            if source is None:
                # A translation of an instrument version that is not loaded (retired, or a
                # test's own instruments): nothing to show it in; kept, not read.
                continue
            texts, file_problems = _read(path)
            problems += file_problems
            for key, text in texts.items():
                if key not in source:
                    problems.append(f"{path}: {key}: no such key in the source (English) texts")
                elif not (_fields(text) or set()) <= (_fields(source[key]) or set()):
                    fields = ", ".join(sorted(_fields(source[key]) or ())) or "none"
                    problems.append(
                        f"{path}: {key}: a {{field}} its source does not fill (it has: {fields})"
                    )
            by_domain[domain] = texts
        translations[language] = by_domain
        if language != SOURCE_LANGUAGE:
            missing += _missing(language, language_folder, all_sources, by_domain)
    if problems:
        raise CatalogueError(problems)
    translations.setdefault(SOURCE_LANGUAGE, {})
    return Catalogues(all_sources, translations, tuple(missing))


def _missing(
    language: str,
    folder: Path,
    sources: Mapping[str, Mapping[str, str]],
    translated: Mapping[str, Mapping[str, str]],
) -> Iterator[Missing]:
    for domain in sorted(sources):
        keys = tuple(key for key in sources[domain] if key not in translated.get(domain, {}))
        if keys:
            yield Missing(language, domain, folder / f"{domain}.yaml", keys)


def _read(path: Path) -> tuple[dict[str, str], list[str]]:
    """A catalogue file as dotted keys -> texts, and its problems (file and key named)."""
    try:
        document = read_yaml(path)
    except DefinitionLoadError as error:
        return {}, error.problems
    if document is None:
        return {}, []
    if not isinstance(document, dict):
        return {}, [f"{path}: (document): a mapping of keys to texts is expected"]
    texts: dict[str, str] = {}
    problems: list[str] = []
    for key, value in _flatten(document):
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{path}: {key}: a text is expected, not {value!r}")
            continue
        if _fields(value) is None:
            problems.append(f"{path}: {key}: unbalanced braces (write {{{{ and }}}} for a brace)")
            continue
        texts[key] = value
    return texts, problems


def _flatten(document: Mapping[Any, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in document.items():
        name = f"{prefix}{_key(key)}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value


def _key(key: Any) -> str:
    """YAML reads `1:` as a number: keys are the text of what was written (1.0 as 1)."""
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def _fields(text: str) -> set[str] | None:
    """The `{name}` fields of a text, or None when its braces do not parse."""
    try:
        return {name for _, name, _, _ in _FORMATTER.parse(text) if name is not None}
    except ValueError:
        return None


def _ranges(header: str | None) -> Iterator[tuple[str, float]]:
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag.strip():
            yield tag.strip().lower(), q
