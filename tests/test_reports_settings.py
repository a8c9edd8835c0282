"""The report settings: defaults, parsing, and clear errors naming the variable."""

from __future__ import annotations

from datetime import time

import pytest

from bot.platform.config import ConfigError, load_settings

TOKEN = {"BOT_TOKEN": "123456:abcdefghijklmnopqrstuvwxyz"}


def test_defaults() -> None:
    settings = load_settings(TOKEN, env_file=None)
    assert settings.work_hours == ((time(9), time(12)), (time(13, 30), time(17, 30)))
    assert settings.report_idle_timeout == 1800
    assert (settings.reports_per_hour, settings.reports_per_day) == (5, 20)
    assert settings.duplicate_radius_m == 250


def test_values_are_read() -> None:
    settings = load_settings(
        {
            **TOKEN,
            "WORK_HOURS": "08:30-12:00, 14:00-18:00",
            "REPORT_IDLE_TIMEOUT": "10m",
            "REPORTS_PER_HOUR": "3",
            "REPORTS_PER_DAY": "9",
            "DUPLICATE_RADIUS": "0.3km",
        },
        env_file=None,
    )
    assert settings.work_hours == ((time(8, 30), time(12)), (time(14), time(18)))
    assert settings.report_idle_timeout == 600
    assert (settings.reports_per_hour, settings.reports_per_day, settings.duplicate_radius_m) == (3, 9, 300)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WORK_HOURS", "9 to 5", "WORK_HOURS is invalid: '9 to 5' is not a window"),
        ("REPORT_IDLE_TIMEOUT", "0", "REPORT_IDLE_TIMEOUT is invalid"),
        ("REPORTS_PER_HOUR", "0", "REPORTS_PER_HOUR is invalid: 0 is too small"),
        ("REPORTS_PER_DAY", "many", "REPORTS_PER_DAY is invalid"),
        ("DUPLICATE_RADIUS", "-5", "DUPLICATE_RADIUS is invalid"),
    ],
)
def test_bad_values_name_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({**TOKEN, name: value}, env_file=None)
