"""WGS-84 ↔ GCJ-02 against published reference points (the conversion every Chinese map SDK applies)."""

from __future__ import annotations

import pytest

from bot.platform.gcj02 import from_map_crs, gcj02_to_wgs84, out_of_china, to_map_crs, wgs84_to_gcj02
from bot.platform.geo import haversine_m

# (WGS-84 lat, lon) → (GCJ-02 lat, lon), the reference points of the eviltransform project's test suite.
KNOWN = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), KNOWN)
def test_known_points_convert_both_ways(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-7)  # about 1 cm
    assert 100 < haversine_m(*wgs, *gcj) < 800  # the shift Chinese tiles are off by


def test_outside_china_nothing_moves() -> None:
    for point in [(51.5007, -0.1246), (35.6586, 139.7454), (-33.8568, 151.2153)]:
        assert out_of_china(*point)
        assert wgs84_to_gcj02(*point) == point == gcj02_to_wgs84(*point)


def test_the_map_crs_setting_chooses_the_conversion() -> None:
    wuhan = (30.5012, 114.158)
    assert to_map_crs("wgs84", *wuhan) == wuhan == from_map_crs("wgs84", *wuhan)
    shown = to_map_crs("gcj02", *wuhan)
    assert shown != wuhan and from_map_crs("gcj02", *shown) == pytest.approx(wuhan, abs=1e-7)
