"""Forged button data (issue 13 §5): for every prefix the bot reads, data it never makes is answered as a stale
button — the press answered, a WARNING logged, no ERROR, no apology, no admin alert, nothing in the database
changed. One bot serves the whole module; each prefix's presses come from a new person."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot import wire
from devtools.emulator import BotAPIEmulator
from tests.support.driver import Person, TestBed
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, card_of, enlist, file_case, start_staff_bed

pytestmark = pytest.mark.asyncio(loop_scope="module")

STALE = {"text": "This button is no longer active. Please start again from the menu.", "show_alert": True}
BIG = "99999999999999999999999"  # past SQLite's INTEGER


def filled(prefix: str, filler: str) -> str:
    """``prefix:`` followed by ``filler`` up to Telegram's 64 bytes."""
    room = wire.MAX_BYTES - len(prefix) - 1
    return f"{prefix}:" + filler * (room // len(filler.encode()))


# Per prefix: the inputs first, then negative numbers, empty, missing and extra parts, non-ASCII digits,
# numbers past SQLite's range, unknown values; every prefix also gets 64 bytes of garbage (GARBAGE).
FORGED: dict[str, list[str]] = {
    "lang": ["lang:", "lang:xx", "lang:en:en", "lang:٣"],
    "set": ["set:", "set:mute:1", "set:MUTE"],
    "fu": ["fu:²:fixed", f"fu:{BIG}:fixed", "fu:-1:fixed", "fu::fixed", "fu:1:fixed:1", "fu:١:fixed", "fu:1:broken"],
    "fs": ["fs:²:5", "fs:-1:5", "fs:1:", "fs:1:5:5", "fs:1:٥", "fs:1:6", f"fs:{BIG}:5"],
    "rpt": ["rpt:same:-1", "rpt:same:²", f"rpt:same:{BIG}", "rpt:cat:", "rpt:submit:1", "rpt:dist:a/b"],
    "mine": [
        "mine:show:²:0",
        "mine:show:-1:0",
        "mine:show:1:",
        "mine:show:1:0:0",
        "mine:page:²",
        "mine:info:٣",
        f"mine:withdrawn:{BIG}:0",
    ],
    "case": [
        "case:accept:²:submitted",
        "case:accept:-1:submitted",
        "case:accept::submitted",
        "case:accept:1:submitted:1",
        "case:to:1:accepted:²",
        f"case:to:1:accepted:{BIG}",
        "case:accept:١:submitted",
    ],
    "staff": [
        "staff:show:²",
        "staff:show:-1",
        "staff:remove:",
        "staff:list:1",
        "staff:role:1:god",
        f"staff:removed:{BIG}",
    ],
    "note": [
        "note:",
        "note:note:²",
        "note:reply:-1",
        f"note:note:{BIG}",
        "note:note:1:1",
        "note:write:1",
        "note:reply:١",
    ],
    "mod": [
        "mod:menu:²",
        "mod:hide:-1",
        "mod:hidep:1",
        "mod:hidep:1:²",
        "mod:showp:1:",
        "mod:block:1:1",
        "mod:nuke:1",
        f"mod:unblock:{BIG}",
        "mod:menu:١",
    ],
    "forget": ["forget:no:²", "forget:yes:-1", "forget:yes:", "forget:yes:1:1", "forget:maybe:1", "forget:yes:١"],
    "vmode": ["vmode:", "vmode:nearest:1", "vmode:teleport"],
    "alrt": [
        "alrt:",
        "alrt:list:1",
        "alrt:rm:²",
        "alrt:rm:-1",
        f"alrt:rm:{BIG}",
        "alrt:rad:30.48:114.15:999",
        "alrt:rad:nan:114.15:1000",
        "alrt:addn:30.48:114.15:1000:hourly",
        "alrt:addn:30.48:114.15:1000",
        "alrt:dist:a/b",
        "alrt:addd:wuhan-edz:instant:1",
    ],
    "vres": [
        "vres:1e1:114:-:now:0",
        "vres:nan:nan:-:now:0",
        "vres:30.5:114.16:-:now:-1",
        "vres:30.5:114.16:-:now:²",
        "vres:30.5:114.16:-:now",
        "vres:٣0.5:114.16:-:now:0",
    ],
    "vgoods": ["vgoods:30.5:114.16", "vgoods:30.5:114.16:now:1", "vgoods:-91:0:now", "vgoods:30.5:114.16:٣"],
    "vdist": ["vdist:wuhan-edz:²", "vdist:wuhan-edz:-1", "vdist::0", "vdist:wuhan-edz:0:0"],
    "vspot": ["vspot:²", "vspot:-1", "vspot:", "vspot:1:1", f"vspot:{BIG}"],
    "vsub": [f"vsub:{BIG}", "vsub:١", "vsub:-1", "vsub:"],
    "vunsub": ["vunsub:-1", "vunsub:²", "vunsub:1:x"],
    # no prefix the bot knows: the catch-all answers the same way
    "unknown": [":", "zzz:1", "x" * 64, "é" * 32, "💥" * 16],
}
GARBAGE = ("٣", "x", "²:")  # each fills a prefix's data up to 64 bytes
_people = itertools.count(610_000)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestBed]:
    emulator = BotAPIEmulator()
    await emulator.start()
    test_bed = TestBed(emulator, tmp_path_factory.mktemp("forged") / "bot.sqlite3")
    await start_staff_bed(test_bed)
    # Something to lose: a case with its card, a spot subscription, a staff member.
    resident = test_bed.person(609_001, "Resident", "en")
    await resident.send("/start")
    await resident.expect_message()
    await file_case(test_bed, resident.id)
    dispatcher = test_bed.person(609_002, "Dana", "en")
    await enlist(test_bed, dispatcher, "dispatcher")
    yield test_bed
    await test_bed.stop()
    await emulator.stop()


async def everything(bed: TestBed) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (what the bot stores, including its persistence and its outbox), once the bot has
    finished writing: the outbox sent and a persistence flush (every 0.2 s here) gone by without a change."""
    assert bed.application is not None
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    while True:
        await bed.application.update_persistence()
        tables = await bed.db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        now = {
            row["name"]: [tuple(r) for r in await bed.db.fetchall(f'SELECT * FROM "{row["name"]}"')]
            for row in tables
            if not row["name"].startswith("sqlite_")
        }
        pending = await bed.db.fetchone("SELECT 1 FROM outbox WHERE state = 'pending'")
        if now == snapshot and pending is None:
            return now
        snapshot = now
        await asyncio.sleep(0.05)


async def press_forged(bed: TestBed, person: Person, message: dict[str, Any], data: str) -> dict[str, Any]:
    """Presses ``data`` under ``message`` and returns the answer."""
    return await person.expect_answer(await person.press_data(message, data))


async def test_every_prefix_is_tried() -> None:
    assert set(FORGED) == {*wire.PREFIXES, "unknown"}


@pytest.mark.parametrize("prefix", FORGED)
async def test_forged_data_is_answered_as_a_stale_button(
    bed: TestBed, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    tried = FORGED[prefix] + ([filled(prefix, filler) for filler in GARBAGE] if prefix in wire.PREFIXES else [])
    person = bed.person(next(_people), "Mallory", "en")
    await person.send("/start")
    menu = await person.expect_message(contains="Hello")
    before, alerts = await everything(bed), len(bed.emulator.inbox.get(ADMIN_ID, []))
    for data in tried:
        assert not wire.well_formed(data), data
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            answer = await press_forged(bed, person, menu, data)
        assert answer == STALE, data
        assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR], data
        assert any("refused as stale or forged" in r.getMessage() for r in caplog.records), data
    await person.expect_no_message(wait=0.3)  # no apology
    assert len(bed.emulator.inbox.get(ADMIN_ID, [])) == alerts  # no admin alert
    assert await everything(bed) == before


@pytest.mark.parametrize(
    "data",
    ["case:accept:²:submitted", "case:accept:{id}:submitted:²", f"case:to:{{id}}:submitted:{BIG}", "staff:show:²"],
)
async def test_forged_data_on_a_real_card_leaves_the_card_and_the_case_alone(
    bed: TestBed, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    dispatcher = bed.person(609_002, "Dana", "en")
    room = dispatcher.in_group(bed.emulator.chats[STAFF_GROUP])
    report = await file_case(bed, next(_people))
    card = await card_of(room, report)
    before, alerts = await everything(bed), len(bed.emulator.inbox.get(ADMIN_ID, []))
    with caplog.at_level(logging.WARNING):
        answer = await press_forged(bed, room, card, data.format(id=report.id))
    assert answer == STALE
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    await room.expect_no_message(wait=0.3)
    assert len(bed.emulator.inbox.get(ADMIN_ID, [])) == alerts
    assert room.current(card) == card
    assert await everything(bed) == before
