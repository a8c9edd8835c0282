"""Translations and CLDR formatting in the user's language.

Messages are looked up with ``t._("Hello, {name}!", name=...)`` and ``t.n_(singular, plural, n, ...)``;
placeholders are always named, so a translator can move them. ``N_`` marks a string for extraction where it
is defined (a module constant) and translated later where it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path
from typing import Any, Literal

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_time, format_timedelta
from babel.lists import format_list
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from babel.units import format_unit

from bot.platform.config import SUPPORTED_LANGUAGES

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # bot/
# A checkout keeps the catalogs at the top of the repository; an installed wheel keeps them inside the package.
LOCALES_DIRS = (_PACKAGE_DIR.parent / "locales", _PACKAGE_DIR / "_locales")
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a string for extraction without translating it yet."""
    return message


def locales_dir() -> Path:
    for candidate in LOCALES_DIRS:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no locales/ folder found beside the bot package")


def language_from_telegram(code: str | None) -> str | None:
    """Maps Telegram's IETF ``language_code`` to a supported catalog, or None when there is none for it."""
    if not code:
        return None
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    if primary == "zh":
        return "zh_Hans"
    if primary == "en":
        return "en"
    return None


def resolve_language(stored: str | None, telegram_code: str | None, default: str) -> str:
    """A stored choice beats Telegram's language_code, which beats the bot's default."""
    if stored in SUPPORTED_LANGUAGES:
        return stored
    return language_from_telegram(telegram_code) or default


@cache
def _translations(language: str) -> NullTranslations:
    return Translations.load(str(locales_dir()), [language], DOMAIN)


@dataclass(frozen=True)
class Lang:
    """One language: gettext plus CLDR formatting of numbers, distances and times in the city's zone."""

    code: str
    timezone: tzinfo

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.code)

    def _(self, message: str, **values: Any) -> str:
        text = _translations(self.code).gettext(message)
        return text.format(**values) if values else text

    def n_(self, singular: str, plural: str, count: int, **values: Any) -> str:
        text = _translations(self.code).ngettext(singular, plural, count)
        return text.format(count=self.number(count), **values)

    def list_text(self, names: Iterable[str], style: Literal["standard", "or"] = "standard") -> str:
        """Names joined as the language lists them (CLDR): ``A, B, and C`` / ``A、B和C``; style ``or`` for choices."""
        return format_list(list(names), style=style, locale=self.code)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.code)

    def distance(self, meters: float) -> str:
        """``350 m`` / ``350米`` below a kilometre, ``1.2 km`` / ``1.2公里`` above."""
        if meters < 1000:
            return format_unit(
                round(meters / 10) * 10 or round(meters), "length-meter", length="short", locale=self.code
            )
        return format_unit(
            round(meters / 1000, 1), "length-kilometer", length="short", format="#,##0.#", locale=self.code
        )

    def duration(self, delta: timedelta) -> str:
        """A length of time: ``25 minutes`` / ``25分钟``."""
        return format_timedelta(delta, threshold=1.0, locale=self.code)

    def relative(self, moment: datetime, now: datetime) -> str:
        """``in 25 minutes`` / ``25分钟后``, or ``25 minutes ago`` / ``25分钟前``."""
        return format_timedelta(moment - now, add_direction=True, threshold=1.0, locale=self.code)

    def date_time(self, moment: datetime) -> str:
        """Date and time in the city's zone: ``Nov 23, 3:05 PM`` / ``11月23日 15:05``."""
        day = format_skeleton("MMMd", moment, tzinfo=self.timezone, locale=self.code)
        return f"{day} {self.time(moment)}"

    def time(self, moment: datetime) -> str:
        return format_time(moment, "short", tzinfo=self.timezone, locale=self.code)

    def date(self, day: date) -> str:
        return format_date(day, "medium", locale=self.code)

    def full_datetime(self, moment: datetime) -> str:
        return format_datetime(moment, "medium", tzinfo=self.timezone, locale=self.code)


@cache
def get_lang(code: str, timezone: tzinfo) -> Lang:
    return Lang(code, timezone)
