"""Working-hours arithmetic: the deadline a case must be handled by, counted in the bureau's office hours.

Office hours are day windows (``09:00-12:00,13:30-17:30`` by default) on working days. Working days are
Monday to Friday, minus the official public holidays, plus the 调休 make-up days (a Saturday or Sunday worked
in exchange for a longer holiday). Both come from the ``chinesecalendar`` library, which the State Council's
yearly notice updates; for years it does not cover yet, the ``holidays`` library's China calendar stands in.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache

import chinese_calendar
import holidays

log = logging.getLogger(__name__)

DEFAULT_WORK_HOURS = "09:00-12:00,13:30-17:30"
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MAX_DAYS = 3660  # ten years of searching means the calendar has no working time at all

WorkWindow = tuple[time, time]


def parse_work_hours(text: str) -> tuple[WorkWindow, ...]:
    """``09:00-12:00,13:30-17:30`` → ordered, non-overlapping windows; raises ValueError saying what is wrong."""
    windows: list[WorkWindow] = []
    for part in text.split(","):
        match = _WINDOW.match(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a window; write HH:MM-HH:MM, e.g. 09:00-12:00")
        hour1, minute1, hour2, minute2 = (int(g) for g in match.groups())
        if hour1 > 23 or hour2 > 23 or minute1 > 59 or minute2 > 59:
            raise ValueError(f"{part.strip()!r} has an impossible time of day")
        start, end = time(hour1, minute1), time(hour2, minute2)
        if end <= start:
            raise ValueError(f"{part.strip()!r} ends before it starts")
        if windows and start < windows[-1][1]:
            raise ValueError(f"{part.strip()!r} overlaps or precedes the window before it")
        windows.append((start, end))
    return tuple(windows)


@cache
def _fallback_calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year)


def is_official_workday(day: date) -> bool:
    """A working day in mainland China: weekdays, minus public holidays, plus 调休 make-up days."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # chinesecalendar only knows years whose holiday notice has been published.
        calendar = _fallback_calendar(day.year)
        if day in calendar:
            return False
        return day.weekday() < 5 or day in calendar.weekend_workdays


@dataclass(frozen=True)
class WorkCalendar:
    """Office hours in the city's time zone."""

    timezone: tzinfo
    windows: tuple[WorkWindow, ...] = parse_work_hours(DEFAULT_WORK_HOURS)

    @property
    def hours_per_day(self) -> float:
        return sum(_seconds(start, end) for start, end in self.windows) / 3600

    def is_workday(self, day: date) -> bool:
        return is_official_workday(day)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment (UTC) when ``hours`` of office time have passed after ``start``."""
        if start.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware time")
        remaining = timedelta(hours=hours)
        local = start.astimezone(self.timezone)
        day = local.date()
        for _ in range(_MAX_DAYS):
            if self.is_workday(day):
                for window_start, window_end in self.windows:
                    opens = datetime.combine(day, window_start, self.timezone)
                    closes = datetime.combine(day, window_end, self.timezone)
                    begin = max(opens, local)
                    if begin >= closes:
                        continue
                    if remaining <= closes - begin:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= closes - begin
            day += timedelta(days=1)
        raise ValueError("no working time found in ten years: check WORK_HOURS")

    def deadline(self, start: datetime, hours: float, calendar_hours: bool = False) -> datetime:
        """The handling deadline: ``hours`` of office time, or of plain clock time for emergencies."""
        if calendar_hours:
            return (start + timedelta(hours=hours)).astimezone(UTC)
        return self.add_working_hours(start, hours)


def _seconds(start: time, end: time) -> float:
    return (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds()
