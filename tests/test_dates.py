"""Dates from outside, read strictly: every one between 1970 and 2100, so no later step can overflow."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.platform import dates
from bot.platform.i18n import get_lang

CITY = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", datetime(2026, 11, 30, 16, 0, tzinfo=UTC)),  # a day: its start, in the given zone
        ("2026-12-01T08:00", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),
        ("2026-12-01 08:00:30", datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC)),
        ("2026-12-01T08:00Z", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        ("2026-12-01T08:00:00+0800", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),
        ("2026-12-01T08:00:00.5-05:00", datetime(2026, 12, 1, 13, 0, 0, 500_000, tzinfo=UTC)),
        ("1970-01-01T00:00:00+14:00", datetime(1969, 12, 31, 10, 0, tzinfo=UTC)),  # the first day, anywhere
        ("2100-12-31T23:59:59-12:00", datetime(2101, 1, 1, 11, 59, 59, tzinfo=UTC)),  # the last day, anywhere
    ],
)
def test_moments_are_read_into_utc(text: str, expected: datetime) -> None:
    assert dates.parse_moment(text, CITY) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("9999-12-31T00:00:00Z", dates.DateOutOfRange),
        ("0001-01-01T00:00:00+14:00", dates.DateOutOfRange),  # moving it into UTC would overflow
        ("0001-01-01", dates.DateOutOfRange),
        ("2101-01-01T00:00", dates.DateOutOfRange),
        ("1969-12-31T23:59Z", dates.DateOutOfRange),
        ("tomorrow", dates.BadDate),
        ("2026-13-01T00:00Z", dates.BadDate),
        ("2026-12-01T25:00", dates.BadDate),
        ("2026-12-01T08:00 and more", dates.BadDate),
        ("２０２６-12-01", dates.BadDate),  # full-width digits
        ("99999-01-01", dates.BadDate),
        ("2026-W01", dates.BadDate),
        ("", dates.BadDate),
    ],
)
def test_moments_outside_the_range_or_the_form_are_refused(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        dates.parse_moment(text, CITY)


def test_days() -> None:
    assert dates.parse_day(" 2026-02-28 ") == date(2026, 2, 28)
    assert dates.parse_day("2100-12-31") + timedelta(days=1) == date(2101, 1, 1)  # one more day never overflows
    for text in ("9999-12-31", "0001-01-01", "1969-12-31", "2101-01-01"):
        with pytest.raises(dates.DateOutOfRange, match=r"outside 1970-01-01\.\.2100-12-31"):
            dates.parse_day(text)
    for text in ("2026-02-30", "20260228", "2026-2-28", "２０２６-02-28", "2026-02-28T00:00"):
        with pytest.raises(dates.BadDate) as caught:
            dates.parse_day(text)
        assert not isinstance(caught.value, dates.DateOutOfRange), text


def test_the_answer_names_the_range_in_the_readers_language() -> None:
    assert dates.out_of_range_text(get_lang("en", CITY)) == (
        "That date is out of range: dates go from Jan 1, 1970 to Dec 31, 2100."
    )
    assert (
        dates.out_of_range_text(get_lang("zh_Hans", CITY)) == "日期超出范围：日期须在1970年1月1日至2100年12月31日之间。"
    )
