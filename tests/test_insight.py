"""Staff insight, the core: periods, the figures of a period, the chart in both languages, the CSV export."""

from __future__ import annotations

import csv
import io
import struct
import warnings
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cases import config, insight, insight_chart, insight_csv, service, states
from bot.cases.drafts import Draft
from bot.cases.states import ReportState, transition
from bot.platform.db import Database
from bot.platform.i18n import get_lang
from bot.platform.worktime import WorkCalendar

CITY = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar(CITY)
# A Wednesday morning in the city (a working day), in UTC.
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=CITY).astimezone(UTC)
POLICY = config.ReportPolicy(calendar=CALENDAR, per_hour=100, per_day=100)


# ------------------------------------------------------------------ periods
@pytest.mark.parametrize(
    ("words", "first", "last"),
    [
        (None, date(2026, 11, 16), date(2026, 11, 18)),  # the default: this week, since Monday
        ("today", date(2026, 11, 18), date(2026, 11, 18)),
        ("week", date(2026, 11, 16), date(2026, 11, 18)),
        ("month", date(2026, 11, 1), date(2026, 11, 18)),
        ("本月", date(2026, 11, 1), date(2026, 11, 18)),
        ("2026-10-01..2026-10-31", date(2026, 10, 1), date(2026, 10, 31)),
        ("2026-10-01 至 2026-10-07", date(2026, 10, 1), date(2026, 10, 7)),
    ],
)
def test_periods_are_local_calendar_days(words: str | None, first: date, last: date) -> None:
    period = insight.parse_period(words, NOW, CITY)
    assert (period.first_day, period.last_day) == (first, last)
    assert period.start == datetime(first.year, first.month, first.day, tzinfo=CITY).astimezone(UTC)
    assert period.end - period.start == timedelta(days=(last - first).days + 1)


@pytest.mark.parametrize(
    ("description", "words", "reason"),
    [
        ("not a period", "yesterday-ish", "format"),
        ("one date only", "2026-10-01", "format"),
        ("no such day", "2026-02-30..2026-03-01", "date"),
        ("backwards", "2026-10-31..2026-10-01", "order"),
        ("more than a year", "2024-01-01..2026-01-01", "too_long"),
        ("before the first day", "0001-01-01..0001-01-02", "out_of_range"),
        ("after the last day", "9999-12-30..9999-12-31", "out_of_range"),
        ("ends after the last day", "2100-12-31..2101-01-01", "out_of_range"),
        ("full-width digits", "２０２６-10-01..2026-10-02", "format"),
    ],
)
def test_bad_periods_say_what_is_wrong(description: str, words: str, reason: str) -> None:
    with pytest.raises(insight.BadPeriod) as caught:
        insight.parse_period(words, NOW, CITY)
    assert caught.value.reason == reason, description


def test_working_hours_between_undoes_adding_them() -> None:
    start = datetime(2026, 11, 20, 16, 0, tzinfo=CITY)  # a Friday afternoon: the weekend does not count
    for hours in (0.5, 1.5, 4, 7, 14, 30):
        end = CALENDAR.add_working_hours(start, hours)
        assert insight.working_hours_between(CALENDAR, start, end) == pytest.approx(hours)


# ------------------------------------------------------------------ the figures
async def file(db: Database, reporter: int, category: str, at: datetime, **changes: object) -> states.Report:
    draft = Draft(category=category, lat=30.48, lon=114.15, district="wuhan-edz", description="Something to fix")
    for name, value in changes.items():
        setattr(draft, name, value)
    return await service.submit(db, reporter, draft, at, POLICY)


async def move(db: Database, report_id: int, at: datetime, *states: ReportState) -> None:
    for state in states:
        async with db.transaction() as conn:
            await transition(conn, report_id, 9001, state, "", at, actor_role="dispatcher")


async def rate(db: Database, report_id: int, telegram_id: int, score: int) -> None:
    await db.execute(
        "INSERT INTO followup_answers (report_id, telegram_id, satisfaction, answered_at) VALUES (?, ?, ?, ?)",
        (report_id, telegram_id, score, "2026-11-18 02:00:00"),
    )


async def a_week_of_cases(db: Database) -> dict[str, states.Report]:
    """Monday: a garbage case closed in 2 office hours, one closed late, one rejected; a stall still open."""
    monday = datetime(2026, 11, 16, 9, 0, tzinfo=CITY).astimezone(UTC)
    quick = await file(db, 101, "garbage", monday)
    await move(db, quick.id, monday + timedelta(hours=1), ReportState.ACCEPTED)
    await move(db, quick.id, monday + timedelta(hours=2), ReportState.RESOLVED, ReportState.CLOSED)
    slow = await file(db, 102, "garbage", monday)
    await move(db, slow.id, monday + timedelta(hours=1), ReportState.ACCEPTED)
    await move(db, slow.id, monday + timedelta(days=1, hours=5), ReportState.RESOLVED, ReportState.CLOSED)
    rejected = await file(db, 103, "garbage", monday, show_name=True)
    await move(db, rejected.id, monday, ReportState.REJECTED)
    stall = await file(db, 104, "stall", monday)  # due Monday 14:30 at the latest: overdue on Wednesday
    last_month = await file(db, 105, "noise", monday - timedelta(days=30))
    await rate(db, quick.id, 101, 5)
    await rate(db, slow.id, 102, 2)
    await rate(db, last_month.id, 105, 1)  # not in this week
    return {"quick": quick, "slow": slow, "rejected": rejected, "stall": stall}


async def test_the_figures_of_a_week(db: Database) -> None:
    await a_week_of_cases(db)
    stats = await insight.gather_stats(db, insight.parse_period("week", NOW, CITY), NOW, CALENDAR)

    assert [c.code for c in stats.categories] == ["stall", "garbage"]  # the city's order; noise is last month
    garbage = stats.categories[1]
    assert garbage.counts == {"open": 0, "resolved": 0, "closed": 2, "not_ours": 1}
    # 2 office hours; and Monday 09:00 to Tuesday 14:00 = 7 + 3.5 = 10.5 office hours: the median is between.
    assert sorted(garbage.closed_hours) == pytest.approx([2.0, 10.5])
    assert garbage.median_hours_to_close == pytest.approx(6.25)
    assert stats.categories[0].counts["open"] == 1 and stats.categories[0].overdue == 1
    assert stats.total == 4 and stats.ours == 3 and stats.closed == 2
    assert stats.closure_rate == pytest.approx(2 / 3)
    assert stats.closed_on_time == 1  # the slow one was resolved after its 4-hour deadline
    assert stats.overdue == 1
    assert stats.average_satisfaction == pytest.approx(3.5)


async def test_a_quiet_period(db: Database) -> None:
    stats = await insight.gather_stats(db, insight.parse_period("today", NOW, CITY), NOW, CALENDAR)
    assert stats.total == 0 and stats.closure_rate is None and stats.average_satisfaction is None
    lines = insight.summary_lines(get_lang("en", CITY), stats)
    assert lines[1] == "No cases were filed in this period."


async def test_the_summary_in_both_languages(db: Database) -> None:
    await a_week_of_cases(db)
    stats = await insight.gather_stats(db, insight.parse_period("week", NOW, CITY), NOW, CALENDAR)
    english = "\n".join(insight.summary_lines(get_lang("en", CITY), stats))
    assert "4 cases in all." in english
    assert "Closure rate: 66.7% (2 of 3 cases that were ours to handle)." in english
    assert not any("\u4e00" <= char <= "\u9fff" for char in english), "no Chinese in the English summary"
    assert "Exposed garbage, sanitation: median time to close 6.2 h (time limit 4 h of office time)." in english
    assert "1 open case is overdue now." in english
    assert "Average satisfaction: 3.5 of 5 (2 ratings)." in english
    chinese = "\n".join(insight.summary_lines(get_lang("zh_Hans", CITY), stats))
    assert "结案率：66.7%" in chinese
    assert "收到的案件" in chinese and "受理的案件" not in chinese  # filed is not accepted (受理 is 立案)
    assert "平均满意度：3.5" in chinese


# ------------------------------------------------------------------ the chart
def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_cjk_font_is_found_and_has_the_words() -> None:
    from matplotlib.ft2font import FT2Font

    font = insight_chart.cjk_font_path()  # raises ChartFontMissing (and fails this test) when there is none
    face = FT2Font(font.path, face_index=font.face_index)
    assert all(face.get_char_index(ord(char)) for char in "案件统计结案率超期满意度占道经营暴露垃圾")


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_the_chart_is_a_phone_sized_png_with_every_glyph(db: Database, language: str, tmp_path: object) -> None:
    await a_week_of_cases(db)
    stats = await insight.gather_stats(db, insight.parse_period("week", NOW, CITY), NOW, CALENDAR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font": that fails the test
        png = insight_chart.render_chart(get_lang(language, CITY), stats)
    width, height = png_size(png)
    assert width == 1080 and 1000 < height < 3000
    assert len(png) > 30_000  # drawn, not blank

    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1_000_000) or []}
    for bucket_colour in ("#e4572e", "#29a36a", "#9e9e9e"):  # open, closed and not-ours bars are drawn
        rgb = tuple(int(bucket_colour[i : i + 2], 16) for i in (1, 3, 5))
        assert rgb in colours


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_the_chart_says_filed_in_one_language_and_counts_whole_cases(language: str) -> None:
    from matplotlib.text import Text

    period = insight.parse_period("today", NOW, CITY)
    counts = {"open": 1, "resolved": 0, "closed": 0, "not_ours": 0}
    categories = (
        insight.CategoryStats("stall", counts, (), 4, False, 0),
        insight.CategoryStats("garbage", counts, (), 4, False, 0),
    )
    figure = insight_chart.chart_figure(get_lang(language, CITY), insight.Stats(period, categories, 0, ()))
    figure.canvas.draw()
    words = " ".join(text.get_text() for text in figure.findobj(Text))
    low, high = figure.axes[0].get_xlim()
    ticks = [tick for tick in figure.axes[0].get_xticks() if low <= tick <= high]
    assert len(ticks) >= 2 and all(float(tick).is_integer() for tick in ticks), ticks  # no 0.25 of a case
    if language == "zh_Hans":
        assert "收到的案件" in words and "受理的案件" not in words  # filed, not accepted (受理 is 立案)
    else:
        assert "Cases filed" in words
        assert not any("\u4e00" <= char <= "\u9fff" for char in words), "no Chinese on the English chart"


def test_the_chart_of_an_empty_period() -> None:
    period = insight.parse_period("today", NOW, CITY)
    png = insight_chart.render_chart(get_lang("zh_Hans", CITY), insight.Stats(period, (), 0, ()))
    assert png_size(png)[0] == 1080


def test_labels_lose_their_emoji_for_the_chart() -> None:
    assert insight.plain_label("🗑 Exposed garbage") == "Exposed garbage"
    assert insight.plain_label("⚠️ 井盖") == "井盖"
    assert insight.category_label(get_lang("en", CITY), "manhole") == "Open or broken manhole cover"


# ------------------------------------------------------------------ CSV
async def test_csv_has_the_documented_columns_and_no_personal_data_of_anonymous_reporters(db: Database) -> None:
    await db.execute(
        "INSERT INTO users (telegram_id, first_name, created_at, updated_at) VALUES "
        "(101, 'Secret Sam', '2026-11-01 00:00:00', '2026-11-01 00:00:00'), "
        "(103, '王芳', '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
    )
    cases = await a_week_of_cases(db)
    period = insight.parse_period("week", NOW, CITY)
    data, count = await insight_csv.cases_csv(db, period, NOW, get_lang("zh_Hans", CITY))

    assert data.startswith("\ufeff".encode())  # the BOM: Excel then reads UTF-8 Chinese correctly
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert count == len(rows) == 4
    assert tuple(rows[0]) == insight_csv.CSV_COLUMNS
    by_number = {row["number"]: row for row in rows}
    quick = by_number[cases["quick"].public_no]
    assert quick["state"] == "closed" and quick["state_name"] == "已结案"
    assert quick["category"] == "garbage" and quick["category_name"] == "暴露垃圾、环境卫生"
    assert quick["filed_at"] == "2026-11-16T09:00+08:00"
    assert quick["closed_at"] == "2026-11-16T11:00+08:00"
    assert quick["satisfaction"] == "5.0" and quick["overdue"] == "no"
    assert quick["reporter_name"] == ""  # anonymous: no name
    assert by_number[cases["rejected"].public_no]["reporter_name"] == "王芳"  # chose to show it to staff
    assert by_number[cases["stall"].public_no]["overdue"] == "yes"
    text = data.decode("utf-8-sig")
    assert "Secret Sam" not in text
    for telegram_id in ("101", "102", "104"):
        assert f",{telegram_id}," not in text  # no Telegram ids at all
