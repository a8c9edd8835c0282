"""The Mini App's API answers: query parameters read strictly, and GeoJSON FeatureCollections built from the domain.

Coordinates in and out are in the map's coordinate system (MAP_TILE_CRS): WGS-84, or GCJ-02 when a Chinese
provider's tiles are configured, so the page draws what it gets and sends back what it shows. Every text a
popup shows is made here, in the person's language, from the same functions the chat uses.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from bot.cases.insight import category_label
from bot.cases.public_map import MAX_RADIUS_M, PublicCase
from bot.cases.states import STATE_NAMES
from bot.platform import dates
from bot.platform.gcj02 import from_map_crs, to_map_crs
from bot.platform.geo import haversine_m
from bot.platform.i18n import Lang
from bot.vending import spots
from bot.vending.map_view import Box, SpotOnMap, ZoneOnMap
from bot.vending.zones import ZONE_KINDS
from handlers.vendor_views import stalls_text, walk_text, zone_hours_text

MAX_BOX_DEGREES = 2.0  # a box wider or taller than this is not a map of one city


class BadQuery(ValueError):
    """A parameter is missing or out of range (the API answers 400 with this message)."""


def _number(text: str | None, name: str) -> float:
    try:
        value = float(text or "")
    except ValueError:
        raise BadQuery(f"{name} must be a number") from None
    if not math.isfinite(value):
        raise BadQuery(f"{name} must be a finite number")
    return value


def parse_box(text: str | None, crs: str) -> Box:
    """``west,south,east,north`` in the map's coordinates → a WGS-84 box; BadQuery when malformed."""
    parts = (text or "").split(",")
    if len(parts) != 4:
        raise BadQuery("bbox must be west,south,east,north in degrees")
    west, south, east, north = (_number(part, "bbox") for part in parts)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadQuery("bbox must have west < east and south < north, within ±180 and ±90 degrees")
    if east - west > MAX_BOX_DEGREES or north - south > MAX_BOX_DEGREES:
        raise BadQuery(f"bbox may span at most {MAX_BOX_DEGREES:g} degrees each way")
    south, west = from_map_crs(crs, south, west)
    north, east = from_map_crs(crs, north, east)
    return Box(west, south, east, north)


def parse_point(lat: str | None, lon: str | None, crs: str) -> tuple[float, float]:
    """A point in the map's coordinates → WGS-84; BadQuery when missing or off the globe."""
    latitude, longitude = _number(lat, "lat"), _number(lon, "lon")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise BadQuery("lat must be within ±90 and lon within ±180 degrees")
    return from_map_crs(crs, latitude, longitude)


def parse_radius(text: str | None) -> float:
    radius = _number(text, "radius")
    if not 0 < radius <= MAX_RADIUS_M:
        raise BadQuery(f"radius must be more than 0 and at most {MAX_RADIUS_M:g} metres")
    return radius


def parse_moment(text: str | None, now: datetime) -> datetime:
    """``at``: an ISO time (with its offset, or in UTC); now when absent."""
    if not text:
        return now
    try:
        return dates.parse_moment(text, UTC)
    except (dates.BadDate, dates.DateOutOfRange):
        raise BadQuery("at must be an ISO time, e.g. 2026-01-01T18:00:00+08:00") from None


def _point(crs: str, lat: float, lon: float) -> dict[str, Any]:
    shown_lat, shown_lon = to_map_crs(crs, lat, lon)
    return {"type": "Point", "coordinates": [round(shown_lon, 7), round(shown_lat, 7)]}


def _shifted(crs: str, geometry: Any) -> Any:
    """A GeoJSON geometry's coordinates, moved into the map's coordinates (nested lists of [lon, lat])."""
    if isinstance(geometry, dict):
        return {key: _shifted(crs, value) if key == "coordinates" else value for key, value in geometry.items()}
    if isinstance(geometry, list) and len(geometry) >= 2 and all(isinstance(v, int | float) for v in geometry[:2]):
        lat, lon = to_map_crs(crs, float(geometry[1]), float(geometry[0]))
        return [round(lon, 7), round(lat, 7)]
    if isinstance(geometry, list):
        return [_shifted(crs, part) for part in geometry]
    return geometry


def spot_state_label(t: Lang, found: SpotOnMap, now: datetime) -> str:
    opening = found.opening
    if found.state == "open" and opening is not None:
        return t._("Open now, until {time}", time=t.time(opening.closes_at))
    if found.state == "opens_soon" and opening is not None:
        return t._("Opens at {time}", time=t.time(opening.opens_at))
    if found.state == "closed_temporarily":
        return t._("Closed temporarily")
    return t._("Closed for today")


def spots_collection(
    t: Lang, found: list[SpotOnMap], at: datetime, crs: str, near: tuple[float, float] | None
) -> dict[str, Any]:
    """The spots as Points, each with its state at ``at`` and its popup's lines."""
    features = []
    for item in found:
        spot = item.spot
        facts = [spots.goods_text(t, spot.goods), spots.fee_text(t, spot.fee_cents), stalls_text(t, spot)]
        properties: dict[str, Any] = {
            "id": spot.id,
            "name": spot.title(t.code),
            "address": spot.place(t.code),
            "state": item.state,
            "state_text": spot_state_label(t, item, at),
            "today": t._("Today: {hours}", hours=spots.day_hours_text(t, spot, at.astimezone(t.timezone).date())),
            "facts": " · ".join(part for part in facts if part),
            "goods": list(spot.goods),
        }
        if near is not None:
            properties["walk"] = walk_text(t, haversine_m(near[0], near[1], spot.lat, spot.lon))
        features.append(
            {"type": "Feature", "id": spot.id, "geometry": _point(crs, spot.lat, spot.lon), "properties": properties}
        )
    return {"type": "FeatureCollection", "features": features}


def zones_collection(t: Lang, found: list[ZoneOnMap], crs: str) -> dict[str, Any]:
    """The no-vending zones as (Multi)Polygons with kind, hours and whether the ban is in force."""
    features = []
    for item in found:
        zone = item.zone
        label, _why = ZONE_KINDS.get(zone.kind, ZONE_KINDS["other"])
        hours = zone_hours_text(t, zone.hours) if zone.hours else t._("at all times")
        features.append(
            {
                "type": "Feature",
                "id": zone.id,
                "geometry": _shifted(crs, zone.geometry),
                "properties": {
                    "id": zone.id,
                    "name": zone.title(t.code),
                    "kind": zone.kind,
                    "kind_text": t._(label),
                    "hours_text": t._("No vending {hours}", hours=hours),
                    "active": item.active,
                    "state_text": t._("In force now") if item.active else t._("Not in force now"),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def cases_collection(t: Lang, found: list[PublicCase], now: datetime, crs: str) -> dict[str, Any]:
    """Open cases as Points: number, category, state and age; nothing about who reported them."""
    features = [
        {
            "type": "Feature",
            "id": case.public_no,
            "geometry": _point(crs, case.lat, case.lon),
            "properties": {
                "number": case.public_no,
                "category": case.category,
                "category_text": category_label(t, case.category),
                "state": case.state.value,
                "state_text": t._(STATE_NAMES[case.state]),
                "age_text": t._("Reported {age}", age=t.relative(case.created_at, now)),
            },
        }
        for case in found
    ]
    return {"type": "FeatureCollection", "features": features}
