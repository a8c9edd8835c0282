"""Two instances of the bot on one PostgreSQL behind one webhook URL: each update handled once, a chat's updates in
order, the wizard's steps carried from one instance to the other, a dead instance's chat taken over, and Telegram's
budget divided between them. Needs TEST_DATABASE_URL (PostgreSQL); CI sets it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import BotApplication, build_application, start_webhook, stop_webhook
from bot.edge.inbound import SharedInbound
from bot.edge.pacing import Pacer
from bot.platform.services import Services
from bot.web import Metrics
from devtools.balancer import Balancer, free_port
from devtools.emulator import BotAPIEmulator
from tests.support.driver import TestBed, eventually
from tests.support.pg import TEST_DATABASE_URL
from tests.support.report_steps import DESCRIPTION, HOME, STAFF_CHAT, walk_to

pytestmark = pytest.mark.skipif(
    TEST_DATABASE_URL is None,
    reason="several instances share a PostgreSQL database: set TEST_DATABASE_URL (bash scripts/postgres.sh)",
)

SECRET = "instances-secret"


@dataclass
class Pair:
    emulator: BotAPIEmulator
    instances: list[TestBed]
    balancer: Balancer

    def app(self, index: int) -> BotApplication:
        application = self.instances[index].application
        assert application is not None
        return application

    def inbound(self, index: int) -> SharedInbound:
        inbound: SharedInbound = self.app(index).bot_data["inbound"]
        return inbound


async def start_instance(emulator: BotAPIEmulator, tmp_path: Path, url: str) -> TestBed:
    port = free_port()
    bed = TestBed(emulator, tmp_path / "unused.sqlite3", database_url=url)
    bed.env = {
        "STAFF_CHAT_ID": str(STAFF_CHAT),
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
        "REPORT_IDLE_TIMEOUT": "2s",  # were the wizard's idle timer on, it would pause a wizard gone to the other
    }
    bed.settings = bed.make_settings()
    bed.services = Services(bed.settings)
    bed.application = build_application(bed.settings, bed.services)
    await start_webhook(bed.application, bed.settings)
    return bed


@pytest.fixture
async def pair(emulator: BotAPIEmulator, tmp_path: Path, database_url: str | None) -> AsyncIterator[Pair]:
    assert database_url is not None
    first = await start_instance(emulator, tmp_path, database_url)
    second = await start_instance(emulator, tmp_path, database_url)
    assert first.settings is not None and second.settings is not None
    balancer = Balancer([str(first.settings.webhook_url), str(second.settings.webhook_url)])
    await balancer.start()
    emulator.webhook_url = balancer.url  # Telegram knows one URL: the balancer's
    emulator.add_group(STAFF_CHAT, "Staff")
    yield Pair(emulator, [first, second], balancer)
    for bed in (first, second):
        if bed.application is not None:
            await stop_webhook(bed.application)
            bed.application = None
    await balancer.stop()


def handled(pair: Pair) -> int:
    total = 0
    for index in range(2):
        metrics: Metrics = pair.app(index).bot_data["metrics"]
        total += metrics.handled
    return total


async def settled(pair: Pair, chat_id: int) -> None:
    """Waits until the chat's updates are all handled and its lease let go, so the next one may land anywhere."""
    db = pair.instances[0].db

    async def idle() -> bool:
        busy = await db.fetchone(
            "SELECT 1 FROM inbound_updates WHERE chat_key = ? AND state = 'pending' "
            "UNION ALL SELECT 1 FROM chat_leases WHERE chat_key = ?",
            (chat_id, chat_id),
        )
        return busy is None

    await eventually(idle)


async def test_the_wizard_continues_whichever_instance_gets_each_step(pair: Pair) -> None:
    bed = pair.instances[0]
    alice = bed.person(8101, "Alice", language_code="en")
    await alice.send("/report")  # to the first instance, then the second, the first… in turn
    prompt = await alice.expect_message(contains="What kind of problem")
    await settled(pair, alice.id)
    await alice.press(prompt, "Exposed garbage")
    await alice.expect_message(contains="Where is it?")
    await settled(pair, alice.id)
    await alice.share_location(*HOME)
    await alice.expect_message(contains="Location received")
    await alice.expect_message(contains="describe the problem")
    await settled(pair, alice.id)
    await alice.send(DESCRIPTION)
    prompt = await alice.expect_message(contains="A photo helps")
    await settled(pair, alice.id)
    await alice.press(prompt, "Skip")
    card = await alice.expect_message(contains="Please check your report")
    await settled(pair, alice.id)
    await alice.press(card, "Submit")
    await alice.expect_message(contains="Thank you! Your report number is R")
    await alice.expect_no_message(0.5)

    assert pair.balancer.routed == [0, 1, 0, 1, 0, 1]
    rows = await bed.db.fetchall("SELECT state, claimed_by FROM inbound_updates ORDER BY update_id")
    assert len(rows) == 6 and {row["state"] for row in rows} == {"done"}
    owners = {pair.inbound(0).instance_id, pair.inbound(1).instance_id}
    assert {row["claimed_by"] for row in rows} == owners  # both instances handled steps of the one wizard
    report = await bed.db.fetchall("SELECT category, description FROM reports WHERE reporter_id = ?", (8101,))
    assert [tuple(r) for r in report] == [("garbage", DESCRIPTION)]
    assert await bed.db.fetchone("SELECT 1 FROM ptb_conversations WHERE key LIKE '[8101,%'") is None  # ended
    assert await bed.db.fetchall("SELECT * FROM chat_leases") == []
    assert handled(pair) == 6


async def test_an_update_sent_to_both_instances_is_handled_once_and_in_order(pair: Pair) -> None:
    pair.balancer.to_all = True  # every update reaches both instances, as a re-delivery after a timeout does
    bed = pair.instances[0]
    bob = bed.person(8102, "Bob", language_code="en")
    for text in ("/start", "/help", "/start", "/help"):
        await bob.send(text)
    await bob.expect_message(contains="Hello, Bob")
    await bob.expect_message(contains="What I can do")
    await bob.expect_message(contains="Hello, Bob")
    await bob.expect_message(contains="What I can do")
    await bob.expect_no_message(0.5)

    assert len(pair.balancer.routed) == 8
    assert handled(pair) == 4
    rows = await bed.db.fetchall("SELECT state FROM inbound_updates WHERE chat_key = 8102")
    assert [row["state"] for row in rows] == ["done"] * 4


async def test_a_chat_held_by_a_dead_instance_is_taken_over_when_its_lease_runs_out(pair: Pair) -> None:
    bed = pair.instances[0]
    carol = bed.person(8103, "Carol", language_code="en")
    # An instance took Carol's chat and was killed: its lease still runs for two seconds, and nobody renews it.
    await bed.db.execute(
        "INSERT INTO chat_leases (chat_key, owner, lease_until) VALUES (?, 'killed', now() + interval '2 seconds')",
        (8103,),
    )
    await carol.send("/start")
    await carol.send("/help")
    await carol.expect_no_message(1.0)  # stored, but the chat is the dead instance's for now
    pending = await bed.db.fetchall("SELECT state FROM inbound_updates WHERE chat_key = 8103")
    assert [row["state"] for row in pending] == ["pending", "pending"]

    await carol.expect_message(contains="Hello, Carol", timeout=5)  # the sweeper took the chat over, in order
    await carol.expect_message(contains="What I can do")
    await carol.expect_no_message(0.5)
    rows = await bed.db.fetchall("SELECT state FROM inbound_updates WHERE chat_key = 8103")
    assert [row["state"] for row in rows] == ["done", "done"]
    assert await bed.db.fetchall("SELECT * FROM chat_leases") == []


async def test_a_wizard_left_on_a_stopped_instance_goes_on_on_the_other(pair: Pair) -> None:
    bed = pair.instances[1]
    dan = bed.person(8104, "Dan", language_code="en")
    await walk_to(dan, "description")
    first = pair.instances[0]
    assert first.application is not None
    await stop_webhook(first.application)
    first.application = None
    pair.balancer.targets = [pair.balancer.targets[1]] * 2  # the balancer sends everything to the one left
    await dan.send("Broken street light on the corner")
    await dan.expect_message(contains="A photo helps")
    row = await bed.db.fetchone("SELECT step, data FROM report_drafts WHERE telegram_id = 8104")
    assert row["step"] == "photos" and json.loads(row["data"])["description"] == "Broken street light on the corner"


async def test_the_instances_divide_telegrams_budget(pair: Pair) -> None:
    pacers = [pair.app(index).bot.rate_limiter for index in range(2)]

    def overall(index: int) -> tuple[int, float]:
        pacer = pacers[index]
        assert isinstance(pacer, Pacer)
        return pacer.schedule.limits.overall

    async def halves() -> bool:
        return overall(0) == overall(1) == (15, 1.0)

    async def whole() -> bool:
        return overall(0) == (30, 1.0)

    assert await eventually(halves)
    live = await pair.instances[0].db.fetchone("SELECT COUNT(*) FROM instances")
    assert live[0] == 2

    second = pair.instances[1]
    assert second.application is not None
    await stop_webhook(second.application)
    second.application = None
    assert await eventually(whole)  # the one left has the whole budget again


async def test_replies_from_both_instances_into_one_chat_keep_its_limit(pair: Pair) -> None:
    """Each instance's pacer allows a chat a burst of three; the shared bucket keeps the two together to that."""
    pair.emulator.flood_limit = 30  # Telegram's limits on: a chat takes a burst of three, then one a second
    bed = pair.instances[0]
    bo = bed.person(8105, "Bo", language_code="en")
    for _ in range(6):  # the instances answer in turn
        await bo.send("/help")
        await bo.expect_message(contains="/language", timeout=15)
        await settled(pair, bo.id)
    assert pair.balancer.routed == [0, 1, 0, 1, 0, 1]
    assert pair.emulator.flood_errors_by_scope["chat"] == 0


async def test_a_wizard_continued_at_the_other_instance_is_not_paused_by_the_first_ones_timer(pair: Pair) -> None:
    bed = pair.instances[0]
    cai = bed.person(8106, "Cai", language_code="en")
    await cai.send("/report")  # the first instance asks; its idle timer would fire two seconds on
    prompt = await cai.expect_message(contains="What kind of problem")
    await settled(pair, cai.id)
    await cai.press(prompt, "Exposed garbage")  # the second instance takes the step
    await cai.expect_message(contains="Where is it?")
    await cai.expect_no_message(3.0)  # no "paused" from the first instance's timer
    await settled(pair, cai.id)
    await cai.share_location(*HOME)
    await cai.expect_message(contains="Location received")
    await cai.expect_message(contains="describe the problem")
