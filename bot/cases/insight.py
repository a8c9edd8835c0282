"""Staff insight: how the bureau is doing over a period — counts, 结案率, time to close, overdue, satisfaction.

:func:`gather_stats` reads the cases filed in a :class:`Period`, and :func:`summary_lines` says them in words;
``insight_chart`` draws them as one PNG and ``insight_csv`` writes the same cases as a spreadsheet.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from babel.numbers import format_percent

from bot.cases.states import CATEGORIES, OPEN_STATES, ReportState, category_of
from bot.platform import dates
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database
from bot.platform.i18n import N_, Lang
from bot.platform.worktime import WorkCalendar

MAX_PERIOD_DAYS = 366

# How the chart groups the states of a case (the colours are told apart also in grey).
OPEN, RESOLVED, CLOSED, NOT_OURS = "open", "resolved", "closed", "not_ours"
BUCKETS = (OPEN, RESOLVED, CLOSED, NOT_OURS)
BUCKET_NAMES = {
    OPEN: N_("Open"),
    RESOLVED: N_("Resolved, being checked"),
    CLOSED: N_("Closed"),
    NOT_OURS: N_("Not accepted, passed on, merged or withdrawn"),
}
NOT_OURS_STATES = frozenset({ReportState.REJECTED, ReportState.RETURNED, ReportState.DUPLICATE, ReportState.WITHDRAWN})


class BadPeriod(ValueError):
    """The period is not one of today, week, month or YYYY-MM-DD..YYYY-MM-DD (``reason`` says what is wrong)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


async def gather_stats(
    db: Database, period: Period, now: datetime, calendar: WorkCalendar, district: str | None = None
) -> Stats:
    """The cases filed in the period (in ``district`` only, when given): per category by state, time to close,
    overdue now, satisfaction."""
    rows = await db.fetchall(
        """SELECT r.id, r.category, r.state, r.due_at, r.created_at,
                  (SELECT MAX(e.at) FROM report_events e WHERE e.report_id = r.id AND e.to_state = 'closed')
                      AS closed_at,
                  (SELECT MIN(e.at) FROM report_events e WHERE e.report_id = r.id AND e.to_state = 'resolved')
                      AS resolved_at
           FROM reports r WHERE r.created_at >= ? AND r.created_at < ?
             AND (CAST(? AS TEXT) IS NULL OR r.district = ?)""",
        (to_db(period.start), to_db(period.end), district, district),
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
           WHERE a.satisfaction IS NOT NULL AND r.created_at >= ? AND r.created_at < ?
             AND (CAST(? AS TEXT) IS NULL OR r.district = ?)""",
        (to_db(period.start), to_db(period.end), district, district),
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
