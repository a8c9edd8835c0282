"""WGS-84 ↔ GCJ-02: the shifted coordinates Chinese map providers draw their tiles in.

Telegram (and every GPS) gives WGS-84; the tiles of AutoNavi (Gaode), Tencent and others are drawn in GCJ-02,
about 300–700 m off inside mainland China, so a pin must be shifted before it is drawn on them. This is the
standard published conversion (the Krasovsky ellipsoid offset); outside China both are the same. GCJ-02 → WGS-84
has no closed form: it is found by iterating the forward conversion.
"""

from __future__ import annotations

import math

_A = 6378245.0  # the Krasovsky 1940 ellipsoid's semi-major axis, as the conversion uses it
_EE = 0.00669342162296594323  # and its first eccentricity squared
_INVERSE_STEPS = 30
_INVERSE_TOLERANCE = 1e-10  # degrees: about 0.01 mm


def out_of_china(lat: float, lon: float) -> bool:
    """The rough rectangle the shift is applied in (the convention every implementation follows)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) as a Chinese provider's tiles place them."""
    if out_of_china(lat, lon):
        return lat, lon
    d_lat = _shift_lat(lon - 105.0, lat - 35.0)
    d_lon = _shift_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The WGS-84 point whose GCJ-02 image is (lat, lon), by fixed-point iteration of the forward shift."""
    if out_of_china(lat, lon):
        return lat, lon
    guess_lat, guess_lon = lat, lon
    for _ in range(_INVERSE_STEPS):
        shifted_lat, shifted_lon = wgs84_to_gcj02(guess_lat, guess_lon)
        error_lat, error_lon = shifted_lat - lat, shifted_lon - lon
        if abs(error_lat) < _INVERSE_TOLERANCE and abs(error_lon) < _INVERSE_TOLERANCE:
            break
        guess_lat, guess_lon = guess_lat - error_lat, guess_lon - error_lon
    return guess_lat, guess_lon


def to_map_crs(crs: str, lat: float, lon: float) -> tuple[float, float]:
    """A WGS-84 position as the map's tiles place it (MAP_TILE_CRS)."""
    return wgs84_to_gcj02(lat, lon) if crs == "gcj02" else (lat, lon)


def from_map_crs(crs: str, lat: float, lon: float) -> tuple[float, float]:
    """A position read off the map (MAP_TILE_CRS) as WGS-84."""
    return gcj02_to_wgs84(lat, lon) if crs == "gcj02" else (lat, lon)
