"""Languages and CLDR formatting; the catalogs are complete and compiled."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from bot.catalogs import check_catalogs, po_path, read_catalog
from bot.i18n import get_lang, language_from_telegram, resolve_language

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("en-US", "en"),
        ("en", "en"),
        ("fr", None),
        (None, None),
        ("", None),
    ],
)
def test_telegram_language_codes(code: str | None, expected: str | None) -> None:
    assert language_from_telegram(code) == expected


def test_stored_choice_beats_telegram_which_beats_default() -> None:
    assert resolve_language("en", "zh-CN", "zh_Hans") == "en"
    assert resolve_language(None, "en-GB", "zh_Hans") == "en"
    assert resolve_language(None, "de", "en") == "en"
    assert resolve_language("klingon", None, "zh_Hans") == "zh_Hans"


@pytest.mark.parametrize(
    ("meters", "zh", "en"),
    [(350, "350米", "350 m"), (1234, "1.2公里", "1.2 km"), (12_000, "12公里", "12 km"), (4, "4米", "4 m")],
)
def test_distances(meters: float, zh: str, en: str) -> None:
    assert get_lang("zh_Hans", SHANGHAI).distance(meters) == zh
    assert get_lang("en", SHANGHAI).distance(meters) == en


def test_relative_times_and_city_time() -> None:
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    zh, en = get_lang("zh_Hans", SHANGHAI), get_lang("en", SHANGHAI)
    assert zh.relative(now + timedelta(minutes=25), now) == "25分钟后"
    assert en.relative(now + timedelta(minutes=25), now) == "in 25 minutes"
    assert en.relative(now - timedelta(hours=2), now) == "2 hours ago"
    assert zh.time(now) == "15:00"  # 07:00 UTC is 15:00 in Shanghai
    assert "11月23日" in zh.date_time(now)
    assert "Nov 23" in en.date_time(now) and "3:00" in en.date_time(now)


def test_plurals_use_the_catalog_and_named_count() -> None:
    en = get_lang("en", SHANGHAI)
    assert en.n_("{count} thing", "{count} things", 1) == "1 thing"
    assert en.n_("{count} thing", "{count} things", 1200) == "1,200 things"


def test_every_string_is_translated_and_every_mo_is_current() -> None:
    problems = check_catalogs(ROOT)
    assert problems == [], "\n".join(problems)


def _copy_project(tmp_path: Path) -> Path:
    for folder in ("bot", "handlers", "locales"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _recompile(root: Path, edit: Callable[[Catalog], None]) -> None:
    """Rewrites the English .mo from its .po after ``edit`` changed the catalog in memory."""
    po = po_path(root, "en")
    catalog = read_catalog(po, "en")
    edit(catalog)
    with po.with_suffix(".mo").open("wb") as handle:
        write_mo(handle, catalog)


def test_a_mo_written_by_another_babel_version_is_current(tmp_path: Path) -> None:
    # Another Babel writes its own name into the header (and other bytes): the messages are what count.
    root = _copy_project(tmp_path)

    def other_writer(catalog: Catalog) -> None:
        catalog.version = "another"
        catalog.last_translator = "someone else"

    _recompile(root, other_writer)
    assert check_catalogs(root) == []


def test_a_mo_whose_messages_differ_is_stale(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)

    def change_one(catalog: Catalog) -> None:
        message = next(m for m in catalog if m.id and isinstance(m.id, str))
        message.string = message.string + " (changed)"

    _recompile(root, change_one)
    assert check_catalogs(root) == ["en: messages.mo is stale (run scripts/catalogs.py compile)"]
