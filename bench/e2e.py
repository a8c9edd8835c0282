"""End-to-end benchmark: the whole bot as a process (python -m bot, SQLite, i18n) against a bare
python-telegram-bot echo bot, both polling the same kind of Bot API emulator on 127.0.0.1.

    python bench/e2e.py            # 200 report conversations, latency at 10 and 100 users, 10,000 drafts
    python bench/e2e.py --quick    # 40 conversations, 10 and 50 users, 2,000 drafts (a smoke run)

Measured side by side in one run, printed as one table:
- throughput: updates/s through complete report conversations (/report, category, location, description, skip,
  submit) against the echo bot answering the same number of updates; with and without PTB's AIORateLimiter on the
  echo bot (the full bot keeps Telegram's 30 messages/s, so every reply waits its turn);
- latency p50/p99 from a user's message reaching the emulator to the bot's reply, at 10 and 100 users at once;
- RSS of the bot process with 10,000 people mid-conversation (their drafts and wizard steps restored at start);
- cold start: from spawning the process to the reply to /start.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.platform.clock import to_db  # noqa: E402
from bot.platform.db import Database  # noqa: E402
from devtools.emulator import BotAPIEmulator  # noqa: E402
from tests.support.driver import Person, text_of  # noqa: E402

HOME = (30.48, 114.15)
ECHO_BOT = """
import sys
from telegram import Update
from telegram.ext import AIORateLimiter, ApplicationBuilder, MessageHandler, CallbackQueryHandler, filters
async def echo(update, context):
    if update.callback_query:
        await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id, update.callback_query.data)
    else:
        await update.effective_message.reply_text(update.effective_message.text or "ok")
builder = ApplicationBuilder().token(sys.argv[1]).base_url(sys.argv[2]).concurrent_updates(64)
if sys.argv[3] == "limited":
    builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 29))
app = builder.build()
app.add_handler(MessageHandler(filters.ALL, echo))
app.add_handler(CallbackQueryHandler(echo))
app.run_polling(allowed_updates=Update.ALL_TYPES)
"""


def env_for(emulator: BotAPIEmulator, database: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "HOME": os.environ.get("HOME", "/tmp"),
        "BOT_TOKEN": emulator.token,
        "BOT_API_BASE_URL": emulator.base_url,
        "BOT_API_FILE_URL": emulator.file_url,
        "DATABASE_PATH": str(database),
        "DEFAULT_LANGUAGE": "en",
        "LOG_LEVEL": "WARNING",
        "REPORTS_PER_HOUR": "1000",
        "REPORTS_PER_DAY": "1000",
    }


async def spawn(args: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_ids = itertools.count(100_000)


def person(emulator: BotAPIEmulator) -> Person:
    user_id = next(_ids)
    user = emulator.add_user(user_id, f"U{user_id}", "en")
    return Person(emulator, user, emulator.chats[user_id])


async def timed(person: Person, act: Any, *args: Any) -> tuple[dict[str, Any], float]:
    """Does ``act`` and returns the bot's next message and the seconds until it arrived."""
    started = time.perf_counter()
    await act(*args)
    message = await person.expect_message(timeout=120)
    return message, time.perf_counter() - started


async def report_conversation(p: Person, latencies: list[float]) -> int:
    """One complete report; returns how many updates the person sent."""

    sent = 0

    async def step(act: Any, *args: Any, until: str) -> dict[str, Any]:
        nonlocal sent
        message, seconds = await timed(p, act, *args)
        latencies.append(seconds)
        sent += 1
        while until not in text_of(message):
            if "already reported this kind of problem nearby" in text_of(message):  # not mine: a new one
                await p.press_data(message, "rpt:new")
                sent += 1
            message = await p.expect_message(timeout=120)
        return message

    prompt = await step(p.send, "/report", until="What kind of problem")
    where = await step(p.press_data, prompt, "rpt:cat:other", until="Where is it?")
    del where
    ask = await step(p.share_location, *HOME, until="describe the problem")
    offer = ask
    photos = await step(p.send, f"Benchmark report from {p.id}, a broken bench", until="A photo helps")
    card = await step(p.press_data, photos, "rpt:skip", until="Please check your report")
    await step(p.press_data, card, "rpt:submit", until="Your report number is")
    del offer
    return sent


async def echo_conversation(p: Person, latencies: list[float]) -> int:
    for n in range(6):
        message, seconds = await timed(p, p.send, f"message {n}")
        latencies.append(seconds)
        del message
    return 6


async def throughput(emulator: BotAPIEmulator, users: int, conversation: Any, at_once: int = 50) -> float:
    gate = asyncio.Semaphore(at_once)
    latencies: list[float] = []

    async def one() -> int:
        async with gate:
            return await conversation(person(emulator), latencies)

    started = time.perf_counter()
    total = sum(await asyncio.gather(*(one() for _ in range(users))))
    return total / (time.perf_counter() - started)


async def latency(emulator: BotAPIEmulator, users: int, rounds: int = 5) -> tuple[float, float]:
    """p50 and p99 of /help → answer, with ``users`` people asking at once, ``rounds`` times each."""
    samples: list[float] = []

    async def one() -> None:
        p = person(emulator)
        for _ in range(rounds):
            _message, seconds = await timed(p, p.send, "/help")
            samples.append(seconds)

    await asyncio.gather(*(one() for _ in range(users)))
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


async def seed_drafts(database: Path, count: int) -> None:
    """``count`` people stopped at the description step of the wizard, as the bot itself stores them."""
    db = await Database.open(database)
    now = to_db(datetime.now(UTC))
    draft = json.dumps({"category": "garbage", "lat": HOME[0], "lon": HOME[1], "district": "wuhan-edz"})
    async with db.transaction() as conn:
        for n in range(count):
            user_id = 5_000_000 + n
            await conn.execute(
                "INSERT INTO users (telegram_id, first_name, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (user_id, f"Person {n}", now, now),
            )
            await conn.execute(
                "INSERT INTO report_drafts (telegram_id, step, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (user_id, "description", draft, now, now),
            )
            await conn.execute(
                "INSERT INTO ptb_conversations (name, key, state) VALUES ('report', ?, '4')",
                (json.dumps([user_id, user_id]),),
            )
            await conn.execute(
                "INSERT INTO ptb_user_data (user_id, data) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (user_id, json.dumps({"seen": True})),
            )
    await db.close()


async def run(quick: bool) -> list[tuple[str, str, str, str]]:
    conversations = 40 if quick else 200
    crowd = 50 if quick else 100
    drafts = 2_000 if quick else 10_000
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        emulator = BotAPIEmulator()
        await emulator.start()
        database = work / "bot.sqlite3"

        # Cold start: spawn → the reply to /start.
        started = time.perf_counter()
        bot = await spawn([sys.executable, "-m", "bot"], env_for(emulator, database), work)
        first = person(emulator)
        await first.send("/start")
        await first.expect_message(contains="Hello", timeout=60)
        cold = time.perf_counter() - started
        rows.append(("cold start to first answer", f"{cold:.2f} s", "≤ 2 s", "met" if cold <= 2 else "missed"))

        for users in (10, crowd):
            p50, p99 = await latency(emulator, users)
            rows.append(
                (f"latency p50 / p99, {users} users at once", f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms", "", "")
            )

        full = await throughput(emulator, conversations, report_conversation)
        await stop(bot)

        # Memory: the same database with thousands of people mid-wizard, restored at start.
        await seed_drafts(database, drafts)
        bot = await spawn([sys.executable, "-m", "bot"], env_for(emulator, database), work)
        probe = person(emulator)
        await probe.send("/start")
        await probe.expect_message(contains="Hello", timeout=120)
        resumed = Person(emulator, emulator.add_user(5_000_000, "Person 0", "en"), emulator.chats[5_000_000])
        await resumed.send("Broken bench at the bus stop since Monday")
        await resumed.expect_message(contains="A photo helps", timeout=60)  # restored at its step
        memory = rss_mb(bot.pid)
        await stop(bot)
        rows.append(
            (
                f"RSS with {drafts:,} people mid-conversation",
                f"{memory:.0f} MB",
                "≤ 150 MB",
                "met" if memory <= 150 else "missed",
            )
        )
        await emulator.stop()

        # The bare echo bot, unlimited and with the same 29 messages/s pace, on emulators of their own.
        echo_rates = {}
        for mode in ("unlimited", "limited"):
            echo_emulator = BotAPIEmulator()
            await echo_emulator.start()
            echo = await spawn(
                [sys.executable, "-c", ECHO_BOT, echo_emulator.token, echo_emulator.base_url, mode],
                os.environ.copy(),
                work,
            )
            warm = person(echo_emulator)
            await warm.send("hello")
            await warm.expect_message(timeout=60)
            echo_rates[mode] = await throughput(echo_emulator, conversations, echo_conversation)
            await stop(echo)
            await echo_emulator.stop()
        rows.insert(0, ("throughput, full bot (report conversations)", f"{full:.1f} updates/s", "", ""))
        for mode, rate in echo_rates.items():
            ratio = full / rate
            label = "bare echo bot" if mode == "unlimited" else "echo bot at Telegram's 29 msg/s"
            rows.insert(
                1 if mode == "unlimited" else 2,
                (label, f"{rate:.1f} updates/s", f"ratio {ratio:.2f}", "met" if ratio >= 0.5 else "missed"),
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    args = parser.parse_args()
    rows = asyncio.run(run(args.quick))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in [("measure", "value", "target / ratio", ""), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
