"""The insight export: a period's cases as a spreadsheet (UTF-8 with BOM, so Excel reads the Chinese).

It carries no Telegram ids at all, and a reporter's name only when they chose to show it to staff; text cells
that a spreadsheet would read as a formula are quoted.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo
from typing import Any

from bot.cases.insight import Period, category_label
from bot.cases.states import OPEN_STATES, STATE_NAMES, ReportState
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database
from bot.platform.geo import ServiceArea
from bot.platform.i18n import Lang

CSV_COLUMNS = (
    "number",  # the public case number, R20261123-0007
    "category",  # the category code (stall, garbage, facility, …)
    "category_name",  # the category in the reader's language
    "state",  # the state code (submitted, accepted, … closed)
    "state_name",  # the state in the reader's language
    "district",  # the district code of the service area
    "district_name",
    "grid",  # the id of the grid (单元网格) it was filed in; empty outside every grid
    "grid_name",
    "address",  # as typed by the resident (empty when they shared a location)
    "latitude",
    "longitude",
    "description",  # empty when a moderator hid it from the public
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
        """SELECT r.*, u.first_name AS reporter_first_name, g.name AS grid_name,
                  (SELECT MIN(e.at) FROM report_events e WHERE e.report_id = r.id AND e.to_state = 'resolved')
                      AS resolved_at,
                  (SELECT MAX(e.at) FROM report_events e WHERE e.report_id = r.id AND e.to_state = 'closed')
                      AS closed_at,
                  (SELECT AVG(a.satisfaction) FROM followup_answers a WHERE a.report_id = r.id) AS satisfaction
           FROM reports r LEFT JOIN users u ON u.telegram_id = r.reporter_id AND r.anonymous = 0
           LEFT JOIN grids g ON g.external_id = r.grid
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
                    row["grid"] or "",
                    row["grid_name"] or "",
                    row["address_text"] or "",
                    "" if row["lat"] is None else f"{row['lat']:.6f}",
                    "" if row["lon"] is None else f"{row['lon']:.6f}",
                    "" if row["description_hidden"] else row["description"],  # hidden by a moderator
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
