"""Several bot instances on one PostgreSQL database (bot/platform/claims.py): two couriers against one database and
one Telegram deliver every outbox row once, each chat's rows in order; a chat claimed by an instance that stopped
is taken over when its lease runs out; two reminder timers fire each due reminder once, and a reminder claimed by
an instance that died is fired by the other after the lease; two writers of spots number their changes in commit
order, as the spot index needs.

These run on PostgreSQL whatever the engine of the run: TEST_DATABASE_URL's server when it is set, otherwise a
throwaway one started by scripts/postgres.sh for this module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite
import asyncpg
import pytest

from bot.app import BotApplication, build_application
from bot.cases import service
from bot.cases.drafts import Draft
from bot.edge.courier import Notifier, backlog
from bot.platform import claims
from bot.platform.config import load_settings
from bot.platform.db import Database
from bot.platform.outbox import enqueue_text
from bot.platform.reminders import Reminder, ReminderKinds, fire_due, next_due, schedule
from bot.platform.services import Services
from devtools.emulator import BotAPIEmulator
from tests.support.driver import eventually
from tests.test_spots import load, offset, record

EMULATOR_TOKEN = "123456:emulator-token-aaaaaaaaaaaaaaaaaaaa"


@pytest.fixture
async def shared_url(new_pg_database: Callable[[], Awaitable[str]]) -> str:
    """A fresh database on the server, migrated, that the instances of one test share."""
    url = await new_pg_database()
    db = await Database.open(url)
    await db.close()
    return url


@dataclass
class Instance:
    """One running bot's courier: its own services, database pool, Bot API client and pacer."""

    services: Services
    notifier: Notifier

    @property
    def name(self) -> str:
        return self.services.instance


StartInstance = Callable[..., Awaitable[Instance]]  # (lease=…) -> an instance, its courier not started yet


@pytest.fixture
async def start_instance(emulator: BotAPIEmulator, shared_url: str) -> AsyncIterator[StartInstance]:
    started: list[tuple[Instance, BotApplication]] = []

    async def start(lease: timedelta = timedelta(seconds=90)) -> Instance:
        settings = load_settings(
            {
                "BOT_TOKEN": emulator.token,
                "BOT_API_BASE_URL": emulator.base_url,
                "BOT_API_FILE_URL": emulator.file_url,
                "DATABASE_URL": shared_url,
            },
            env_file=None,
        )
        services = Services(settings)
        application = build_application(settings, services)
        await application.initialize()  # opens the database, the Bot API client and its pacer; no polling
        notifier = Notifier(application.bot, services, idle_poll=0.2, lease=lease)  # started by the test
        instance = Instance(services, notifier)
        started.append((instance, application))
        return instance

    yield start
    for instance, application in started:
        await instance.notifier.stop()
        await application.shutdown()
        await instance.services.close()


async def queue(db: Database, messages: list[tuple[int, str]], now: datetime) -> None:
    async with db.transaction() as conn:
        for chat_id, text in messages:
            await enqueue_text(conn, chat_id, text, now)


def texts_in(emulator: BotAPIEmulator, chat_id: int) -> list[str]:
    return [message.get("text", "") for message in emulator.inbox.get(chat_id, [])]


async def drained(instance: Instance) -> bool:
    return await backlog(instance.services) == 0


def received(emulator: BotAPIEmulator, chat_id: int, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(texts_in(emulator, chat_id)) >= count

    return check


async def test_two_couriers_deliver_every_row_once_in_each_chats_order(
    emulator: BotAPIEmulator, start_instance: StartInstance
) -> None:
    chats = [7100 + number for number in range(30)]
    for chat_id in chats:
        emulator.add_user(chat_id, f"Resident {chat_id}", "en")
    first = await start_instance()
    second = await start_instance()
    db, now = first.services.db, first.services.clock.now()
    await queue(db, [(chat_id, f"{chat_id} #{n}") for n in range(1, 6) for chat_id in chats], now)
    # A third of the chats is already in each instance's hands (as after a first round of claims), so both are
    # certainly at work at once; the last third goes to whichever claims it first.
    lease = timedelta(seconds=90)
    for instance, held in ((first, chats[:10]), (second, chats[10:20])):
        for chat_id in held:
            assert len(await claims.claim_chat(db, chat_id, instance.name, now, lease, batch=20)) == 5
    first.notifier.start()
    second.notifier.start()
    await eventually(lambda: drained(first), timeout=60)

    for chat_id in chats:
        assert texts_in(emulator, chat_id) == [f"{chat_id} #{n}" for n in range(1, 6)]
    assert len(emulator.calls_of("sendMessage")) == 5 * len(chats)  # nothing sent twice
    rows = await db.fetchall("SELECT chat_id, state, claimed_by FROM outbox")
    assert {row["state"] for row in rows} == {"sent"} and len(rows) == 5 * len(chats)
    sender = {row["chat_id"]: row["claimed_by"] for row in rows}
    assert len({(row["chat_id"], row["claimed_by"]) for row in rows}) == len(chats)  # a chat's rows by one sender
    assert {sender[chat_id] for chat_id in chats[:10]} == {first.name}
    assert {sender[chat_id] for chat_id in chats[10:20]} == {second.name}
    assert first.notifier.delivered + second.notifier.delivered == 5 * len(chats)
    assert first.notifier.delivered >= 50 and second.notifier.delivered >= 50


async def test_a_chat_held_by_a_stopped_instance_is_taken_over_when_its_lease_ends(
    emulator: BotAPIEmulator, start_instance: StartInstance
) -> None:
    chat_id = 7200
    emulator.add_user(chat_id, "Qian", "en")
    lease = timedelta(seconds=3)
    stopping = await start_instance(lease)
    await queue(stopping.services.db, [(chat_id, f"news {n}") for n in range(1, 7)], stopping.services.clock.now())
    claimed_at = time.monotonic()
    stopping.notifier.start()
    # A private chat takes a burst of three, then one a second: stop the instance while it waits for the fourth.
    await eventually(received(emulator, chat_id, 3), timeout=10)
    # Gone without giving its claim back, as a killed process: its database first, then its courier.
    held_by = stopping.services.db
    await held_by.close()
    await stopping.notifier.stop()
    assert texts_in(emulator, chat_id) == ["news 1", "news 2", "news 3"]
    taking_over = await start_instance(lease)
    held = await taking_over.services.db.fetchall("SELECT claimed_by FROM outbox WHERE state = 'pending'")
    assert [row["claimed_by"] for row in held] == [stopping.name] * 3
    taking_over.notifier.start()
    await asyncio.sleep(max(0.0, claimed_at + lease.total_seconds() - 0.7 - time.monotonic()))
    assert texts_in(emulator, chat_id) == ["news 1", "news 2", "news 3"]  # the lease still holds
    await eventually(lambda: drained(taking_over), timeout=20)
    assert texts_in(emulator, chat_id) == [f"news {n}" for n in range(1, 7)]  # in order, none twice
    rows = await taking_over.services.db.fetchall("SELECT claimed_by FROM outbox ORDER BY id", ())
    assert [row["claimed_by"] for row in rows] == [stopping.name] * 3 + [taking_over.name] * 3


# ------------------------------------------------------------------ reminders
def recording_kinds(fired: list[tuple[str, int]], name: str) -> ReminderKinds:
    async def fire(conn: aiosqlite.Connection, reminder: Reminder, now: datetime) -> None:
        fired.append((name, reminder.id))
        await asyncio.sleep(0.002)  # a little work inside the transaction, so the two timers overlap

    return ReminderKinds({"test_tick": None}, fire)


@pytest.fixture
async def two_services(shared_url: str) -> AsyncIterator[tuple[Services, Services]]:
    pair = []
    for _ in range(2):
        services = Services(load_settings({"BOT_TOKEN": EMULATOR_TOKEN, "DATABASE_URL": shared_url}, env_file=None))
        await services.open()
        pair.append(services)
    yield pair[0], pair[1]
    for services in pair:
        await services.close()


async def test_two_reminder_timers_fire_each_due_reminder_once(two_services: tuple[Services, Services]) -> None:
    first, second = two_services
    now = first.clock.now()
    async with first.db.transaction() as conn:
        for number in range(200):
            await schedule(conn, "test_tick", f"thing:{number}", now - timedelta(seconds=number % 7), now)
    fired: list[tuple[str, int]] = []

    async def timer(services: Services, name: str) -> None:
        while await fire_due(services, recording_kinds(fired, name), services.clock.now(), limit=10):
            pass

    await asyncio.gather(timer(first, "first"), timer(second, "second"))
    ids = [reminder_id for _, reminder_id in fired]
    assert len(ids) == len(set(ids)) == 200
    assert {name for name, _ in fired} == {"first", "second"}
    row = await first.db.fetchone("SELECT COUNT(*) FROM reminders WHERE state = 'done'")
    assert row is not None and row[0] == 200


async def test_reminders_claimed_by_an_instance_that_died_fire_after_the_lease(
    two_services: tuple[Services, Services],
) -> None:
    survivor, _ = two_services
    now = survivor.clock.now()
    async with survivor.db.transaction() as conn:
        await schedule(conn, "test_tick", "thing:orphan", now - timedelta(minutes=1), now)
    lease = timedelta(minutes=2)
    taken = await claims.claim_due_reminders(survivor.db, "died-mid-lease", now, lease, 10)
    assert len(taken) == 1
    fired: list[tuple[str, int]] = []
    kinds = recording_kinds(fired, "survivor")

    assert await fire_due(survivor, kinds, now + timedelta(minutes=1)) == 0  # still held
    lease_end = await next_due(survivor.db, survivor.instance)
    assert lease_end is not None and abs(lease_end - (now + lease)) < timedelta(seconds=1)  # looked at again then
    assert await fire_due(survivor, kinds, now + lease + timedelta(seconds=1)) == 1
    assert [reminder_id for _, reminder_id in fired] == [taken[0]["id"]]
    assert await next_due(survivor.db, survivor.instance) is None


async def test_sqlite_claims_nothing(db: Database, database_url: str | None) -> None:
    """On SQLite one process owns the file: the courier and the timer read rows as they always did."""
    assert claims.shared(db) is (database_url is not None)


async def test_two_instances_filing_at_once_number_each_report_once(shared_url: str) -> None:
    """Each instance numbers a report with the day's last number + 1: the numbering takes turns across them."""
    from tests.test_casework_core import NOW, POLICY

    first, second = await Database.open(shared_url), await Database.open(shared_url)
    try:
        draft = Draft(category="garbage", lat=30.5, lon=114.1, district="wuhan-edz", description="Bins overflowing")
        filed = await asyncio.gather(
            *(service.submit((first, second)[n % 2], 60_000 + n, draft, NOW, POLICY) for n in range(20))
        )
        numbers = {report.public_no for report in filed}
        assert len(numbers) == 20
        row = await first.fetchone("SELECT COUNT(DISTINCT public_no) FROM reports")
        assert row is not None and row[0] == 20
    finally:
        await first.close()
        await second.close()


# ------------------------------------------------------------------ the spot index's log
async def test_spot_changes_are_numbered_in_commit_order_across_connections(shared_url: str) -> None:
    """Two instances editing spots at once: the second writer waits for the first to commit, so a spot index that
    has read number n never meets a smaller number committed later (migration 0010's advisory lock)."""
    db = await Database.open(shared_url)
    try:
        ids = await load(db, record("one", *offset(100, 0)), record("two", *offset(200, 0)))
    finally:
        await db.close()
    first, second = await asyncpg.connect(shared_url), await asyncpg.connect(shared_url)
    try:
        early = first.transaction()
        await early.start()
        await first.execute("UPDATE spots SET note = 'first' WHERE id = $1", ids["one"])
        late = asyncio.create_task(second.execute("UPDATE spots SET note = 'second' WHERE id = $1", ids["two"]))
        await asyncio.sleep(0.5)
        assert not late.done()  # queued behind the first writer, not numbered before its commit
        await early.commit()
        await asyncio.wait_for(late, 10)
        log = await first.fetch("SELECT spot_id FROM spot_changes ORDER BY seq DESC LIMIT 2")
        assert [row["spot_id"] for row in log] == [ids["two"], ids["one"]]
    finally:
        await first.close()
        await second.close()
