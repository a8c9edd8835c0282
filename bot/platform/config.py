"""Settings from the environment and from `.env` (the environment wins), validated with clear errors."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.platform.worktime import DEFAULT_WORK_HOURS, WorkWindow, parse_work_hours

SUPPORTED_LANGUAGES = ("zh_Hans", "en")
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_API_FILE_URL = "https://api.telegram.org/file/bot"
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_MAP_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_MAP_ATTRIBUTION = "© OpenStreetMap contributors"
AUTO_DISPATCH_MODES = ("off", "suggest", "on")  # what a case's grid officer gets: nothing, first place, the case
MAP_CRS = ("wgs84", "gcj02")  # the coordinates the tiles are drawn in: WGS-84, or China's GCJ-02

T = TypeVar("T")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it and says how to fix it."""


def parse_duration(text: str) -> timedelta:
    """Plain seconds or a suffixed value: ``90``, ``90s``, ``30m``, ``1h``, ``3d``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration; write seconds or e.g. 90s, 30m, 1h, 3d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_time_of_day(text: str) -> time:
    """``HH:MM`` on a 24-hour clock."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"{text!r} is not a time of day; write HH:MM, e.g. 08:30")
    return time(int(match.group(1)), int(match.group(2)))


def parse_language(text: str) -> str:
    for language in SUPPORTED_LANGUAGES:
        if text.strip().lower().replace("-", "_") == language.lower():
            return language
    raise ValueError(f"{text!r} is not a supported language; use one of {', '.join(SUPPORTED_LANGUAGES)}")


def _parse_ids(text: str) -> frozenset[int]:
    ids = set()
    for part in text.replace(" ", "").split(","):
        if part:
            if not re.fullmatch(r"-?\d+", part):
                raise ValueError(f"{part!r} is not a numeric Telegram id")
            ids.add(int(part))
    return frozenset(ids)


def _parse_int(text: str) -> int:
    if not re.fullmatch(r"\s*-?\d+\s*", text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def _parse_positive_int(text: str) -> int:
    value = _parse_int(text)
    if value < 1:
        raise ValueError(f"{value} is too small; it must be at least 1")
    return value


def _parse_port(text: str) -> int:
    value = _parse_int(text)
    if not 1 <= value <= 65535:
        raise ValueError(f"{value} is not a TCP port; use 1-65535")
    return value


def _parse_meters(text: str) -> float:
    """Metres, optionally suffixed: ``250``, ``250m``, ``0.3km``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(m|km)?\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a distance; write metres, e.g. 250 or 250m or 0.3km")
    return float(match.group(1)) * (1000 if match.group(2) == "km" else 1)


def _parse_timezone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{text!r} is not a known time zone (e.g. Asia/Shanghai)") from exc


def _parse_existing_file(text: str) -> Path:
    path = Path(text.strip())
    if not path.is_file():
        raise ValueError(f"no file at {path}")
    return path


def _parse_https_url(text: str) -> str:
    url = text.strip()
    if not re.fullmatch(r"https://[^\s/?#]+(/[^\s#]*)?", url):
        raise ValueError(f"{url!r} is not an https:// address (Telegram opens Mini Apps over HTTPS only)")
    return url


def _parse_tile_url(text: str) -> str:
    url = text.strip()
    if not re.fullmatch(r"https?://\S+", url) or not all(part in url for part in ("{x}", "{y}", "{z}")):
        raise ValueError(f"{url!r} is not a tile address with {{x}}, {{y}} and {{z}}")
    return url


def _parse_map_crs(text: str) -> str:
    crs = text.strip().lower().replace("-", "")
    if crs not in MAP_CRS:
        raise ValueError(f"{text!r} is not a map coordinate system; use {' or '.join(MAP_CRS)}")
    return crs


def _parse_auto_dispatch(text: str) -> str:
    mode = text.strip().lower()
    if mode not in AUTO_DISPATCH_MODES:
        raise ValueError(f"{text!r} is not a dispatch mode; use off, suggest or on")
    return mode


def _parse_database_url(text: str) -> tuple[str | None, Path | None]:
    """DATABASE_URL: ``postgresql://user:pass@host:5432/db`` selects PostgreSQL (the URL); ``sqlite:///path`` the
    SQLite file at path; empty keeps the file at DATABASE_PATH."""
    url = text.strip()
    if not url:
        return None, None
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return None, Path(url.removeprefix("sqlite:///"))
    if re.fullmatch(r"postgres(ql)?://[^\s/?#]*/[^\s/?#]+(\?\S*)?", url):
        return url, None
    raise ValueError(
        "write postgresql://user:password@host:5432/database for PostgreSQL, or sqlite:///path/to/file.sqlite3 "
        "(or leave it empty) for the SQLite file"
    )


def _parse_api_keys(text: str) -> frozenset[str]:
    """OPEN311_API_KEYS: comma-separated keys, each 16-128 characters of A-Z, a-z, 0-9, _ . ~ -."""
    keys = frozenset(part.strip() for part in text.split(",") if part.strip())
    for key in keys:
        if not re.fullmatch(r"[A-Za-z0-9_.~-]{16,128}", key):
            raise ValueError(
                "each key must be 16-128 characters of A-Z, a-z, 0-9, _ . ~ - (e.g. from `openssl rand -hex 24`)"
            )
    return keys


def _parse_log_level(text: str) -> str:
    if text.strip().upper() not in _LOG_LEVELS:
        raise ValueError(f"{text!r} is not a log level; use one of {', '.join(_LOG_LEVELS)}")
    return text.strip().upper()


@dataclass(frozen=True)
class Settings:
    """Everything the bot is configured with; see .env.example for each setting's meaning."""

    bot_token: str
    api_base_url: str = DEFAULT_API_BASE_URL
    api_file_url: str = DEFAULT_API_FILE_URL
    database_path: Path = Path("data/bot.sqlite3")
    database_url: str | None = None  # postgresql://…: PostgreSQL instead of the SQLite file
    default_language: str = "zh_Hans"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    admin_ids: frozenset[int] = frozenset()
    staff_chat_id: int | None = None
    log_level: str = "INFO"
    persistence_interval: float = 1.0
    # PostgreSQL, several instances: what a dead instance held (chats, outbox rows, reminders) is taken over after it
    instance_lease: timedelta = timedelta(seconds=15)
    # This instance's name in the rows it holds; kept across restarts, it takes back at once what it held before
    instance_name: str | None = None
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    service_area_file: Path | None = None  # None: the illustrative sample city shipped with the bot
    work_hours: tuple[WorkWindow, ...] = parse_work_hours(DEFAULT_WORK_HOURS)
    report_idle_timeout: float = 1800.0  # seconds of silence before the report wizard pauses
    reports_per_hour: int = 5
    reports_per_day: int = 20
    duplicate_radius_m: float = 250.0
    draft_reminder_after: timedelta = timedelta(hours=1)
    ack_escalate_after: timedelta = timedelta(minutes=30)
    followup_wait: timedelta = timedelta(days=3)
    digest_time: time = time(8, 30)
    spot_reminder_before: timedelta = timedelta(minutes=30)
    http_listen: str = "127.0.0.1"
    http_port: int | None = None  # /healthz, /metrics and Open311 beside polling; `serve` falls back to 8081
    retention_days: int = 365
    agency_name: str = "城市管理局"
    open311_api_keys: frozenset[str] = frozenset()  # who may POST requests.json; none: the intake refuses all
    auto_dispatch: str = "suggest"  # AUTO_DISPATCH: off, suggest (the grid's officer first) or on (sent at accept)
    webapp_url: str | None = None  # the public HTTPS address of /app/: Mini App buttons and the menu button
    map_tile_url: str = DEFAULT_MAP_TILE_URL
    map_tile_attribution: str = DEFAULT_MAP_ATTRIBUTION
    map_tile_crs: str = "wgs84"  # gcj02: the tiles are a Chinese provider's, positions are shifted to match

    @property
    def use_webhook(self) -> bool:
        return self.webhook_url is not None

    @property
    def shares_instances(self) -> bool:
        """PostgreSQL fed by the webhook: several instances may handle this bot's updates (bot/edge/inbound.py)."""
        return self.database_url is not None and self.use_webhook

    @property
    def database_target(self) -> str | Path:
        """What Database.open takes: the PostgreSQL URL when DATABASE_URL names one, else the SQLite file."""
        return self.database_url or self.database_path


class _Reader:
    """Reads one variable after another, remembering the name for the error message."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self.values.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} is invalid: {exc}") from None


def _parse_instance_name(text: str) -> str:
    name = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", name):
        raise ValueError("use 1-64 characters A-Z, a-z, 0-9, _ . : and -")
    return name


def load_settings(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Builds the settings from `.env` overlaid with the environment; raises ConfigError naming the variable."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    read = _Reader(values)

    token = values.get("BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "BOT_TOKEN is missing: create a bot with @BotFather in Telegram and put its token in .env "
            "(BOT_TOKEN=123456:ABC...), or run `python -m bot playground` to try the bot without one"
        )
    if not _TOKEN.match(token):
        raise ConfigError("BOT_TOKEN is malformed: it should look like 123456789:AAE… as given by @BotFather")

    webhook_url = read.get("WEBHOOK_URL", str.strip, "") or None
    webhook_secret = read.get("WEBHOOK_SECRET", str.strip, "") or None
    if webhook_url is not None:
        for name in ("WEBHOOK_LISTEN", "WEBHOOK_PORT", "WEBHOOK_SECRET"):
            if not values.get(name, "").strip():
                raise ConfigError(f"{name} is missing: it is required when WEBHOOK_URL is set")
        if webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", webhook_secret):
            raise ConfigError("WEBHOOK_SECRET is invalid: use 1-256 characters A-Z, a-z, 0-9, _ and -")

    staff_chat = read.get("STAFF_CHAT_ID", _parse_int, 0)
    idle = read.get("REPORT_IDLE_TIMEOUT", parse_duration, timedelta(minutes=30))
    if idle.total_seconds() <= 0:
        raise ConfigError("REPORT_IDLE_TIMEOUT is invalid: it must be more than 0 seconds")
    interval = read.get("PERSISTENCE_INTERVAL", parse_duration, timedelta(seconds=1))
    if interval.total_seconds() <= 0:
        raise ConfigError("PERSISTENCE_INTERVAL is invalid: it must be more than 0 seconds")
    lease = read.get("INSTANCE_LEASE", parse_duration, timedelta(seconds=15))
    if lease.total_seconds() < 3:
        raise ConfigError("INSTANCE_LEASE is invalid: it must be at least 3 seconds (it is renewed every second)")
    no_url: tuple[str | None, Path | None] = (None, None)
    database_url, database_file = read.get("DATABASE_URL", _parse_database_url, no_url)
    return Settings(
        bot_token=token,
        api_base_url=read.get("BOT_API_BASE_URL", str.strip, DEFAULT_API_BASE_URL),
        api_file_url=read.get("BOT_API_FILE_URL", str.strip, DEFAULT_API_FILE_URL),
        database_path=database_file or read.get("DATABASE_PATH", lambda s: Path(s.strip()), Path("data/bot.sqlite3")),
        database_url=database_url,
        default_language=read.get("DEFAULT_LANGUAGE", parse_language, "zh_Hans"),
        timezone=read.get("TIMEZONE", _parse_timezone, ZoneInfo("Asia/Shanghai")),
        admin_ids=read.get("ADMIN_IDS", _parse_ids, frozenset()),
        staff_chat_id=staff_chat or None,
        log_level=read.get("LOG_LEVEL", _parse_log_level, "INFO"),
        persistence_interval=interval.total_seconds(),
        instance_lease=lease,
        instance_name=read.get("INSTANCE_NAME", _parse_instance_name, None),
        webhook_url=webhook_url,
        webhook_listen=read.get("WEBHOOK_LISTEN", str.strip, "0.0.0.0"),
        webhook_port=read.get("WEBHOOK_PORT", _parse_int, 8443),
        webhook_secret=webhook_secret,
        service_area_file=read.get("SERVICE_AREA_FILE", _parse_existing_file, None),
        work_hours=read.get("WORK_HOURS", parse_work_hours, parse_work_hours(DEFAULT_WORK_HOURS)),
        report_idle_timeout=idle.total_seconds(),
        reports_per_hour=read.get("REPORTS_PER_HOUR", _parse_positive_int, 5),
        reports_per_day=read.get("REPORTS_PER_DAY", _parse_positive_int, 20),
        duplicate_radius_m=read.get("DUPLICATE_RADIUS", _parse_meters, 250.0),
        draft_reminder_after=read.get("DRAFT_REMINDER_AFTER", parse_duration, timedelta(hours=1)),
        ack_escalate_after=read.get("ACK_ESCALATE_AFTER", parse_duration, timedelta(minutes=30)),
        followup_wait=read.get("FOLLOWUP_WAIT", parse_duration, timedelta(days=3)),
        digest_time=read.get("DIGEST_TIME", parse_time_of_day, time(8, 30)),
        spot_reminder_before=read.get("SPOT_REMINDER_BEFORE", parse_duration, timedelta(minutes=30)),
        http_listen=read.get("HTTP_LISTEN", str.strip, "127.0.0.1"),
        http_port=read.get("HTTP_PORT", _parse_port, None),
        retention_days=read.get("RETENTION_DAYS", _parse_positive_int, 365),
        agency_name=read.get("AGENCY_NAME", str.strip, "城市管理局"),
        open311_api_keys=read.get("OPEN311_API_KEYS", _parse_api_keys, frozenset()),
        auto_dispatch=read.get("AUTO_DISPATCH", _parse_auto_dispatch, "suggest"),
        webapp_url=read.get("WEBAPP_URL", _parse_https_url, None),
        map_tile_url=read.get("MAP_TILE_URL", _parse_tile_url, DEFAULT_MAP_TILE_URL),
        map_tile_attribution=read.get("MAP_TILE_ATTRIBUTION", str.strip, DEFAULT_MAP_ATTRIBUTION),
        map_tile_crs=read.get("MAP_TILE_CRS", _parse_map_crs, "wgs84"),
    )
