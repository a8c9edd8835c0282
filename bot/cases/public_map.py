"""Open cases near a place, as anyone may see them on the map: number, category, state, place and age.

Only those columns are read: nothing about the reporter (who, their name, their chat, anonymity), no description
and no photos ever leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.cases.states import OPEN_STATES, ReportState
from bot.platform.clock import from_db
from bot.platform.db import Reader, read_rows
from bot.platform.geo import bounding_box, haversine_m

MAX_RADIUS_M = 5000.0  # the map asks for the cases around one neighbourhood, not a whole city
MAX_CASES = 200


@dataclass(frozen=True)
class PublicCase:
    public_no: str
    category: str
    state: ReportState
    lat: float
    lon: float
    created_at: datetime
    distance_m: float


async def open_cases_near(
    source: Reader, lat: float, lon: float, radius_m: float, limit: int = MAX_CASES
) -> list[PublicCase]:
    """Open cases within ``radius_m`` of the point, nearest first (a box on the index, then haversine)."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_m)
    states = sorted(OPEN_STATES)
    marks = ", ".join("?" for _ in states)
    rows = await read_rows(
        source,
        f"""SELECT public_no, category, state, lat, lon, created_at FROM reports
            WHERE state IN ({marks}) AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?""",
        (*states, min_lat, max_lat, min_lon, max_lon),
    )
    found = []
    for row in rows:
        distance = haversine_m(lat, lon, row["lat"], row["lon"])
        if distance <= radius_m:
            found.append(
                PublicCase(
                    row["public_no"],
                    row["category"],
                    ReportState(row["state"]),
                    row["lat"],
                    row["lon"],
                    from_db(row["created_at"]),
                    distance,
                )
            )
    found.sort(key=lambda case: (case.distance_m, case.public_no))
    return found[:limit]
