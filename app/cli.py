"""Command line: check instrument definitions, create organisations and their keys, and
deliver webhook events.

bordin validate [FOLDER]          check definitions as start-up does
bordin bootstrap                   print an admin key for the local organisation, first time only
bordin create-organization NAME    a new organisation and its first admin key
bordin deliver-webhooks [--once]   deliver the webhook outbox (a worker beside the app)
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from app.access import keys
from app.alerts.dispatch import Dispatcher
from app.instruments.registry import DefinitionLoadError, load_registry
from app.platform.db import Database
from app.platform.logs import configure_logging
from app.platform.settings import Settings


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
    deliver = commands.add_parser(
        "deliver-webhooks", help="deliver webhook events until stopped (SIGINT, SIGTERM)"
    )
    deliver.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.folder or Settings().instruments_dir)
    settings = Settings()
    database = Database.from_url(settings.database_url)
    try:
        if args.command == "bootstrap":
            return _bootstrap(database)
        if args.command == "deliver-webhooks":
            return _deliver_webhooks(database, settings, once=args.once)
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


def _deliver_webhooks(database: Database, settings: Settings, *, once: bool) -> int:
    """Deliver due events; with `once`, until none is due, else every WEBHOOK_POLL_SECONDS
    until SIGINT or SIGTERM (the delivery under way finishes first)."""
    configure_logging(settings.log_level)
    dispatcher = Dispatcher.from_settings(database, settings)
    stop = threading.Event()
    try:
        if once:
            attempted = dispatcher.deliver_due()
            print(f"{attempted} delivery attempt(s)")
            return 0
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        dispatcher.run(stop, settings.webhook_poll_seconds)
        return 0
    finally:
        dispatcher.close()


if __name__ == "__main__":
    raise SystemExit(main())
