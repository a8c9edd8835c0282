"""The offline playground: the Bot API emulator, the unchanged bot and a chat page, in one asyncio loop.

``python -m bot playground`` needs no token and no internet. One tornado server on 127.0.0.1 serves the Bot API
(the emulator, which the bot polls), the chat page and the page's JSON API. The page plays fixed Telegram users
(the personas) and renders whatever the bot sends; a time control moves the bot's clock forward.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import os
import signal
import struct
import sys
import time
import wave
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import tornado.web
from dotenv import dotenv_values
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.app import BotApplication, build_application, start_polling, stop_polling
from bot.people import staff
from bot.platform.config import ConfigError, Settings, load_settings
from bot.platform.db import DatabaseError
from bot.platform.geo import ServiceArea
from bot.platform.services import Services
from devtools.emulator import BotAPIEmulator

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
DEFAULT_DATABASE = Path("data/playground.sqlite3")
# Valid in form only: the emulator is the only server that ever sees it.
PLAYGROUND_TOKEN = "123456:playground-token-not-a-real-bot"
STATIC_DIR = Path(__file__).with_name("playground_static")
STAFF_GROUP_ID = -1001000000001
STAFF_GROUP_TITLE = "城管指挥中心 · Staff group"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # Telegram's limit for a photo
MAX_ALBUM = 10
MAX_ADVANCE = timedelta(days=31)
LONG_POLL_SECONDS = 10.0
ANSWER_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Persona:
    """A fixed Telegram user the page can act as."""

    key: str
    user_id: int
    first_name: str
    language_code: str
    role: str  # resident, vendor, staff, admin (what the page says about them)
    groups: tuple[int, ...] = ()

    def chat_ids(self) -> tuple[int, ...]:
        return (self.user_id, *self.groups)


PERSONAS = (
    Persona("resident", 7001, "王芳", "zh-hans", "resident"),
    Persona("vendor", 7002, "李师傅", "zh-hans", "vendor"),
    Persona("staff", 7003, "张队员", "zh-hans", "staff", groups=(STAFF_GROUP_ID,)),
    Persona("admin", 7004, "Alex Chen", "en", "admin", groups=(STAFF_GROUP_ID,)),
)


@dataclass(frozen=True)
class Place:
    """A named point to share as a location; illustrative, like the sample city's district outlines."""

    key: str
    name_zh: str
    name_en: str
    latitude: float
    longitude: float


SAMPLE_PLACES = (
    Place("edz-dongfeng", "经开区 · 东风大道路口", "EDZ · Dongfeng Avenue crossing", 30.4985, 114.1650),
    Place("edz-sports", "经开区 · 体育中心", "EDZ · Sports centre", 30.5050, 114.1880),
    Place("edz-market", "经开区 · 沌阳大道夜市", "EDZ · Zhuanyang Avenue night market", 30.4800, 114.1400),
    Place("yc-square", "永川 · 人民广场", "Yongchuan · People's Square", 29.3550, 105.8950),
    Place("yc-lake", "永川 · 兴龙湖", "Yongchuan · Xinglong Lake", 29.3600, 105.9200),
    Place("hj-huayuankou", "惠济 · 花园口", "Huiji · Huayuankou", 34.9000, 113.6600),
    Place("hj-campus", "惠济 · 大学路口", "Huiji · University Road", 34.8600, 113.6200),
    Place("outside-tower", "武昌 · 黄鹤楼（服务区外）", "Wuchang · Yellow Crane Tower (outside)", 30.5446, 114.3022),
)


class PlaygroundError(ValueError):
    """A request the page made cannot be carried out; the message says why, for the person at the page."""


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
    }
    return load_settings({**(os.environ if environ is None else environ), **forced}, env_file=env_file)


async def seed_personas(services: Services, personas: tuple[Persona, ...] = PERSONAS) -> None:
    """Makes the personas known users, as if each had written once; the staff member joins as a field officer
    through an invite from the admin (the admin works the cards at the desk, and dispatches to the officer)."""
    now = services.clock.now()
    admin_ids = services.settings.admin_ids
    admin = next((persona for persona in personas if persona.role == "admin"), None)
    for persona in personas:
        await services.users.seen(persona.user_id, persona.first_name, persona.language_code, now)
        if persona.role == "staff" and admin is not None and admin.user_id in admin_ids:
            district = services.service_area.districts[0].code
            invite = await staff.create_invite(services.db, admin.user_id, staff.Role.OFFICER, district, now, admin_ids)
            await staff.redeem_invite(services.db, invite.code, persona.user_id, persona.first_name, now, admin_ids)


def places_in(area: ServiceArea) -> list[dict[str, Any]]:
    """The sample places, each with the district it lies in (None: outside the service area)."""
    places = []
    for place in SAMPLE_PLACES:
        district = area.district_at(place.latitude, place.longitude)
        places.append({**asdict(place), "district": district.code if district else None})
    if not any(place["district"] for place in places):
        # A city of one's own (SERVICE_AREA_FILE): offer the middle of each district instead.
        for district in area.districts:
            lat, lon = district.center
            places.append(
                {
                    "key": f"centre-{district.code}",
                    "name_zh": f"{district.name_zh} · 中心",
                    "name_en": f"{district.name_en} · centre",
                    "latitude": round(lat, 5),
                    "longitude": round(lon, 5),
                    "district": district.code,
                }
            )
    return places


# ------------------------------------------------------------------------------------- sample media
def sample_photo(width: int = 480, height: int = 320) -> bytes:
    """A small PNG of a street with a stall on the pavement, drawn here so the repository holds no binaries."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # PNG filter type 0 for the row
        for x in range(width):
            if y < height * 0.55:
                shade = int(150 + 80 * y / height)
                pixel = (shade - 60, shade - 20, 255)  # sky
            elif y < height * 0.68:
                pixel = (190, 185, 175)  # pavement
            else:
                stripe = (y - int(height * 0.82)) in range(4) and (x // 30) % 2 == 0
                pixel = (240, 220, 60) if stripe else (80, 80, 85)  # road with its centre line
            if width * 0.55 < x < width * 0.8 and height * 0.45 < y < height * 0.66:
                pixel = (200, 40, 40) if y < height * 0.5 else (230, 230, 225)  # the stall's awning and table
            row.extend(pixel)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def sample_voice(seconds: float = 1.5, rate: int = 8000) -> bytes:
    """A short, soft two-tone WAV clip standing in for a voice message."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        tone = 440 if n < rate * seconds / 2 else 550
        envelope = min(1.0, n / 400, (seconds * rate - n) / 400)
        frames.extend(struct.pack("<h", int(6000 * envelope * math.sin(2 * math.pi * tone * n / rate))))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(bytes(frames))
    return buffer.getvalue()


def media_type(content: bytes) -> str | None:
    """The media type of an image or sound by its first bytes; None for anything else."""
    signatures = (
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"OggS", "audio/ogg"),
    )
    for prefix, kind in signatures:
        if content.startswith(prefix):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        return "audio/wav"
    return None


# ----------------------------------------------------------------------------------------- the world
@dataclass
class Playground:
    """One emulator, one bot and one web server; the methods are what the page can do."""

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
                (r"/api/chats/(-?\d+)/(send|location|contact|voice|press)", _ActionHandler, page),
                (r"/api/chats/(-?\d+)/photos", _PhotosHandler, page),
                (r"/api/personas/([a-z]+)/language", _LanguageHandler, page),
                (r"/api/clock", _ClockHandler, page),
                (r"/api/files/([A-Za-z0-9_-]+)", _FileHandler, page),
            ],
            static_path=str(STATIC_DIR),
            static_url_prefix="/static/",
        )

    # ------------------------------------------------------------------------------ reading
    def running(self) -> Services:
        if self.services is None:
            raise RuntimeError("the playground is not started")
        return self.services

    def now(self) -> datetime:
        return self.running().clock.now()

    def clock(self) -> dict[str, Any]:
        services = self.running()
        now = services.clock.now()
        return {
            "utc": now.isoformat(),
            "local": now.astimezone(services.timezone).strftime("%Y-%m-%d %H:%M"),
            "timezone": str(services.timezone),
            "offset_seconds": services.clock.offset.total_seconds(),
        }

    def world(self) -> dict[str, Any]:
        """Everything the page needs to draw itself: personas, chats, places, districts, commands, the clock."""
        services = self.running()
        area = services.service_area
        personas = []
        for persona in PERSONAS:
            user = self.emulator.users[persona.user_id]
            personas.append({**asdict(persona), "language_code": user.get("language_code", "")})
        commands = {language or "default": items for (_scope, language), items in self.emulator.commands.items()}
        return {
            "bot": self.emulator.bot_user,
            "personas": personas,
            "staff_group": {"id": STAFF_GROUP_ID, "title": STAFF_GROUP_TITLE},
            "places": places_in(area),
            "districts": [
                {
                    "code": district.code,
                    "name_zh": district.name_zh,
                    "name_en": district.name_en,
                    "rings": [[list(point) for point in polygon[0]] for polygon in district.polygons],
                }
                for district in area.districts
            ],
            "commands": commands,
            "clock": self.clock(),
        }

    async def updates(self, chat_id: int, after: int, wait: float) -> dict[str, Any]:
        """The chat's messages changed since journal position ``after`` (current state, edits applied)."""
        journal = self.emulator.journal

        def changed() -> bool:
            return self._stopping or any(key[0] == chat_id for key in journal[after:])

        if wait > 0 and not changed():
            try:
                await self.emulator.wait_for(changed, min(wait, LONG_POLL_SECONDS))
            except TimeoutError:
                pass
        cursor = len(journal)
        keys = dict.fromkeys(key for key in journal[after:cursor] if key[0] == chat_id)
        messages = [_view(self.emulator.messages[key]) for key in keys if key in self.emulator.messages]
        return {"cursor": cursor, "messages": messages, "clock": self.clock()}

    # ------------------------------------------------------------------------------ acting
    def persona(self, key: str) -> Persona:
        for persona in PERSONAS:
            if persona.key == key:
                return persona
        raise PlaygroundError(f"there is no persona {key!r}")

    def member(self, persona_key: str, chat_id: int) -> Persona:
        persona = self.persona(persona_key)
        if chat_id not in persona.chat_ids():
            raise PlaygroundError(f"{persona.first_name} is not in that chat")
        return persona

    async def _push(self, persona: Persona, chat_id: int, body: dict[str, Any]) -> dict[str, Any]:
        message = {
            "message_id": self.emulator.new_message_id(chat_id),
            "date": int(self.now().timestamp()),
            "chat": self.emulator.chats[chat_id].as_dict(),
            "from": dict(self.emulator.users[persona.user_id]),
            **body,
        }
        self.emulator.store_message(message)
        await self.emulator.push_update({"message": message})
        return _view(message)

    def _reply_context(self, chat_id: int, reply_to: Any) -> dict[str, Any]:
        if reply_to in (None, ""):
            return {}
        original = self._existing(chat_id, reply_to)
        return {"reply_to_message": {k: v for k, v in original.items() if k != "reply_to_message"}}

    def _existing(self, chat_id: int, message_id: Any) -> dict[str, Any]:
        try:
            key = (chat_id, int(message_id))
        except (TypeError, ValueError):
            raise PlaygroundError("that message id is not a number") from None
        message = self.emulator.messages.get(key)
        if message is None or message.get("deleted"):
            raise PlaygroundError("that message is not in this chat (any more)")
        return {k: v for k, v in message.items() if not k.startswith("_") and k != "deleted"}

    async def send_text(self, persona_key: str, chat_id: int, text: str, reply_to: Any = None) -> dict[str, Any]:
        """Types a message; a leading /command is marked as one, as clients do."""
        persona = self.member(persona_key, chat_id)
        if not isinstance(text, str) or not text.strip():
            raise PlaygroundError("type something first")
        if len(text) > MAX_TEXT:
            raise PlaygroundError(f"a Telegram message holds at most {MAX_TEXT} characters")
        body: dict[str, Any] = {"text": text, **self._reply_context(chat_id, reply_to)}
        if text.startswith("/"):
            command = text.split()[0]
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self._push(persona, chat_id, body)

    async def share_location(self, persona_key: str, chat_id: int, latitude: Any, longitude: Any) -> dict[str, Any]:
        persona = self.member(persona_key, chat_id)
        try:
            lat, lon = float(latitude), float(longitude)
        except (TypeError, ValueError):
            raise PlaygroundError("latitude and longitude must be numbers, e.g. 30.4985 and 114.165") from None
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise PlaygroundError("latitude is -90…90 and longitude -180…180")
        return await self._push(persona, chat_id, {"location": {"latitude": lat, "longitude": lon}})

    async def share_contact(self, persona_key: str, chat_id: int) -> dict[str, Any]:
        persona = self.member(persona_key, chat_id)
        contact = {
            "phone_number": f"+86138{persona.user_id:08d}",
            "first_name": persona.first_name,
            "user_id": persona.user_id,
        }
        return await self._push(persona, chat_id, {"contact": contact})

    async def send_voice(self, persona_key: str, chat_id: int) -> dict[str, Any]:
        """Sends the sample clip as a voice message."""
        persona = self.member(persona_key, chat_id)
        stored = self.emulator.new_file("voice", sample_voice(), "voice.wav")
        voice = {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "duration": 2, "mime_type": "audio/wav"}
        return await self._push(persona, chat_id, {"voice": voice})

    async def send_photos(
        self, persona_key: str, chat_id: int, photos: list[tuple[bytes, str]], caption: str = ""
    ) -> list[dict[str, Any]]:
        """Sends one photo, or several as one album (a media group), as a phone does; empty means the sample."""
        persona = self.member(persona_key, chat_id)
        photos = photos or [(sample_photo(), "sample.png")]
        if len(photos) > MAX_ALBUM:
            raise PlaygroundError(f"an album holds at most {MAX_ALBUM} photos")
        if len(caption) > MAX_CAPTION:
            raise PlaygroundError(f"a caption holds at most {MAX_CAPTION} characters")
        for content, filename in photos:
            if not (media_type(content) or "").startswith("image/"):
                raise PlaygroundError(f"{filename or 'that file'} is not a photo (JPEG, PNG, GIF or WebP)")
            if len(content) > MAX_PHOTO_BYTES:
                raise PlaygroundError(f"{filename} is larger than 10 MB")
        self._album_numbers += 1
        album = f"playground-album-{self._album_numbers}" if len(photos) > 1 else None
        sent = []
        for number, (content, filename) in enumerate(photos):
            stored = self.emulator.new_file("photo", content, filename)
            body: dict[str, Any] = {
                "photo": [{"file_id": stored.file_id, "file_unique_id": stored.unique_id, "width": 800, "height": 600}]
            }
            if caption and number == 0:
                body["caption"] = caption
            if album:
                body["media_group_id"] = album
            sent.append(await self._push(persona, chat_id, body))
        return sent

    async def press(self, persona_key: str, chat_id: int, message_id: Any, data: Any) -> dict[str, Any] | None:
        """Presses an inline button; returns the bot's answer (toast or alert), or None if it gave none in time."""
        persona = self.member(persona_key, chat_id)
        message = self._existing(chat_id, message_id)
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
            raise PlaygroundError("a button carries 1 to 64 bytes of data")
        query_id = self.emulator.new_callback_id()
        await self.emulator.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": dict(self.emulator.users[persona.user_id]),
                    "chat_instance": f"ci-{chat_id}",
                    "data": data,
                    "message": message,
                }
            }
        )
        try:
            answer: dict[str, Any] = await self.emulator.wait_for(
                lambda: self.emulator.callback_answers.get(query_id), ANSWER_WAIT_SECONDS
            )
        except TimeoutError:
            return None
        return answer

    def set_language(self, persona_key: str, language_code: Any) -> dict[str, Any]:
        """Changes the language the persona's Telegram app reports (``language_code`` of every update)."""
        persona = self.persona(persona_key)
        if not isinstance(language_code, str) or len(language_code) > 35:
            raise PlaygroundError("a language code looks like zh-hans, en or fr")
        user = self.emulator.users[persona.user_id]
        if language_code.strip():
            user["language_code"] = language_code.strip()
        else:
            user.pop("language_code", None)
        return {"key": persona.key, "language_code": user.get("language_code", "")}

    async def advance(self, minutes: Any) -> dict[str, Any]:
        """Moves the bot's clock forward and lets the time listeners (reminders) catch up."""
        try:
            delta = timedelta(minutes=int(minutes))
        except (TypeError, ValueError):
            raise PlaygroundError("minutes must be a whole number") from None
        if not timedelta(0) < delta <= MAX_ADVANCE:
            raise PlaygroundError("the clock moves forward by 1 minute to 31 days at a time")
        await self.running().advance_clock(delta)
        return self.clock()


def remove_database(path: Path) -> None:
    """A fresh start: the playground's SQLite file and its WAL companions go."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        candidate.unlink(missing_ok=True)


def _view(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message for the page: the public fields, plus the reply keyboard and whether it was deleted."""
    view = {k: v for k, v in message.items() if not k.startswith("_")}
    if "_keyboard" in message:
        view["keyboard"] = message["_keyboard"]
    view["deleted"] = bool(message.get("deleted"))
    return view


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
