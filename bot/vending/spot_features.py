"""One feature or CSV row of a spots file, checked: a spot or zone record, or a RowError that says what is wrong.

Every text is bounded and free of control characters; numbers, dates, hours and goods are read strictly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from bot.platform import dates
from bot.platform.geo import (
    GeoDataError,
    ServiceArea,
    polygon_problem,
    rings_from_geojson,
    valid_coordinates,
)
from bot.vending.hours import ClosedDates, HoursError, Window, parse_hours
from bot.vending.spots import GOODS, STATUS_CLOSED, STATUS_OPEN, STATUS_RELOCATED, STATUSES
from bot.vending.zones import ZONE_KINDS

CSV_COLUMNS = (
    "id",
    "name",
    "name_en",
    "district",
    "lat",
    "lon",
    "address",
    "address_en",
    "goods",
    "fee",
    "capacity",
    "free_stalls",
    "hours",
    "closed",
    "status",
    "closed_until",
    "relocated_to",
    "status_reason",
    "note",
)
EXTERNAL_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# The longest text each property may hold (characters; any other text property: 200), so that every page and
# message built from a spot fits in one Telegram message. Said in the README's property table.
_MAX_TEXT = {
    "name": 100,
    "name_en": 100,
    "address": 200,
    "address_en": 200,
    "status_reason": 300,
    "note": 300,
    "reason": 300,
}
_MULTILINE = frozenset({"status_reason", "note"})  # may hold line breaks; nothing may hold other control characters
# Control characters (NUL, escape, …), and halves of surrogate pairs, which JSON can smuggle in but UTF-8 cannot store.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAK = re.compile("[\r\n]")
MAX_STALLS = 100_000  # capacity and free stalls: more than any market, less than SQLite's integers
MAX_CLOSED = 100  # closed-date periods per spot
MAX_ZONE_POSITIONS = 5_000  # positions in one zone's rings (its outline is checked edge against edge)
MAX_NESTING = 64  # levels one feature may nest; GeoJSON needs about five


class RowError(ValueError):
    """One value of one row is wrong."""


@dataclass(frozen=True)
class SpotRecord:
    where: str  # "feature 3" / "line 5", for messages
    external_id: str
    name: str
    district: str
    lat: float
    lon: float
    hours: tuple[Window, ...]
    name_en: str | None = None
    address: str = ""
    address_en: str | None = None
    goods: tuple[str, ...] = ()
    fee_cents: int = 0
    capacity: int | None = None
    free_stalls: int | None = None
    exceptions: tuple[ClosedDates, ...] = ()
    status: str = STATUS_OPEN
    closed_until: datetime | None = None
    relocated_to: str | None = None
    status_reason: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ZoneRecord:
    where: str
    external_id: str
    name: str
    kind: str
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]  # min_lat, max_lat, min_lon, max_lon
    hours: tuple[Window, ...] = ()
    name_en: str | None = None
    note: str = ""


@dataclass
class ImportBatch:
    spots: list[SpotRecord] = field(default_factory=list)
    zones: list[ZoneRecord] = field(default_factory=list)


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages (never the value itself, which may be huge or nested)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "text" if isinstance(value, str) else "a number"


def escaped_text(text: str, most: int) -> str:
    """Text from the file for a problem line: clipped, with control characters written as escapes."""
    clipped = text if len(text) <= most else text[:most] + "…"
    return _CONTROL.sub(lambda found: ascii(found.group())[1:-1], clipped)


def shown_text(text: str, most: int = 40) -> str:
    """A value from the file quoted in a problem."""
    return repr(escaped_text(text, most))


def _plain(value: Any, label: str) -> str:
    """A value that must be text or a number (not a list, an object or true/false), as text."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RowError(f"{label} must be text or a number, not {json_kind(value)}")
    return str(value)


def _checked_text(value: Any, label: str, most: int, *, multiline: bool = False) -> str:
    text = _plain(value, label).strip()
    if multiline:
        text = text.replace("\r\n", "\n")
    if len(text) > most:
        raise RowError(f"{label} is longer than {most} characters ({len(text)})")
    bad = _CONTROL.search(text) or (None if multiline else _LINE_BREAK.search(text))
    if bad:
        raise RowError(f"{label} contains the control character {bad.group()!a} at position {bad.start() + 1}")
    return text


def _text(props: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    text = _checked_text(props.get(key), key, _MAX_TEXT.get(key, 200), multiline=key in _MULTILINE)
    if required and not text:
        raise RowError(f"{key} is missing")
    return text


def _optional_int(props: Mapping[str, Any], key: str) -> int | None:
    text = _plain(props.get(key), key).strip()
    if not text:
        return None
    if not re.fullmatch(r"-?[0-9]+", text):
        raise RowError(f"{key} must be a whole number, not {shown_text(text)}")
    if text.startswith("-"):
        raise RowError(f"{key} cannot be negative")
    if len(text) > 9 or int(text) > MAX_STALLS:
        raise RowError(f"{key} must be at most {MAX_STALLS}")
    return int(text)


def _fee_cents(value: Any) -> int:
    text = _plain(value, "fee").strip()
    if text.lower() in ("", "free", "0"):
        return 0
    try:
        amount = float(text)
    except ValueError:
        raise RowError(f"fee must be an amount in yuan a day (or 'free'), not {shown_text(text)}") from None
    if not (math.isfinite(amount) and 0 <= amount < 100_000):
        raise RowError(f"fee {shown_text(text)} is out of range")
    return round(amount * 100)


def _goods(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise RowError("goods must be a list of words such as 'fruit'")
        items = value
    else:
        items = re.split(r"[;|,]", _plain(value, "goods"))
    codes = tuple(item.strip() for item in items if item.strip())
    unknown = [code for code in codes if code not in GOODS]
    if unknown:
        named = ", ".join(code if EXTERNAL_ID.fullmatch(code) else shown_text(code) for code in unknown[:5])
        raise RowError(f"unknown goods {named} (known: {', '.join(GOODS)})")
    return codes


def _hours(value: Any, *, required: bool) -> tuple[Window, ...]:
    text = _checked_text(value, "hours", 200)
    if not text:
        if required:
            raise RowError("hours are missing (e.g. 'Mo-Su 22:00-04:00')")
        return ()
    try:
        return parse_hours(text)
    except HoursError as exc:
        raise RowError(f"hours: {exc}") from None


def _day(value: Any) -> date:
    text = _plain(value, "closed").strip()
    try:
        return dates.parse_day(text)
    except dates.BadDate as exc:  # not a date, or one outside the range every date is kept in
        raise RowError(escaped_text(str(exc), 200)) from None


def _closed_dates(value: Any) -> tuple[ClosedDates, ...]:
    """``[{"from": …, "to": …, "reason": …}]`` in GeoJSON; ``2027-02-05..2027-02-12 reason; …`` in CSV."""
    if value is None or value == "" or value == []:
        return ()
    found = []
    if isinstance(value, list):
        if len(value) > MAX_CLOSED:
            raise RowError(f"closed lists {len(value)} periods; at most {MAX_CLOSED}")
        for item in value:
            if not isinstance(item, dict) or "from" not in item:
                raise RowError("closed must be a list of {from, to, reason}")
            first = _day(item["from"])
            last = _day(item.get("to") or item["from"])
            reason = _checked_text(item.get("reason"), "closed reason", _MAX_TEXT["reason"])
            found.append(ClosedDates(first, last, reason))
    else:
        parts = [part.strip() for part in _plain(value, "closed").split(";") if part.strip()]
        if len(parts) > MAX_CLOSED:
            raise RowError(f"closed lists {len(parts)} periods; at most {MAX_CLOSED}")
        for part in parts:
            span, _, reason = part.partition(" ")
            first_text, _, last_text = span.partition("..")
            found.append(
                ClosedDates(
                    _day(first_text),
                    _day(last_text or first_text),
                    _checked_text(reason, "closed reason", _MAX_TEXT["reason"]),
                )
            )
    for item in found:
        if item.last_day < item.first_day:
            raise RowError(f"closed {item.first_day}..{item.last_day} ends before it starts")
    return tuple(found)


def _moment(value: Any, tz: tzinfo) -> datetime | None:
    """An ISO date or date-time; without an offset it is the city's local time."""
    text = _plain(value, "closed_until").strip()
    if not text:
        return None
    try:
        return dates.parse_moment(text, tz)
    except dates.DateOutOfRange as exc:
        raise RowError(f"closed_until {exc}") from None
    except dates.BadDate:
        raise RowError(f"closed_until {shown_text(text)} is not a date or date-time (YYYY-MM-DD[THH:MM])") from None


def _district(props: Mapping[str, Any], lat: float, lon: float, area: ServiceArea) -> str:
    code = _text(props, "district")
    found = area.district_at(lat, lon)
    if not code:
        if found is None:
            raise RowError(f"({lat}, {lon}) is outside the service area")
        return found.code
    district = area.by_code(code)
    if district is None:
        raise RowError(f"unknown district {shown_text(code)} (known: {', '.join(d.code for d in area.districts)})")
    if not district.contains(lat, lon):
        raise RowError(f"({lat}, {lon}) is not inside district {code!r}")
    return code


def coordinate_of(value: Any, name: str) -> float:
    text = _plain(value, name).strip()
    try:
        return float(text)
    except ValueError:
        raise RowError(f"{name} must be a number, not {shown_text(text)}") from None


def _external_id(props: Mapping[str, Any]) -> str:
    external_id = _text(props, "id", required=True)
    if not EXTERNAL_ID.fullmatch(external_id):
        raise RowError(f"id {shown_text(external_id)} may use only letters, digits, '.', '_' and '-' (at most 64)")
    return external_id


def spot_record(
    where: str, props: Mapping[str, Any], lat: float, lon: float, area: ServiceArea, tz: tzinfo
) -> SpotRecord:
    """One spot from its properties; raises RowError naming the first bad value."""
    external_id = _external_id(props)
    if not valid_coordinates(lat, lon):
        raise RowError(f"({lat}, {lon}) are not valid coordinates")
    status = _text(props, "status") or STATUS_OPEN
    if status not in STATUSES:
        raise RowError(f"status {shown_text(status)} is not one of {', '.join(STATUSES)}")
    relocated_to = _text(props, "relocated_to") or None
    if relocated_to is not None and not EXTERNAL_ID.fullmatch(relocated_to):
        raise RowError(f"relocated_to {shown_text(relocated_to)} is not a spot's id")
    if (status == STATUS_RELOCATED) != (relocated_to is not None):
        raise RowError("relocated_to is required with status relocated, and only with it")
    if relocated_to == external_id:
        raise RowError("a spot cannot be relocated to itself")
    closed_until = _moment(props.get("closed_until"), tz)
    if closed_until is not None and status != STATUS_CLOSED:
        raise RowError("closed_until is only for status closed_temporarily")
    capacity, free_stalls = _optional_int(props, "capacity"), _optional_int(props, "free_stalls")
    if capacity is not None and free_stalls is not None and free_stalls > capacity:
        raise RowError(f"free_stalls ({free_stalls}) is more than capacity ({capacity})")
    return SpotRecord(
        where=where,
        external_id=external_id,
        name=_text(props, "name", required=True),
        name_en=_text(props, "name_en") or None,
        district=_district(props, lat, lon, area),
        lat=lat,
        lon=lon,
        address=_text(props, "address"),
        address_en=_text(props, "address_en") or None,
        goods=_goods(props.get("goods")),
        fee_cents=_fee_cents(props.get("fee")),
        capacity=capacity,
        free_stalls=free_stalls,
        hours=_hours(props.get("hours"), required=status != STATUS_RELOCATED),
        exceptions=_closed_dates(props.get("closed")),
        status=status,
        closed_until=closed_until,
        relocated_to=relocated_to,
        status_reason=_text(props, "status_reason") or None,
        note=_text(props, "note"),
    )


def checked_area(geometry: dict[str, Any], shape: str) -> tuple[dict[str, Any], tuple[float, float, float, float]]:
    """A zone's or grid's (``shape``) polygons as stored, with their bounding box; RowError names what is wrong."""
    try:
        polygons = rings_from_geojson(geometry)
    except (GeoDataError, RecursionError) as exc:
        raise RowError(escaped_text(str(exc), 200)) from None
    points = [point for polygon in polygons for ring in polygon for point in ring]
    if len(points) > MAX_ZONE_POSITIONS:
        raise RowError(f"the {shape} has {len(points)} positions; at most {MAX_ZONE_POSITIONS}")
    if not all(valid_coordinates(lat, lon) for lat, lon in points):
        raise RowError("the polygon has invalid coordinates")
    for number, polygon in enumerate(polygons, start=1):
        if problem := polygon_problem(polygon):
            which = f"polygon {number}" if len(polygons) > 1 else "the polygon"
            raise RowError(f"{which} is not a simple area: {problem}")
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    # Stored as read (plain [longitude, latitude] numbers), not as given: nothing else in the file rides along.
    outlines = [[[[lon, lat] for lat, lon in ring] for ring in polygon] for polygon in polygons]
    stored = (
        {"type": "Polygon", "coordinates": outlines[0]}
        if geometry["type"] == "Polygon"
        else {"type": "MultiPolygon", "coordinates": outlines}
    )
    return stored, (min(lats), max(lats), min(lons), max(lons))


def zone_record(where: str, props: Mapping[str, Any], geometry: dict[str, Any]) -> ZoneRecord:
    external_id = _external_id(props)
    kind = _text(props, "kind") or "other"
    if kind not in ZONE_KINDS:
        raise RowError(f"kind {shown_text(kind)} is not one of {', '.join(ZONE_KINDS)}")
    stored, bbox = checked_area(geometry, "zone")
    return ZoneRecord(
        where=where,
        external_id=external_id,
        name=_text(props, "name", required=True),
        name_en=_text(props, "name_en") or None,
        kind=kind,
        geometry=stored,
        bbox=bbox,
        hours=_hours(props.get("hours"), required=False),
        note=_text(props, "note"),
    )
