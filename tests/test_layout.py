"""The layout ARCHITECTURE.md describes: parts in folders, entry points alone at the top, and
files short enough to read (the import direction is checked by `lint-imports`, in make check)."""

from __future__ import annotations

from app.platform.settings import PROJECT_ROOT

MAX_LINES = 600
REASON = "# Over 600 lines: "
SOURCES = ("app", "tests", "bench", "migrations", "clients")


def test_no_source_file_is_over_600_lines_without_a_reason_at_its_top() -> None:
    files = [path for folder in SOURCES for path in (PROJECT_ROOT / folder).rglob("*.py")]
    assert len(files) > 100
    unexplained = []
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_LINES and not (
            lines[0].startswith(REASON) and len(lines[0]) > len(REASON) + 10
        ):
            unexplained.append(f"{path.relative_to(PROJECT_ROOT)}: {len(lines)} lines")
    assert unexplained == [], f"split them, or say why not on line 1 ({REASON}<why>)"


def test_the_app_holds_at_its_top_only_entry_points_and_its_parts() -> None:
    app = PROJECT_ROOT / "app"
    modules = sorted(path.name for path in app.glob("*.py"))
    assert modules == ["__init__.py", "cli.py", "main.py"]
    parts = sorted(path.name for path in app.iterdir() if (path / "__init__.py").exists())
    assert parts == [
        "access", "alerts", "catalogue", "console", "core", "fhir", "forms", "health", "http",
        "instruments", "languages", "platform", "records", "scoring",
    ]  # fmt: skip
    for part in parts:
        docstring = (app / part / "__init__.py").read_text(encoding="utf-8")
        assert docstring.startswith('"""'), f"app/{part}/__init__.py: say what the part owns"


def test_architecture_md_names_every_part() -> None:
    architecture = (PROJECT_ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for part in (PROJECT_ROOT / "app").iterdir():
        if (part / "__init__.py").exists():
            assert f"`app/{part.name}/`" in architecture, part.name
