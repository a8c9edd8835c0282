"""Crash chaos: 200 conversations with the bot as a real process, SIGKILLed at random points and restarted.

The invariant, exactly:
- every report number a person was told exists exactly once, filed by that person with what they answered;
- no report exists that its reporter was not told about: a kill between the commit and the reply is healed
  when the person presses "Submit" again (the bot answers with the number it already gave the report);
- nobody who meant to file one report has two; every case a dispatcher was told they accepted was accepted
  exactly once (one audit event);
- every conversation finished: resumed at its step, or restarted with the unfinished draft offered;
- every reminder due before the end has fired exactly once in the database (done, with at most one queued message
  each); at the Telegram edge a message may be sent twice only when a kill fell between sending and marking it
  sent, so edge duplicates are at most the number of kills;
- ``PRAGMA integrity_check`` is ok, and the bot's logs hold no traceback from a handler.

Telegram re-delivers updates the bot fetched but did not confirm; the harness assumes the worst and re-delivers the
last batch the killed process fetched on every restart, so replayed presses and messages happen on every kill.
Run with CHAOS_SEED=<n> to repeat a run (the seed is printed).
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest

from bot.platform.db import Database
from devtools.emulator import BotAPIEmulator
from tests.support.chaos import BotProcess, process_env
from tests.support.chaos_storm import DESK, check_invariants, play, settle

SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1_000_000))
MAX_KILLS = int(os.environ.get("CHAOS_KILLS", "12"))
UPTIME = (1.0, 5.0)  # seconds a process lives before the next SIGKILL


async def chaos_monkey(bot: BotProcess, emulator: BotAPIEmulator, rng: random.Random, done: asyncio.Event) -> None:
    """Kills the bot at random moments, re-delivers what it may not have confirmed, and starts it again."""
    while bot.kills < MAX_KILLS and not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), rng.uniform(*UPTIME))
            return
        except TimeoutError:
            pass
        await bot.kill()
        await emulator.redeliver(emulator.last_fetched())
        await bot.start()


# The desk's backlog drains at Telegram's pace for one chat (about a message a second), after the conversations.
@pytest.mark.timeout(900)
async def test_two_hundred_conversations_survive_sigkill_and_restart(emulator: BotAPIEmulator, tmp_path: Path) -> None:
    print(f"chaos seed: {SEED} (repeat with CHAOS_SEED={SEED})")
    rng = random.Random(SEED)
    database = tmp_path / "bot.sqlite3"
    # The desk is a private chat: Telegram lets a bot post only 20 messages a minute into a group, so 140 cards in
    # a minute would still be queued for many minutes (the group pace is proven in tests/test_faults.py); a private
    # chat takes about one a second after a burst (tests/test_pacing.py), which the wait at the end allows for.
    env = process_env(
        emulator,
        database,
        DEFAULT_LANGUAGE="en",
        STAFF_CHAT_ID=str(DESK),
        ADMIN_IDS=str(DESK),
        PERSISTENCE_INTERVAL="0.2",
        DRAFT_REMINDER_AFTER="3s",  # short reminders, so that kills land around them
        ACK_ESCALATE_AFTER="4s",
        REPORTS_PER_HOUR="50",
        LOG_LEVEL="INFO",
    )
    bot = BotProcess(env, tmp_path)
    try:
        await bot.start()
        monkey_rng = random.Random(rng.random())
        played = await play(
            emulator, rng, lambda done: chaos_monkey(bot, emulator, monkey_rng, done), tmp_path / "people.txt"
        )
        # The last process runs on until every due reminder has fired and every queued message is out.
        db = await Database.open(database)
        try:
            await settle(db)
            assert await bot.stop() == 0
            checks = await check_invariants(db, played, emulator, bot.kills)
            assert await db.integrity_check() == "ok"
        finally:
            await db.close()
    finally:
        if bot.running:
            await bot.kill()

    logs = bot.logs()
    assert "Traceback" not in logs, logs[logs.index("Traceback") - 2000 : logs.index("Traceback") + 3000]
    print(
        f"chaos seed {SEED}: {len(played.journals)} conversations + {len(played.accepted)} staff actions in "
        f"{played.seconds:.0f}s, {bot.kills} kills, {bot.starts} starts; {checks}"
    )
