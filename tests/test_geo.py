"""Distances and places: haversine against the WGS84 geodesic, boxes that really enclose their circle,
walking time, point in polygon (with holes), and the sample city's districts."""

from __future__ import annotations

import math
import random

import pytest

from bot.platform.geo import (
    SAMPLE_CITY,
    GeoDataError,
    bounding_box,
    haversine_m,
    load_service_area,
    point_in_polygon,
    polygon_problem,
    rings_from_geojson,
    valid_coordinates,
    walking_minutes,
)


# Reference distances from GeographicLib (Karney), WGS84, computed once and written down.
@pytest.mark.parametrize(
    ("points", "geodesic_m"),
    [
        ((30.5, 114.16, 30.51, 114.16), 1108.610),  # 1 km north in Wuhan
        ((30.5, 114.16, 30.5, 114.17), 959.989),  # 1 km east: a degree of longitude shrinks by cos(latitude)
        ((29.35, 105.92, 29.40, 105.99), 8769.260),  # across Yongchuan
        ((34.87, 113.62, 34.90, 113.60), 3797.281),  # across Huiji
        ((30.5, 114.16, 30.95, 114.9), 86672.612),  # further than any vendor walks
    ],
)
def test_haversine_is_within_one_percent_of_the_geodesic(
    points: tuple[float, float, float, float], geodesic_m: float
) -> None:
    assert abs(haversine_m(*points) / geodesic_m - 1) < 0.01


def test_haversine_is_symmetric_and_zero_at_a_point() -> None:
    assert haversine_m(30.5, 114.16, 30.5, 114.16) == 0
    assert haversine_m(30.5, 114.16, 30.6, 114.2) == pytest.approx(haversine_m(30.6, 114.2, 30.5, 114.16))


@pytest.mark.parametrize("latitude", [0.0, 30.5, 34.9, 60.0])
def test_bounding_box_encloses_its_circle(latitude: float) -> None:
    rng = random.Random(int(latitude))
    radius = 2500.0
    min_lat, max_lat, min_lon, max_lon = bounding_box(latitude, 114.16, radius)
    for _ in range(500):
        bearing = rng.uniform(0, 2 * math.pi)
        # a point exactly on the circle, found by stepping along the bearing
        lat = latitude + math.degrees(radius * math.cos(bearing) / 6_371_008.8)
        lon = 114.16 + math.degrees(radius * math.sin(bearing) / (6_371_008.8 * math.cos(math.radians(latitude))))
        assert min_lat <= lat <= max_lat and min_lon <= lon <= max_lon
    assert haversine_m(latitude, 114.16, latitude, max_lon) == pytest.approx(radius, rel=1e-3)


@pytest.mark.parametrize(("meters", "minutes"), [(0, 1), (40, 1), (450, 6), (3000, 40)])
def test_walking_minutes(meters: float, minutes: int) -> None:
    assert walking_minutes(meters) == minutes


def test_point_in_polygon_with_a_hole() -> None:
    outer = [(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0), (0.0, 0.0)]
    hole = [(4.0, 4.0), (4.0, 6.0), (6.0, 6.0), (6.0, 4.0), (4.0, 4.0)]
    assert point_in_polygon(1, 1, [outer, hole])
    assert not point_in_polygon(5, 5, [outer, hole])
    assert not point_in_polygon(11, 5, [outer, hole])


OUTER = [(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0), (0.0, 0.0)]


@pytest.mark.parametrize(
    ("rings", "problem"),
    [
        ([OUTER], None),
        ([OUTER, [(4.0, 4.0), (4.0, 6.0), (6.0, 6.0), (6.0, 4.0), (4.0, 4.0)]], None),  # a hole inside
        ([[(0.0, 0.0), (0.0, 10.0), (0.0, 10.0), (10.0, 0.0), (0.0, 0.0)]], None),  # a repeated corner is harmless
        ([[(0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0), (0.0, 0.0)]], "crosses or touches"),  # a bow-tie
        ([[(0.0, 0.0), (0.0, 10.0), (5.0, 5.0), (0.0, 5.0), (10.0, 0.0), (0.0, 0.0)]], "crosses or touches"),
        ([[(0.0, 0.0), (0.0, 10.0), (0.0, 5.0), (10.0, 0.0), (0.0, 0.0)]], "crosses or touches"),  # a spike
        ([[(0.0, 0.0), (0.0, 10.0), (0.0, 4.0), (0.0, 0.0)]], "folds back"),  # a needle, no area at all
        ([OUTER, [(5.0, 5.0), (5.0, 15.0), (6.0, 15.0), (6.0, 5.0), (5.0, 5.0)]], "crosses or touches"),  # hole out
        ([[(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (0.0, 0.0)], OUTER[:3]], "closed"),
        ([[(0.0, 0.0), (0.0, 10.0), (0.0, 0.0), (0.0, 10.0), (0.0, 0.0)]], "folds back"),
        ([[(0.0, 0.0), (0.0, 10.0), (0.0, 10.0), (0.0, 0.0)]], "3 different corners"),
    ],
)
def test_polygon_problem_finds_outlines_that_are_not_simple_areas(
    rings: list[list[tuple[float, float]]], problem: str | None
) -> None:
    found = polygon_problem(rings)
    assert found is None if problem is None else found is not None and problem in found


def test_rings_from_geojson_refuses_shapes_that_are_not_lists() -> None:
    for coordinates in (5, "x", {"a": 1}, []):
        with pytest.raises(GeoDataError):
            rings_from_geojson({"type": "MultiPolygon", "coordinates": coordinates})


def test_rings_from_geojson_reads_lon_lat_order_and_refuses_lines() -> None:
    polygon = {"type": "Polygon", "coordinates": [[[114.0, 30.0], [114.1, 30.0], [114.1, 30.1], [114.0, 30.0]]]}
    assert rings_from_geojson(polygon)[0][0][1] == (30.0, 114.1)
    with pytest.raises(GeoDataError):
        rings_from_geojson({"type": "LineString", "coordinates": [[114.0, 30.0], [114.1, 30.0]]})


def test_sample_city_districts() -> None:
    area = load_service_area(SAMPLE_CITY)
    assert [d.code for d in area.districts] == ["wuhan-edz", "cq-yongchuan", "zz-huiji"]
    assert area.district_at(30.50, 114.16).code == "wuhan-edz"  # type: ignore[union-attr]
    assert area.district_at(29.35, 105.92).code == "cq-yongchuan"  # type: ignore[union-attr]
    assert area.district_at(34.87, 113.62).code == "zz-huiji"  # type: ignore[union-attr]
    assert area.district_at(39.90, 116.40) is None  # Beijing
    assert area.district_at(float("nan"), 114.0) is None
    assert not valid_coordinates(91, 0)
