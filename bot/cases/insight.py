"""Staff insight: how the bureau is doing over a period — counts, 结案率, time to close, overdue, satisfaction.

:func:`gather_stats` reads the cases filed in a :class:`Period`; :func:`render_chart` draws them as one PNG a
phone shows well (1080 px wide, large type, labels in the reader's language, a CJK font loaded by path);
:func:`cases_csv` writes the same cases as a spreadsheet (UTF-8 with BOM, so Excel reads the Chinese).
The CSV carries no Telegram ids at all, and a reporter's name only when they chose to show it to staff.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from babel.numbers import format_percent

from bot.cases.states import CATEGORIES, OPEN_STATES, STATE_NAMES, ReportState, category_of
from bot.platform import dates
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database
from bot.platform.geo import ServiceArea
from bot.platform.i18n import N_, Lang
from bot.platform.worktime import WorkCalendar

MAX_PERIOD_DAYS = 366
CHART_WIDTH_PX = 1080
CHART_DPI = 100

# How the chart groups the states of a case (the colours are told apart also in grey).
OPEN, RESOLVED, CLOSED, NOT_OURS = "open", "resolved", "closed", "not_ours"
BUCKETS = (OPEN, RESOLVED, CLOSED, NOT_OURS)
BUCKET_NAMES = {
    OPEN: N_("Open"),
    RESOLVED: N_("Resolved, being checked"),
    CLOSED: N_("Closed"),
    NOT_OURS: N_("Not accepted, passed on, merged or withdrawn"),
}
BUCKET_COLOURS = {OPEN: "#e4572e", RESOLVED: "#f3a712", CLOSED: "#29a36a", NOT_OURS: "#9e9e9e"}
NOT_OURS_STATES = frozenset({ReportState.REJECTED, ReportState.RETURNED, ReportState.DUPLICATE, ReportState.WITHDRAWN})

# Fonts with Chinese glyphs, first the one the bot depends on (a PyPI package), then common Debian packages.
_SYSTEM_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


class BadPeriod(ValueError):
    """The period is not one of today, week, month or YYYY-MM-DD..YYYY-MM-DD (``reason`` says what is wrong)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChartFontMissing(RuntimeError):
    """No font with Chinese glyphs was found; charts would show empty boxes instead of words."""


# ------------------------------------------------------------------ periods
@dataclass(frozen=True)
class Period:
    """Local calendar days, first to last inclusive; ``start``/``end`` are the UTC bounds (end exclusive)."""

    first_day: date
    last_day: date
    start: datetime
    end: datetime


def period_of_days(first_day: date, last_day: date, timezone: tzinfo) -> Period:
    start = datetime.combine(first_day, time(0), timezone).astimezone(UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(0), timezone).astimezone(UTC)
    return Period(first_day, last_day, start, end)


_RANGE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})\s*(?:\.\.|~|至)\s*([0-9]{4}-[0-9]{2}-[0-9]{2})$")


def parse_period(text: str | None, now: datetime, timezone: tzinfo) -> Period:
    """``today``, ``week`` (since Monday), ``month`` (since the 1st) or ``YYYY-MM-DD..YYYY-MM-DD``; default week."""
    today = now.astimezone(timezone).date()
    word = (text or "week").strip().lower()
    if word in ("today", "今天", "今日"):
        return period_of_days(today, today, timezone)
    if word in ("week", "本周"):
        return period_of_days(today - timedelta(days=today.weekday()), today, timezone)
    if word in ("month", "本月"):
        return period_of_days(today.replace(day=1), today, timezone)
    match = _RANGE.match(word)
    if not match:
        raise BadPeriod("format")
    try:
        first, last = dates.parse_day(match.group(1)), dates.parse_day(match.group(2))
    except dates.DateOutOfRange:
        raise BadPeriod("out_of_range") from None
    except dates.BadDate:
        raise BadPeriod("date") from None
    if last < first:
        raise BadPeriod("order")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise BadPeriod("too_long")
    return period_of_days(first, last, timezone)


# ------------------------------------------------------------------ statistics
@dataclass(frozen=True)
class CategoryStats:
    code: str
    counts: dict[str, int]  # by bucket
    closed_hours: tuple[float, ...]  # time to close of each closed case, in the category's own hours
    limit_hours: float
    emergency: bool
    overdue: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def median_hours_to_close(self) -> float | None:
        return statistics.median(self.closed_hours) if self.closed_hours else None


@dataclass(frozen=True)
class Stats:
    period: Period
    categories: tuple[CategoryStats, ...]  # every category with at least one case, in the city's order
    closed_on_time: int
    satisfaction: tuple[int, ...]  # every score given (1-5) on the period's cases

    @property
    def total(self) -> int:
        return sum(category.total for category in self.categories)

    @property
    def closed(self) -> int:
        return sum(category.counts[CLOSED] for category in self.categories)

    @property
    def ours(self) -> int:
        """Cases that were the bureau's to handle: all but the rejected, returned, merged and withdrawn."""
        return self.total - sum(category.counts[NOT_OURS] for category in self.categories)

    @property
    def closure_rate(self) -> float | None:
        """结案率: closed ÷ cases that were ours to handle."""
        return self.closed / self.ours if self.ours else None

    @property
    def overdue(self) -> int:
        return sum(category.overdue for category in self.categories)

    @property
    def average_satisfaction(self) -> float | None:
        return statistics.fmean(self.satisfaction) if self.satisfaction else None


def bucket_of(state: ReportState) -> str:
    if state in OPEN_STATES:
        return OPEN
    if state == ReportState.RESOLVED:
        return RESOLVED
    if state == ReportState.CLOSED:
        return CLOSED
    return NOT_OURS


def working_hours_between(calendar: WorkCalendar, start: datetime, end: datetime) -> float:
    """Office hours that pass between two moments (the inverse of WorkCalendar.add_working_hours)."""
    if end <= start:
        return 0.0
    local_start, local_end = start.astimezone(calendar.timezone), end.astimezone(calendar.timezone)
    seconds = 0.0
    day = local_start.date()
    while day <= local_end.date():
        if calendar.is_workday(day):
            for window_start, window_end in calendar.windows:
                opens = max(datetime.combine(day, window_start, calendar.timezone), local_start)
                closes = min(datetime.combine(day, window_end, calendar.timezone), local_end)
                if closes > opens:
                    seconds += (closes - opens).total_seconds()
        day += timedelta(days=1)
    return seconds / 3600


async def gather_stats(db: Database, period: Period, now: datetime, calendar: WorkCalendar) -> Stats:
    """The cases filed in the period: per category by state, time to close, overdue now, satisfaction."""
    rows = await db.fetchall(
        """SELECT r.id, r.category, r.state, r.due_at, r.created_at,
                  (SELECT MAX(e.at) FROM report_events e WHERE e.report_id = r.id AND e.to_state = 'closed')
                      AS closed_at,
                  (SELECT MIN(e.at) FROM report_events e WHERE e.report_id = r.id AND e.to_state = 'resolved')
                      AS resolved_at
           FROM reports r WHERE r.created_at >= ? AND r.created_at < ?""",
        (to_db(period.start), to_db(period.end)),
    )
    counts: dict[str, dict[str, int]] = {}
    hours: dict[str, list[float]] = {}
    overdue: dict[str, int] = {}
    on_time = 0
    for row in rows:
        category = category_of(row["category"])
        state = ReportState(row["state"])
        created, due = from_db(row["created_at"]), from_db(row["due_at"])
        counts.setdefault(category.code, dict.fromkeys(BUCKETS, 0))[bucket_of(state)] += 1
        if state in OPEN_STATES and due < now:
            overdue[category.code] = overdue.get(category.code, 0) + 1
        if state == ReportState.CLOSED and row["closed_at"]:
            closed = from_db(row["closed_at"])
            elapsed = (
                (closed - created).total_seconds() / 3600
                if category.emergency
                else working_hours_between(calendar, created, closed)
            )
            hours.setdefault(category.code, []).append(elapsed)
            handled = from_db(row["resolved_at"]) if row["resolved_at"] else closed
            on_time += handled <= due
    score_rows = await db.fetchall(
        """SELECT a.satisfaction FROM followup_answers a JOIN reports r ON r.id = a.report_id
           WHERE a.satisfaction IS NOT NULL AND r.created_at >= ? AND r.created_at < ?""",
        (to_db(period.start), to_db(period.end)),
    )
    categories = tuple(
        CategoryStats(
            category.code,
            counts[category.code],
            tuple(hours.get(category.code, ())),
            category.limit_hours,
            category.emergency,
            overdue.get(category.code, 0),
        )
        for category in CATEGORIES
        if category.code in counts
    )
    return Stats(period, categories, on_time, tuple(int(row["satisfaction"]) for row in score_rows))


# ------------------------------------------------------------------ words
def plain_label(text: str) -> str:
    """A label without its leading emoji (chart fonts have none, and a box would show instead)."""
    stripped = text.lstrip()
    while stripped and unicodedata.category(stripped[0])[0] not in "LN":
        stripped = stripped[1:].lstrip()
    return stripped or text


def category_label(t: Lang, code: str) -> str:
    return plain_label(t._(category_of(code).name))


def percent(t: Lang, value: float) -> str:
    return format_percent(value, format="#,##0.#%", locale=t.code)


def hours_text(t: Lang, hours: float) -> str:
    return t._("{hours} h", hours=t.number(round(hours, 1) if hours < 10 else round(hours)))


def period_text(t: Lang, period: Period) -> str:
    if period.first_day == period.last_day:
        return t.date(period.first_day)
    return t._("{first} to {last}", first=t.date(period.first_day), last=t.date(period.last_day))


def limit_text(t: Lang, stats: CategoryStats) -> str:
    if stats.emergency:
        return t._("time limit {hours}", hours=hours_text(t, stats.limit_hours))
    return t._("time limit {hours} of office time", hours=hours_text(t, stats.limit_hours))


def summary_lines(t: Lang, stats: Stats) -> list[str]:
    """The short text that goes with the chart (plain text: no user input in it)."""
    lines = [t._("📊 Cases filed {period}", period=period_text(t, stats.period))]
    if not stats.total:
        lines.append(t._("No cases were filed in this period."))
        return lines
    lines.append(t.n_("{count} case in all.", "{count} cases in all.", stats.total))
    if stats.closure_rate is not None:
        lines.append(
            t._(
                "Closure rate: {rate} ({closed} of {ours} cases that were ours to handle).",
                rate=percent(t, stats.closure_rate),
                closed=t.number(stats.closed),
                ours=t.number(stats.ours),
            )
        )
    if stats.closed:
        lines.append(
            t._(
                "Handled within the time limit: {on_time} of {closed} closed cases.",
                on_time=t.number(stats.closed_on_time),
                closed=t.number(stats.closed),
            )
        )
    for category in stats.categories:
        median = category.median_hours_to_close
        if median is not None:
            lines.append(
                t._(
                    "{category}: median time to close {median} ({limit}).",
                    category=category_label(t, category.code),
                    median=hours_text(t, median),
                    limit=limit_text(t, category),
                )
            )
    lines.append(t.n_("{count} open case is overdue now.", "{count} open cases are overdue now.", stats.overdue))
    if stats.average_satisfaction is None:
        lines.append(t._("No satisfaction ratings yet."))
    else:
        lines.append(
            t.n_(
                "Average satisfaction: {average} of 5 ({count} rating).",
                "Average satisfaction: {average} of 5 ({count} ratings).",
                len(stats.satisfaction),
                average=t.number(round(stats.average_satisfaction, 1)),
            )
        )
    return lines


# ------------------------------------------------------------------ the chart
@cache
def cjk_font_path() -> Any:
    """The font file (and face) the chart's words are drawn with; ChartFontMissing when there is none."""
    from matplotlib.font_manager import FontPath
    from matplotlib.ft2font import FT2Font

    candidates: list[str] = []
    try:
        import noto_cjk_sans_otc

        candidates.append(str(noto_cjk_sans_otc.FONT_PATH))
    except ImportError:
        pass
    candidates.extend(path for path in _SYSTEM_CJK_FONTS if Path(path).is_file())
    for path in candidates:
        faces = FT2Font(path).num_faces
        # A collection holds the font in several regional styles: prefer the Simplified Chinese one.
        ranked = sorted(range(faces), key=lambda i: "SC" not in FT2Font(path, face_index=i).family_name)
        for index in ranked:
            face = FT2Font(path, face_index=index)
            if all(face.get_char_index(ord(char)) for char in "结案率满意"):
                return FontPath(path, index)
    raise ChartFontMissing(
        "no font with Chinese glyphs: install the noto-cjk-sans-otc package (a dependency of the bot) "
        "or Debian's fonts-noto-cjk"
    )


def render_chart(t: Lang, stats: Stats) -> bytes:
    """The period on one PNG, 1080 px wide: key figures, cases per category by state, time to close."""
    output = io.BytesIO()
    chart_figure(t, stats).savefig(output, format="png", dpi=CHART_DPI)
    return output.getvalue()


def chart_figure(t: Lang, stats: Stats) -> Any:
    """The chart as a matplotlib Figure (tests read its words and ticks; render_chart draws it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    font = cjk_font_path()

    def fp(size: float) -> FontProperties:
        return FontProperties(fname=font, size=size)

    # Laid out in inches from the top; each category gets a line for its name and a bar under it, so long names
    # never squeeze the bars on a narrow phone screen.
    categories = list(stats.categories)
    row_in = 1.0
    rows_in = max(1, len(categories)) * row_in
    heights = {"title": 1.0, "figures": 1.7, "heading": 0.7, "legend": 0.9, "axis": 0.55, "gap": 0.35}
    panel_in = heights["heading"] + heights["legend"] + rows_in + heights["axis"]
    height_in = heights["title"] + heights["figures"] + 2 * panel_in + heights["gap"] + 0.3
    figure = Figure(figsize=(CHART_WIDTH_PX / CHART_DPI, height_in), dpi=CHART_DPI, facecolor="white")
    FigureCanvasAgg(figure)

    def y(inches_from_top: float) -> float:
        return 1 - inches_from_top / height_in

    title = t._("Cases filed {period}", period=period_text(t, stats.period))
    figure.text(0.04, y(0.75), title, fontproperties=fp(30))
    figures = [
        (t._("cases"), t.number(stats.total), "#1f2d3d"),
        (
            t._("closure rate"),
            percent(t, stats.closure_rate) if stats.closure_rate is not None else "–",
            "#1f2d3d",
        ),
        (t._("overdue now"), t.number(stats.overdue), BUCKET_COLOURS[OPEN] if stats.overdue else "#1f2d3d"),
        (
            t._("satisfaction"),
            t._("{average} / 5", average=t.number(round(stats.average_satisfaction, 1)))
            if stats.average_satisfaction is not None
            else "–",
            "#1f2d3d",
        ),
    ]
    for index, (name, value, colour) in enumerate(figures):
        x = 0.04 + index * 0.24
        figure.text(x, y(1.0 + 0.95), value, fontproperties=fp(40), color=colour)
        figure.text(x, y(1.0 + 1.45), name, fontproperties=fp(19), color="#555555")

    def panel(top_in: float, heading: str) -> Any:
        figure.text(0.04, y(top_in + 0.55), heading, fontproperties=fp(24))
        bottom_in = top_in + heights["heading"] + heights["legend"] + rows_in
        axes = figure.add_axes((0.04, y(bottom_in), 0.86, rows_in / height_in))
        axes.set_ylim(len(categories) - 0.4 if categories else 1, -0.6)
        axes.set_yticks([])
        axes.spines[["top", "right", "left"]].set_visible(False)
        axes.grid(axis="x", color="#e6e6e6")
        axes.set_axisbelow(True)
        for label in axes.get_xticklabels():
            label.set_fontproperties(fp(15))
        for position, category in enumerate(categories):
            axes.text(0, position - 0.1, category_label(t, category.code), fontproperties=fp(20), va="bottom")
        return axes

    first_top = heights["title"] + heights["figures"]
    counts_axes = panel(first_top, t._("Cases per category, by state"))
    positions = [position + 0.17 for position in range(len(categories))]
    left = [0] * len(categories)
    for bucket in BUCKETS:
        values = [category.counts[bucket] for category in categories]
        counts_axes.barh(positions, values, left=left, color=BUCKET_COLOURS[bucket], height=0.36)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for position, total in zip(positions, left, strict=True):
        counts_axes.text(total, position, f" {t.number(total)}", va="center", fontproperties=fp(18))
    counts_axes.set_xlim(0, max(left, default=0) * 1.12 + 1)
    counts_axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # cases come whole: no 0.25 ticks
    for label in counts_axes.get_xticklabels():
        label.set_fontproperties(fp(15))
    figure.legend(
        handles=[Patch(color=BUCKET_COLOURS[b], label=t._(BUCKET_NAMES[b])) for b in BUCKETS],
        prop=fp(16),
        ncols=2,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(0.03, y(first_top + heights["heading"] - 0.05)),
    )

    second_top = first_top + panel_in + heights["gap"]
    hours_axes = panel(second_top, t._("Median time to close, against the time limit (hours)"))
    medians = [category.median_hours_to_close for category in categories]
    late = [m is not None and m > c.limit_hours for m, c in zip(medians, categories, strict=True)]
    hours_axes.barh(
        positions, [m or 0 for m in medians], height=0.36, color=["#e4572e" if x else "#2e86de" for x in late]
    )
    hours_axes.scatter(
        [category.limit_hours for category in categories],
        positions,
        marker="|",
        s=1100,
        linewidths=4,
        color="#1f2d3d",
        zorder=3,
    )
    for position, median, category in zip(positions, medians, categories, strict=True):
        text = t.number(round(median, 1)) if median is not None else t._("none closed yet")
        hours_axes.text(
            max(median or 0, category.limit_hours), position, f"  {text}", va="center", fontproperties=fp(18)
        )
    longest = max([*(m or 0 for m in medians), *(c.limit_hours for c in categories)], default=1)
    hours_axes.set_xlim(0, longest * 1.35)
    for label in hours_axes.get_xticklabels():
        label.set_fontproperties(fp(15))
    figure.legend(
        handles=[
            Patch(color="#2e86de", label=t._("median time to close")),
            Patch(color="#e4572e", label=t._("median over the time limit")),
            Line2D(
                [],
                [],
                color="#1f2d3d",
                marker="|",
                linestyle="",
                markersize=22,
                markeredgewidth=4,
                label=t._("time limit"),
            ),
        ],
        prop=fp(16),
        ncols=2,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(0.03, y(second_top + heights["heading"] - 0.05)),
    )
    if not categories:
        for axes in (counts_axes, hours_axes):
            axes.text(
                0.5,
                0.5,
                t._("No cases were filed in this period."),
                transform=axes.transAxes,
                ha="center",
                va="center",
                fontproperties=fp(22),
                color="#555555",
            )
            axes.set_xticks([])
    return figure


# ------------------------------------------------------------------ CSV
CSV_COLUMNS = (
    "number",  # the public case number, R20261123-0007
    "category",  # the category code (stall, garbage, facility, …)
    "category_name",  # the category in the reader's language
    "state",  # the state code (submitted, accepted, … closed)
    "state_name",  # the state in the reader's language
    "district",  # the district code of the service area
    "district_name",
    "address",  # as typed by the resident (empty when they shared a location)
    "latitude",
    "longitude",
    "description",
    "reporter_name",  # only when the resident chose to show their name to staff; empty for anonymous reports
    "followers",  # residents following the case, the reporter included
    "filed_at",  # ISO 8601 in the city's time zone
    "due_at",  # the handling deadline from the category's time limit
    "resolved_at",  # when staff first reported it handled
    "closed_at",
    "overdue",  # yes: still open past its deadline now
    "satisfaction",  # the average score given (1-5), empty when none
)
# Cells the bot writes as numbers itself (a minus there is a sign, not a formula).
NUMBER_COLUMNS = frozenset({"latitude", "longitude", "followers", "satisfaction"})
# What makes Excel or LibreOffice read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _local_iso(text: str | None, timezone: tzinfo) -> str:
    return from_db(text).astimezone(timezone).isoformat(timespec="minutes") if text else ""


async def cases_csv(
    db: Database, period: Period, now: datetime, t: Lang, area: ServiceArea | None = None
) -> tuple[bytes, int]:
    """The period's cases as CSV bytes (UTF-8 with BOM) and how many rows it holds."""
    rows = await db.fetchall(
        """SELECT r.*, u.first_name AS reporter_first_name,
                  (SELECT MIN(e.at) FROM report_events e WHERE e.report_id = r.id AND e.to_state = 'resolved')
                      AS resolved_at,
                  (SELECT MAX(e.at) FROM report_events e WHERE e.report_id = r.id AND e.to_state = 'closed')
                      AS closed_at,
                  (SELECT AVG(a.satisfaction) FROM followup_answers a WHERE a.report_id = r.id) AS satisfaction
           FROM reports r LEFT JOIN users u ON u.telegram_id = r.reporter_id AND r.anonymous = 0
           WHERE r.created_at >= ? AND r.created_at < ? ORDER BY r.created_at, r.id""",
        (to_db(period.start), to_db(period.end)),
    )
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        state = ReportState(row["state"])
        district = area.by_code(row["district"]) if area is not None and row["district"] else None
        writer.writerow(
            spreadsheet_cells(
                [
                    row["public_no"],
                    row["category"],
                    category_label(t, row["category"]),
                    state.value,
                    t._(STATE_NAMES[state]),
                    row["district"] or "",
                    district.name(t.code) if district is not None else "",
                    row["address_text"] or "",
                    "" if row["lat"] is None else f"{row['lat']:.6f}",
                    "" if row["lon"] is None else f"{row['lon']:.6f}",
                    row["description"],
                    "" if row["anonymous"] else (row["reporter_first_name"] or ""),
                    row["follower_count"],
                    _local_iso(row["created_at"], t.timezone),
                    _local_iso(row["due_at"], t.timezone),
                    _local_iso(row["resolved_at"], t.timezone),
                    _local_iso(row["closed_at"], t.timezone),
                    "yes" if state in OPEN_STATES and from_db(row["due_at"]) < now else "no",
                    "" if row["satisfaction"] is None else f"{row['satisfaction']:.1f}",
                ]
            )
        )
    return buffer.getvalue().encode("utf-8"), len(rows)


def spreadsheet_cells(cells: list[Any]) -> list[Any]:
    """The row with every text cell made safe; the numbers the bot formats itself stay numbers."""
    return [
        cell if name in NUMBER_COLUMNS or not isinstance(cell, str) else spreadsheet_text(cell)
        for name, cell in zip(CSV_COLUMNS, cells, strict=True)
    ]


def spreadsheet_text(text: str) -> str:
    """Text a spreadsheet shows as text: a cell starting like a formula gets a leading quote (OWASP's advice),
    so a description such as ``=HYPERLINK(…)`` opened in Excel is never run."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
