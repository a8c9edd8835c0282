"""The in-process spot index (bot.vending.spot_index): the same answers as SQL and as a brute-force scan, and
every change to a spot — a staff action, an import, a date exception, a write by another process — seen by the
very next search, down to the vendor asking the bot again."""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.geo import haversine_m
from bot.vending import search, spots, staff_actions
from bot.vending.spot_index import SpotIndex
from tests.support.driver import Person, TestBed, text_of
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, staff_env
from tests.test_spots import CENTRE, CITY, TIMING, load, local, offset, record
from tests.test_vendor_journey import ZHUANKOU, ask_where_to_sell, set_local_time

HOURS = ["22:00-04:00", "06:00-08:30", "Mo-Fr 09:00-17:00", "Sa,Su 10:00-12:00", "17:30-22:00"]
GOODS = [("fruit",), ("vegetables", "own_produce"), ("cooked_food",), ("fruit", "flowers")]
MONDAY = local(2026, 11, 23, 0)


@pytest.fixture
async def index(db: Database) -> AsyncIterator[SpotIndex]:
    spot_index = SpotIndex(db)
    yield spot_index
    spot_index.close()


async def random_city(db: Database, rng: random.Random, count: int) -> dict[str, int]:
    records = []
    for number in range(count):
        lat, lon = offset(rng.gauss(0, 5000), rng.gauss(0, 5000))
        roll = rng.random()
        status = spots.STATUS_CLOSED if roll < 0.05 else spots.STATUS_OPEN
        until = MONDAY + timedelta(hours=rng.randrange(7 * 24)) if roll < 0.025 else None
        records.append(
            record(
                f"r{number}", lat, lon, rng.choice(HOURS), goods=rng.choice(GOODS), status=status, closed_until=until
            )
        )
    return await load(db, *records)


async def same_answers(db: Database, index: SpotIndex, rng: random.Random, asks: int) -> int:
    """Asks the same questions with and without the index; returns how many came back "soonest"."""
    soonest = 0
    for _ in range(asks):
        lat, lon = offset(rng.gauss(0, 6000), rng.gauss(0, 6000))
        now = MONDAY + timedelta(minutes=rng.randrange(7 * 1440))
        when = rng.choice(["now", "now", "tonight", "morning"])
        goods = rng.choice([None, None, "fruit", "flowers"])
        page = rng.choice([0, 0, 3])
        asked = {"limit": 3, "offset": page, "goods": goods, "when": when}
        over_sql = await search.nearest_open_spots(db, lat, lon, now, CITY, **asked)  # type: ignore[arg-type]
        indexed = await search.nearest_open_spots(db, lat, lon, now, CITY, **asked, index=index)  # type: ignore[arg-type]
        assert indexed == over_sql, (lat, lon, now, asked)
        soonest += indexed.soonest
    return soonest


async def test_the_index_answers_as_sql_does_for_every_period_goods_and_page(db: Database, index: SpotIndex) -> None:
    rng = random.Random(5)
    await random_city(db, rng, 500)
    soonest = await same_answers(db, index, rng, 150)
    assert 0 < soonest < 150  # both kinds of answer were compared


async def test_soonest_through_the_index_equals_a_brute_force_ranking(db: Database, index: SpotIndex) -> None:
    rng = random.Random(29)
    await random_city(db, rng, 400)
    everything = [
        await spots.get_spot(db, row["id"], MONDAY, CITY) for row in await db.fetchall("SELECT id FROM spots")
    ]
    for _ in range(30):
        lat, lon = offset(rng.gauss(0, 6000), rng.gauss(0, 6000))
        now = MONDAY + timedelta(minutes=rng.randrange(7 * 1440))
        expected = []
        for candidate in everything:
            distance = haversine_m(lat, lon, candidate.lat, candidate.lon)
            arrival = now + timedelta(minutes=distance / 75)
            opening = spots.selling_opening(candidate, now, arrival, CITY)
            if opening is not None:
                expected.append((max(arrival, opening.opens_at), distance, candidate.id))
        got = await search.soonest_selling(db, lat, lon, now, CITY, start=now, wanted=5, index=index)
        assert [n.spot.id for n in got] == [spot_id for _, _, spot_id in sorted(expected)[:5]]
        over_sql = await search.soonest_selling(db, lat, lon, now, CITY, start=now, wanted=5)
        assert got == over_sql[:5]  # SQL's rounds may bring a few more, ranked after these


async def nearest_ids(db: Database, index: SpotIndex, lat: float, lon: float, hour: int = 12) -> list[int]:
    found = await search.nearest_open_spots(db, lat, lon, local(2026, 11, 23, hour), CITY, limit=3, index=index)
    assert found == await search.nearest_open_spots(db, lat, lon, local(2026, 11, 23, hour), CITY, limit=3)
    return [near.spot.id for near in found.spots]


async def test_every_change_to_a_spot_is_seen_by_the_very_next_search(db: Database, index: SpotIndex) -> None:
    ids = await load(
        db,
        record("a", *offset(100, 0)),
        record("b", *offset(200, 0)),
        record("c", *offset(300, 0)),
        record("d", *offset(400, 0)),
    )
    now = local(2026, 11, 23, 12)
    assert await nearest_ids(db, index, *CENTRE) == [ids["a"], ids["b"], ids["c"]]

    async with db.transaction() as conn:  # a staff closure
        await staff_actions.close_spot(conn, ids["a"], None, "road works", now, timing=TIMING)
    assert await nearest_ids(db, index, *CENTRE) == [ids["b"], ids["c"], ids["d"]]

    async with db.transaction() as conn:  # reopened
        await staff_actions.reopen_spot(conn, ids["a"], now, timing=TIMING)
    assert await nearest_ids(db, index, *CENTRE) == [ids["a"], ids["b"], ids["c"]]

    async with db.transaction() as conn:  # moved to another spot
        await staff_actions.relocate_spot(conn, ids["b"], ids["d"], now, timing=TIMING)
    assert await nearest_ids(db, index, *CENTRE) == [ids["a"], ids["c"], ids["d"]]

    moved = await load(db, record("c", *offset(-50, 0)), record("e", *offset(0, 150), "06:00-08:30"))
    assert await nearest_ids(db, index, *CENTRE) == [moved["c"], ids["a"], ids["d"]]  # re-imported nearer
    assert await nearest_ids(db, index, *CENTRE, hour=7) == [moved["c"], ids["a"], moved["e"]]  # a new spot

    await db.execute(  # closed on Monday the 23rd
        "INSERT INTO spot_exceptions (spot_id, first_day, last_day, reason) VALUES (?, '2026-11-23', '2026-11-23', '')",
        (ids["a"],),
    )
    assert await nearest_ids(db, index, *CENTRE) == [moved["c"], ids["d"]]
    await db.execute("DELETE FROM spot_exceptions WHERE spot_id = ?", (ids["a"],))
    await db.execute("UPDATE spots SET goods = 'flowers', note = 'edited' WHERE id = ?", (ids["a"],))
    found = await search.nearest_open_spots(db, *CENTRE, now, CITY, goods="flowers", index=index)
    assert [(n.spot.id, n.spot.note) for n in found.spots] == [(ids["a"], "edited")]
    await db.execute("DELETE FROM spots WHERE id = ?", (moved["c"],))
    assert await nearest_ids(db, index, *CENTRE) == [ids["a"], ids["d"]]


CLOSE_IN_SQLITE = """import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as conn:
    conn.execute("UPDATE spots SET status = 'closed_temporarily' WHERE id = ?", (int(sys.argv[2]),))
"""
CLOSE_IN_POSTGRES = """import asyncio, asyncpg, sys
async def close():
    conn = await asyncpg.connect(sys.argv[1])
    await conn.execute("UPDATE spots SET status = 'closed_temporarily' WHERE id = $1", int(sys.argv[2]))
    await conn.close()
asyncio.run(close())
"""


async def test_a_change_made_by_another_process_is_seen(
    db: Database, index: SpotIndex, database_url: str | None
) -> None:
    ids = await load(db, record("near", *offset(100, 0)), record("far", *offset(900, 0)))
    assert await nearest_ids(db, index, *CENTRE) == [ids["near"], ids["far"]]
    script, target = (CLOSE_IN_POSTGRES, database_url) if database_url else (CLOSE_IN_SQLITE, str(db.path))
    writer = await asyncio.create_subprocess_exec(sys.executable, "-c", script, target, str(ids["near"]))
    assert await asyncio.wait_for(writer.wait(), 30) == 0
    assert await nearest_ids(db, index, *CENTRE) == [ids["far"]]


async def test_an_index_far_behind_the_log_reloads_every_spot(db: Database, index: SpotIndex) -> None:
    rng = random.Random(3)
    await random_city(db, rng, 300)
    await same_answers(db, index, rng, 10)
    seen = await db.fetchone("SELECT max(seq) FROM spot_changes")  # where the index stands
    for _ in range(35):  # 10,500 changes: the log keeps the last 10,000
        await db.execute("UPDATE spots SET note = note || '.'")
    far_away = to_db(local(2026, 11, 30, 0))
    await db.execute("UPDATE spots SET status = 'closed_temporarily', closed_until = ? WHERE id % 2 = 0", (far_away,))
    oldest = await db.fetchone("SELECT min(seq) FROM spot_changes")
    assert seen is not None and oldest is not None and oldest[0] > seen[0] + 1  # trimmed past it
    await same_answers(db, index, rng, 40)


async def test_searches_inside_a_transaction_see_its_own_changes(db: Database, index: SpotIndex) -> None:
    ids = await load(db, record("near", *offset(100, 0)), record("far", *offset(900, 0)))
    now = local(2026, 11, 23, 12)
    assert await nearest_ids(db, index, *CENTRE) == [ids["near"], ids["far"]]
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE spots SET status = 'relocated', relocated_to = ? WHERE id = ?", (ids["far"], ids["near"])
            )
            inside = await search.nearest_open_spots(conn, *CENTRE, now, CITY, index=index)
            assert [n.spot.id for n in inside.spots] == [ids["far"]]
            raise RuntimeError("rolled back")
    assert await nearest_ids(db, index, *CENTRE) == [ids["near"], ids["far"]]


async def test_an_in_memory_database_is_not_indexed(tmp_path: Path) -> None:
    assert not SpotIndex.can_index(":memory:")
    assert SpotIndex.can_index(tmp_path / "bot.sqlite3")
    in_memory = await Database.open(":memory:")
    try:
        assert SpotIndex.for_database(in_memory) is None
    finally:
        await in_memory.close()


# ------------------------------------------------------------------ through the bot
@pytest.fixture
async def staff_bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.env = staff_env("en")
    idle_bed.group(STAFF_GROUP, "City management staff")
    await idle_bed.start()
    yield idle_bed


async def venue_titles(vendor: Person) -> list[str]:
    """Asks the bot for the spots open now at the Zhuankou night market; the titles of the pins it sends."""
    await ask_where_to_sell(vendor)
    await vendor.share_location(*ZHUANKOU)
    await vendor.expect_message(contains="正在查找")
    titles = []
    while "venue" in (message := await vendor.expect_message()):
        titles.append(message["venue"]["title"].split(". ", 1)[1])
    assert "米" in text_of(message) or "公里" in text_of(message)  # the summary, with distances
    return titles


async def test_a_vendor_asking_again_sees_a_staff_closure_move_and_import_at_once(staff_bed: TestBed) -> None:
    set_local_time(staff_bed, 2026, 11, 23, 23, 0)  # a Monday, 23:00: the night markets are open
    assert staff_bed.services is not None
    db = staff_bed.services.db
    admin = staff_bed.person(ADMIN_ID, "Admin", "en")
    vendor = staff_bed.person(6601, "摊主", "zh-hans")
    first = await venue_titles(vendor)
    assert first[0] == "沌口夜市疏导点"

    await admin.send("/spot close wh-001 2d road works")
    await admin.expect_message(contains="is closed until")
    assert "沌口夜市疏导点" not in await venue_titles(vendor)

    await admin.send("/spot open wh-001")
    await admin.expect_message(contains="is open again")
    assert (await venue_titles(vendor))[0] == "沌口夜市疏导点"

    other = await db.fetchone("SELECT external_id FROM spots WHERE status = 'open' AND external_id <> 'wh-001'")
    assert other is not None
    await admin.send(f"/spot move wh-001 {other['external_id']}")
    await admin.expect_message(contains="has moved to")
    assert "沌口夜市疏导点" not in await venue_titles(vendor)

    await load(db, record("new-by-the-market", *ZHUANKOU, name="新开夜市便民点"))
    assert (await venue_titles(vendor))[0] == "新开夜市便民点"
