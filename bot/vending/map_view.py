"""What the map shows of vending: the spots and no-vending zones inside a box, each with its state at a moment.

A spot's state is read from its openings (bot.vending.spots), never from its hours directly: open now, opening
within two hours, closed for the rest of the day, or closed temporarily (closed or relocated by staff).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from bot.platform.db import Reader, read_rows
from bot.vending.hours import Opening
from bot.vending.spots import (
    SPOT_COLUMNS,
    STATUS_CLOSED,
    STATUS_RELOCATED,
    Spot,
    current_opening,
    exceptions_since,
    next_opening,
    spot_from_row,
)
from bot.vending.zones import ZONE_COLUMNS, Zone, zone_active, zone_from_row

OPEN = "open"
OPENS_SOON = "opens_soon"
CLOSED_TODAY = "closed_today"
CLOSED_TEMPORARILY = "closed_temporarily"
SPOT_STATES = (OPEN, OPENS_SOON, CLOSED_TODAY, CLOSED_TEMPORARILY)
SOON = timedelta(hours=2)  # "opens soon": a vendor could walk there and be ready
MAX_BOX_SPOTS = 2000  # more than a city has; a box over a whole province still answers quickly


@dataclass(frozen=True)
class Box:
    """A bounding box in WGS-84 degrees."""

    west: float
    south: float
    east: float
    north: float


@dataclass(frozen=True)
class SpotOnMap:
    spot: Spot
    state: str
    opening: Opening | None  # the current opening when open, the next one when it opens soon


@dataclass(frozen=True)
class ZoneOnMap:
    zone: Zone
    active: bool  # the ban is in force at the moment asked about


def spot_state(spot: Spot, moment: datetime, tz: tzinfo) -> SpotOnMap:
    """The spot's state at ``moment``, by its openings after exceptions and staff closures."""
    current = current_opening(spot, moment, tz)
    if current is not None:
        return SpotOnMap(spot, OPEN, current)
    if spot.status == STATUS_RELOCATED or (
        spot.status == STATUS_CLOSED and (spot.closed_until is None or spot.closed_until > moment)
    ):
        return SpotOnMap(spot, CLOSED_TEMPORARILY, None)
    coming = next_opening(spot, moment, tz, horizon=SOON + timedelta(days=8))
    if coming is not None and coming.opens_at - moment <= SOON:
        return SpotOnMap(spot, OPENS_SOON, coming)
    return SpotOnMap(spot, CLOSED_TODAY, coming)


async def spots_in_box(
    source: Reader, box: Box, moment: datetime, tz: tzinfo, goods: str | None = None
) -> list[SpotOnMap]:
    """The spots inside the box (allowing ``goods`` when given), each with its state at ``moment``."""
    rows = await read_rows(
        source,
        f"""SELECT {SPOT_COLUMNS} FROM spots s
            WHERE s.lat BETWEEN :south AND :north AND s.lon BETWEEN :west AND :east
            ORDER BY s.id LIMIT :limit""",
        {
            "south": box.south,
            "north": box.north,
            "west": box.west,
            "east": box.east,
            "limit": MAX_BOX_SPOTS,
            "since": exceptions_since(moment, tz),
        },
    )
    spots = [spot_from_row(row) for row in rows]
    if goods is not None:
        spots = [spot for spot in spots if not spot.goods or goods in spot.goods]
    return [spot_state(spot, moment, tz) for spot in spots]


async def zones_in_box(source: Reader, box: Box, moment: datetime, tz: tzinfo) -> list[ZoneOnMap]:
    """The zones whose bounds meet the box, each saying whether its ban is in force at ``moment``."""
    rows = await read_rows(
        source,
        f"""SELECT {ZONE_COLUMNS} FROM zones z
            WHERE z.max_lat >= :south AND z.min_lat <= :north AND z.max_lon >= :west AND z.min_lon <= :east
            ORDER BY z.id""",
        {"south": box.south, "north": box.north, "west": box.west, "east": box.east},
    )
    zones = [zone_from_row(row) for row in rows]
    return [ZoneOnMap(zone, zone_active(zone, moment, tz) is not None) for zone in zones]
