"""Importing vending spots and no-vending zones (GeoJSON and CSV), the sample data, and the ``spots`` command.

``python -m bot spots import FILE`` reads a GeoJSON FeatureCollection (Point features are spots, Polygon and
MultiPolygon features are zones) or a CSV of spots. Every row is checked and every bad row is reported with
its feature or line number; a file with any bad row changes nothing. Spots and zones are matched by their
stable ``id`` property, so importing a corrected file again updates them instead of adding copies.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.platform.clock import to_db
from bot.platform.config import Settings
from bot.platform.db import Database, returned_id, take_turns
from bot.platform.geo import (
    SAMPLE_CITY,
    ServiceArea,
    load_service_area,
)
from bot.platform.geojson_command import ImportFailed, add_import_export, run_import_export
from bot.vending.hours import store_hours
from bot.vending.spot_export import export_geojson
from bot.vending.spot_features import (
    CSV_COLUMNS,
    EXTERNAL_ID,
    MAX_NESTING,
    ImportBatch,
    RowError,
    coordinate_of,
    escaped_text,
    json_kind,
    shown_text,
    spot_record,
    zone_record,
)
from bot.vending.spots import STATUS_OPEN, STATUS_RELOCATED, count_spots

log = logging.getLogger(__name__)

SAMPLE_SPOTS = Path(__file__).parents[1] / "data" / "sample_spots.geojson"
SAMPLE_TIMEZONE = ZoneInfo("Asia/Shanghai")  # the sample city's
IMPORT_LOCK = 7_216_010  # PostgreSQL advisory lock key: one spot import at a time across instances


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


def read_geojson(text: str, area: ServiceArea, tz: tzinfo) -> ImportBatch:
    try:
        data = json.loads(text)
    except RecursionError:
        raise ImportFailed(_nesting_problems(text)) from None
    except ValueError as exc:
        raise ImportFailed([f"not valid JSON: {escaped_text(str(exc), 200)}"]) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportFailed(["not a GeoJSON FeatureCollection"])
    features = data.get("features") or []
    if not isinstance(features, list):
        raise ImportFailed([f"features must be a list of GeoJSON features, not {json_kind(features)}"])
    batch, problems = ImportBatch(), []
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        try:
            if not isinstance(feature, dict):
                raise RowError(f"not a GeoJSON feature but {json_kind(feature)}")
            props, geometry = feature.get("properties"), feature.get("geometry")
            props = {} if props is None else props
            if not isinstance(props, dict):
                raise RowError(f"properties must be an object, not {json_kind(props)}")
            if not isinstance(geometry, dict):
                raise RowError(f"geometry must be an object with a type and coordinates, not {json_kind(geometry)}")
            kind = geometry.get("type")
            if kind == "Point":
                coordinates = geometry.get("coordinates")
                if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
                    raise RowError(f"a Point needs [longitude, latitude], not {json_kind(coordinates)}")
                lon, lat = coordinate_of(coordinates[0], "longitude"), coordinate_of(coordinates[1], "latitude")
                batch.spots.append(spot_record(where, props, lat, lon, area, tz))
            elif kind in ("Polygon", "MultiPolygon"):
                batch.zones.append(zone_record(where, props, geometry))
            else:
                named = shown_text(kind) if isinstance(kind, str) else json_kind(kind)
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
            lat, lon = coordinate_of(row.get("lat"), "lat"), coordinate_of(row.get("lon"), "lon")
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
    return f" (id {text})" if EXTERNAL_ID.fullmatch(text) else f" (id {shown_text(text)})"


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


async def apply_batch(db: Database, batch: ImportBatch, now: datetime) -> ImportSummary:
    """Writes the checked records in one transaction: all of them, or none if any cannot be stored."""
    created = updated = zones_created = zones_updated = 0
    problems: list[str] = []
    async with db.transaction() as conn:
        await take_turns(conn, IMPORT_LOCK)  # two instances starting at once both load the sample spots
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
                       created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                    (*values, record.external_id, to_db(now)),
                )
                spot_id = await returned_id(cursor) or 0
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
                       updated_at, external_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                    (*zone_values, zone.external_id, to_db(now)),
                )
                zone_id = await returned_id(cursor) or 0
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


async def ensure_sample_spots(db: Database, now: datetime) -> int:
    """Loads the illustrative sample spots and zones when the database has no spot yet; returns how many."""
    if await count_spots(db):
        return 0
    batch = read_file(SAMPLE_SPOTS, load_service_area(SAMPLE_CITY), SAMPLE_TIMEZONE)
    summary = await apply_batch(db, batch, now)
    log.info("loaded the illustrative sample spots: %s", summary)
    return summary.spots_created


def add_arguments(commands: Any) -> None:
    """The ``spots`` sub-command of ``python -m bot``."""
    add_import_export(
        commands,
        "spots",
        about="import or export vending spots and no-vending zones",
        import_help="import spots and zones from GeoJSON or spots from CSV",
        export_help="export every spot and zone as GeoJSON",
    )


def run(settings: Settings, args: argparse.Namespace, now: datetime | None = None) -> int:
    """Runs ``spots import|export``; 0 on success, 2 when the file is bad (every problem printed)."""
    from bot.platform.clock import Clock

    moment = now or Clock().now()
    area = load_service_area(settings.service_area_file or SAMPLE_CITY)
    return run_import_export(
        settings.database_target,
        args,
        import_file=lambda db, path: import_file(db, path, area, settings.timezone, moment),
        export_all=lambda db: export_geojson(db, moment, settings.timezone),
        exported="features",
    )
