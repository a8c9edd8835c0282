"""Importing and exporting grids (``python -m bot grids import|export FILE.geojson``).

The same rules as the spots file: every bad feature is listed with its number and why, a file with any bad
feature changes nothing, and grids are matched by their stable ``id`` so importing a corrected file again
updates them. A feature is a Polygon or MultiPolygon with ``id``, ``name``, ``district`` and ``officers``:
the responsible field officers, each by Telegram id or by the @username they last wrote to the bot with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.cases import grids
from bot.people.staff import ROLE_NAMES, Role
from bot.platform.clock import to_db
from bot.platform.config import Settings
from bot.platform.db import Database, read_rows, returned_id
from bot.platform.geo import (
    SAMPLE_CITY,
    ServiceArea,
    load_service_area,
)
from bot.platform.geojson_command import ImportFailed, add_import_export, run_import_export
from bot.vending.spot_features import (
    EXTERNAL_ID,
    RowError,
    checked_area,
    escaped_text,
    json_kind,
    shown_text,
)
from bot.vending.spot_import import _nesting_problems as nesting_problems  # the spots file's rule, shared

SAMPLE_GRIDS = Path(__file__).parents[1] / "data" / "sample_grids.geojson"
NAME_MAX = 100
MAX_OFFICERS = 20
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_USERNAME = re.compile(r"@([A-Za-z0-9_]{3,32})")
_TELEGRAM_ID = re.compile(r"[1-9][0-9]{0,15}")


@dataclass(frozen=True)
class GridRecord:
    number: int  # the feature's number in the file, from 1
    external_id: str
    name: str
    district: str
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]  # min_lat, max_lat, min_lon, max_lon
    officers: tuple[int | str, ...]  # Telegram ids, or usernames without the @

    @property
    def where(self) -> str:
        return f"feature {self.number} (id {self.external_id})"


@dataclass(frozen=True)
class GridSummary:
    created: int
    updated: int

    def __str__(self) -> str:
        return f"grids: {self.created} new, {self.updated} updated"


# ------------------------------------------------------------------ checking the file
def _text(props: dict[str, Any], key: str, most: int) -> str:
    value = props.get(key)
    if value is None:
        raise RowError(f"{key} is missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RowError(f"{key} must be text, not {json_kind(value)}")
    text = str(value).strip()
    if not text:
        raise RowError(f"{key} is missing")
    if len(text) > most:
        raise RowError(f"{key} is longer than {most} characters ({len(text)})")
    if bad := _CONTROL.search(text):
        raise RowError(f"{key} contains the control character {bad.group()!a} at position {bad.start() + 1}")
    return text


def _officers(value: Any) -> tuple[int | str, ...]:
    """``[123456, "@wang_li"]``, or one id or name, or several in one text separated by commas."""
    if value is None or value == "":
        raise RowError("officers is missing: name at least one field officer (Telegram id or @username)")
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [part for part in re.split(r"[,;\s]+", value) if part]
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    else:
        raise RowError(f"officers must be a list of Telegram ids or @usernames, not {json_kind(value)}")
    if not items:
        raise RowError("officers is empty: name at least one field officer (Telegram id or @username)")
    if len(items) > MAX_OFFICERS:
        raise RowError(f"officers lists {len(items)} people; at most {MAX_OFFICERS}")
    found: list[int | str] = []
    for item in items:
        text = str(item).strip() if isinstance(item, str | int) and not isinstance(item, bool) else None
        if text is not None and _TELEGRAM_ID.fullmatch(text):
            found.append(int(text))
        elif text is not None and (named := _USERNAME.fullmatch(text)):
            found.append(named.group(1))
        else:
            shown = shown_text(text) if text is not None else json_kind(item)
            raise RowError(f"officer {shown} is neither a Telegram id nor an @username")
    return tuple(dict.fromkeys(found))


def grid_record(number: int, feature: Any, area: ServiceArea) -> GridRecord:
    """One grid from its feature; raises RowError naming the first bad value."""
    if not isinstance(feature, dict):
        raise RowError(f"not a GeoJSON feature but {json_kind(feature)}")
    props, geometry = feature.get("properties"), feature.get("geometry")
    if not isinstance(props, dict):
        raise RowError(f"properties must be an object with id, name, district and officers, not {json_kind(props)}")
    external_id = _text(props, "id", 64)
    if not EXTERNAL_ID.fullmatch(external_id):
        raise RowError(f"id {shown_text(external_id)} may use only letters, digits, '.', '_' and '-' (at most 64)")
    name = _text(props, "name", NAME_MAX)
    district = _text(props, "district", 64)
    if area.by_code(district) is None:
        raise RowError(f"unknown district {shown_text(district)} (known: {', '.join(d.code for d in area.districts)})")
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        named = shown_text(kind) if isinstance(kind, str) else json_kind(geometry)
        raise RowError(f"geometry must be a Polygon or MultiPolygon, not {named}")
    stored, bbox = checked_area(geometry, "grid")
    officers = _officers(props.get("officers"))
    return GridRecord(
        number=number,
        external_id=external_id,
        name=name,
        district=district,
        geometry=stored,
        bbox=bbox,
        officers=officers,
    )


def read_grids(text: str, area: ServiceArea) -> tuple[list[GridRecord], list[tuple[int, str]]]:
    """The file's grids and its problems as (feature number, problem); raises ImportFailed if it is no file of
    features at all."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ImportFailed(nesting_problems(text)) from None
    except ValueError as exc:
        raise ImportFailed([f"not valid JSON: {escaped_text(str(exc), 200)}"]) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportFailed(["not a GeoJSON FeatureCollection"])
    features = data.get("features")
    if not isinstance(features, list):
        raise ImportFailed([f"features must be a list of GeoJSON features, not {json_kind(features)}"])
    if not features:
        raise ImportFailed(["the file has no grids"])
    records: list[GridRecord] = []
    problems: list[tuple[int, str]] = []
    first_at: dict[str, int] = {}
    for number, feature in enumerate(features, start=1):
        try:
            record = grid_record(number, feature, area)
        except RowError as exc:
            problems.append((number, f"feature {number}{_id_hint(feature)}: {exc}"))
            continue
        if record.external_id in first_at:
            problems.append(
                (number, f"{record.where}: the id is used again (first at feature {first_at[record.external_id]})")
            )
            continue
        first_at[record.external_id] = number
        records.append(record)
    return records, problems


def _id_hint(feature: Any) -> str:
    props = feature.get("properties") if isinstance(feature, dict) else None
    value = props.get("id") if isinstance(props, dict) else None
    if isinstance(value, str) and EXTERNAL_ID.fullmatch(value):
        return f" (id {value})"
    return ""


# ------------------------------------------------------------------ writing
async def _officer_ids(conn: aiosqlite.Connection, record: GridRecord) -> tuple[list[int], list[str]]:
    """The record's officers as Telegram ids, and what is wrong with any that is not a field officer now."""
    ids: list[int] = []
    problems: list[str] = []
    for officer in record.officers:
        if isinstance(officer, int):
            rows = await read_rows(conn, "SELECT telegram_id, role FROM users WHERE telegram_id = ?", (officer,))
            named = str(officer)
        else:
            rows = await read_rows(
                conn, "SELECT telegram_id, role FROM users WHERE lower(username) = lower(?)", (officer,)
            )
            named = f"@{officer}"
        if not rows or rows[0]["role"] not in {role.value for role in Role}:
            problems.append(f"{record.where}: officer {named} is not a registered staff member")
        elif rows[0]["role"] != Role.OFFICER.value:
            role = ROLE_NAMES[Role(rows[0]["role"])]
            problems.append(f"{record.where}: officer {named} is a {role}, not a field officer")
        else:
            ids.append(int(rows[0]["telegram_id"]))
    return list(dict.fromkeys(ids)), problems


async def apply_grids(
    db: Database, records: list[GridRecord], problems: list[tuple[int, str]], now: datetime
) -> GridSummary:
    """Writes the grids in one transaction, or nothing when any feature (or any officer named) is wrong."""
    created = updated = 0
    problems = list(problems)
    async with db.transaction() as conn:
        for record in records:
            officer_ids, officer_problems = await _officer_ids(conn, record)
            problems += [(record.number, problem) for problem in officer_problems]
            if problems:
                continue  # nothing will be kept: only look for more problems
            values = (record.name, record.district, json.dumps(record.geometry), *record.bbox, to_db(now))
            rows = await read_rows(conn, "SELECT id FROM grids WHERE external_id = ?", (record.external_id,))
            if rows:
                grid_id = int(rows[0]["id"])
                await conn.execute(
                    """UPDATE grids SET name = ?, district = ?, geometry = ?, min_lat = ?, max_lat = ?, min_lon = ?,
                       max_lon = ?, updated_at = ? WHERE id = ?""",
                    (*values, grid_id),
                )
                updated += 1
            else:
                cursor = await conn.execute(
                    """INSERT INTO grids (name, district, geometry, min_lat, max_lat, min_lon, max_lon, updated_at,
                       external_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                    (*values, record.external_id, to_db(now)),
                )
                grid_id = await returned_id(cursor) or 0
                created += 1
            await conn.execute("DELETE FROM grid_officers WHERE grid_id = ?", (grid_id,))
            await conn.executemany(
                "INSERT INTO grid_officers (grid_id, telegram_id, position) VALUES (?, ?, ?)",
                [(grid_id, officer, position) for position, officer in enumerate(officer_ids)],
            )
        if problems:
            raise ImportFailed([problem for _, problem in sorted(problems, key=lambda found: found[0])])
    return GridSummary(created, updated)


async def import_grids(db: Database, path: Path, area: ServiceArea, now: datetime) -> GridSummary:
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed([f"cannot read {path}: {exc}"]) from None
    records, problems = read_grids(text, area)
    return await apply_grids(db, records, problems, now)


async def load_sample_grids(db: Database, area: ServiceArea, officer_id: int, now: datetime) -> GridSummary:
    """The illustrative grids of the sample city, every one answered for by ``officer_id`` (the playground's)."""
    data = json.loads(await asyncio.to_thread(SAMPLE_GRIDS.read_text, encoding="utf-8"))
    for feature in data["features"]:
        feature["properties"]["officers"] = [officer_id]
    records, problems = read_grids(json.dumps(data), area)
    return await apply_grids(db, records, problems, now)


async def export_grids(db: Database) -> dict[str, Any]:
    """Every grid as a FeatureCollection that imports back unchanged."""
    features = [
        {
            "type": "Feature",
            "properties": {"id": grid.external_id, "name": grid.name, "district": grid.district, "officers": officers},
            "geometry": grid.geometry,
        }
        for grid, officers in await grids.all_grids(db)
    ]
    return {"type": "FeatureCollection", "features": features}


# ------------------------------------------------------------------ the command
def add_arguments(commands: Any) -> None:
    """The ``grids`` sub-command of ``python -m bot``."""
    add_import_export(
        commands,
        "grids",
        about="import or export the grids (单元网格) cases are routed by",
        import_help="import grids from GeoJSON (Polygon / MultiPolygon features)",
        export_help="export every grid as GeoJSON",
    )


def run(settings: Settings, args: argparse.Namespace, now: datetime | None = None) -> int:
    """Runs ``grids import|export``; 0 on success, 2 when the file is bad (every problem printed)."""
    from bot.platform.clock import Clock

    moment = now or Clock().now()
    area = load_service_area(settings.service_area_file or SAMPLE_CITY)
    return run_import_export(
        settings.database_target,
        args,
        import_file=lambda db, path: import_grids(db, path, area, moment),
        export_all=export_grids,
        exported="grids",
    )
