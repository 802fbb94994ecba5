"""Definition loading: every shipped file loads; a broken file is refused with its field named."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic import command

from app.cli import main as cli
from app.instruments.registry import (
    DefinitionLoadError,
    InstrumentRegistry,
    definition_hash,
    load_registry,
)
from app.platform.errors import UnknownInstrumentError
from tests.conftest import INSTRUMENTS, alembic_config

SHIPPED = {
    "wai-sr", "wai-client", "wai-therapist", "wai-s", "haq-ii-alliance", "srs", "cgi-i",
    "post-session-rupture-client", "post-session-rupture-therapist", "rupture-markers",
}  # fmt: skip

TEXT = "x"
VALID: dict[str, Any] = {
    "id": "tiny",
    "version": "1.0.0",
    "title": "Tiny",
    "respondent": "client",
    "care_settings": ["psychotherapy"],
    "references": [{"citation": "Test 2026"}],
    "key_status": "confirmed",
    "response_scale": {
        "min": 1,
        "max": 5,
        "step": 1,
        "anchors": [{"value": 1, "label": TEXT}, {"value": 5, "label": TEXT}],
    },
    "items": [
        {"id": "1", "label": TEXT},
        {"id": "2", "label": TEXT, "reverse": True},
    ],
    "scales": [
        {
            "id": "total",
            "label": TEXT,
            "items": ["1", "2"],
            "missing": {"max_missing": 0, "basis": "test"},
        }
    ],
    "cutoffs": [
        {"scale": "total", "value": 4, "alert_zone": "at_or_below", "label": TEXT, "source": "t"}
    ],
    "ruptures": [{"rule": "below_cutoff", "scales": ["total"], "citation": "t"}],
}


def _write(folder: Path, document: dict[str, Any], name: str | None = None) -> Path:
    path: Path = folder / document["id"] / f"{name or document['version']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def _refusal(tmp_path: Path, document: dict[str, Any]) -> str:
    path = _write(tmp_path, document)
    with pytest.raises(DefinitionLoadError) as raised:
        load_registry(tmp_path)
    message = str(raised.value)
    assert str(path) in message, "the message names the file"
    return message


def test_every_shipped_definition_loads(registry: InstrumentRegistry) -> None:
    assert {loaded.id for loaded in registry} == SHIPPED


def test_the_definition_hash_ignores_comments_and_layout(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    first = load_registry(tmp_path).get("tiny").definition_hash
    path.write_text("# a comment\n" + yaml.safe_dump(VALID, indent=4), encoding="utf-8")
    assert load_registry(tmp_path).get("tiny").definition_hash == first
    changed = copy.deepcopy(VALID)
    changed["items"][1]["reverse"] = False
    _write(tmp_path, changed)
    assert load_registry(tmp_path).get("tiny").definition_hash != first


def test_several_versions_load_side_by_side_and_latest_is_the_highest(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.10.0", "1.2.0"):
        _write(tmp_path, {**VALID, "version": version})
    registry = load_registry(tmp_path)
    assert registry.get("tiny").version == "1.10.0"
    assert registry.get("tiny", "latest").version == "1.10.0"
    assert registry.get("tiny", "1.2.0").version == "1.2.0"
    assert registry.versions("tiny") == ["1.10.0", "1.2.0", "1.0.0"]
    with pytest.raises(UnknownInstrumentError, match=r"no version '2\.0\.0'"):
        registry.get("tiny", "2.0.0")


def _mutated(path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    target: Any = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return document


_DELETE = object()

REFUSALS = [
    ("an unknown field", "items.0.colour", "red", "items.0.colour: Extra inputs are not permitted"),
    ("a missing title", "title", _DELETE, "title: Field required"),
    ("an empty label", "items.0.label", "", "items.0.label: String should have at least 1"),
    ("a label in several languages", "items.1.label", {"en": "x", "fr": "x"},
     "items.1.label: Input should be a valid string"),
    ("a bad version", "version", "1.0", "version: Value error, '1.0' is not a semantic version"),
    ("a scale naming an unknown item", "scales.0.items.1", "3",
     "scales.0.items.1: unknown item '3'"),
    ("an item in no scale", "scales.0.items", ["1"], "items.1: item '2' belongs to no scale"),
    ("an item listed twice", "items.1.id", "1", "items: '1' appears twice"),
    ("an anchor outside the scale", "response_scale.anchors.1.value", 6,
     "response_scale.anchors.1.value: 6.0 lies outside 1.0..5.0"),
    ("a rule on an unknown scale", "ruptures.0.scales.0", "bond",
     "ruptures.0.scales.0: unknown scale 'bond'"),
    ("a below_cutoff rule without cut-off", "cutoffs", [],
     "ruptures.0.scales.0: scale 'total' has no cut-off"),
    ("an unknown rule", "ruptures.0.rule", "gut_feeling", "ruptures.0: Input tag 'gut_feeling'"),
    ("a missing rule that allows nothing answered", "scales.0.missing.max_missing", 2,
     "scales.0.missing.max_missing: 2 would allow a score with no item answered"),
    ("a not-assessed code inside the scale", "response_scale.not_assessed", [3],
     "response_scale.not_assessed.0: 3.0 lies inside 1.0..5.0"),
    ("a derived key without its deduction", "key_status", "derived",
     "key_note: a derived key must state its deduction"),
    ("a step that does not divide the range", "response_scale.step", 3,
     "response_scale.step: 5.0 - 1.0 is not a whole number of steps"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [pytest.param(path, value, expected, id=name) for name, path, value, expected in REFUSALS],
)
def test_an_invalid_definition_is_refused_with_its_field_path(
    tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    message = _refusal(tmp_path, _mutated(path, value))
    assert expected in message


def test_a_file_must_live_under_its_id_and_version(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID, name="2.0.0")
    with pytest.raises(DefinitionLoadError, match=r"it must live at tiny/1\.0\.0\.yaml") as raised:
        load_registry(tmp_path)
    assert str(path) in str(raised.value)


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID)
    path.write_text(path.read_text(encoding="utf-8") + "id: tiny\n", encoding="utf-8")
    with pytest.raises(DefinitionLoadError, match="duplicate key 'id'"):
        load_registry(tmp_path)


def test_a_rater_discrepancy_counterpart_must_exist(tmp_path: Path) -> None:
    rule = {
        "rule": "rater_discrepancy",
        "scales": ["total"],
        "counterpart": "nobody",
        "max_gap_pomp": 20,
        "citation": "t",
    }
    message = _refusal(tmp_path, {**VALID, "ruptures": [rule]})
    assert "ruptures.0.counterpart: unknown instrument 'nobody'" in message


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    _write(tmp_path, _mutated("title", _DELETE))
    _write(tmp_path, {**_mutated("items.0.colour", "red"), "id": "other"})
    with pytest.raises(DefinitionLoadError) as raised:
        load_registry(tmp_path)
    assert len(raised.value.problems) == 2


def test_the_validate_command_checks_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["validate", str(INSTRUMENTS)]) == 0
    assert "ok  wai-sr 1.1.0" in capsys.readouterr().out
    _write(tmp_path, _mutated("scales.0.items.1", "3"))
    assert cli(["validate", str(tmp_path)]) == 1
    assert "scales.0.items.1: unknown item '3'" in capsys.readouterr().err


def test_definition_hash_is_stable_across_loads(registry: InstrumentRegistry) -> None:
    again = load_registry(INSTRUMENTS)
    for loaded in registry:
        assert again.get(loaded.id, loaded.version).definition_hash == loaded.definition_hash
        assert definition_hash(loaded.definition) == loaded.definition_hash


def test_bootstrap_prints_a_local_admin_key_the_first_time_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    command.upgrade(alembic_config(url), "head")
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli(["bootstrap"]) == 0
    assert "export BORDIN_KEY=bordin_" in capsys.readouterr().out
    assert cli(["bootstrap"]) == 0
    assert "has API keys already" in capsys.readouterr().out


def test_create_organization_prints_its_admin_key(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli(["create-organization", "Clinique du Parc"]) == 0
    out = capsys.readouterr().out
    assert "admin key (shown once): bordin_" in out
