"""Command line: serve the API, migrate the database, check instrument definitions, create
organisations and their keys, and deliver webhook events.

bordin serve                       the API: WORKERS processes on HOST:PORT (and /metrics on
                                   METRICS_HOST:METRICS_PORT when set); never migrates
bordin migrate                     migrate the database to this version (one job per release;
                                   safe when several run at once), then seed the organisations'
                                   statistics of any new instrument definition from the history
bordin validate [FOLDER]          check definitions as start-up does
bordin bootstrap                   print an admin key for the local organisation, first time only
bordin create-organization NAME    a new organisation and its first admin key
bordin list-organizations          every organisation: id, keys not revoked, created, name
bordin create-key --organization ID --scopes SCOPE [SCOPE ...] [--name NAME] [--expires-at T]
                                   a new key of an organisation (e.g. to replace a lost admin key)
bordin deliver-webhooks [--once]   deliver the webhook outbox (a worker beside the app)
bordin create-console-account --organization ID --email E --clinician-ref REF [--role lead]
                                   a local console sign-in (password read from standard input)
bordin set-crisis-text --organization ID [--text LANG=TEXT ...] [--en TEXT] [--fr TEXT]
                                   what the patient form's thank-you page says about urgent help,
                                   in any language found (none given: no text)
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from app.access import console_sessions, keys
from app.alerts.dispatch import Dispatcher
from app.catalogue.guidance import load_catalogue
from app.forms import crisis
from app.instruments.registry import DefinitionLoadError, load_registry
from app.main import load_languages
from app.platform.db import Database, upgrade
from app.platform.errors import InvalidRequestError
from app.platform.logs import configure_logging
from app.platform.settings import PROJECT_ROOT, Settings
from app.records.context import Records
from app.records.statistics import seed_statistics

ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bordin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the API (settings: HOST, PORT, WORKERS, ...)")
    commands.add_parser("migrate", help="migrate the database to this version's revision")
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
    commands.add_parser("list-organizations", help="every organisation and its number of keys")
    new_key = commands.add_parser("create-key", help="a new API key of an organisation")
    new_key.add_argument("--organization", required=True, type=uuid.UUID, help="its id")
    new_key.add_argument(
        "--scopes", required=True, nargs="+", choices=keys.SCOPES, metavar="SCOPE",
        help=f"one or more of {', '.join(keys.SCOPES)}",
    )  # fmt: skip
    new_key.add_argument("--name", default="command line key", help="what the key is for")
    new_key.add_argument(
        "--expires-at", type=_aware_time, help="RFC 3339 time with an offset; never by default"
    )
    account = commands.add_parser(
        "create-console-account", help="a local sign-in to the clinician console"
    )
    account.add_argument("--organization", required=True, type=uuid.UUID, help="its id")
    account.add_argument("--email", required=True)
    account.add_argument(
        "--clinician-ref", required=True, help="the clinician as episodes name them"
    )
    account.add_argument("--role", choices=console_sessions.ROLES, default="clinician")
    crisis = commands.add_parser(
        "set-crisis-text", help="the form's thank-you page: where to find urgent help"
    )
    crisis.add_argument("--organization", required=True, type=uuid.UUID, help="its id")
    crisis.add_argument(
        "--text", action="append", default=[], type=_language_text, metavar="LANG=TEXT",
        help="the text in the language LANG (any tag of GET /v1/languages), once per language;"
        " no text at all: none",
    )  # fmt: skip
    crisis.add_argument("--en", help="the same as --text en=TEXT")
    crisis.add_argument("--fr", help="the same as --text fr=TEXT")
    deliver = commands.add_parser(
        "deliver-webhooks", help="deliver webhook events until stopped (SIGINT, SIGTERM)"
    )
    deliver.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.folder or Settings().instruments_dir)
    settings = Settings()
    if args.command == "serve":
        return serve(settings)
    if args.command == "migrate":
        configure_logging(settings.log_level)
        upgrade(settings.database_url, ALEMBIC_INI)
        return _seed_statistics(settings)
    database = Database.from_url(settings.database_url)
    try:
        if args.command == "bootstrap":
            return _bootstrap(database)
        if args.command == "deliver-webhooks":
            return _deliver_webhooks(database, settings, once=args.once)
        if args.command == "list-organizations":
            return _list_organizations(database)
        if args.command == "create-key":
            return _create_key(database, args)
        if args.command == "create-console-account":
            return _create_console_account(database, args)
        if args.command == "set-crisis-text":
            return _set_crisis_text(database, settings, args)
        organization_id, key = keys.create_organization(database, args.name, datetime.now(UTC))
        print(f"organisation {organization_id}")
        print(f"admin key (shown once): {key}")
        return 0
    finally:
        database.dispose()


def _seed_statistics(settings: Settings) -> int:
    """After migrating: each organisation's statistics of the loaded definitions, seeded from
    its history now rather than by its first write (which would wait for it)."""
    database = Database.from_url(settings.database_url)
    try:
        registry = load_registry(settings.instruments_dir)
        seeded = seed_statistics(database, registry, datetime.now(UTC))
    finally:
        database.dispose()
    print(f"statistics seeded from the history: {seeded} (organisation, instrument) pairs")
    return 0


def serve(settings: Settings) -> int:
    """Serve the API with uvicorn: `settings.workers` processes (each builds the app from
    the same settings) on `settings.host`:`settings.port`, behind the proxies of
    `settings.forwarded_allow_ips`. With METRICS_PORT, the workers write their metrics to a
    folder emptied now, and a listener of this process serves them all at once."""
    configure_logging(settings.log_level)
    if settings.metrics_port is not None:
        folder = settings.prometheus_multiproc_dir or Path(
            tempfile.mkdtemp(prefix="bordin-metrics-")
        )
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # a previous run's samples
            stale.unlink()
        # Read by prometheus-client in every worker (and here) when it is imported.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        from app.platform.metrics import start_listener

        metrics_database = Database.from_url(settings.database_url)
        start_listener(settings.metrics_host, settings.metrics_port, folder, metrics_database)
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=False,  # our own request lines say more, and no query string
        server_header=False,
        log_config=None,  # the JSON lines configured above (and by each worker's factory)
        timeout_graceful_shutdown=30,
        # A worker builds the whole app before it answers the supervisor: give it time.
        timeout_worker_healthcheck=60,
    )
    return 0


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


def _list_organizations(database: Database) -> int:
    organizations = keys.list_organizations(database)
    for organization in organizations:
        print(
            f"{organization['id']}  {organization['keys']} key(s)"
            f"  created {organization['created_at'].isoformat()}  {organization['name']}"
        )
    if not organizations:
        print("no organisation yet: `bordin create-organization NAME`")
    return 0


def _create_key(database: Database, args: argparse.Namespace) -> int:
    try:
        created = keys.create_organization_key(
            database, args.organization, args.name, args.scopes, args.expires_at,
            datetime.now(UTC),
        )  # fmt: skip
    except ValueError as error:
        print(f"bordin create-key: {error}", file=sys.stderr)
        return 1
    scopes = " ".join(created["scopes"])
    print(f"key {created['id']} of organisation {args.organization}, scopes {scopes}")
    print(f"key (shown once): {created['key']}")
    return 0


def _create_console_account(database: Database, args: argparse.Namespace) -> int:
    """The password comes from standard input (one line), never from the command line, where
    other users and the shell's history would see it."""
    if sys.stdin.isatty():
        password = getpass.getpass("password (12 characters or more): ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        account_id = console_sessions.create_account(
            database, args.organization, email=args.email, password=password,
            clinician_ref=args.clinician_ref, role=args.role, now=datetime.now(UTC),
        )  # fmt: skip
    except ValueError as error:
        print(f"bordin create-console-account: {error}", file=sys.stderr)
        return 1
    print(f"console account {account_id}: {args.email}, {args.role} {args.clinician_ref}")
    return 0


def _set_crisis_text(database: Database, settings: Settings, args: argparse.Namespace) -> int:
    """Replace the organisation's crisis text, checked as `PUT /v1/form-settings` checks it
    (every language one the catalogues found); not audited, as no API caller made it."""
    given = [*args.text, *((tag, getattr(args, tag)) for tag in ("en", "fr") if getattr(args, tag))]
    texts: dict[str, str] = {}
    for tag, text in given:
        if tag in texts:
            print(f"bordin set-crisis-text: {tag}: one text per language", file=sys.stderr)
            return 1
        texts[tag] = text
    registry = load_registry(settings.instruments_dir)
    languages = load_languages(settings, registry, load_catalogue(settings.guidance_file))
    records = Records(database, registry, args.organization, languages=languages)
    try:
        kept = crisis.set_crisis_text(records, texts)
    except InvalidRequestError as error:
        for item in error.errors:
            where = ".".join(str(part) for part in item["loc"])
            print(f"bordin set-crisis-text: {where}: {item['message']}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"bordin set-crisis-text: {error}", file=sys.stderr)
        return 1
    print(f"crisis text of {args.organization}: {', '.join(kept or {}) or 'none'}")
    return 0


def _language_text(value: str) -> tuple[str, str]:
    tag, equals, text = value.partition("=")
    if not equals or not tag:
        raise argparse.ArgumentTypeError("LANG=TEXT, e.g. de=Im Notfall 112 anrufen.")
    return tag.strip(), text


def _aware_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone offset, e.g. 2027-01-01T00:00:00Z")
    return value.astimezone(UTC)


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
