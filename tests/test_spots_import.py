"""Importing spots and zones: every bad row reported with its number and reason, nothing half-imported,
re-imports update by the stable id, export reads back the same, and the command line says it all."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.__main__ import main
from bot.platform.db import Database
from bot.platform.geo import SAMPLE_CITY, load_service_area
from bot.vending import hours, spots, subscriptions
from bot.vending.reminders import Timing
from bot.vending.spot_export import export_geojson
from bot.vending.spot_import import (
    SAMPLE_SPOTS,
    ImportFailed,
    ensure_sample_spots,
    import_file,
    read_file,
)
from tests.test_process import bot_env

CITY = ZoneInfo("Asia/Shanghai")
AREA = load_service_area(SAMPLE_CITY)
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
TIMING = Timing(CITY, timedelta(minutes=30))


def spot_feature(**props: Any) -> dict[str, Any]:
    lon, lat = props.pop("lon", 114.158), props.pop("lat", 30.5012)
    base = {"id": "t-1", "name": "测试点", "hours": "Mo-Su 22:00-04:00"}
    return {
        "type": "Feature",
        "properties": {**base, **props},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def zone_feature(**props: Any) -> dict[str, Any]:
    ring = [[114.16, 30.496], [114.1625, 30.496], [114.1625, 30.4978], [114.16, 30.4978], [114.16, 30.496]]
    geometry = props.pop("geometry", {"type": "Polygon", "coordinates": [ring]})
    return {
        "type": "Feature",
        "properties": {"id": "z-1", "name": "校门口", "kind": "school_gate", **props},
        "geometry": geometry,
    }


def write_geojson(path: Path, *features: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False), "utf-8")
    return path


POINT = {"type": "Point", "coordinates": [114.158, 30.5012]}
BOW_TIE = {  # its edges cross in the middle: two triangles meeting at a point, not one area
    "type": "Polygon",
    "coordinates": [[[114.16, 30.496], [114.1625, 30.4978], [114.1625, 30.496], [114.16, 30.4978], [114.16, 30.496]]],
}
# Badly shaped features, each with the problem it must be listed with (never a crash, never imported).
BADLY_SHAPED: list[tuple[dict[str, Any], str]] = [
    ({"type": "Feature", "properties": ["id", "t-1"], "geometry": POINT}, "properties must be an object, not a list"),
    ({"type": "Feature", "properties": [], "geometry": POINT}, "properties must be an object, not a list"),
    (
        {"type": "Feature", "properties": {"id": "t-1", "name": "点"}, "geometry": "POINT (114.158 30.5012)"},
        "geometry must be an object with a type and coordinates, not text",
    ),
    (
        {"type": "Feature", "properties": {"id": "t-1"}, "geometry": {"type": "Point", "coordinates": 5}},
        "a Point needs [longitude, latitude], not a number",
    ),
    (zone_feature(geometry={"type": "MultiPolygon", "coordinates": []}), "a MultiPolygon needs at least one polygon"),
    (zone_feature(geometry={"type": "MultiPolygon", "coordinates": 5}), "bad polygon coordinates"),
    (spot_feature(capacity=99999999999999999999999), "capacity must be at most 100000"),
    (spot_feature(free_stalls=[3]), "free_stalls must be text or a number, not a list"),
    (zone_feature(geometry=BOW_TIE), "the polygon is not a simple area: the outline crosses or touches itself"),
    (spot_feature(name="夜市\x00后门"), "name contains the control character '\\x00' at position 3"),
    (spot_feature(name="\x1b[31m夜市"), "name contains the control character '\\x1b' at position 1"),
    (spot_feature(name={"zh": "夜市"}), "name must be text or a number, not an object"),
    (spot_feature(name="夜" * 5000), "name is longer than 100 characters (5000)"),
    (spot_feature(address="路" * 5000), "address is longer than 200 characters (5000)"),
    (
        spot_feature(status="closed_temporarily", status_reason="修" * 5000),
        "status_reason is longer than 300 characters (5000)",
    ),
    (spot_feature(closed=[{"from": "2026-12-01", "reason": "修" * 5000}]), "closed reason is longer than 300"),
    (spot_feature(closed="2026-12-01 " + "修" * 5000), "closed reason is longer than 300"),
    (spot_feature(note="x" * 5000), "note is longer than 300 characters (5000)"),
]


async def counts(db: Database) -> tuple[int, int, int]:
    row = await db.fetchone(
        "SELECT (SELECT count(*) FROM spots), (SELECT count(*) FROM zones), (SELECT count(*) FROM spot_hours)"
    )
    assert row is not None
    return row[0], row[1], row[2]


async def test_sample_data_loads_once_on_an_empty_database(db: Database) -> None:
    assert await ensure_sample_spots(db, NOW) == 25
    assert await ensure_sample_spots(db, NOW) == 0  # the database has spots: nothing more
    spot_count, zone_count, _ = await counts(db)
    assert (spot_count, zone_count) == (25, 9)
    assert "ILLUSTRATIVE" in json.loads(SAMPLE_SPOTS.read_text("utf-8"))["comment"]
    closed = await spots.find_spot(db, "wh-006", NOW, CITY)
    moved = await spots.find_spot(db, "wh-008", NOW, CITY)
    assert closed.status == spots.STATUS_CLOSED and closed.status_reason
    assert moved.status == spots.STATUS_RELOCATED
    assert moved.relocated_to == (await spots.find_spot(db, "wh-002", NOW, CITY)).id


@pytest.mark.parametrize(
    ("feature", "reason"),
    [
        (spot_feature(id=""), "id is missing"),
        (spot_feature(id="has space"), "may use only letters"),
        (spot_feature(name=""), "name is missing"),
        (spot_feature(lat=91), "not valid coordinates"),
        (spot_feature(lat=39.9, lon=116.4), "outside the service area"),
        (spot_feature(district="nowhere"), "unknown district"),
        (spot_feature(district="zz-huiji"), "not inside district"),
        (spot_feature(hours=""), "hours are missing"),
        (spot_feature(hours="Mo 22:00"), "hours:"),
        (spot_feature(goods=["fruit", "guns"]), "unknown goods guns"),
        (spot_feature(fee="cheap"), "fee must be an amount"),
        (spot_feature(capacity=-3), "cannot be negative"),
        (spot_feature(capacity=5, free_stalls=9), "more than capacity"),
        (spot_feature(status="gone"), "status 'gone'"),
        (spot_feature(status="relocated"), "relocated_to is required"),
        (spot_feature(closed_until="2026-12-01"), "only for status closed_temporarily"),
        (spot_feature(closed=[{"from": "2026-12-05", "to": "2026-12-01"}]), "ends before it starts"),
        (spot_feature(closed=[{"from": "soon"}]), "is not a date"),
        (spot_feature(closed=[{"from": "2026-12-01", "to": "9999-12-31"}]), "9999-12-31 is outside 1970-01-01..2100"),
        (spot_feature(closed="0001-01-01..0001-01-02 works"), "0001-01-01 is outside 1970-01-01..2100-12-31"),
        (
            spot_feature(status="closed_temporarily", closed_until="0001-01-01T00:00:00+14:00"),
            "closed_until 0001-01-01 is outside",
        ),
        (spot_feature(status="closed_temporarily", closed_until="9999-12-31"), "closed_until 9999-12-31 is outside"),
        (spot_feature(status="closed_temporarily", closed_until="tomorrow"), "closed_until 'tomorrow' is not a date"),
        (zone_feature(kind="volcano"), "kind 'volcano'"),
        (zone_feature(geometry={"type": "Polygon", "coordinates": [[[114.1, 30.5], [114.2, 30.5]]]}), "at least 4"),
        (
            {"type": "Feature", "properties": {"id": "x"}, "geometry": {"type": "LineString"}},
            "Point (a spot) or a Polygon",
        ),
        *BADLY_SHAPED,
    ],
)
async def test_each_bad_row_is_reported_and_nothing_is_imported(
    db: Database, tmp_path: Path, feature: dict[str, Any], reason: str
) -> None:
    good = spot_feature(id="good-1")
    path = write_geojson(tmp_path / "spots.geojson", good, feature, zone_feature(id="good-zone"))
    with pytest.raises(ImportFailed) as failure:
        await import_file(db, path, AREA, CITY, NOW)
    assert len(failure.value.problems) == 1
    assert failure.value.problems[0].startswith("feature 2")
    assert reason in failure.value.problems[0]
    assert await counts(db) == (0, 0, 0)


async def test_all_problems_are_listed_at_once_with_their_numbers(tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "spots.geojson",
        spot_feature(id="a", hours=""),
        spot_feature(id="b"),
        spot_feature(id="b"),
        spot_feature(id="c", goods="caviar"),
    )
    with pytest.raises(ImportFailed) as failure:
        read_file(path, AREA, CITY)
    problems = failure.value.problems
    assert [problem.split(":")[0] for problem in problems] == ["feature 1 (id a)", "feature 4 (id c)", "feature 3"]
    assert "id b is used again (first at feature 2)" in problems[2]


async def test_unknown_relocation_target_rolls_everything_back(db: Database, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "spots.geojson",
        spot_feature(id="ok"),
        spot_feature(id="moved", status="relocated", relocated_to="ghost"),
    )
    with pytest.raises(ImportFailed, match="relocated_to ghost is no known spot"):
        await import_file(db, path, AREA, CITY, NOW)
    assert await counts(db) == (0, 0, 0)


async def test_reimport_updates_by_stable_id_and_keeps_subscriptions(db: Database, tmp_path: Path) -> None:
    first = write_geojson(tmp_path / "v1.geojson", spot_feature(id="t-1", name="旧名字"), zone_feature())
    summary = await import_file(db, first, AREA, CITY, NOW)
    assert (summary.spots_created, summary.zones_created) == (1, 1)
    spot = await spots.find_spot(db, "t-1", NOW, CITY)
    await subscriptions.subscribe(db, 4001, spot.id, "zh_Hans", NOW, TIMING)

    second = write_geojson(
        tmp_path / "v2.geojson",
        spot_feature(id="t-1", name="新名字", hours="Mo-Fr 06:00-08:30", closed="2026-12-01..2026-12-03 维修"),
        zone_feature(name="新校门"),
        spot_feature(id="t-2", lat=30.51),
    )
    summary = await import_file(db, second, AREA, CITY, NOW)
    assert (summary.spots_created, summary.spots_updated, summary.zones_updated) == (1, 1, 1)
    again = await spots.find_spot(db, "t-1", NOW, CITY)
    assert again.id == spot.id and again.name == "新名字"
    assert again.hours == parse("Mo-Fr 06:00-08:30")
    assert again.exceptions[0].reason == "维修"
    assert await subscriptions.subscribers_of(db, spot.id) == [subscriptions.Subscriber(4001, "zh_Hans")]
    assert await counts(db) == (2, 1, 5 + 7)


def parse(text: str) -> tuple[hours.Window, ...]:
    return hours.parse_hours(text)


CSV_HEADER = "id,name,lat,lon,hours,goods,fee,capacity,free_stalls,closed\n"


async def test_csv_rows_are_checked_with_their_line_numbers(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "spots.csv"
    path.write_text(
        CSV_HEADER
        + "c-1,早市,30.5105,114.1455,Mo-Su 06:00-08:30,own_produce;vegetables,0,30,8,\n"
        + '"c-2","夜市, 东门",30.5012,114.1580,"Mo-Su 22:00-04:00",fruit,5,80,,2026-12-24..2026-12-26 圣诞休市\n'
        + "c-3,坏行,abc,114.1,06:00-08:00,,,,,\n"
        + "c-4,坏行,30.5,114.1,,,,,,\n",
        "utf-8",
    )
    with pytest.raises(ImportFailed) as failure:
        await import_file(db, path, AREA, CITY, NOW)
    assert failure.value.problems == [
        "line 4 (id c-3): lat must be a number, not 'abc'",
        "line 5 (id c-4): hours are missing (e.g. 'Mo-Su 22:00-04:00')",
    ]
    assert await counts(db) == (0, 0, 0)

    path.write_text(
        path.read_text("utf-8").splitlines(keepends=True)[0]
        + "".join(path.read_text("utf-8").splitlines(keepends=True)[1:3]),
        "utf-8",
    )
    summary = await import_file(db, path, AREA, CITY, NOW)
    assert summary.spots_created == 2
    night = await spots.find_spot(db, "c-2", NOW, CITY)
    assert night.name == "夜市, 东门" and night.fee_cents == 500 and night.exceptions[0].reason == "圣诞休市"


async def test_csv_with_unknown_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spots.csv"
    path.write_text("id,name,lat,lon,hours,colour\n", "utf-8")
    with pytest.raises(ImportFailed, match="unknown column 'colour'"):
        read_file(path, AREA, CITY)


async def test_export_reads_back_unchanged(db: Database, tmp_path: Path) -> None:
    await ensure_sample_spots(db, NOW)
    exported = await export_geojson(db, NOW, CITY)
    path = tmp_path / "export.geojson"
    path.write_text(json.dumps(exported, ensure_ascii=False), "utf-8")
    summary = await import_file(db, path, AREA, CITY, NOW)
    assert (summary.spots_created, summary.spots_updated, summary.zones_updated) == (0, 25, 9)
    assert await export_geojson(db, NOW, CITY) == exported


def run_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *argv: str) -> int:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("BOT_TOKEN", "123456:" + "A" * 30)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.sqlite3"))
    return main(list(argv))


def test_command_line_import_and_export(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(monkeypatch, tmp_path, "spots", "import", str(SAMPLE_SPOTS)) == 0
    assert "spots: 25 new, 0 updated; zones: 9 new, 0 updated" in capsys.readouterr().out
    assert run_cli(monkeypatch, tmp_path, "spots", "export", str(tmp_path / "out.geojson")) == 0
    assert len(json.loads((tmp_path / "out.geojson").read_text("utf-8"))["features"]) == 34


def test_command_line_reports_a_bad_file_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_geojson(tmp_path / "bad.geojson", spot_feature(id="a"), spot_feature(id="b", hours="whenever"))
    assert run_cli(monkeypatch, tmp_path, "spots", "import", str(bad)) == 2
    err = capsys.readouterr().err
    assert "was not imported; nothing was changed" in err and "feature 2 (id b): hours:" in err
    assert run_cli(monkeypatch, tmp_path, "spots", "import", str(tmp_path / "missing.geojson")) == 2
    assert "cannot read" in capsys.readouterr().err


# ------------------------------------------------------- as a process, with badly shaped files
def import_as_process(tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    """``python -m bot spots import FILE`` as a person runs it, in a clean environment."""
    env = bot_env(BOT_TOKEN="123456:" + "A" * 30, DATABASE_PATH=str(tmp_path / "cli.sqlite3"))
    return subprocess.run(
        [sys.executable, "-m", "bot", "spots", "import", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored(tmp_path: Path) -> tuple[int, int]:
    """Spots and zones in the process's database (none when it was never created)."""
    if not (tmp_path / "cli.sqlite3").exists():
        return 0, 0
    with closing(sqlite3.connect(tmp_path / "cli.sqlite3")) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM spots), (SELECT count(*) FROM zones)").fetchone()
    return row[0], row[1]


def refused(result: subprocess.CompletedProcess[str], path: Path) -> list[str]:
    """The listed problems of an import that exited 2 without a traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {path} was not imported; nothing was changed:"
    return [line.strip() for line in lines[1:]]


def test_badly_shaped_features_are_listed_with_their_numbers_and_nothing_is_imported(tmp_path: Path) -> None:
    features = [spot_feature(id="good-1")] + [feature for feature, _ in BADLY_SHAPED] + [zone_feature(id="good-z")]
    features.append(spot_feature(id="t-surrogate", name="夜市\ud800"))  # JSON can carry half a surrogate pair
    path = tmp_path / "spots.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "ascii")
    problems = refused(import_as_process(tmp_path, path), path)
    expected = [(number, reason) for number, (_, reason) in enumerate(BADLY_SHAPED, start=2)]
    expected.append((len(features), "name contains the control character '\\ud800' at position 3"))
    assert len(problems) == len(expected), problems
    for problem, (number, reason) in zip(problems, expected, strict=True):
        assert problem.startswith(f"feature {number}") and reason in problem, (problem, reason)
        assert len(problem) < 400  # a 5000-character value is named, not printed
    assert stored(tmp_path) == (0, 0)


def test_deeply_nested_json_names_the_feature_and_nothing_is_imported(tmp_path: Path) -> None:
    good = json.dumps(spot_feature(id="good-1"))
    deep = '{"type": "Feature", "properties": {"id": "deep", "name": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    path = tmp_path / "spots.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [' + good + ", " + deep + "]}", "utf-8")
    problems = refused(import_as_process(tmp_path, path), path)
    assert problems == ["feature 2: nested more than 64 levels deep"]
    assert stored(tmp_path) == (0, 0)


def test_bad_csv_rows_are_listed_with_their_lines_and_nothing_is_imported(tmp_path: Path) -> None:
    path = tmp_path / "spots.csv"
    header = "id,name,lat,lon,hours,capacity,status,status_reason,closed\n"
    rows = [
        "c-1,早市,30.5105,114.1455,Mo-Su 06:00-08:30,30,,,",
        "c-2,夜市\x00后门,30.5012,114.1580,Mo-Su 22:00-04:00,,,,",
        "c-3,夜市,30.5012,114.1580,Mo-Su 22:00-04:00,99999999999999999999999,,,",
        f"c-4,夜市,30.5012,114.1580,Mo-Su 22:00-04:00,,closed_temporarily,{'修' * 5000},",
        f"c-5,夜市,30.5012,114.1580,Mo-Su 22:00-04:00,,,,2026-12-01 {'修' * 5000}",
        f"c-6,{'夜' * 5000},30.5012,114.1580,Mo-Su 22:00-04:00,,,,",
        "c-7,夜\x1b市,30.5012,114.1580,Mo-Su 22:00-04:00,,,,",
    ]
    path.write_text(header + "\n".join(rows) + "\n", "utf-8")
    problems = refused(import_as_process(tmp_path, path), path)
    assert problems == [
        "line 3 (id c-2): name contains the control character '\\x00' at position 3",
        "line 4 (id c-3): capacity must be at most 100000",
        "line 5 (id c-4): status_reason is longer than 300 characters (5000)",
        "line 6 (id c-5): closed reason is longer than 300 characters (5000)",
        "line 7 (id c-6): name is longer than 100 characters (5000)",
        "line 8 (id c-7): name contains the control character '\\x1b' at position 2",
    ]
    assert stored(tmp_path) == (0, 0)
