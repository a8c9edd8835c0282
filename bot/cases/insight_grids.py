"""Staff insight for one district, grid by grid (单元网格): ``/stats [period] <district>``.

The district is named by its code or its name; each of its grids gets one line — cases filed in the period,
closed, still open and overdue now — busiest first, then the cases filed outside every grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.cases import insight
from bot.cases.grids import grids_of_district
from bot.cases.states import OPEN_STATES, ReportState
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database
from bot.platform.geo import District, ServiceArea
from bot.platform.i18n import Lang
from bot.platform.text import TITLE_SHOWN, escape

GRIDS_SHOWN = 30  # lines in the summary; a district has a few dozen grids at most in practice


@dataclass
class GridStats:
    name: str | None  # None: the cases filed outside every grid
    total: int = 0
    closed: int = 0
    open: int = 0
    overdue: int = 0


def district_named(area: ServiceArea | None, words: str) -> District | None:
    """The district whose code or name (in either language, any case) the words are."""
    wanted = words.strip().casefold()
    if area is None or not wanted:
        return None
    return next(
        (d for d in area.districts if wanted in (d.code.casefold(), d.name_zh.casefold(), d.name_en.casefold())), None
    )


def split_district(words: list[str], area: ServiceArea | None) -> tuple[list[str], District | None]:
    """The words of the period, and the district named after them (a name may have spaces), if any."""
    for split in range(len(words) - 1, -1, -1):
        district = district_named(area, " ".join(words[split:]))
        if district is not None:
            return words[:split], district
    return words, None


async def grid_breakdown(db: Database, period: insight.Period, district: str, now: datetime) -> list[GridStats]:
    """The district's grids with the period's cases in each (every grid, even without a case), busiest first;
    the cases outside every grid last."""
    rows = await db.fetchall(
        """SELECT g.name AS grid_name, r.state, r.due_at FROM reports r LEFT JOIN grids g ON g.external_id = r.grid
           WHERE r.district = ? AND r.created_at >= ? AND r.created_at < ?""",
        (district, to_db(period.start), to_db(period.end)),
    )
    found = {grid.name: GridStats(grid.name) for grid in await grids_of_district(db, district)}
    outside = GridStats(None)
    for row in rows:
        stats = found.setdefault(row["grid_name"], GridStats(row["grid_name"])) if row["grid_name"] else outside
        state = ReportState(row["state"])
        stats.total += 1
        stats.closed += insight.bucket_of(state) == insight.CLOSED
        stats.open += insight.bucket_of(state) == insight.OPEN
        stats.overdue += state in OPEN_STATES and from_db(row["due_at"]) < now
    ordered = sorted(found.values(), key=lambda stats: (-stats.total, stats.name or ""))
    return ordered + ([outside] if outside.total else [])


def grid_lines(t: Lang, district: District, breakdown: list[GridStats]) -> list[str]:
    """The per-grid lines that end the summary of a district's statistics."""
    lines = [t._("🗺 Grid by grid in {district}:", district=escape(district.name(t.code)))]
    if not breakdown:
        lines.append(t._("No grids are known in this district (python -m bot grids import)."))
        return lines
    for stats in breakdown[:GRIDS_SHOWN]:
        figures = t._(
            "{total} filed, {closed} closed, {open} open, {overdue} overdue",
            total=t.number(stats.total),
            closed=t.number(stats.closed),
            open=t.number(stats.open),
            overdue=t.number(stats.overdue),
        )
        name = escape(stats.name, TITLE_SHOWN) if stats.name else t._("outside every grid")
        lines.append(t._("• {grid}: {figures}", grid=name, figures=figures))
    if len(breakdown) > GRIDS_SHOWN:
        left = len(breakdown) - GRIDS_SHOWN
        lines.append(t.n_("… and {count} more grid.", "… and {count} more grids.", left))
    return lines
