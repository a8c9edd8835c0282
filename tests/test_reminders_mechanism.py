"""Durable reminders: fire once, survive restarts, coalesce, expire when stale, follow the bot's clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import aiosqlite
import pytest

from bot.platform import reminders
from bot.platform.outbox import enqueue_text
from bot.platform.reminders import Reminder, ReminderKinds
from tests.support.driver import Person, TestBed, eventually, text_of


async def echo(conn: aiosqlite.Connection, reminder: Reminder, now: datetime) -> None:
    """Sends the payload's text to the payload's chat: the smallest reminder there is."""
    await enqueue_text(
        conn, reminder.payload["chat"], reminder.payload["text"], now, dedupe_key=f"reminder:{reminder.id}"
    )


async def fire_test_kind(conn: aiosqlite.Connection, reminder: Reminder, now: datetime) -> None:
    """The test's own kinds, fired as bot/scheduled.py fires the bot's."""
    match reminder.kind:
        case "test_echo":
            await echo(conn, reminder, now)
        case "test_stale":
            await enqueue_text(conn, reminder.payload["chat"], reminder.payload["text"], now)
        case "test_broken":
            raise RuntimeError("a bug in a reminder handler")


TEST_KINDS = ReminderKinds({"test_echo": None, "test_stale": timedelta(minutes=1), "test_broken": None}, fire_test_kind)


@pytest.fixture
async def idle_bed(idle_bed: TestBed) -> TestBed:
    """The bot, told of the test's kinds of reminder beside its own."""
    idle_bed.more_reminder_kinds = TEST_KINDS
    return idle_bed


async def add(bed: TestBed, kind: str, due_in: timedelta, text: str, chat: int, target: str = "t") -> int | None:
    assert bed.services is not None
    now = bed.services.clock.now()
    async with bed.db.transaction() as conn:
        row_id = await reminders.schedule(conn, kind, target, now + due_in, now, {"chat": chat, "text": text})
    bed.services.reminders_changed()
    return row_id


async def state_of(bed: TestBed, reminder_id: int | None) -> str:
    row = await bed.db.fetchone("SELECT state FROM reminders WHERE id = ?", (reminder_id,))
    return str(row["state"])


@pytest.fixture
async def zhao(bed: TestBed) -> AsyncIterator[Person]:
    person = bed.person(3101, "Zhao", "en")
    await person.send("/start")
    await person.expect_message(contains="Hello, Zhao")
    yield person


async def test_a_reminder_fires_once_when_due(bed: TestBed, zhao: Person) -> None:
    reminder_id = await add(bed, "test_echo", timedelta(seconds=2), "ding", zhao.id)
    await zhao.expect_no_message(wait=0.5)
    assert text_of(await zhao.expect_message(timeout=5)) == "ding"
    await zhao.expect_no_message(wait=1.5)
    assert await state_of(bed, reminder_id) == "done"


async def test_pending_reminders_fire_once_after_a_restart(bed: TestBed, zhao: Person) -> None:
    soon = await add(bed, "test_echo", timedelta(seconds=2), "after restart", zhao.id, target="a")
    await add(bed, "test_echo", timedelta(hours=5), "much later", zhao.id, target="b")
    await bed.restart()
    assert text_of(await zhao.expect_message(timeout=8)) == "after restart"
    await zhao.expect_no_message(wait=1.5)
    assert await state_of(bed, soon) == "done"
    assert [r.payload["text"] for r in await reminders.pending(bed.db) if r.kind.startswith("test_")] == ["much later"]


async def test_overdue_at_start_fires_promptly(idle_bed: TestBed) -> None:
    await idle_bed.start()
    person = idle_bed.person(3102, "Qian", "en")
    await idle_bed.stop()
    long_ago = datetime.now().astimezone() - timedelta(hours=3)
    from bot.platform.db import Database

    db = await Database.open(idle_bed.database_target)
    async with db.transaction() as conn:
        await reminders.schedule(conn, "test_echo", "x", long_ago, long_ago, {"chat": person.id, "text": "late"})
    await db.close()
    await idle_bed.start()
    await person.expect_message(contains="late", timeout=5)


async def test_kill_between_marking_and_sending_neither_loses_nor_doubles(idle_bed: TestBed) -> None:
    """The two crash points, recreated on disk: the bot then starts as after a kill -9."""
    await idle_bed.start()
    person = idle_bed.person(3103, "Sun", "en")
    await idle_bed.stop()
    from bot.platform.db import Database

    now = datetime.now().astimezone()
    db = await Database.open(idle_bed.database_target)
    async with db.transaction() as conn:
        # Crash after the firing transaction committed: reminder done, its message queued but not yet sent.
        await reminders.schedule(conn, "test_echo", "fired", now, now, {"chat": person.id, "text": "queued"})
        await conn.execute("UPDATE reminders SET state = 'done' WHERE target = 'fired'")
        await enqueue_text(conn, person.id, "queued", now, dedupe_key="reminder:fired")
        # Crash before the firing transaction committed: nothing of it survived, the reminder is still pending.
        await reminders.schedule(
            conn, "test_echo", "unfired", now - timedelta(seconds=5), now, {"chat": person.id, "text": "pending"}
        )
    await db.close()

    await idle_bed.start()
    received = sorted(text_of(m) for m in await person.expect_messages(2))
    assert received == ["pending", "queued"]
    await person.expect_no_message(wait=1.5)


async def test_overdue_duplicates_are_coalesced(bed: TestBed, zhao: Person) -> None:
    assert bed.services is not None
    now = bed.services.clock.now()
    async with bed.db.transaction() as conn:
        for hours in (3, 2, 1):
            await reminders.schedule(
                conn,
                "test_echo",
                "same",
                now - timedelta(hours=hours),
                now,
                {"chat": zhao.id, "text": f"{hours}h late"},
            )
    bed.services.reminders_changed()
    assert text_of(await zhao.expect_message()) == "1h late"
    await zhao.expect_no_message(wait=1.0)
    states = [
        row["state"]
        for row in await bed.db.fetchall("SELECT state FROM reminders WHERE kind LIKE 'test%' ORDER BY due_at")
    ]
    assert states == ["coalesced", "coalesced", "done"]


async def test_a_stale_reminder_expires_unsent(bed: TestBed, zhao: Person) -> None:
    reminder_id = await add(bed, "test_stale", -timedelta(hours=2), "too late to matter", zhao.id)

    async def expired() -> bool:
        return await state_of(bed, reminder_id) == "expired"

    assert await eventually(expired)
    await zhao.expect_no_message(wait=0.5)


async def test_a_cancelled_reminder_never_fires(bed: TestBed, zhao: Person) -> None:
    reminder_id = await add(bed, "test_echo", timedelta(seconds=1), "should not arrive", zhao.id, target="case:9")
    async with bed.db.transaction() as conn:
        assert await reminders.cancel(conn, "case:9") == 1
    bed.services.reminders_changed()  # type: ignore[union-attr]
    await zhao.expect_no_message(wait=2.0)
    assert await state_of(bed, reminder_id) == "cancelled"


async def test_advancing_the_clock_fires_what_became_due(bed: TestBed, zhao: Person) -> None:
    assert bed.services is not None
    await add(bed, "test_echo", timedelta(hours=1), "an hour later", zhao.id)
    await zhao.expect_no_message(wait=0.3)
    await bed.services.advance_clock(timedelta(hours=1, seconds=1))
    await zhao.expect_message(contains="an hour later")


async def test_a_failing_handler_is_marked_and_does_not_loop(bed: TestBed, zhao: Person) -> None:
    reminder_id = await add(bed, "test_broken", timedelta(0), "", zhao.id)

    async def failed() -> bool:
        return await state_of(bed, reminder_id) == "failed"

    assert await eventually(failed)
    assert await bed.db.fetchone("SELECT 1 FROM outbox WHERE chat_id = ? AND state = 'pending'", (zhao.id,)) is None


async def test_a_kind_nothing_fires_is_marked_failed_and_sends_nothing(bed: TestBed, zhao: Person) -> None:
    """No handler is registered anywhere: a kind that neither the bot's dispatcher nor the test knows is refused
    by the timer (marked failed, not fired, not retried)."""
    reminder_id = await add(bed, "nonexistent", timedelta(0), "should not arrive", zhao.id)

    async def failed() -> bool:
        return await state_of(bed, reminder_id) == "failed"

    assert await eventually(failed)
    await zhao.expect_no_message(wait=0.5)


def test_the_dispatcher_refuses_a_kind_it_does_not_know() -> None:
    """bot/scheduled.py fires each kind it names and raises for any other; every kind it fires has a staleness."""
    from bot import scheduled

    with pytest.raises(scheduled.UnknownReminderKind):
        asyncio.run(
            scheduled.fire(None, Reminder(1, "nonexistent", "x", datetime.now(), {}), datetime.now(), None, None)
        )  # type: ignore[arg-type]
