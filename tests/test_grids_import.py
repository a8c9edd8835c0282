"""Importing grids (单元网格): every bad feature listed with its number and reason, exit 2 and nothing imported;
a re-import updates by id; the export reads back unchanged; officers named by Telegram id or @username."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from bot.cases import grid_import, grids
from bot.platform.db import Database
from bot.platform.users import UserDirectory
from bot.vending.spot_import import ImportFailed
from devtools.personas import SAMPLE_PLACES
from tests.support.grid_steps import (
    AREA,
    CHECHENG,
    DONGKOU,
    NOW,
    add_officer,
    grid_feature,
    load_grids,
    square,
    two_grids,
    write_grids,
)
from tests.test_process import bot_env

BOW_TIE = {
    "type": "Polygon",
    "coordinates": [[[114.1, 30.45], [114.11, 30.46], [114.11, 30.45], [114.1, 30.46], [114.1, 30.45]]],
}

# (feature, the reason its problem line gives); each is feature 2, 3, … after one good feature.
BAD_FEATURES = [
    (grid_feature(grid_id=""), "id is missing"),
    (grid_feature(grid_id="a b"), "may use only letters, digits"),
    (grid_feature("g-3", name=""), "name is missing"),
    (grid_feature("g-4", name="网" * 101), "name is longer than 100 characters (101)"),
    (grid_feature("g-5", district="atlantis"), "unknown district 'atlantis' (known: wuhan-edz"),
    (grid_feature("g-6", geometry={"type": "Point", "coordinates": [114.15, 30.48]}), "geometry must be a Polygon"),
    (grid_feature("g-7", geometry=BOW_TIE), "the polygon is not a simple area: the outline crosses or touches itself"),
    (grid_feature("g-8", geometry={"type": "Polygon", "coordinates": [[[114.1, 30.4], [114.2, 30.4]]]}), "at least 4"),
    (grid_feature("g-9", officers=[]), "officers is empty"),
    (grid_feature("g-10", officers=None), "officers is missing"),
    (grid_feature("g-11", officers=["li"]), "officer 'li' is neither a Telegram id nor an @username"),
    (grid_feature("g-12", officers=["@nobody_here"]), "officer @nobody_here is not a registered staff member"),
    (grid_feature("g-13", officers=[7003]), "officer 7003 is a dispatcher, not a field officer"),
    (grid_feature("g-14", name="沌口\x1b"), "name contains the control character '\\x1b' at position 3"),
    ({"type": "Feature", "properties": "edz", "geometry": DONGKOU}, "properties must be an object"),
    (grid_feature("edz-01"), "the id is used again (first at feature 1)"),
]


async def staff(db: Database) -> None:
    await add_officer(db, 7001, "Li", "Li_Grid")
    await add_officer(db, 7002, "Wu", None)
    await add_officer(db, 7003, "Dana", "dana_desk", role="dispatcher")


# ------------------------------------------------------- as a person runs it
def run_grids_command(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot grids …`` in a clean environment, on the database file the test prepared."""
    env = bot_env(BOT_TOKEN="123456:" + "A" * 30, DATABASE_PATH=str(tmp_path / "cli.sqlite3"))
    return subprocess.run(
        [sys.executable, "-m", "bot", "grids", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_grids(tmp_path: Path) -> list[tuple[str, str, int]]:
    with closing(sqlite3.connect(tmp_path / "cli.sqlite3")) as conn:
        return conn.execute(
            "SELECT g.external_id, g.name, count(o.telegram_id) FROM grids g "
            "LEFT JOIN grid_officers o ON o.grid_id = g.id GROUP BY g.id ORDER BY g.id"
        ).fetchall()


async def test_each_bad_feature_is_listed_with_its_number_and_nothing_is_imported(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "cli.sqlite3")
    await staff(db)
    await db.close()
    path = write_grids(tmp_path / "grids.geojson", grid_feature(), *[feature for feature, _ in BAD_FEATURES])
    result = run_grids_command(tmp_path, "import", str(path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {path} was not imported; nothing was changed:"
    problems = [line.strip() for line in lines[1:]]
    assert len(problems) == len(BAD_FEATURES), problems
    for number, (problem, (_, reason)) in enumerate(zip(problems, BAD_FEATURES, strict=True), start=2):
        assert problem.startswith(f"feature {number}") and reason in problem, (problem, reason)
    assert stored_grids(tmp_path) == []  # not even the good first feature


async def test_the_command_imports_exports_and_reimports(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "cli.sqlite3")
    await staff(db)
    await db.close()
    path = write_grids(tmp_path / "grids.geojson", *two_grids(("@li_grid", 7002), (7002,)))
    imported = run_grids_command(tmp_path, "import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert "grids: 2 new, 0 updated" in imported.stdout
    assert stored_grids(tmp_path) == [("edz-01", "沌口网格", 2), ("edz-02", "车城网格", 1)]

    exported = run_grids_command(tmp_path, "export", str(tmp_path / "out.geojson"))
    assert exported.returncode == 0 and "exported 2 grids" in exported.stdout
    data = json.loads((tmp_path / "out.geojson").read_text("utf-8"))
    assert data["features"][0]["properties"] == {
        "id": "edz-01",
        "name": "沌口网格",
        "district": "wuhan-edz",
        "officers": ["@Li_Grid", "7002"],
    }
    assert data["features"][0]["geometry"] == DONGKOU and data["features"][1]["geometry"] == CHECHENG

    again = run_grids_command(tmp_path, "import", str(tmp_path / "out.geojson"))
    assert again.returncode == 0 and "grids: 0 new, 2 updated" in again.stdout
    run_grids_command(tmp_path, "export", str(tmp_path / "again.geojson"))
    assert json.loads((tmp_path / "again.geojson").read_text("utf-8")) == data


async def test_a_missing_file_or_broken_json_exits_2(tmp_path: Path) -> None:
    missing = run_grids_command(tmp_path, "import", str(tmp_path / "none.geojson"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', "utf-8")
    result = run_grids_command(tmp_path, "import", str(broken))
    assert result.returncode == 2 and "not valid JSON" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------- the core
async def test_reimport_updates_the_grid_by_its_id(db: Database, tmp_path: Path) -> None:
    await staff(db)
    summary = await load_grids(db, tmp_path, *two_grids())
    assert (summary.created, summary.updated) == (2, 0)
    assert (await grids.grid_at(db, 30.48, 114.15)).name == "沌口网格"  # type: ignore[union-attr]

    moved = {"type": "Polygon", "coordinates": [square(114.10, 30.42, 114.12, 30.44)]}
    summary = await load_grids(db, tmp_path, grid_feature(name="沌口新网格", officers=(7002,), geometry=moved))
    assert (summary.created, summary.updated) == (0, 1)
    rows = await db.fetchall("SELECT external_id, name FROM grids ORDER BY id")
    assert [(r["external_id"], r["name"]) for r in rows] == [("edz-01", "沌口新网格"), ("edz-02", "车城网格")]
    assert await grids.grid_at(db, 30.48, 114.15) is None  # the old outline is gone
    assert (await grids.grid_at(db, 30.43, 114.11)).name == "沌口新网格"  # type: ignore[union-attr]
    officers = await db.fetchall(
        "SELECT telegram_id FROM grid_officers o JOIN grids g ON g.id = o.grid_id WHERE g.external_id = 'edz-01'"
    )
    assert [row["telegram_id"] for row in officers] == [7002]


async def test_an_officer_problem_rolls_back_grids_already_written(db: Database, tmp_path: Path) -> None:
    await staff(db)
    await load_grids(db, tmp_path, grid_feature(name="旧名"))
    with pytest.raises(ImportFailed) as refused:
        await load_grids(db, tmp_path, grid_feature(name="新名"), grid_feature("edz-02", officers=["@ghost_one"]))
    assert refused.value.problems == ["feature 2 (id edz-02): officer @ghost_one is not a registered staff member"]
    rows = await db.fetchall("SELECT name FROM grids")
    assert [row["name"] for row in rows] == ["旧名"]


@pytest.mark.parametrize(
    ("officers", "expected"),
    [
        ("@LI_GRID", [7001]),  # a username in any case
        ("@li_grid, 7002", [7001, 7002]),  # several in one text
        (7002, [7002]),  # one id as a number
        (["7002", "@li_grid", 7002], [7002, 7001]),  # an id as text; a repeat counts once
    ],
)
async def test_officers_by_id_or_username(db: Database, tmp_path: Path, officers: object, expected: list[int]) -> None:
    await staff(db)
    await load_grids(db, tmp_path, grid_feature(officers=officers))
    rows = await db.fetchall("SELECT telegram_id FROM grid_officers ORDER BY position")
    assert [row["telegram_id"] for row in rows] == expected


def test_a_file_without_features_is_refused() -> None:
    for text, problem in [
        ('{"type": "FeatureCollection", "features": []}', "the file has no grids"),
        ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": {}}', "features must be a list of GeoJSON features, not an object"),
    ]:
        with pytest.raises(ImportFailed) as refused:
            grid_import.read_grids(text, AREA)
        assert refused.value.problems == [problem]


async def test_the_sample_grids_cover_the_sample_places(db: Database) -> None:
    await add_officer(db, 7003, "张队员", None)
    summary = await grid_import.load_sample_grids(db, AREA, 7003, NOW)
    assert (summary.created, summary.updated) == (3, 0)
    for place in SAMPLE_PLACES:
        found = await grids.grid_at(db, place.latitude, place.longitude)
        assert (found is not None) == place.key.startswith("edz-"), place.key
    with pytest.raises(ImportFailed) as refused:  # as shipped, the file names an officer nobody is
        await grid_import.import_grids(db, grid_import.SAMPLE_GRIDS, AREA, NOW)
    assert refused.value.problems[0] == "feature 1 (id edz-g01): officer @your_officer is not a registered staff member"


async def test_only_a_staff_members_username_is_kept(db: Database) -> None:
    directory = UserDirectory(db)

    async def stored() -> str | None:
        row = await db.fetchone("SELECT username FROM users WHERE telegram_id = 42")
        return row["username"]

    await directory.seen(42, "Wang", "zh-hans", NOW, "wang_w")
    assert await stored() is None  # a resident's username is never kept
    await directory.seen(42, "Wang", "zh-hans", NOW, "wang_w")
    assert await stored() is None
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET role = 'officer' WHERE telegram_id = 42")
    directory.forget_cached(42)
    await directory.seen(42, "Wang", "zh-hans", NOW, "wang_w")
    assert await stored() == "wang_w"
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET role = 'resident' WHERE telegram_id = 42")
    directory.forget_cached(42)
    await directory.seen(42, "Wang", "zh-hans", NOW, "wang_w")
    assert await stored() is None  # no longer staff: forgotten at their next message
