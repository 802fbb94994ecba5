"""Command line: check instrument definitions, and create organisations and their keys.

bordin validate [FOLDER]        check definitions as start-up does
bordin bootstrap                 print an admin key for the local organisation, first time only
bordin create-organization NAME  a new organisation and its first admin key
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from app import keys
from app.db import Database
from app.instruments.registry import DefinitionLoadError, load_registry
from app.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bordin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a folder of instrument definitions")
    validate.add_argument(
        "folder",
        nargs="?",
        type=Path,
        help="folder of <id>/<version>.yaml files (default: the configured instruments_dir)",
    )
    commands.add_parser("bootstrap", help="an admin key for the local organisation, once")
    create = commands.add_parser("create-organization", help="an organisation and its admin key")
    create.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.folder or Settings().instruments_dir)
    database = Database.from_url(Settings().database_url)
    try:
        if args.command == "bootstrap":
            return _bootstrap(database)
        organization_id, key = keys.create_organization(database, args.name, datetime.now(UTC))
        print(f"organisation {organization_id}")
        print(f"admin key (shown once): {key}")
        return 0
    finally:
        database.dispose()


def _validate(folder: Path) -> int:
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


def _bootstrap(database: Database) -> int:
    key = keys.bootstrap_local_key(database, datetime.now(UTC))
    if key is None:
        print("The local organisation has API keys already; use one of them.")
        return 0
    print("Admin API key of the local organisation, shown this once:")
    print(f"  export BORDIN_KEY={key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
