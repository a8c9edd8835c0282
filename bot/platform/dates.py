"""Dates and times typed by people or other systems, read strictly and kept inside a range the bot can compute with.

Python's dates end at year 1 and 9999, so adding a day to 9999-12-31 or moving 0001-01-01 into UTC raises
OverflowError deep inside the code. Every date that comes from outside passes through here first and must lie
between :data:`FIRST_DAY` and :data:`LAST_DAY`; far inside Python's limits, so a day or a time zone more never
overflows. Telegram-free, so handlers, the HTTP server, the CLI and imports share it.

    parse_day("2026-12-01")                    -> date(2026, 12, 1)
    parse_moment("2026-12-01T08:00", city_tz)  -> aware UTC datetime (no offset: read in ``city_tz``)
    both raise BadDate (not a date) or its subclass DateOutOfRange (a real date outside the range)
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo

from bot.platform.i18n import N_, Lang

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2100, 12, 31)

# Shown to staff for either error; the bounds are filled in the reader's language.
OUT_OF_RANGE = N_("That date is out of range: dates go from {first} to {last}.")

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# ISO 8601 date-time as people and Open311 clients write it: date, T or space, HH:MM[:SS[.fraction]], offset or Z.
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?")
_OFFSET = re.compile(r"(?:Z|[+-][0-9]{2}:?[0-9]{2})")


class BadDate(ValueError):
    """The text is not a date (or date-time) in the expected form."""


class DateOutOfRange(BadDate):
    """A real date, but outside FIRST_DAY..LAST_DAY."""


def check_day(day: date) -> date:
    """The day itself, or DateOutOfRange."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DateOutOfRange(f"{day.isoformat()} is outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}")
    return day


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` (ASCII digits only) inside the range."""
    word = text.strip()
    if not _DAY.fullmatch(word):
        raise BadDate(f"{word!r} is not a date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(word)
    except ValueError:
        raise BadDate(f"{word!r} is not a date (YYYY-MM-DD)") from None
    return check_day(day)


def parse_moment(text: str, timezone: tzinfo = UTC) -> datetime:
    """An ISO 8601 date or date-time, ``Z`` or an offset allowed; without one it is local time in ``timezone``.

    Returns an aware UTC datetime. The local date is checked before any time-zone arithmetic, which is what
    would overflow."""
    word = text.strip()
    match = _MOMENT.match(word)
    if not match or (word[match.end() :] and not _OFFSET.fullmatch(word[match.end() :])):
        raise BadDate(f"{word!r} is not a date-time (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])")
    try:
        moment = datetime.fromisoformat(word)
    except ValueError:
        raise BadDate(f"{word!r} is not a date-time (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])") from None
    check_day(moment.date())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone)
    return moment.astimezone(UTC)


def out_of_range_text(t: Lang) -> str:
    """The answer to a person who typed a date outside the range, in their language."""
    return t._(OUT_OF_RANGE, first=t.date(FIRST_DAY), last=t.date(LAST_DAY))
