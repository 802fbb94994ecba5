"""Command line: `bordin validate [FOLDER]` checks instrument definitions as start-up does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.instruments.registry import DefinitionLoadError, load_registry
from app.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bordin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a folder of instrument definitions")
    validate.add_argument(
        "folder",
        nargs="?",
        type=Path,
        help="folder of <id>/<version>.yaml files (default: the configured instruments_dir)",
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder or Settings().instruments_dir
    try:
        registry = load_registry(folder)
    except DefinitionLoadError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s) in {folder}", file=sys.stderr)
        return 1
    for loaded in registry:
        definition = loaded.definition
        print(
            f"ok  {definition.id} {definition.version}  {len(definition.items)} items,"
            f" {len(definition.scales)} scales, key {definition.key_status.value},"
            f" {loaded.definition_hash[:19]}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
