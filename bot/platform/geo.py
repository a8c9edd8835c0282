"""Distances and places: haversine, bounding boxes, point-in-polygon, the service area and its districts."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
WALKING_METERS_PER_MINUTE = 75.0  # 4.5 km/h
SAMPLE_CITY = Path(__file__).parents[1] / "data" / "sample_city.geojson"

Point = tuple[float, float]  # (latitude, longitude)


class GeoDataError(ValueError):
    """A geometry file or value cannot be used."""


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) enclosing a circle; a degree of longitude shrinks by cos(latitude)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(180.0, math.degrees(radius_m / (EARTH_RADIUS_M * cos_lat)))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def walking_minutes(meters: float) -> int:
    return max(1, round(meters / WALKING_METERS_PER_MINUTE))


def walking_time(meters: float) -> timedelta:
    """How long the walk takes, at the pace behind walking_minutes (unrounded, for ranking)."""
    return timedelta(minutes=meters / WALKING_METERS_PER_MINUTE)


def valid_coordinates(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def point_in_ring(lat: float, lon: float, ring: Sequence[Point]) -> bool:
    """Ray casting on one closed ring of (lat, lon) vertices."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        lat_i, lon_i = ring[i]
        lat_j, lon_j = ring[j]
        if (lat_i > lat) != (lat_j > lat):
            crossing = lon_i + (lat - lat_i) * (lon_j - lon_i) / (lat_j - lat_i)
            if lon < crossing:
                inside = not inside
        j = i
    return inside


def point_in_polygon(lat: float, lon: float, rings: Sequence[Sequence[Point]]) -> bool:
    """Inside the outer ring and outside every hole."""
    if not rings or not point_in_ring(lat, lon, rings[0]):
        return False
    return not any(point_in_ring(lat, lon, hole) for hole in rings[1:])


def distance_to_polygons_m(lat: float, lon: float, polygons: Sequence[Sequence[Sequence[Point]]]) -> float:
    """Metres from a point to the nearest edge of the polygons (0 inside one): a flat projection around the point,
    close enough for the few hundred metres it is asked about."""
    if any(point_in_polygon(lat, lon, rings) for rings in polygons):
        return 0.0
    metres_per_degree = math.radians(1) * EARTH_RADIUS_M
    x_scale = metres_per_degree * math.cos(math.radians(lat))
    nearest = math.inf
    for rings in polygons:
        for ring in rings:
            for (lat_a, lon_a), (lat_b, lon_b) in itertools.pairwise(ring):
                ax, ay = (lon_a - lon) * x_scale, (lat_a - lat) * metres_per_degree
                bx, by = (lon_b - lon) * x_scale, (lat_b - lat) * metres_per_degree
                dx, dy = bx - ax, by - ay
                length = dx * dx + dy * dy
                along = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
                nearest = min(nearest, math.hypot(ax + along * dx, ay + along * dy))
    return nearest


def rings_from_geojson(geometry: dict[str, Any]) -> list[list[list[Point]]]:
    """A GeoJSON Polygon or MultiPolygon as a list of polygons, each a list of (lat, lon) rings."""
    kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
    if not isinstance(coordinates, list):
        raise GeoDataError(f"bad polygon coordinates: expected a list, got {type(coordinates).__name__}")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        polygons = coordinates
    else:
        raise GeoDataError(f"expected a Polygon or MultiPolygon, got {kind}")
    if not polygons:
        raise GeoDataError("a MultiPolygon needs at least one polygon")
    try:
        result = [[[(float(lat), float(lon)) for lon, lat, *_ in ring] for ring in polygon] for polygon in polygons]
    except (TypeError, ValueError) as exc:
        raise GeoDataError(f"bad polygon coordinates: {exc}") from exc
    for polygon in result:
        if not polygon or len(polygon[0]) < 4:
            raise GeoDataError("a polygon ring needs at least 4 positions (closed)")
    return result


def polygon_problem(rings: Sequence[Sequence[Point]]) -> str | None:
    """Why rings of (lat, lon) do not make one simple area, or None.

    Every ring must be closed, have three corners or more, and no two edges may cross or touch except
    neighbours at their shared corner: a bow-tie, a spike or a hole across the outline would make "inside"
    mean something other than what the drawing shows. Edges are swept by longitude, so only edges whose
    extents overlap are compared.
    """
    edges: list[tuple[Point, Point, int, int]] = []  # ends, ring, position in the ring
    sizes = []
    for number, ring in enumerate(rings):
        if len(ring) < 4 or ring[0] != ring[-1]:
            return "a ring must be closed: at least 4 positions, the last equal to the first"
        corners = [point for index, point in enumerate(ring) if index == 0 or point != ring[index - 1]]
        if len(corners) < 4:
            return "a ring needs at least 3 different corners"
        sizes.append(len(corners) - 1)
        edges.extend((corners[i], corners[i + 1], number, i) for i in range(len(corners) - 1))
    edges.sort(key=lambda edge: min(edge[0][1], edge[1][1]))
    for index, (a1, a2, ring_a, at_a) in enumerate(edges):
        a_east = max(a1[1], a2[1])
        for b1, b2, ring_b, at_b in edges[index + 1 :]:
            if min(b1[1], b2[1]) > a_east:
                break
            if min(a1[0], a2[0]) > max(b1[0], b2[0]) or min(b1[0], b2[0]) > max(a1[0], a2[0]):
                continue
            gap = abs(at_a - at_b)
            if ring_a == ring_b and gap in (1, sizes[ring_a] - 1):
                # Neighbours share a corner; they go wrong only by folding back along each other.
                shared = a2 if a2 in (b1, b2) else a1
                far_a, far_b = (a1 if shared == a2 else a2), (b2 if shared == b1 else b1)
                if _on_segment(far_b, a1, a2) or _on_segment(far_a, b1, b2):
                    return "the outline folds back on itself"
            elif _segments_meet(a1, a2, b1, b2):
                return "the outline crosses or touches itself"
    return None


def _turn(p: Point, q: Point, r: Point) -> float:
    return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    return (
        _turn(a, b, p) == 0
        and min(a[0], b[0]) <= p[0] <= max(a[0], b[0])
        and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])
    )


def _segments_meet(a1: Point, a2: Point, b1: Point, b2: Point) -> bool:
    """Whether two segments share any point (crossing, touching or overlapping)."""
    d1, d2, d3, d4 = _turn(b1, b2, a1), _turn(b1, b2, a2), _turn(a1, a2, b1), _turn(a1, a2, b2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return any((_on_segment(a1, b1, b2), _on_segment(a2, b1, b2), _on_segment(b1, a1, a2), _on_segment(b2, a1, a2)))


@dataclass(frozen=True)
class District:
    code: str
    name_zh: str
    name_en: str
    polygons: tuple[tuple[tuple[Point, ...], ...], ...]

    def name(self, language: str) -> str:
        return self.name_zh if language.startswith("zh") else self.name_en

    def contains(self, lat: float, lon: float) -> bool:
        return any(point_in_polygon(lat, lon, polygon) for polygon in self.polygons)

    @property
    def center(self) -> Point:
        ring = self.polygons[0][0]
        return sum(p[0] for p in ring[:-1]) / (len(ring) - 1), sum(p[1] for p in ring[:-1]) / (len(ring) - 1)


@dataclass(frozen=True)
class ServiceArea:
    """The districts the bureau serves; a point outside all of them is outside the service area."""

    districts: tuple[District, ...]

    def district_at(self, lat: float, lon: float) -> District | None:
        if not valid_coordinates(lat, lon):
            return None
        return next((d for d in self.districts if d.contains(lat, lon)), None)

    def contains(self, lat: float, lon: float) -> bool:
        return self.district_at(lat, lon) is not None

    def by_code(self, code: str) -> District | None:
        return next((d for d in self.districts if d.code == code), None)


def load_service_area(path: Path = SAMPLE_CITY) -> ServiceArea:
    """Reads districts from a GeoJSON FeatureCollection (properties: code, name_zh, name_en)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GeoDataError(f"cannot read {path}: {exc}") from exc
    districts = []
    for number, feature in enumerate(data.get("features", []), start=1):
        props = feature.get("properties") or {}
        if not props.get("code"):
            raise GeoDataError(f"{path}: feature {number} has no properties.code")
        polygons = rings_from_geojson(feature.get("geometry") or {})
        districts.append(
            District(
                code=str(props["code"]),
                name_zh=str(props.get("name_zh") or props["code"]),
                name_en=str(props.get("name_en") or props["code"]),
                polygons=tuple(tuple(tuple(ring) for ring in polygon) for polygon in polygons),
            )
        )
    if not districts:
        raise GeoDataError(f"{path}: no districts")
    return ServiceArea(tuple(districts))
