"""Crash chaos on two instances: two ``python -m bot`` processes share one PostgreSQL database behind one webhook.

Telegram posts each update to one URL; a round-robin balancer (as a load balancer in front of N instances does)
hands each POST to the next instance that answers. One instance at a time is SIGKILLed at random moments while the
other carries on, and is restarted a moment later. The people, the desk and the invariant are those of
tests/test_chaos.py (no report lost or doubled, every conversation finished, each reminder fired once, each
outbox row sent once — again only where a kill fell between sending and marking it sent), and besides: each
chat's queued messages reached Telegram in the order they were queued.

Run with CHAOS_SEED=<n> to repeat a run (the seed is printed). PostgreSQL: TEST_DATABASE_URL's server when it is
set, otherwise a throwaway one (scripts/postgres.sh).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import defaultdict
from pathlib import Path

import pytest

from bot.platform.db import Database
from devtools.balancer import Balancer, free_port
from devtools.emulator import BotAPIEmulator
from tests.support.chaos import BotProcess, process_env
from tests.support.chaos_storm import DESK, check_invariants, plain, play, settle
from tests.support.pg import TEST_DATABASE_URL

SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1_000_000))
MAX_KILLS = int(os.environ.get("CHAOS_KILLS", "10"))
UPTIME = (1.0, 5.0)  # seconds between two kills
DOWNTIME = (0.5, 3.0)  # seconds the killed instance stays down while the other carries on
SECRET = "chaos-webhook-secret"
PATH = "/telegram/webhook"

pytestmark = pytest.mark.skipif(
    TEST_DATABASE_URL is None,
    reason="two instances share a PostgreSQL database: set TEST_DATABASE_URL (bash scripts/postgres.sh)",
)


async def chaos_monkey(instances: list[BotProcess], rng: random.Random, done: asyncio.Event) -> None:
    """Kills one instance at a time at random moments; the other carries on until the killed one is back."""
    while sum(bot.kills for bot in instances) < MAX_KILLS and not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), rng.uniform(*UPTIME))
            return
        except TimeoutError:
            pass
        victim = rng.choice(instances)
        await victim.kill()
        await asyncio.sleep(rng.uniform(*DOWNTIME))
        await victim.start()


async def sent_out_of_order(db: Database, emulator: BotAPIEmulator) -> dict[int, str]:
    """Chats whose queued texts did not first reach Telegram in the order they were queued: each chat's texts, in
    the outbox's id order, must be found in that order among the messages Telegram took for the chat (a message
    sent again after a kill, the edge repeat the invariant allows, may stand later too). A row rewritten while its
    send was on the way (a card brought up to date) matches the message it was then edited into."""
    rows = await db.fetchall(
        "SELECT id, chat_id, params FROM outbox WHERE state = 'sent' AND method = 'sendMessage' ORDER BY id"
    )
    queued: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        params = json.loads(row["params"])
        if "copy_of" in params:  # a record of a copy someone pressed (outbox.record_copy), never sent from the row
            continue
        queued[row["chat_id"]].append((row["id"], plain(params["text"])))
    received: dict[int, list[set[str]]] = defaultdict(list)  # each message of a chat, as sent: the texts it carried
    carried: dict[tuple[int, int], set[str]] = {}
    for call in emulator.calls:
        method = call.method.lower()
        if method not in ("sendmessage", "editmessagetext") or call.error is not None or "text" not in call.params:
            continue
        chat_id, text = int(call.params["chat_id"]), plain(str(call.params["text"]))
        if method == "sendmessage":
            texts = carried[(chat_id, int(call.result["message_id"]))] = {text}
            received[chat_id].append(texts)
        elif method == "editmessagetext" and (chat_id, int(call.params["message_id"])) in carried:
            carried[(chat_id, int(call.params["message_id"]))].add(text)
    wrong: dict[int, str] = {}
    for chat_id, texts in queued.items():
        seen = iter(received[chat_id])
        for row_id, text in texts:
            if not any(text in got for got in seen):  # consumes the received messages up to the match
                wrong[chat_id] = f"outbox row {row_id} ({text[:60]!r}) not received after the rows before it"
                break
    return wrong


@pytest.mark.timeout(900)
async def test_two_instances_on_postgresql_survive_sigkill_of_either(
    emulator: BotAPIEmulator, database_url: str | None, tmp_path: Path
) -> None:
    print(f"chaos seed: {SEED} (repeat with CHAOS_SEED={SEED})")
    assert database_url is not None
    url = database_url
    rng = random.Random(SEED)
    ports = [free_port(), free_port()]
    balancer = Balancer([f"http://127.0.0.1:{port}{PATH}" for port in ports])
    await balancer.start(PATH)
    instances: list[BotProcess] = []
    for name, port in zip(("bot-a", "bot-b"), ports, strict=True):
        env = process_env(
            emulator,
            tmp_path / "unused.sqlite3",
            DATABASE_URL=url,
            WEBHOOK_URL=balancer.url,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            DEFAULT_LANGUAGE="en",
            STAFF_CHAT_ID=str(DESK),
            ADMIN_IDS=str(DESK),
            PERSISTENCE_INTERVAL="0.2",
            DRAFT_REMINDER_AFTER="3s",
            # No escalations to the desk (tests/test_chaos.py has them): they would double its one-chat backlog.
            ACK_ESCALATE_AFTER="30m",
            REPORTS_PER_HOUR="50",
            INSTANCE_NAME=name,  # the same name after a restart: what it held is its own again at once
            LOG_LEVEL="INFO",
        )
        (tmp_path / name).mkdir()
        instances.append(BotProcess(env, tmp_path / name))
    try:
        for bot in instances:
            await bot.start()
        monkey_rng = random.Random(rng.random())
        # The desk's cards come at one private chat's pace, shared by the two instances and held up by each kill.

        async def killing(done: asyncio.Event) -> None:
            await chaos_monkey(instances, monkey_rng, done)

        played = await play(emulator, rng, killing, tmp_path / "people.txt", desk_wait=120.0)
        kills = sum(bot.kills for bot in instances)
        db = await Database.open(url)
        try:
            await settle(db, per_message=1.3)  # the chat's shared bucket: 0.9 a second
            for bot in instances:
                assert await bot.stop() == 0
            checks = await check_invariants(db, played, emulator, kills)
            assert not await sent_out_of_order(db, emulator)
        finally:
            await db.close()
    finally:
        for bot in instances:
            if bot.running:
                await bot.kill()
        await balancer.stop()

    for bot in instances:
        logs = bot.logs()
        assert "Traceback" not in logs, logs[logs.index("Traceback") - 2000 : logs.index("Traceback") + 3000]
    print(
        f"chaos seed {SEED}: {len(played.journals)} conversations + {len(played.accepted)} staff actions in "
        f"{played.seconds:.0f}s on two instances, {kills} kills; {checks}"
    )
