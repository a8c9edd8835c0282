"""Importing and exporting vending spots and no-vending zones (GeoJSON and CSV), and the sample data.

``python -m bot spots import FILE`` reads a GeoJSON FeatureCollection (Point features are spots, Polygon and
MultiPolygon features are zones) or a CSV of spots. Every row is checked and every bad row is reported with
its feature or line number; a file with any bad row changes nothing. Spots and zones are matched by their
stable ``id`` property, so importing a corrected file again updates them instead of adding copies.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.platform import dates
from bot.platform.clock import to_db
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.platform.geo import (
    SAMPLE_CITY,
    GeoDataError,
    ServiceArea,
    load_service_area,
    polygon_problem,
    rings_from_geojson,
    valid_coordinates,
)
from bot.vending.hours import ClosedDates, HoursError, Window, format_hours, parse_hours, store_hours
from bot.vending.spots import GOODS, STATUS_CLOSED, STATUS_OPEN, STATUS_RELOCATED, STATUSES, count_spots, get_spot
from bot.vending.zones import ZONE_KINDS

log = logging.getLogger(__name__)

SAMPLE_SPOTS = Path(__file__).parents[1] / "data" / "sample_spots.geojson"
SAMPLE_TIMEZONE = ZoneInfo("Asia/Shanghai")  # the sample city's
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
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
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


class ImportFailed(Exception):
    """The file cannot be imported; ``problems`` names every bad row and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(problems[:3]))
        self.problems = problems


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


@dataclass(frozen=True)
class ImportSummary:
    spots_created: int
    spots_updated: int
    zones_created: int
    zones_updated: int

    def __str__(self) -> str:
        return (
            f"spots: {self.spots_created} new, {self.spots_updated} updated; "
            f"zones: {self.zones_created} new, {self.zones_updated} updated"
        )


# ------------------------------------------------------------- values
def _kind(value: Any) -> str:
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


def _escaped(text: str, most: int) -> str:
    """Text from the file for a problem line: clipped, with control characters written as escapes."""
    clipped = text if len(text) <= most else text[:most] + "…"
    return _CONTROL.sub(lambda found: ascii(found.group())[1:-1], clipped)


def _shown(text: str, most: int = 40) -> str:
    """A value from the file quoted in a problem."""
    return repr(_escaped(text, most))


def _plain(value: Any, label: str) -> str:
    """A value that must be text or a number (not a list, an object or true/false), as text."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RowError(f"{label} must be text or a number, not {_kind(value)}")
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
        raise RowError(f"{key} must be a whole number, not {_shown(text)}")
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
        raise RowError(f"fee must be an amount in yuan a day (or 'free'), not {_shown(text)}") from None
    if not (math.isfinite(amount) and 0 <= amount < 100_000):
        raise RowError(f"fee {_shown(text)} is out of range")
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
        named = ", ".join(code if _ID.fullmatch(code) else _shown(code) for code in unknown[:5])
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
        raise RowError(_escaped(str(exc), 200)) from None


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
        raise RowError(f"closed_until {_shown(text)} is not a date or date-time (YYYY-MM-DD[THH:MM])") from None


def _district(props: Mapping[str, Any], lat: float, lon: float, area: ServiceArea) -> str:
    code = _text(props, "district")
    found = area.district_at(lat, lon)
    if not code:
        if found is None:
            raise RowError(f"({lat}, {lon}) is outside the service area")
        return found.code
    district = area.by_code(code)
    if district is None:
        raise RowError(f"unknown district {_shown(code)} (known: {', '.join(d.code for d in area.districts)})")
    if not district.contains(lat, lon):
        raise RowError(f"({lat}, {lon}) is not inside district {code!r}")
    return code


def _coordinate(value: Any, name: str) -> float:
    text = _plain(value, name).strip()
    try:
        return float(text)
    except ValueError:
        raise RowError(f"{name} must be a number, not {_shown(text)}") from None


def _external_id(props: Mapping[str, Any]) -> str:
    external_id = _text(props, "id", required=True)
    if not _ID.fullmatch(external_id):
        raise RowError(f"id {_shown(external_id)} may use only letters, digits, '.', '_' and '-' (at most 64)")
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
        raise RowError(f"status {_shown(status)} is not one of {', '.join(STATUSES)}")
    relocated_to = _text(props, "relocated_to") or None
    if relocated_to is not None and not _ID.fullmatch(relocated_to):
        raise RowError(f"relocated_to {_shown(relocated_to)} is not a spot's id")
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


def zone_record(where: str, props: Mapping[str, Any], geometry: dict[str, Any]) -> ZoneRecord:
    external_id = _external_id(props)
    kind = _text(props, "kind") or "other"
    if kind not in ZONE_KINDS:
        raise RowError(f"kind {_shown(kind)} is not one of {', '.join(ZONE_KINDS)}")
    try:
        polygons = rings_from_geojson(geometry)
    except GeoDataError as exc:
        raise RowError(_escaped(str(exc), 200)) from None
    points = [point for polygon in polygons for ring in polygon for point in ring]
    if len(points) > MAX_ZONE_POSITIONS:
        raise RowError(f"the zone has {len(points)} positions; at most {MAX_ZONE_POSITIONS}")
    if not all(valid_coordinates(lat, lon) for lat, lon in points):
        raise RowError("the polygon has invalid coordinates")
    for number, polygon in enumerate(polygons, start=1):
        if problem := polygon_problem(polygon):
            which = f"polygon {number}" if len(polygons) > 1 else "the polygon"
            raise RowError(f"{which} is not a simple area: {problem}")
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    # Stored as read (plain [longitude, latitude] numbers), not as given: nothing else in the file rides along.
    outlines = [[[[lon, lat] for lat, lon in ring] for ring in polygon] for polygon in polygons]
    return ZoneRecord(
        where=where,
        external_id=external_id,
        name=_text(props, "name", required=True),
        name_en=_text(props, "name_en") or None,
        kind=kind,
        geometry={"type": "Polygon", "coordinates": outlines[0]}
        if geometry["type"] == "Polygon"
        else {"type": "MultiPolygon", "coordinates": outlines},
        bbox=(min(lats), max(lats), min(lons), max(lons)),
        hours=_hours(props.get("hours"), required=False),
        note=_text(props, "note"),
    )


# -------------------------------------------------------------- files
def read_geojson(text: str, area: ServiceArea, tz: tzinfo) -> ImportBatch:
    try:
        data = json.loads(text)
    except RecursionError:
        raise ImportFailed(_nesting_problems(text)) from None
    except ValueError as exc:
        raise ImportFailed([f"not valid JSON: {_escaped(str(exc), 200)}"]) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportFailed(["not a GeoJSON FeatureCollection"])
    features = data.get("features") or []
    if not isinstance(features, list):
        raise ImportFailed([f"features must be a list of GeoJSON features, not {_kind(features)}"])
    batch, problems = ImportBatch(), []
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        try:
            if not isinstance(feature, dict):
                raise RowError(f"not a GeoJSON feature but {_kind(feature)}")
            props, geometry = feature.get("properties"), feature.get("geometry")
            props = {} if props is None else props
            if not isinstance(props, dict):
                raise RowError(f"properties must be an object, not {_kind(props)}")
            if not isinstance(geometry, dict):
                raise RowError(f"geometry must be an object with a type and coordinates, not {_kind(geometry)}")
            kind = geometry.get("type")
            if kind == "Point":
                coordinates = geometry.get("coordinates")
                if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
                    raise RowError(f"a Point needs [longitude, latitude], not {_kind(coordinates)}")
                lon, lat = _coordinate(coordinates[0], "longitude"), _coordinate(coordinates[1], "latitude")
                batch.spots.append(spot_record(where, props, lat, lon, area, tz))
            elif kind in ("Polygon", "MultiPolygon"):
                batch.zones.append(zone_record(where, props, geometry))
            else:
                named = _shown(kind) if isinstance(kind, str) else _kind(kind)
                raise RowError(f"geometry must be a Point (a spot) or a Polygon (a zone), not {named}")
        except RowError as exc:
            problems.append(f"{where}{_id_hint(feature)}: {exc}")
    return _checked(batch, problems)


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')


def _nesting_problems(text: str) -> list[str]:
    """The features nested too deeply for the JSON reader, found by counting brackets (which needs no recursion)."""
    depth, key, number, in_features = 0, "", 0, False
    deep: list[int] = []
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark[0] == '"':
            key = mark if depth == 1 else key  # at the top level, the last text before a "[" is its key
        elif mark in "[{":
            depth += 1
            if depth == 2 and mark == "[" and key == '"features"':
                in_features, number = True, 1
            elif in_features and depth - 2 > MAX_NESTING and (not deep or deep[-1] != number):
                deep.append(number)
        elif mark in "]}":
            in_features = in_features and depth != 2
            depth -= 1
        elif in_features and depth == 2:  # a comma between two features
            number += 1
    problems = [f"feature {n}: nested more than {MAX_NESTING} levels deep" for n in deep]
    return problems or [f"not valid JSON: nested more than {MAX_NESTING} levels deep"]


def read_csv(text: str, area: ServiceArea, tz: tzinfo) -> ImportBatch:
    reader = csv.DictReader(io.StringIO(text))
    try:
        columns = reader.fieldnames or []
    except csv.Error as exc:
        raise ImportFailed([f"line 1: {exc}"]) from None
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    missing = [c for c in ("id", "name", "lat", "lon", "hours") if c not in columns]
    if unknown or missing:
        problems = [f"line 1: unknown column {c!r}" for c in unknown]
        problems += [f"line 1: column {c!r} is missing" for c in missing]
        raise ImportFailed(problems)
    batch, problems = ImportBatch(), []
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a value longer than the csv module's limit: the rest cannot be read
            problems.append(f"line {reader.line_num}: {exc}")
            break
        where = f"line {reader.line_num}"
        try:
            if None in row:
                raise RowError("more values than columns")
            lat, lon = _coordinate(row.get("lat"), "lat"), _coordinate(row.get("lon"), "lon")
            batch.spots.append(spot_record(where, row, lat, lon, area, tz))
        except RowError as exc:
            problems.append(f"{where}{_id_hint({'properties': row})}: {exc}")
    return _checked(batch, problems)


def _id_hint(feature: Any) -> str:
    props = feature.get("properties") if isinstance(feature, dict) else None
    value = props.get("id") if isinstance(props, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int) or value in ("", 0):
        return ""
    text = str(value)
    return f" (id {text})" if _ID.fullmatch(text) else f" (id {_shown(text)})"


def _checked(batch: ImportBatch, problems: list[str]) -> ImportBatch:
    """Adds the problems only the whole file shows (repeated ids), and raises if there are any."""
    for records in (batch.spots, batch.zones):
        seen: dict[str, str] = {}
        for record in records:
            if record.external_id in seen:
                problems.append(
                    f"{record.where}: id {record.external_id} is used again (first at {seen[record.external_id]})"
                )
            seen.setdefault(record.external_id, record.where)
    if problems:
        raise ImportFailed(problems)
    if not batch.spots and not batch.zones:
        raise ImportFailed(["the file has no spots and no zones"])
    return batch


def read_file(path: Path, area: ServiceArea, tz: tzinfo) -> ImportBatch:
    """Reads and checks a GeoJSON or CSV file; raises ImportFailed listing every problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed([f"cannot read {path}: {exc}"]) from None
    if path.suffix.lower() == ".csv" or (
        path.suffix.lower() not in (".json", ".geojson") and not text.lstrip().startswith("{")
    ):
        return read_csv(text, area, tz)
    return read_geojson(text, area, tz)


# ------------------------------------------------------------ database
async def apply_batch(db: Database, batch: ImportBatch, now: datetime) -> ImportSummary:
    """Writes the checked records in one transaction: all of them, or none if any cannot be stored."""
    created = updated = zones_created = zones_updated = 0
    problems: list[str] = []
    async with db.transaction() as conn:
        ids: dict[str, int] = {}
        for record in batch.spots:
            async with conn.execute("SELECT id FROM spots WHERE external_id = ?", (record.external_id,)) as cursor:
                existing = await cursor.fetchone()
            values = (
                record.name,
                record.name_en,
                record.district,
                record.lat,
                record.lon,
                record.address,
                record.address_en,
                ",".join(record.goods),
                record.fee_cents,
                record.capacity,
                record.free_stalls,
                # a relocation needs its target's row id, set once every spot of the file is in
                STATUS_OPEN if record.status == STATUS_RELOCATED else record.status,
                to_db(record.closed_until) if record.closed_until else None,
                record.status_reason,
                record.note,
                to_db(now),
            )
            if existing is None:
                cursor = await conn.execute(
                    """INSERT INTO spots (name, name_en, district, lat, lon, address, address_en, goods, fee_cents,
                       capacity, free_stalls, status, closed_until, status_reason, note, updated_at, external_id,
                       created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (*values, record.external_id, to_db(now)),
                )
                spot_id = int(cursor.lastrowid or 0)
                created += 1
            else:
                spot_id = int(existing[0])
                await conn.execute(
                    """UPDATE spots SET name = ?, name_en = ?, district = ?, lat = ?, lon = ?, address = ?,
                       address_en = ?, goods = ?, fee_cents = ?, capacity = ?, free_stalls = ?, status = ?,
                       closed_until = ?, status_reason = ?, note = ?, updated_at = ?, relocated_to = NULL
                       WHERE id = ?""",
                    (*values, spot_id),
                )
                updated += 1
            ids[record.external_id] = spot_id
            await store_hours(conn, spot_id, record.hours)
            await conn.execute("DELETE FROM spot_exceptions WHERE spot_id = ?", (spot_id,))
            await conn.executemany(
                "INSERT INTO spot_exceptions (spot_id, first_day, last_day, reason) VALUES (?, ?, ?, ?)",
                [(spot_id, e.first_day.isoformat(), e.last_day.isoformat(), e.reason) for e in record.exceptions],
            )
        for record in batch.spots:
            if record.relocated_to is None:
                continue
            async with conn.execute(
                "SELECT id, status FROM spots WHERE external_id = ?", (record.relocated_to,)
            ) as cursor:
                target = await cursor.fetchone()
            if target is None:
                problems.append(
                    f"{record.where} (id {record.external_id}): relocated_to {record.relocated_to} is no known spot"
                )
                continue
            await conn.execute(
                "UPDATE spots SET status = ?, relocated_to = ? WHERE id = ?",
                (STATUS_RELOCATED, target[0], ids[record.external_id]),
            )
        for zone in batch.zones:
            async with conn.execute("SELECT id FROM zones WHERE external_id = ?", (zone.external_id,)) as cursor:
                existing = await cursor.fetchone()
            zone_values = (
                zone.name,
                zone.name_en,
                zone.kind,
                json.dumps(zone.geometry, ensure_ascii=False),
                *zone.bbox,
                zone.note,
                to_db(now),
            )
            if existing is None:
                cursor = await conn.execute(
                    """INSERT INTO zones (name, name_en, kind, geometry, min_lat, max_lat, min_lon, max_lon, note,
                       updated_at, external_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (*zone_values, zone.external_id, to_db(now)),
                )
                zone_id = int(cursor.lastrowid or 0)
                zones_created += 1
            else:
                zone_id = int(existing[0])
                await conn.execute(
                    """UPDATE zones SET name = ?, name_en = ?, kind = ?, geometry = ?, min_lat = ?, max_lat = ?,
                       min_lon = ?, max_lon = ?, note = ?, updated_at = ? WHERE id = ?""",
                    (*zone_values, zone_id),
                )
                zones_updated += 1
            await conn.execute("DELETE FROM zone_hours WHERE zone_id = ?", (zone_id,))
            await conn.executemany(
                "INSERT INTO zone_hours (zone_id, start_m, end_m) VALUES (?, ?, ?)",
                [(zone_id, w.start_m, w.end_m) for w in zone.hours],
            )
        async with conn.execute(
            "SELECT count(*) FROM spots a JOIN spots b ON b.id = a.relocated_to WHERE b.status = 'relocated'"
        ) as cursor:
            chained = (await cursor.fetchone() or [0])[0]
        if chained:
            problems.append("a spot is relocated to a spot that has itself moved; point it at the final spot")
        if problems:
            raise ImportFailed(problems)  # rolls the whole transaction back
    return ImportSummary(created, updated, zones_created, zones_updated)


async def import_file(db: Database, path: Path, area: ServiceArea, tz: tzinfo, now: datetime) -> ImportSummary:
    return await apply_batch(db, read_file(path, area, tz), now)


async def export_geojson(db: Database, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """Every spot and zone as a FeatureCollection that ``import`` reads back unchanged."""
    features: list[dict[str, Any]] = []
    external = {row["id"]: row["external_id"] for row in await db.fetchall("SELECT id, external_id FROM spots")}
    for row in await db.fetchall("SELECT id FROM spots ORDER BY id"):
        spot = await get_spot(db, row["id"], now, tz, all_exceptions=True)
        props: dict[str, Any] = {
            "id": spot.external_id,
            "name": spot.name,
            "name_en": spot.name_en,
            "district": spot.district,
            "address": spot.address,
            "address_en": spot.address_en,
            "goods": list(spot.goods),
            "fee": spot.fee_cents / 100,
            "capacity": spot.capacity,
            "free_stalls": spot.free_stalls,
            "hours": format_hours(spot.hours),
            "closed": [
                {"from": e.first_day.isoformat(), "to": e.last_day.isoformat(), "reason": e.reason}
                for e in spot.exceptions
            ],
            "status": spot.status,
            "closed_until": spot.closed_until.astimezone(tz).isoformat() if spot.closed_until else None,
            "relocated_to": external.get(spot.relocated_to) if spot.relocated_to else None,
            "status_reason": spot.status_reason,
            "note": spot.note,
        }
        features.append(
            {
                "type": "Feature",
                "properties": {k: v for k, v in props.items() if v not in (None, "", [])},
                "geometry": {"type": "Point", "coordinates": [spot.lon, spot.lat]},
            }
        )
    for row in await db.fetchall(
        """SELECT z.*, (SELECT group_concat(start_m || '-' || end_m) FROM zone_hours h WHERE h.zone_id = z.id) AS week
           FROM zones z ORDER BY z.id"""
    ):
        windows = [Window(*map(int, part.split("-"))) for part in (row["week"] or "").split(",") if part]
        props = {
            "id": row["external_id"],
            "name": row["name"],
            "name_en": row["name_en"],
            "kind": row["kind"],
            "hours": format_hours(sorted(windows)),
            "note": row["note"],
        }
        features.append(
            {
                "type": "Feature",
                "properties": {k: v for k, v in props.items() if v not in (None, "")},
                "geometry": json.loads(row["geometry"]),
            }
        )
    return {"type": "FeatureCollection", "features": features}


async def ensure_sample_spots(db: Database, now: datetime) -> int:
    """Loads the illustrative sample spots and zones when the database has no spot yet; returns how many."""
    if await count_spots(db):
        return 0
    batch = read_file(SAMPLE_SPOTS, load_service_area(SAMPLE_CITY), SAMPLE_TIMEZONE)
    summary = await apply_batch(db, batch, now)
    log.info("loaded the illustrative sample spots: %s", summary)
    return summary.spots_created


# ----------------------------------------------------------------- CLI
def add_arguments(commands: Any) -> None:
    """The ``spots`` sub-command of ``python -m bot``."""
    spots = commands.add_parser("spots", help="import or export vending spots and no-vending zones")
    actions = spots.add_subparsers(dest="spots_command", required=True)
    importing = actions.add_parser("import", help="import spots and zones from GeoJSON or spots from CSV")
    importing.add_argument("file", type=Path)
    exporting = actions.add_parser("export", help="export every spot and zone as GeoJSON")
    exporting.add_argument("file", type=Path)


def run(settings: Settings, args: argparse.Namespace, now: datetime | None = None) -> int:
    """Runs ``spots import|export``; 0 on success, 2 when the file is bad (every problem printed)."""
    import sys

    from bot.platform.clock import Clock

    moment = now or Clock().now()
    area = load_service_area(settings.service_area_file or SAMPLE_CITY)

    async def main() -> int:
        db = await Database.open(settings.database_path)
        try:
            if args.spots_command == "import":
                summary = await import_file(db, args.file, area, settings.timezone, moment)
                print(f"imported {args.file}: {summary}")
            else:
                data = await export_geojson(db, moment, settings.timezone)
                args.file.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
                print(f"exported {len(data['features'])} features to {args.file}")
            return 0
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except ImportFailed as exc:
        print(f"error: {args.file} was not imported; nothing was changed:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
