"""Opening hours: weekly windows in the city's time zone, their text form, hour masks, and periods asked about.

A window is stored as minutes of the week (Monday 00:00 = 0) and may cross midnight (22:00-04:00); it belongs to
the day it opens on, so a date exception ("closed on 1 May") cancels the windows that open on that date.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

import aiosqlite

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
DAY_CODES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
OPENING_HORIZON = timedelta(days=62)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


class HoursError(ValueError):
    """An opening-hours text cannot be read."""


class Window(NamedTuple):
    """One weekly window, in minutes of the week; ``end_m`` may pass the day (and the week) it starts in."""

    start_m: int
    end_m: int

    @property
    def weekday(self) -> int:
        return self.start_m // MINUTES_PER_DAY

    @property
    def opens(self) -> time:
        minute = self.start_m % MINUTES_PER_DAY
        return time(minute // 60, minute % 60)

    @property
    def closes(self) -> time:
        minute = self.end_m % MINUTES_PER_DAY
        return time(minute // 60, minute % 60)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_m > (self.weekday + 1) * MINUTES_PER_DAY


@dataclass(frozen=True)
class ClosedDates:
    """Closed on these local dates (inclusive), with the reason told to vendors."""

    first_day: date
    last_day: date
    reason: str = ""

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class Opening:
    """One concrete opening, in UTC."""

    opens_at: datetime
    closes_at: datetime

    def contains(self, moment: datetime) -> bool:
        return self.opens_at <= moment < self.closes_at


@dataclass(frozen=True)
class Period:
    """The time a vendor asks about: ``now`` (an instant), ``tonight`` or ``morning`` (tomorrow morning)."""

    choice: str
    start: datetime
    end: datetime


def parse_clock(text: str) -> int:
    """``HH:MM`` as minutes of the day; ``24:00`` is allowed as an end."""
    match = _TIME.match(text.strip())
    if not match or int(match.group(2)) > 59 or int(match.group(1)) * 60 + int(match.group(2)) > MINUTES_PER_DAY:
        raise HoursError(f"{text.strip()!r} is not a time (HH:MM)")
    return int(match.group(1)) * 60 + int(match.group(2))


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        ends = part.strip().split("-")
        try:
            numbers = [DAY_CODES.index(end.strip().capitalize()) for end in ends]
        except ValueError:
            raise HoursError(f"{part.strip()!r} is not a day or day range (Mo, Tu, We, Th, Fr, Sa, Su)") from None
        if len(numbers) == 1:
            days.append(numbers[0])
        elif len(numbers) == 2:
            span = (numbers[1] - numbers[0]) % 7
            days.extend((numbers[0] + i) % 7 for i in range(span + 1))
        else:
            raise HoursError(f"{part.strip()!r} is not a day range")
    return days


def parse_hours(text: str) -> tuple[Window, ...]:
    """Opening hours in the OpenStreetMap style: ``Mo-Fr 06:00-08:30,17:00-19:00; Sa,Su 22:00-04:00``.

    A rule without days means every day; ``24/7`` means always. An end at or before the start is on the next
    day. Windows of one spot may not overlap.
    """
    text = text.strip()
    if not text:
        return ()
    if text == "24/7":
        return tuple(Window(d * MINUTES_PER_DAY, (d + 1) * MINUTES_PER_DAY) for d in range(7))
    windows: list[Window] = []
    for rule in text.split(";"):
        rule = rule.strip()
        if not rule:
            continue
        head, _, tail = rule.partition(" ")
        if re.match(r"^[A-Za-z]", head):
            days, times = _parse_days(head), tail.strip()
        else:
            days, times = list(range(7)), rule
        if not times:
            raise HoursError(f"{rule!r} has days but no times")
        for span in times.split(","):
            start_text, dash, end_text = span.strip().partition("-")
            if not dash:
                raise HoursError(f"{span.strip()!r} is not a time range (HH:MM-HH:MM)")
            start, end = parse_clock(start_text), parse_clock(end_text)
            if start == MINUTES_PER_DAY:
                raise HoursError(f"{span.strip()!r} starts at 24:00; write 00:00 of the next day")
            length = end - start if end > start else end + MINUTES_PER_DAY - start
            for day in days:
                windows.append(Window(day * MINUTES_PER_DAY + start, day * MINUTES_PER_DAY + start + length))
    return normalise_windows(windows)


def normalise_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    """Sorted windows; raises HoursError when two overlap (also across the week's end)."""
    ordered = sorted(set(windows))
    for window in ordered:
        if not 0 <= window.start_m < MINUTES_PER_WEEK or not 0 < window.end_m - window.start_m <= MINUTES_PER_DAY:
            raise HoursError(f"window {window} is out of range")
    for earlier, later in itertools.pairwise(ordered):
        if later.start_m < earlier.end_m:
            raise HoursError(f"{format_window(earlier)} and {format_window(later)} overlap")
    if len(ordered) > 1 and ordered[-1].end_m > MINUTES_PER_WEEK + ordered[0].start_m:
        raise HoursError(f"{format_window(ordered[-1])} and {format_window(ordered[0])} overlap")
    return tuple(ordered)


def format_window(window: Window) -> str:
    return f"{DAY_CODES[window.weekday]} {window.opens:%H:%M}-{window.closes:%H:%M}"


def format_hours(windows: Sequence[Window]) -> str:
    """The inverse of parse_hours: days with the same times grouped (``Mo-Fr 06:00-08:30; Sa,Su …``)."""
    if not windows:
        return ""
    by_day: dict[int, list[str]] = {}
    for window in windows:
        by_day.setdefault(window.weekday, []).append(f"{window.opens:%H:%M}-{window.closes:%H:%M}")
    groups: dict[str, list[int]] = {}
    for day in range(7):
        if day in by_day:
            groups.setdefault(",".join(by_day[day]), []).append(day)
    rules = []
    for times, days in groups.items():
        if len(days) == 7:
            rules.append(times)
            continue
        runs: list[list[int]] = []
        for day in days:
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        names = [DAY_CODES[r[0]] if len(r) == 1 else f"{DAY_CODES[r[0]]}-{DAY_CODES[r[-1]]}" for r in runs]
        rules.append(f"{','.join(names)} {times}")
    return "; ".join(rules)


HOURS_PER_WEEK = 7 * 24
_MASK_BITS = 56  # three words of 56 bits cover the 168 hours of the week


def hour_masks(spans: Iterable[tuple[int, int]]) -> tuple[int, int, int]:
    """The hours of the week touched by minute spans [start, end), as three 56-bit words (wrapping the week)."""
    bits = 0
    for start, end in spans:
        for hour in range(start // 60, -(-end // 60)):
            bits |= 1 << (hour % HOURS_PER_WEEK)
    mask = (1 << _MASK_BITS) - 1
    return bits & mask, (bits >> _MASK_BITS) & mask, bits >> (2 * _MASK_BITS)


async def store_hours(conn: aiosqlite.Connection, spot_id: int, windows: Sequence[Window]) -> None:
    """Replaces a spot's opening hours: the spot_hours rows and their copies in the spot's row."""
    ordered = normalise_windows(windows)
    await conn.execute("DELETE FROM spot_hours WHERE spot_id = ?", (spot_id,))
    await conn.executemany(
        "INSERT INTO spot_hours (spot_id, start_m, end_m) VALUES (?, ?, ?)",
        [(spot_id, w.start_m, w.end_m) for w in ordered],
    )
    await conn.execute(
        "UPDATE spots SET week = ?, week_mask0 = ?, week_mask1 = ?, week_mask2 = ? WHERE id = ?",
        (week_text(ordered), *hour_masks(ordered), spot_id),
    )


def week_text(windows: Sequence[Window]) -> str:
    return ",".join(f"{w.start_m}-{w.end_m}" for w in windows)


def minute_of_week(moment: datetime, tz: tzinfo) -> int:
    local = moment.astimezone(tz)
    return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute


def weekly_openings(
    windows: Sequence[Window], start: datetime, end: datetime, tz: tzinfo, skip_day: Callable[[date], bool]
) -> list[Opening]:
    """The concrete openings of weekly windows that overlap [start, end), oldest first."""
    if not windows:
        return []
    result = []
    day = start.astimezone(tz).date() - timedelta(days=1)  # yesterday's window may still be open
    last_day = end.astimezone(tz).date()
    while day <= last_day:
        if not skip_day(day):
            midnight = day.weekday() * MINUTES_PER_DAY
            for window in windows:
                if window.weekday != day.weekday():
                    continue
                local_open = datetime.combine(day, time(0), tzinfo=tz) + timedelta(minutes=window.start_m - midnight)
                opens = local_open.astimezone(UTC)
                closes = (local_open + timedelta(minutes=window.end_m - window.start_m)).astimezone(UTC)
                if opens < end and closes > start:
                    result.append(Opening(opens, closes))
        day += timedelta(days=1)
    return result


def windows_on(windows: Sequence[Window], weekday: int) -> list[Window]:
    """The weekly windows that open on a weekday (Monday = 0)."""
    return [w for w in windows if w.weekday == weekday]


def period_for(choice: str, now: datetime, tz: tzinfo) -> Period:
    """``now``; ``tonight`` (now or 18:00, whichever is later, until 04:00); ``morning`` (tomorrow 05:00-11:00).

    Before 04:00 the night is still "tonight" and the coming morning is "tomorrow morning".
    """
    local = now.astimezone(tz)
    today = local.date()
    if local.hour < 4:
        today -= timedelta(days=1)

    def at(day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)

    if choice == "now":
        return Period("now", now, now + timedelta(seconds=1))
    if choice == "tonight":
        return Period("tonight", max(now, at(today, 18)), at(today + timedelta(days=1), 4))
    if choice == "morning":
        return Period("morning", at(today + timedelta(days=1), 5), at(today + timedelta(days=1), 11))
    raise ValueError(f"unknown period {choice!r}")


PERIODS = ("now", "tonight", "morning")
