"""Which grid a place lies in: inside an outline (Polygon or MultiPolygon, holes left out), on a border, or the
nearest grid within 200 m; and the grid stored on a case as it is filed."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cases import config, grids, service
from bot.cases.drafts import Draft
from bot.platform.db import Database
from bot.platform.geo import distance_to_polygons_m, haversine_m, rings_from_geojson
from bot.platform.worktime import WorkCalendar
from tests.support.grid_steps import AREA, DONGKOU, NOW, add_officer, east_of, load_grids, two_grids

CITY = ZoneInfo("Asia/Shanghai")
HOME = (30.48, 114.15)  # inside 沌口网格
DONGKOU_EAST_EDGE = (30.48, 114.16)
HOLE_MIDDLE = (30.4735, 114.1435)  # 240 m from the hole's edges, which are 沌口网格's border there


@pytest.fixture
async def with_grids(db: Database, tmp_path: Path) -> Database:
    await add_officer(db, 7001, "Li", "li_grid")
    await load_grids(db, tmp_path, *two_grids())
    return db


@pytest.mark.parametrize(
    ("description", "place", "expected"),
    [
        ("inside the outline", HOME, "edz-01"),
        ("exactly on the border", DONGKOU_EAST_EDGE, "edz-01"),
        ("100 m outside, nearer than 200 m", east_of(DONGKOU_EAST_EDGE, 100), "edz-01"),
        ("190 m outside", east_of(DONGKOU_EAST_EDGE, 190), "edz-01"),
        ("480 m from either grid", east_of(DONGKOU_EAST_EDGE, 480), None),
        ("between them, nearer the other one", east_of(DONGKOU_EAST_EDGE, 820), "edz-02"),
        ("in the second polygon of a MultiPolygon", (30.505, 114.205), "edz-02"),
        ("in the middle of a hole, 240 m from its edges", HOLE_MIDDLE, None),
        ("in a hole, 50 m from its edge", (30.4735, 114.146 - 0.00052), "edz-01"),
        ("far away, in another district", (29.35, 105.9), None),
    ],
)
async def test_the_grid_of_a_place(
    with_grids: Database, description: str, place: tuple[float, float], expected: str | None
) -> None:
    found = await grids.grid_at(with_grids, *place)
    assert (found.external_id if found else None) == expected, description


def test_distance_to_a_border_agrees_with_haversine() -> None:
    polygons = rings_from_geojson(DONGKOU)
    for metres in (10, 100, 200, 500):
        place = east_of(DONGKOU_EAST_EDGE, metres)
        flat = distance_to_polygons_m(*place, polygons)
        assert flat == pytest.approx(haversine_m(*DONGKOU_EAST_EDGE, *place), rel=0.005)
    assert distance_to_polygons_m(*HOME, polygons) == 0.0
    assert distance_to_polygons_m(*HOLE_MIDDLE, polygons) == pytest.approx(240, rel=0.02)


async def test_a_case_is_tagged_with_its_grid_as_it_is_filed(with_grids: Database) -> None:
    policy = config.ReportPolicy(WorkCalendar(CITY), area=AREA)
    place = {"category": "garbage", "district": "wuhan-edz", "description": "Garbage by the bus stop"}
    inside = await service.submit(with_grids, 5001, Draft(lat=HOME[0], lon=HOME[1], **place), NOW, policy)
    near = east_of(DONGKOU_EAST_EDGE, 150)
    border = await service.submit(with_grids, 5002, Draft(lat=near[0], lon=near[1], **place), NOW, policy)
    typed = await service.submit(with_grids, 5003, Draft(address_text="沌口路 1 号", **place), NOW, policy)
    far = east_of(DONGKOU_EAST_EDGE, 480)
    outside = await service.submit(with_grids, 5004, Draft(lat=far[0], lon=far[1], **place), NOW, policy)
    rows = await with_grids.fetchall("SELECT id, grid FROM reports ORDER BY id")
    assert {row["id"]: row["grid"] for row in rows} == {
        inside.id: "edz-01",
        border.id: "edz-01",
        typed.id: None,  # no coordinates: only its district is known
        outside.id: None,
    }
    assert await grids.grid_name_of_case(with_grids, inside.id) == "沌口网格"
    assert await grids.grid_officers(with_grids, inside.id) == [7001]
