"""No-vending zones: which zones contain a point, and whether their ban is in force at a moment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bot.platform.db import Reader, read_rows
from bot.platform.geo import (
    point_in_polygon,
    rings_from_geojson,
)
from bot.platform.i18n import N_
from bot.vending.hours import Opening, Window, weekly_openings

# Kinds of no-vending zone, with the label and the reason a vendor is told.
ZONE_KINDS = {
    "main_road": (N_("main road"), N_("Stalls here would block traffic and the pavement.")),
    "fire_lane": (N_("fire lane"), N_("Fire engines must be able to pass here at any moment.")),
    "school_gate": (N_("school gate"), N_("Children crowd the gate at school times; the way must stay clear.")),
    "hospital_entrance": (
        N_("hospital entrance"),
        N_("Ambulances and patients need the entrance clear at all times."),
    ),
    "transit_station": (N_("station square"), N_("Crowds of travellers need free passage here.")),
    "other": (N_("no-vending area"), N_("Vending here is not allowed by the city's rules.")),
}


@dataclass(frozen=True)
class Zone:
    id: int
    external_id: str
    name: str
    kind: str
    geometry: dict[str, Any]
    name_en: str | None = None
    note: str = ""
    hours: tuple[Window, ...] = ()  # empty: in force at all times

    def title(self, language: str) -> str:
        return self.name_en if self.name_en and not language.startswith("zh") else self.name

    def contains(self, lat: float, lon: float) -> bool:
        return any(point_in_polygon(lat, lon, polygon) for polygon in rings_from_geojson(self.geometry))


@dataclass(frozen=True)
class ZoneHit:
    """A zone the point lies in, and whether its ban is in force at the moment asked about."""

    zone: Zone
    active: bool
    until: datetime | None  # when an active ban with hours ends


def zone_active(zone: Zone, moment: datetime, tz: tzinfo) -> Opening | None:
    """The current span of a zone's ban: the whole time for a zone without hours, else its window now."""
    if not zone.hours:
        return Opening(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    spans = weekly_openings(zone.hours, moment, moment + timedelta(seconds=1), tz, lambda _day: False)
    return next((span for span in spans if span.contains(moment)), None)


ZONE_COLUMNS = """z.id, z.external_id, z.name, z.name_en, z.kind, z.geometry, z.note,
    (SELECT group_concat(h.start_m || '-' || h.end_m) FROM zone_hours h WHERE h.zone_id = z.id) AS week"""


def zone_from_row(row: Any) -> Zone:
    """A zone from a row selected with ZONE_COLUMNS."""
    hours: tuple[Window, ...] = ()
    if row["week"]:
        hours = tuple(sorted(Window(*map(int, part.split("-"))) for part in row["week"].split(",")))
    return Zone(
        id=row["id"],
        external_id=row["external_id"],
        name=row["name"],
        name_en=row["name_en"],
        kind=row["kind"],
        geometry=json.loads(row["geometry"]),
        note=row["note"],
        hours=hours,
    )


async def zones_at(source: Reader, lat: float, lon: float, moment: datetime, tz: tzinfo) -> list[ZoneHit]:
    """The no-vending zones containing the point, the ones in force at ``moment`` first."""
    rows = await read_rows(
        source,
        f"""SELECT {ZONE_COLUMNS}
           FROM zones_rtree r JOIN zones z ON z.id = r.id
           WHERE r.min_lat <= :lat AND r.max_lat >= :lat AND r.min_lon <= :lon AND r.max_lon >= :lon""",
        {"lat": lat, "lon": lon},
    )
    hits = []
    for row in rows:
        zone = zone_from_row(row)
        if not zone.contains(lat, lon):
            continue
        span = zone_active(zone, moment, tz)
        until = span.closes_at if span is not None and zone.hours else None
        hits.append(ZoneHit(zone, span is not None, until))
    return sorted(hits, key=lambda hit: (not hit.active, hit.zone.name))
