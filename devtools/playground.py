"""The offline playground: the Bot API emulator, the unchanged bot and a chat page, in one asyncio loop.

``python -m bot playground`` needs no token and no internet. One tornado server on 127.0.0.1 serves the Bot API
(the emulator, which the bot polls), the chat page and the page's JSON API. The page plays fixed Telegram users
(the personas) and renders whatever the bot sends; a time control moves the bot's clock forward.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tornado.web
from dotenv import dotenv_values
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.app import BotApplication, build_application, start_polling, stop_polling
from bot.platform.config import ConfigError, Settings, load_settings
from bot.platform.db import DatabaseError
from bot.platform.services import Services
from bot.webapp.routes import webapp_routes
from devtools.emulator import BotAPIEmulator
from devtools.personas import PERSONAS, SAMPLE_PLACES, STAFF_GROUP_ID, STAFF_GROUP_TITLE, places_in, seed_personas
from devtools.playground_actions import (
    LONG_POLL_SECONDS,
    MAX_ALBUM,
    MAX_PHOTO_BYTES,
    PlaygroundActions,
    PlaygroundError,
)
from devtools.sample_media import media_type, sample_photo

__all__ = [
    "PERSONAS",
    "SAMPLE_PLACES",
    "STAFF_GROUP_ID",
    "Playground",
    "PlaygroundError",
    "places_in",
    "playground_settings",
    "resolve_port",
    "run_playground",
    "sample_photo",
]

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
DEFAULT_DATABASE = Path("data/playground.sqlite3")
# Valid in form only: the emulator is the only server that ever sees it.
PLAYGROUND_TOKEN = "123456:playground-token-not-a-real-bot"
STATIC_DIR = Path(__file__).with_name("playground_static")
MINI_APP_URL = "https://playground.invalid/app/"  # never opened: a Mini App button in the page opens /app/ here


# ------------------------------------------------------------------------------------------ settings
def resolve_port(
    cli_port: int | None, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> int:
    """``--port`` wins over ``PLAYGROUND_PORT`` (environment, then .env), which wins over 8080."""
    if cli_port is not None:
        port = cli_port
    else:
        values = dotenv_values(env_file) if env_file is not None and env_file.is_file() else {}
        raw = (os.environ if environ is None else environ).get("PLAYGROUND_PORT") or values.get("PLAYGROUND_PORT") or ""
        raw = raw.strip()
        if not raw:
            return DEFAULT_PORT
        if not raw.isdigit():
            raise ConfigError(f"PLAYGROUND_PORT is invalid: {raw!r} is not a port number")
        port = int(raw)
    if not 0 <= port <= 65535:
        raise ConfigError(f"PLAYGROUND_PORT is invalid: {port} is not between 0 and 65535")
    return port


def playground_settings(
    base_url: str,
    file_url: str,
    database_path: Path = DEFAULT_DATABASE,
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = Path(".env"),
) -> Settings:
    """The bot's settings from .env and the environment, with what the playground must own forced."""
    admin = next(persona for persona in PERSONAS if persona.role == "admin")
    forced = {
        "BOT_TOKEN": PLAYGROUND_TOKEN,
        "BOT_API_BASE_URL": base_url,
        "BOT_API_FILE_URL": file_url,
        "DATABASE_PATH": str(database_path),
        "STAFF_CHAT_ID": str(STAFF_GROUP_ID),
        "ADMIN_IDS": str(admin.user_id),
        "WEBHOOK_URL": "",  # the playground always polls its own emulator
        # Shows the Mini App buttons; the page opens its own /app/ for each of them, signed with PLAYGROUND_TOKEN.
        "WEBAPP_URL": MINI_APP_URL,
    }
    return load_settings({**(os.environ if environ is None else environ), **forced}, env_file=env_file)


# ----------------------------------------------------------------------------------------- the world
@dataclass
class Playground(PlaygroundActions):
    """One emulator, one bot and one web server; what the page can do is in PlaygroundActions."""

    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    database_path: Path = DEFAULT_DATABASE
    environ: Mapping[str, str] | None = None
    env_file: Path | None = Path(".env")
    emulator: BotAPIEmulator = field(default_factory=lambda: BotAPIEmulator(token=PLAYGROUND_TOKEN))
    settings: Settings | None = None
    services: Services | None = None
    application: BotApplication | None = None
    _server: HTTPServer | None = None
    _stopping: bool = False
    _album_numbers: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> None:
        """Binds the port, builds a fresh world and database, and starts the unchanged bot polling it."""
        try:
            sockets = bind_sockets(self.port, self.host)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.host}:{self.port} ({exc.strerror}): choose --port") from exc
        self.port = sockets[0].getsockname()[1]
        self.emulator.attach(self.host, self.port)
        self.settings = playground_settings(
            self.emulator.base_url, self.emulator.file_url, self.database_path, self.environ, self.env_file
        )
        self.services = Services(self.settings)
        self.emulator.clock = lambda: self.now().timestamp()
        for persona in PERSONAS:
            self.emulator.add_user(persona.user_id, persona.first_name, persona.language_code)
        self.emulator.add_group(STAFF_GROUP_ID, STAFF_GROUP_TITLE)
        self._server = HTTPServer(self.web_application(), max_body_size=MAX_ALBUM * MAX_PHOTO_BYTES + 65536)
        self._server.add_sockets(sockets)
        remove_database(self.settings.database_path)
        self.application = build_application(self.settings, self.services)
        await start_polling(self.application, poll_timeout=LONG_POLL_SECONDS)
        await seed_personas(self.services)

    async def stop(self) -> None:
        """Ends long polls, stops the bot (flushing its state), then the web server."""
        self._stopping = True
        await self.emulator.stop()
        if self.application is not None:
            await stop_polling(self.application)
            self.application = None
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    def web_application(self) -> tornado.web.Application:
        page = {"playground": self}
        return tornado.web.Application(
            [
                *self.emulator.routes(),
                (r"/", _IndexHandler),
                (r"/api/world", _WorldHandler, page),
                (r"/api/chats/(-?\d+)/updates", _UpdatesHandler, page),
                (r"/api/chats/(-?\d+)/(send|location|contact|voice|press|webappdata)", _ActionHandler, page),
                (r"/api/chats/(-?\d+)/photos", _PhotosHandler, page),
                (r"/api/personas/([a-z]+)/language", _LanguageHandler, page),
                (r"/api/personas/([a-z]+)/webapp", _MiniAppHandler, page),
                *webapp_routes(self.running()),  # the Mini App itself, on the same origin as the page
                (r"/api/clock", _ClockHandler, page),
                (r"/api/files/([A-Za-z0-9_-]+)", _FileHandler, page),
            ],
            static_path=str(STATIC_DIR),
            static_url_prefix="/static/",
        )


def remove_database(path: Path) -> None:
    """A fresh start: the playground's SQLite file and its WAL companions go."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        candidate.unlink(missing_ok=True)


# -------------------------------------------------------------------------------------- web handlers
class _PageHandler(tornado.web.RequestHandler):
    def initialize(self, playground: Playground) -> None:
        self.playground = playground

    def prepare(self) -> None:
        # A header no plain cross-site form can set: another web page cannot act in the playground.
        if self.request.method == "POST" and self.request.headers.get("X-Playground") != "1":
            self.send_error(403)

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise PlaygroundError("the request body is not JSON") from None
        if not isinstance(data, dict):
            raise PlaygroundError("the request body must be a JSON object")
        return data

    def reply(self, value: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(value, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": self._reason}))

    def fail(self, error: PlaygroundError) -> None:
        self.set_status(400)
        self.reply({"error": str(error)})


class _IndexHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish((STATIC_DIR / "index.html").read_bytes())


class _WorldHandler(_PageHandler):
    def get(self) -> None:
        self.reply(self.playground.world())


class _UpdatesHandler(_PageHandler):
    async def get(self, chat_id: str) -> None:
        try:
            after = max(0, int(self.get_query_argument("after", "0")))
            wait = float(self.get_query_argument("wait", "0"))
        except ValueError:
            self.fail(PlaygroundError("after and wait must be numbers"))
            return
        self.reply(await self.playground.updates(int(chat_id), after, wait))


class _ActionHandler(_PageHandler):
    async def post(self, chat_id: str, action: str) -> None:
        playground, chat = self.playground, int(chat_id)
        try:
            body = self.body()
            persona = str(body.get("persona", ""))
            if action == "send":
                self.reply(await playground.send_text(persona, chat, body.get("text", ""), body.get("reply_to")))
            elif action == "location":
                self.reply(await playground.share_location(persona, chat, body.get("latitude"), body.get("longitude")))
            elif action == "contact":
                self.reply(await playground.share_contact(persona, chat))
            elif action == "voice":
                self.reply(await playground.send_voice(persona, chat))
            elif action == "webappdata":
                self.reply(await playground.send_web_app_data(persona, chat, body.get("data")))
            else:
                answer = await playground.press(persona, chat, body.get("message_id"), body.get("data"))
                self.reply({"answer": answer})
        except PlaygroundError as exc:
            self.fail(exc)


class _PhotosHandler(_PageHandler):
    async def post(self, chat_id: str) -> None:
        files = [(item["body"], item["filename"]) for item in self.request.files.get("photo", [])]
        try:
            sent = await self.playground.send_photos(
                self.get_body_argument("persona", ""), int(chat_id), files, self.get_body_argument("caption", "")
            )
        except PlaygroundError as exc:
            self.fail(exc)
            return
        self.reply({"messages": sent})


class _LanguageHandler(_PageHandler):
    def post(self, persona: str) -> None:
        try:
            self.reply(self.playground.set_language(persona, self.body().get("language_code")))
        except PlaygroundError as exc:
            self.fail(exc)


class _MiniAppHandler(_PageHandler):
    def get(self, persona: str) -> None:
        try:
            self.reply(self.playground.mini_app(persona))
        except PlaygroundError as exc:
            self.fail(exc)


class _ClockHandler(_PageHandler):
    def get(self) -> None:
        self.reply(self.playground.clock())

    async def post(self) -> None:
        try:
            self.reply(await self.playground.advance(self.body().get("minutes")))
        except PlaygroundError as exc:
            self.fail(exc)


class _FileHandler(_PageHandler):
    def get(self, file_id: str) -> None:
        stored = self.playground.emulator.files.get(file_id)
        if stored is None:
            self.send_error(404)
            return
        kind = media_type(stored.content)
        self.set_header("Content-Type", kind or "application/octet-stream")
        self.set_header("X-Content-Type-Options", "nosniff")
        if kind is None:
            self.set_header("Content-Disposition", "attachment")
        self.finish(stored.content)


# ---------------------------------------------------------------------------------------- running it
async def serve(playground: Playground) -> None:
    """Runs the playground until SIGINT or SIGTERM, then stops it cleanly."""
    logging.getLogger("tornado.access").setLevel(logging.WARNING)  # one line per poll is noise, not news
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await playground.start()
    print(f"Playground: open {playground.url} in your browser (Ctrl-C to stop).", flush=True)
    try:
        await stop.wait()
    finally:
        started = time.monotonic()
        await playground.stop()
        log.info("playground stopped in %.1fs", time.monotonic() - started)


def run_playground(port: int, database_path: Path = DEFAULT_DATABASE) -> int:
    """``python -m bot playground``: returns the process exit code."""
    try:
        asyncio.run(serve(Playground(port=port, database_path=database_path)))
    except (ConfigError, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0
