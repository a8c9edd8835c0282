"""Deadlines in office hours: lunch breaks, weekends, public holidays and 调休 make-up workdays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.platform import worktime
from bot.platform.worktime import WorkCalendar, is_official_workday, parse_work_hours

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = WorkCalendar(SHANGHAI)  # 09:00-12:00, 13:30-17:30


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("story", "start", "hours", "expected"),
    [
        ("inside the morning window", local(2026, 11, 23, 9, 30), 2, local(2026, 11, 23, 11, 30)),
        ("over the lunch break", local(2026, 11, 23, 11, 0), 2, local(2026, 11, 23, 14, 30)),
        ("before office hours start", local(2026, 11, 23, 7, 0), 1, local(2026, 11, 23, 10, 0)),
        ("after office hours: next morning", local(2026, 11, 23, 20, 0), 1, local(2026, 11, 24, 10, 0)),
        ("across a weekend", local(2026, 11, 20, 17, 0), 4, local(2026, 11, 23, 14, 0)),
        ("a whole working day", local(2026, 11, 23, 9, 0), 7, local(2026, 11, 23, 17, 30)),
        ("reported on a Sunday", local(2026, 11, 22, 10, 0), 1, local(2026, 11, 23, 10, 0)),
        # National Day 2025: 1-8 October off; Sunday 28 September and Saturday 11 October worked instead (调休).
        ("Friday evening into a 调休 Sunday", local(2025, 9, 26, 16, 30), 2, local(2025, 9, 28, 10, 0)),
        ("over the National Day holiday", local(2025, 9, 30, 17, 0), 1, local(2025, 10, 9, 9, 30)),
        ("into the 调休 Saturday", local(2025, 10, 10, 17, 0), 1, local(2025, 10, 11, 9, 30)),
    ],
)
def test_working_hours_deadline(story: str, start: datetime, hours: float, expected: datetime) -> None:
    deadline = OFFICE.add_working_hours(start, hours)
    assert deadline == expected, story
    assert deadline.tzinfo == UTC


def test_emergencies_count_clock_hours_even_at_night_and_weekends() -> None:
    saturday_night = local(2026, 11, 21, 23, 0)
    assert OFFICE.deadline(saturday_night, 2, calendar_hours=True) == local(2026, 11, 22, 1, 0)
    assert OFFICE.deadline(saturday_night, 2) == local(2026, 11, 23, 11, 0)


def test_configured_windows_are_used() -> None:
    long_day = WorkCalendar(SHANGHAI, parse_work_hours("08:00-18:00"))
    assert long_day.hours_per_day == 10
    assert long_day.add_working_hours(local(2026, 11, 23, 17, 0), 2) == local(2026, 11, 24, 9, 0)
    assert OFFICE.hours_per_day == 7


def test_holidays_and_make_up_days_come_from_the_calendar_library() -> None:
    assert not is_official_workday(date(2025, 10, 1))  # National Day, a Wednesday
    assert is_official_workday(date(2025, 9, 28))  # 调休 Sunday
    assert not is_official_workday(date(2026, 11, 21))  # an ordinary Saturday
    assert is_official_workday(date(2026, 11, 23))


def test_years_chinesecalendar_does_not_cover_fall_back_to_holidays(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_published(day: date) -> bool:
        raise NotImplementedError(f"no data for {day.year}")

    monkeypatch.setattr(worktime.chinese_calendar, "is_workday", not_published)
    assert not is_official_workday(date(2025, 10, 1))
    assert is_official_workday(date(2025, 9, 28))  # the holidays library knows this 调休 day too
    assert not is_official_workday(date(2025, 10, 4))
    assert is_official_workday(date(2025, 10, 9))


def test_a_year_beyond_chinesecalendar_still_gets_deadlines() -> None:
    new_years_eve = local(2030, 12, 31, 17, 0)  # Tuesday; 1 January 2030+1 is a holiday
    assert OFFICE.add_working_hours(new_years_eve, 1) == local(2031, 1, 2, 9, 30)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("9-12", "not a window"),
        ("12:00-09:00", "ends before it starts"),
        ("09:00-12:00,11:00-14:00", "overlaps"),
        ("25:00-26:00", "impossible"),
    ],
)
def test_bad_work_hours_are_explained(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_work_hours(text)


def test_default_windows() -> None:
    assert parse_work_hours(worktime.DEFAULT_WORK_HOURS) == (
        (time(9, 0), time(12, 0)),
        (time(13, 30), time(17, 30)),
    )


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        OFFICE.add_working_hours(datetime(2026, 11, 23, 9, 0), 1)
