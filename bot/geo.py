"""Distances and places: haversine, bounding boxes, point-in-polygon, the service area and its districts."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
WALKING_METERS_PER_MINUTE = 75.0  # 4.5 km/h
SAMPLE_CITY = Path(__file__).with_name("data") / "sample_city.geojson"

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


def rings_from_geojson(geometry: dict[str, Any]) -> list[list[list[Point]]]:
    """A GeoJSON Polygon or MultiPolygon as a list of polygons, each a list of (lat, lon) rings."""
    kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        polygons = list(coordinates)
    else:
        raise GeoDataError(f"expected a Polygon or MultiPolygon, got {kind}")
    try:
        result = [[[(float(lat), float(lon)) for lon, lat, *_ in ring] for ring in polygon] for polygon in polygons]
    except (TypeError, ValueError) as exc:
        raise GeoDataError(f"bad polygon coordinates: {exc}") from exc
    for polygon in result:
        if not polygon or len(polygon[0]) < 4:
            raise GeoDataError("a polygon ring needs at least 4 positions (closed)")
    return result


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
