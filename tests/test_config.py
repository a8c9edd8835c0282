"""Settings: defaults, parsing, and clear errors naming the variable."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.platform.config import ConfigError, load_settings, parse_duration, parse_time_of_day

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45", timedelta(seconds=45)),
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("3d", timedelta(days=3)),
        ("0.5h", timedelta(minutes=30)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "1w", "-5m", "5 minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_times_of_day() -> None:
    assert parse_time_of_day("08:30") == time(8, 30)
    for bad in ("24:00", "8.30", "noon"):
        with pytest.raises(ValueError):
            parse_time_of_day(bad)


def test_defaults_with_only_a_token() -> None:
    settings = load_settings({"BOT_TOKEN": TOKEN}, env_file=None)
    assert settings.api_base_url == "https://api.telegram.org/bot"
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.default_language == "zh_Hans"
    assert str(settings.timezone) == "Asia/Shanghai"
    assert settings.admin_ids == frozenset() and settings.staff_chat_id is None
    assert settings.persistence_interval == 1.0
    assert not settings.use_webhook


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"BOT_TOKEN={TOKEN}\nDEFAULT_LANGUAGE=en\nADMIN_IDS=1, 2\n")
    settings = load_settings({"DEFAULT_LANGUAGE": "zh_Hans"}, env_file=env_file)
    assert settings.bot_token == TOKEN
    assert settings.default_language == "zh_Hans"
    assert settings.admin_ids == frozenset({1, 2})


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "BOT_TOKEN is missing"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN is malformed"),
        ({"ADMIN_IDS": "12,abc"}, "ADMIN_IDS is invalid"),
        ({"STAFF_CHAT_ID": "staff"}, "STAFF_CHAT_ID is invalid"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE is invalid"),
        ({"DEFAULT_LANGUAGE": "fr"}, "DEFAULT_LANGUAGE is invalid"),
        ({"PERSISTENCE_INTERVAL": "often"}, "PERSISTENCE_INTERVAL is invalid"),
        ({"INSTANCE_LEASE": "1s"}, "INSTANCE_LEASE is invalid"),
        ({"INSTANCE_LEASE": "soon"}, "INSTANCE_LEASE is invalid"),
        ({"INSTANCE_NAME": "bot one"}, "INSTANCE_NAME is invalid"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL is invalid"),
        ({"WEBHOOK_URL": "https://example.org/hook"}, "WEBHOOK_LISTEN is missing"),
        (
            {"WEBHOOK_URL": "https://x/h", "WEBHOOK_LISTEN": "0.0.0.0", "WEBHOOK_PORT": "80"},
            "WEBHOOK_SECRET is missing",
        ),
        ({"SERVICE_AREA_FILE": "/nonexistent.geojson"}, "SERVICE_AREA_FILE is invalid"),
    ],
)
def test_invalid_settings_name_the_variable(env: dict[str, str], names: str) -> None:
    environ = {"BOT_TOKEN": TOKEN, **env} if "BOT_TOKEN" not in env and env else dict(env)
    with pytest.raises(ConfigError, match=names):
        load_settings(environ, env_file=None)


DEFAULT_FILE = Path("data/bot.sqlite3")
PG_URL = "postgresql://bot:pw@db.example:5432/city"
PG_SOCKET_URL = "postgres://bot@/city?host=/run/postgresql"


@pytest.mark.parametrize(
    ("url", "database_url", "database_path"),
    [
        ("", None, DEFAULT_FILE),
        ("sqlite:///data/other.sqlite3", None, Path("data/other.sqlite3")),  # relative after three slashes
        ("sqlite:////var/lib/citybot/bot.sqlite3", None, Path("/var/lib/citybot/bot.sqlite3")),
        (PG_URL, PG_URL, DEFAULT_FILE),
        (PG_SOCKET_URL, PG_SOCKET_URL, DEFAULT_FILE),
    ],
)
def test_database_url_selects_the_engine(url: str, database_url: str | None, database_path: Path) -> None:
    settings = load_settings({"BOT_TOKEN": TOKEN, "DATABASE_URL": url}, env_file=None)
    assert settings.database_url == database_url and settings.database_path == database_path
    assert settings.database_target == (database_url or database_path)


@pytest.mark.parametrize("url", ["mysql://bot@db/city", "postgresql://db.example:5432", "sqlite://", "city.sqlite3"])
def test_a_wrong_database_url_names_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^DATABASE_URL is invalid: write postgresql://"):
        load_settings({"BOT_TOKEN": TOKEN, "DATABASE_URL": url}, env_file=None)
