"""Grids (单元网格 / 责任网格): which grid a place lies in, the grid a case was filed in, and who answers for it.

A new case is tagged with the grid that contains its place, or — on a border, or just outside a drawn outline —
the nearest grid within :data:`NEAR_GRID_M`. ``AUTO_DISPATCH`` then decides what the grid's officer gets: nothing
(``off``), the first place in the dispatch list (``suggest``), or the case itself once accepted (``on``, done in
bot/cases/service.py). Grids come from ``python -m bot grids import`` (bot/cases/grid_import.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.cases.states import Report
from bot.people.staff import Role
from bot.platform.db import Reader, read_rows
from bot.platform.geo import Point, bounding_box, distance_to_polygons_m, rings_from_geojson

NEAR_GRID_M = 200.0  # a place this close to a grid, and in none, belongs to the nearest one


@dataclass(frozen=True)
class Grid:
    id: int
    external_id: str
    name: str
    district: str
    geometry: dict[str, Any]  # GeoJSON, as imported

    @property
    def polygons(self) -> list[list[list[Point]]]:
        """(latitude, longitude) rings of each polygon: the outline first, then its holes."""
        return rings_from_geojson(self.geometry)


def _grid_of(row: Any) -> Grid:
    return Grid(row["id"], row["external_id"], row["name"], row["district"], json.loads(row["geometry"]))


async def grid_at(source: Reader, lat: float, lon: float) -> Grid | None:
    """The grid containing the place (the first imported, should two overlap), else the nearest within 200 m."""
    south, north, west, east = bounding_box(lat, lon, NEAR_GRID_M)
    rows = await read_rows(
        source,
        """SELECT id, external_id, name, district, geometry FROM grids
           WHERE min_lat <= ? AND max_lat >= ? AND min_lon <= ? AND max_lon >= ? ORDER BY id""",
        (north, south, east, west),
    )
    nearest: tuple[float, Grid] | None = None
    for row in rows:
        grid = _grid_of(row)
        distance = distance_to_polygons_m(lat, lon, grid.polygons)
        if distance <= NEAR_GRID_M and (nearest is None or distance < nearest[0]):
            nearest = (distance, grid)
    return nearest[1] if nearest else None


async def tag_case(conn: aiosqlite.Connection, report: Report) -> Grid | None:
    """Stores the grid of a new case's place (none for a typed address: it has no coordinates to place)."""
    if report.lat is None or report.lon is None:
        return None
    grid = await grid_at(conn, report.lat, report.lon)
    if grid is not None:
        await conn.execute("UPDATE reports SET grid = ? WHERE id = ?", (grid.external_id, report.id))
    return grid


async def grid_of_case(source: Reader, report_id: int) -> Grid | None:
    rows = await read_rows(
        source,
        """SELECT g.id, g.external_id, g.name, g.district, g.geometry FROM reports r
           JOIN grids g ON g.external_id = r.grid WHERE r.id = ?""",
        (report_id,),
    )
    return _grid_of(rows[0]) if rows else None


async def grid_name_of_case(source: Reader, report_id: int) -> str | None:
    """The name of the case's grid, for its card."""
    rows = await read_rows(
        source, "SELECT g.name FROM reports r JOIN grids g ON g.external_id = r.grid WHERE r.id = ?", (report_id,)
    )
    return str(rows[0]["name"]) if rows else None


async def grid_officers(source: Reader, report_id: int) -> list[int]:
    """The field officers of the case's grid, in the file's order; people no longer field officers are left out
    (the role is read now, as for every staff action)."""
    rows = await read_rows(
        source,
        """SELECT o.telegram_id FROM reports r JOIN grids g ON g.external_id = r.grid
           JOIN grid_officers o ON o.grid_id = g.id JOIN users u ON u.telegram_id = o.telegram_id
           WHERE r.id = ? AND u.role = ? ORDER BY o.position""",
        (report_id, Role.OFFICER.value),
    )
    return [int(row["telegram_id"]) for row in rows]


async def all_grids(source: Reader) -> list[tuple[Grid, list[str]]]:
    """Every grid with its officers as a file names them (@username when known, else the Telegram id)."""
    rows = await read_rows(source, "SELECT id, external_id, name, district, geometry FROM grids ORDER BY id")
    officer_rows = await read_rows(
        source,
        """SELECT o.grid_id, o.telegram_id, u.username FROM grid_officers o
           LEFT JOIN users u ON u.telegram_id = o.telegram_id ORDER BY o.grid_id, o.position""",
    )
    officers: dict[int, list[str]] = {}
    for row in officer_rows:
        named = f"@{row['username']}" if row["username"] else str(row["telegram_id"])
        officers.setdefault(int(row["grid_id"]), []).append(named)
    return [(_grid_of(row), officers.get(int(row["id"]), [])) for row in rows]


async def grids_of_district(source: Reader, district: str) -> list[Grid]:
    rows = await read_rows(
        source,
        "SELECT id, external_id, name, district, geometry FROM grids WHERE district = ? ORDER BY name, id",
        (district,),
    )
    return [_grid_of(row) for row in rows]
