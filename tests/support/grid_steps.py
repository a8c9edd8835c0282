"""Grids for the tests: two grids of the sample city's Wuhan Economic Development Zone, and ways to load them.

沌口网格 (edz-01) is a square around the staff tests' HOME with a hole in its south-west corner; 车城网格 (edz-02)
is a MultiPolygon of two squares east of it, about 960 m away.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cases import grid_import
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.geo import EARTH_RADIUS_M, SAMPLE_CITY, load_service_area

AREA = load_service_area(SAMPLE_CITY)
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


def square(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


HOLE = square(114.141, 30.471, 114.146, 30.476)  # about 480 m by 555 m: its middle is 240 m from every edge
DONGKOU = {"type": "Polygon", "coordinates": [square(114.14, 30.47, 114.16, 30.49), HOLE]}
CHECHENG = {
    "type": "MultiPolygon",
    "coordinates": [[square(114.17, 30.47, 114.19, 30.49)], [square(114.20, 30.50, 114.21, 30.51)]],
}


def east_of(point: tuple[float, float], meters: float) -> tuple[float, float]:
    lat, lon = point
    return lat, lon + math.degrees(meters / (EARTH_RADIUS_M * math.cos(math.radians(lat))))


def grid_feature(
    grid_id: str = "edz-01",
    name: str = "沌口网格",
    officers: Any = ("@li_grid",),
    geometry: Any = None,
    **props: Any,
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {
            "id": grid_id,
            "name": name,
            "district": "wuhan-edz",
            "officers": list(officers) if isinstance(officers, tuple) else officers,
            **props,
        },
        "geometry": DONGKOU if geometry is None else geometry,
    }


def two_grids(dongkou_officers: Any = ("@li_grid",), checheng_officers: Any = ("@li_grid",)) -> list[dict[str, Any]]:
    return [
        grid_feature(officers=dongkou_officers),
        grid_feature("edz-02", "车城网格", checheng_officers, CHECHENG),
    ]


def write_grids(path: Path, *features: Any) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False), "utf-8")
    return path


async def add_officer(db: Database, telegram_id: int, name: str, username: str | None, role: str = "officer") -> None:
    """A staff member as the table holds them once they joined and wrote to the bot."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO users (telegram_id, first_name, role, username, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (telegram_id, name, role, username, to_db(NOW), to_db(NOW)),
        )


async def load_grids(db: Database, tmp_path: Path, *features: Any) -> grid_import.GridSummary:
    """Imports the features as ``python -m bot grids import`` would."""
    path = write_grids(tmp_path / "grids.geojson", *features)
    return await grid_import.import_grids(db, path, AREA, NOW)
