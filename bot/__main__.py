"""Command line: ``python -m bot`` runs the bot; sub-commands do the chores around it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cases import grid_import
from bot.platform.config import ConfigError, Settings, load_settings
from bot.platform.db import Database, DatabaseError
from bot.platform.logs import configure_logging as configure_structured_logging
from bot.vending import spot_import

log = logging.getLogger("bot")
DEFAULT_HTTP_PORT = 8081  # `serve` without HTTP_PORT


def configure_logging(level: str, token: str | None = None) -> None:
    """One key=value line per record on stderr; the token, should it ever appear, is masked."""
    configure_structured_logging(level, (token,) if token else ())


async def until_signalled() -> None:
    """Waits for Ctrl-C or SIGTERM (a service manager stopping the bot)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def serve_webhook(settings: Settings) -> None:
    """The bot fed by Telegram's webhook, with /healthz, /metrics and Open311 beside it on WEBHOOK_PORT."""
    from bot.app import build_application, start_webhook, stop_webhook

    application = build_application(settings)
    await start_webhook(application, settings)
    try:
        await until_signalled()
    finally:
        await stop_webhook(application)


async def poll_with_http(settings: Settings, port: int) -> None:
    """Long polling, with /healthz, /metrics and Open311 on HTTP_LISTEN:HTTP_PORT."""
    from bot.app import build_application, start_polling, stop_polling
    from bot.web import WebServer

    application = build_application(settings)
    await start_polling(application)
    server = WebServer(
        application.bot_data["services"],
        application.bot_data["metrics"],
        intake=application.bot_data["open311_intake"],
    )
    try:
        await server.start(settings.http_listen, port)
        await until_signalled()
    finally:
        await server.stop()
        await stop_polling(application)


async def serve_http(settings: Settings, port: int) -> None:
    """`serve`: /healthz, /metrics and Open311 alone, beside a bot running elsewhere on the same file (a case
    filed here is queued in the outbox; that bot's courier sends its card when it next looks)."""
    from bot.cases.config import policy_from
    from bot.cases.intake_open311 import Open311Intake
    from bot.platform.services import Services
    from bot.web import Metrics, WebServer

    services = Services(settings)
    await services.open()
    policy = policy_from(settings, services.lang(settings.default_language), services.service_area)
    server = WebServer(services, Metrics(), intake=Open311Intake(policy, settings.open311_api_keys))
    try:
        await server.start(settings.http_listen, port)
        await until_signalled()
    finally:
        await server.stop()
        await services.close()


def run_bot(settings: Settings) -> None:
    """Runs the bot by long polling, or as a webhook server when WEBHOOK_URL is set."""
    from telegram import Update

    from bot.app import build_application

    if settings.use_webhook:
        asyncio.run(serve_webhook(settings))
    elif settings.http_port is not None:
        asyncio.run(poll_with_http(settings, settings.http_port))
    else:
        build_application(settings).run_polling(allowed_updates=Update.ALL_TYPES)


async def check_database(settings: Settings) -> None:
    """Opens the PostgreSQL database once before anything starts, so a wrong or unreachable server is one clear line
    and exit 2 rather than a failure inside the bot's start-up."""
    db = await Database.open(settings.database_target)
    await db.close()


def run_backup(settings: Settings, target: str) -> int:
    from bot.platform.backup import BackupBusy, BackupError, backup_database, backup_postgres

    try:
        if settings.database_url is not None:
            result = backup_postgres(settings.database_url, Path(target))
        else:
            result = backup_database(settings.database_path, Path(target))
    except BackupBusy as exc:  # nothing failed: the same copy is being made right now
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if settings.database_url is not None else 1  # PostgreSQL: pg_dump missing or refused
    checked = "pg_restore --list ok" if settings.database_url is not None else "checked ok"
    print(f"backup written: {result.path} ({result.size_bytes} bytes, schema {result.schema_version}, {checked})")
    return 0


def run_db_copy(settings: Settings, target: str) -> int:
    """`db copy --to URL`: the SQLite file into an empty PostgreSQL database; a line per table copied."""
    from bot.platform.db import is_postgres_url
    from bot.platform.db_copy import copy_to_postgres
    from bot.platform.db_postgres import shown_url

    if settings.database_url is not None:
        print("error: DATABASE_URL selects PostgreSQL: db copy reads the SQLite file (DATABASE_PATH)", file=sys.stderr)
        return 2
    if not is_postgres_url(target):
        print(f"error: --to must be a postgresql:// URL, not {target!r}", file=sys.stderr)
        return 2
    result = asyncio.run(copy_to_postgres(settings.database_path, target))
    rows = sum(table.rows for table in result.tables)
    print(f"copied {settings.database_path} (schema {result.schema_version}) to {shown_url(target)}:")
    for table in result.tables:
        print(f"  {table.name}: {table.rows} {'row' if table.rows == 1 else 'rows'}")
    for name, reason in result.skipped.items():
        print(f"  {name}: not copied ({reason})")
    print(f"{len(result.tables)} tables, {rows} rows, in one transaction; ids kept, sequences set past them")
    return 0


async def export_open311(settings: Settings) -> dict[str, list[dict[str, object]]]:
    from bot.cases import open311
    from bot.platform.services import Services

    services = Services(settings)
    await services.open()
    try:
        t = services.lang(settings.default_language)
        return await open311.export(services.db, services.clock.now(), t, settings.agency_name)
    finally:
        await services.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The city-service Telegram bot.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the bot (the default)")
    spot_import.add_arguments(commands)
    grid_import.add_arguments(commands)
    playground = commands.add_parser(
        "playground", help="try the bot offline in a browser: no token, no internet (PLAYGROUND_PORT or --port)"
    )
    playground.add_argument("--port", type=int, default=None, help="the page's port on 127.0.0.1 (default 8080)")
    commands.add_parser(
        "serve",
        help="serve /healthz, /metrics and Open311 (read, and filed with OPEN311_API_KEYS) on HTTP_LISTEN:HTTP_PORT "
        "(default 8081)",
    )
    backup = commands.add_parser("backup", help="write a consistent copy of the database while the bot runs")
    backup.add_argument("file", help="where to write the copy")
    db_parser = commands.add_parser("db", help="database chores")
    db_commands = db_parser.add_subparsers(dest="db_command", required=True)
    copy = db_commands.add_parser("copy", help="copy the SQLite file into an empty PostgreSQL database")
    copy.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host:5432/database")
    open311_parser = commands.add_parser("open311", help="Open311 GeoReport v2")
    open311_commands = open311_parser.add_subparsers(dest="open311_command", required=True)
    export = open311_commands.add_parser("export", help="write services.json and requests.json (last 90 days)")
    export.add_argument("directory", help="the folder to write them into (created if needed)")
    return parser


def run_playground_command(port: int | None) -> int:
    """The playground builds its own settings (a throwaway token, its own database), so BOT_TOKEN is not needed."""
    from devtools.playground import resolve_port, run_playground

    try:
        port = resolve_port(port)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    level = os.environ.get("LOG_LEVEL", "").strip().upper()
    configure_logging(level if level in logging.getLevelNamesMapping() else "WARNING")  # the page is the output
    return run_playground(port)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "playground":
        return run_playground_command(args.port)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.bot_token)
    try:
        if settings.database_url is not None and args.command not in ("backup", "db"):
            asyncio.run(check_database(settings))
        if args.command in (None, "run"):
            run_bot(settings)
        elif args.command == "spots":
            return spot_import.run(settings, args)
        elif args.command == "grids":
            return grid_import.run(settings, args)
        elif args.command == "serve":
            asyncio.run(serve_http(settings, settings.http_port or DEFAULT_HTTP_PORT))
        elif args.command == "backup":
            return run_backup(settings, args.file)
        elif args.command == "db":
            return run_db_copy(settings, args.to)
        elif args.command == "open311":
            from bot.cases.open311 import write_export

            files = asyncio.run(export_open311(settings))
            write_export(Path(args.directory), files)
            services, requests = len(files["services.json"]), len(files["requests.json"])
            print(f"wrote {services} services and {requests} requests to {args.directory}")
    except DatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
