"""Command line: ``python -m bot`` runs the bot; sub-commands do the chores around it."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from bot import spot_import
from bot.config import ConfigError, Settings, load_settings
from bot.db import DatabaseError


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL, and the URL carries the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def run_bot(settings: Settings) -> None:
    """Runs the bot by long polling, or as a webhook server when WEBHOOK_URL is set."""
    from telegram import Update

    from bot.app import build_application

    application = build_application(settings)
    if settings.use_webhook:
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            secret_token=settings.webhook_secret,
            webhook_url=settings.webhook_url,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The city-service Telegram bot.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the bot (the default)")
    spot_import.add_arguments(commands)
    playground = commands.add_parser(
        "playground", help="try the bot offline in a browser: no token, no internet (PLAYGROUND_PORT or --port)"
    )
    playground.add_argument("--port", type=int, default=None, help="the page's port on 127.0.0.1 (default 8080)")
    return parser


def run_playground_command(port: int | None) -> int:
    """The playground builds its own settings (a throwaway token, its own database), so BOT_TOKEN is not needed."""
    from bot.playground import resolve_port, run_playground

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
    configure_logging(settings.log_level)
    try:
        if args.command in (None, "run"):
            run_bot(settings)
        elif args.command == "spots":
            return spot_import.run(settings, args)
    except DatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
