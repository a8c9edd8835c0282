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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import dates
from bot.clock import to_db
from bot.config import Settings
from bot.db import Database
from bot.geo import SAMPLE_CITY, GeoDataError, ServiceArea, load_service_area, rings_from_geojson, valid_coordinates
from bot.spots import (
    GOODS,
    STATUS_CLOSED,
    STATUS_OPEN,
    STATUS_RELOCATED,
    STATUSES,
    ZONE_KINDS,
    ClosedDates,
    HoursError,
    Window,
    count_spots,
    format_hours,
    get_spot,
    parse_hours,
    store_hours,
)

log = logging.getLogger(__name__)

SAMPLE_SPOTS = Path(__file__).with_name("data") / "sample_spots.geojson"
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
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_TEXT = {"name": 100, "name_en": 100, "address": 200, "address_en": 200, "status_reason": 300, "note": 500}


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
def _text(props: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = props.get(key)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise RowError(f"{key} is missing")
    if len(text) > _MAX_TEXT.get(key, 200):
        raise RowError(f"{key} is longer than {_MAX_TEXT.get(key, 200)} characters")
    return text


def _optional_int(props: Mapping[str, Any], key: str) -> int | None:
    value = props.get(key)
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise RowError(f"{key} must be a whole number, not {value!r}") from None
    if number < 0:
        raise RowError(f"{key} cannot be negative")
    return number


def _fee_cents(value: Any) -> int:
    if value is None or str(value).strip().lower() in ("", "free", "0"):
        return 0
    try:
        amount = float(str(value).strip())
    except ValueError:
        raise RowError(f"fee must be an amount in yuan a day (or 'free'), not {value!r}") from None
    if not 0 <= amount < 100_000:
        raise RowError(f"fee {value!r} is out of range")
    return round(amount * 100)


def _goods(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else re.split(r"[;|,]", str(value))
    codes = tuple(str(item).strip() for item in items if str(item).strip())
    unknown = [code for code in codes if code not in GOODS]
    if unknown:
        raise RowError(f"unknown goods {', '.join(unknown)} (known: {', '.join(GOODS)})")
    return codes


def _hours(value: Any, *, required: bool) -> tuple[Window, ...]:
    text = "" if value is None else str(value)
    if not text.strip():
        if required:
            raise RowError("hours are missing (e.g. 'Mo-Su 22:00-04:00')")
        return ()
    try:
        return parse_hours(text)
    except HoursError as exc:
        raise RowError(f"hours: {exc}") from None


def _day(text: str) -> date:
    try:
        return dates.parse_day(text)
    except dates.BadDate as exc:  # not a date, or one outside the range every date is kept in
        raise RowError(str(exc)) from None


def _closed_dates(value: Any) -> tuple[ClosedDates, ...]:
    """``[{"from": …, "to": …, "reason": …}]`` in GeoJSON; ``2027-02-05..2027-02-12 reason; …`` in CSV."""
    if value is None or value == "" or value == []:
        return ()
    found = []
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or "from" not in item:
                raise RowError("closed must be a list of {from, to, reason}")
            first = _day(str(item["from"]))
            last = _day(str(item.get("to") or item["from"]))
            found.append(ClosedDates(first, last, str(item.get("reason") or "").strip()))
    else:
        for part in str(value).split(";"):
            if not part.strip():
                continue
            span, _, reason = part.strip().partition(" ")
            first_text, _, last_text = span.partition("..")
            found.append(ClosedDates(_day(first_text), _day(last_text or first_text), reason.strip()))
    for item in found:
        if item.last_day < item.first_day:
            raise RowError(f"closed {item.first_day}..{item.last_day} ends before it starts")
    return tuple(found)


def _moment(value: Any, tz: tzinfo) -> datetime | None:
    """An ISO date or date-time; without an offset it is the city's local time."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    try:
        return dates.parse_moment(text, tz)
    except dates.DateOutOfRange as exc:
        raise RowError(f"closed_until {exc}") from None
    except dates.BadDate:
        raise RowError(f"closed_until {text!r} is not a date or date-time (YYYY-MM-DD[THH:MM])") from None


def _district(props: Mapping[str, Any], lat: float, lon: float, area: ServiceArea) -> str:
    code = _text(props, "district")
    found = area.district_at(lat, lon)
    if not code:
        if found is None:
            raise RowError(f"({lat}, {lon}) is outside the service area")
        return found.code
    district = area.by_code(code)
    if district is None:
        raise RowError(f"unknown district {code!r} (known: {', '.join(d.code for d in area.districts)})")
    if not district.contains(lat, lon):
        raise RowError(f"({lat}, {lon}) is not inside district {code!r}")
    return code


def _coordinate(value: Any, name: str) -> float:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        raise RowError(f"{name} must be a number, not {value!r}") from None


def spot_record(
    where: str, props: Mapping[str, Any], lat: float, lon: float, area: ServiceArea, tz: tzinfo
) -> SpotRecord:
    """One spot from its properties; raises RowError naming the first bad value."""
    external_id = _text(props, "id", required=True)
    if not _ID.match(external_id):
        raise RowError(f"id {external_id!r} may use only letters, digits, '.', '_' and '-' (at most 64)")
    if not valid_coordinates(lat, lon):
        raise RowError(f"({lat}, {lon}) are not valid coordinates")
    status = _text(props, "status") or STATUS_OPEN
    if status not in STATUSES:
        raise RowError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    relocated_to = _text(props, "relocated_to") or None
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
    external_id = _text(props, "id", required=True)
    if not _ID.match(external_id):
        raise RowError(f"id {external_id!r} may use only letters, digits, '.', '_' and '-' (at most 64)")
    kind = _text(props, "kind") or "other"
    if kind not in ZONE_KINDS:
        raise RowError(f"kind {kind!r} is not one of {', '.join(ZONE_KINDS)}")
    try:
        polygons = rings_from_geojson(geometry)
    except GeoDataError as exc:
        raise RowError(str(exc)) from None
    points = [point for polygon in polygons for ring in polygon for point in ring]
    if not all(valid_coordinates(lat, lon) for lat, lon in points):
        raise RowError("the polygon has invalid coordinates")
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    return ZoneRecord(
        where=where,
        external_id=external_id,
        name=_text(props, "name", required=True),
        name_en=_text(props, "name_en") or None,
        kind=kind,
        geometry={"type": geometry["type"], "coordinates": geometry["coordinates"]},
        bbox=(min(lats), max(lats), min(lons), max(lons)),
        hours=_hours(props.get("hours"), required=False),
        note=_text(props, "note"),
    )


# -------------------------------------------------------------- files
def read_geojson(text: str, area: ServiceArea, tz: tzinfo) -> ImportBatch:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImportFailed([f"not valid JSON: {exc}"]) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportFailed(["not a GeoJSON FeatureCollection"])
    batch, problems = ImportBatch(), []
    for number, feature in enumerate(data.get("features") or [], start=1):
        where = f"feature {number}"
        try:
            if not isinstance(feature, dict):
                raise RowError("not a GeoJSON feature")
            props = feature.get("properties") or {}
            geometry = feature.get("geometry") or {}
            kind = geometry.get("type")
            if kind == "Point":
                coordinates = geometry.get("coordinates") or []
                if len(coordinates) < 2:
                    raise RowError("a Point needs [longitude, latitude]")
                lon, lat = _coordinate(coordinates[0], "longitude"), _coordinate(coordinates[1], "latitude")
                batch.spots.append(spot_record(where, props, lat, lon, area, tz))
            elif kind in ("Polygon", "MultiPolygon"):
                batch.zones.append(zone_record(where, props, geometry))
            else:
                raise RowError(f"geometry must be a Point (a spot) or a Polygon (a zone), not {kind}")
        except RowError as exc:
            problems.append(f"{where}{_id_hint(feature)}: {exc}")
    return _checked(batch, problems)


def read_csv(text: str, area: ServiceArea, tz: tzinfo) -> ImportBatch:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    missing = [c for c in ("id", "name", "lat", "lon", "hours") if c not in columns]
    if unknown or missing:
        problems = [f"line 1: unknown column {c!r}" for c in unknown]
        problems += [f"line 1: column {c!r} is missing" for c in missing]
        raise ImportFailed(problems)
    batch, problems = ImportBatch(), []
    for row in reader:
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
    return f" (id {value})" if value else ""


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

    from bot.clock import Clock

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
