"""Benchmark: restoring pending reminders at start, firing overdue ones, and the outbox's pace against a
Bot API emulator that answers 429 like Telegram when more than 30 messages arrive in one second.

    python bench/reminders.py            # 100k pending reminders, 1,000 pushes
    python bench/reminders.py --quick    # 10k pending, 200 pushes (a smoke run)

Everything is measured side by side in one run and printed as one table with ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Bot
from telegram.error import RetryAfter

from bot.app import build_application, start_polling, stop_polling
from bot.cases.config import desk_from
from bot.edge.pacing import Limits
from bot.platform.clock import to_db
from bot.platform.config import load_settings
from bot.platform.db import Database
from bot.platform.reminders import ReminderTimer, fire_due, pending
from bot.platform.services import Services
from bot.scheduled import Dispatcher
from devtools.emulator import BotAPIEmulator

TELEGRAM_LIMIT = 30  # messages per second


class Row:
    def __init__(self, name: str, value: str, reference: str, ratio: str) -> None:
        self.name, self.value, self.reference, self.ratio = name, value, reference, ratio


async def fill_reminders(path: Path, count: int, now: datetime, overdue: bool = False) -> None:
    db = await Database.open(path)
    rows = []
    for i in range(count):
        due = now - timedelta(seconds=count - i) if overdue else now + timedelta(minutes=5 + i % 40_000)
        rows.append(("draft_nudge", f"draft:{i}", to_db(due), "{}", to_db(now)))
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO reminders (kind, target, due_at, payload, created_at) VALUES (?, ?, ?, ?, ?)", rows
        )
    await db.close()


async def bench_restore(count: int) -> list[Row]:
    """Start-up with ``count`` pending reminders: our one-timer restore vs one JobQueue job per reminder."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        await fill_reminders(path, count, now)
        settings = load_settings(
            {"BOT_TOKEN": "123456:bench-token-aaaaaaaaaaaaaaaaaaaa", "DATABASE_PATH": str(path)}, env_file=None
        )

        services = Services(settings)
        application = build_application(settings, services)
        started = time.perf_counter()
        await services.open()
        kinds = Dispatcher(services, desk_from(settings, services.service_area)).kinds()
        timer = ReminderTimer(services, application.job_queue, kinds)
        await timer.restore()
        ours = time.perf_counter() - started
        assert len(application.job_queue.jobs()) == 1  # type: ignore[union-attr]

        started = time.perf_counter()
        waiting = await pending(services.db)

        async def noop(context: object) -> None:
            return None

        for reminder in waiting:
            application.job_queue.run_once(noop, when=reminder.due_at, name=f"reminder:{reminder.id}")  # type: ignore[union-attr]
        per_job = time.perf_counter() - started
        timer.stop()
        await services.close()
    return [
        Row(
            f"restore {count:,} pending at start (one timer)",
            f"{ours:.3f} s",
            "target ≤ 3 s",
            f"{3 / ours:,.0f}× under target",
        ),
        Row(
            f"restore {count:,} pending (a JobQueue job each)",
            f"{per_job:.3f} s",
            "same run",
            f"ours {per_job / ours:,.0f}× faster",
        ),
    ]


async def bench_fire(count: int) -> list[Row]:
    """Firing ``count`` overdue reminders (each its own transaction, queuing its message when it still applies)."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fire.sqlite3"
        await fill_reminders(path, count, now, overdue=True)
        settings = load_settings(
            {"BOT_TOKEN": "123456:bench-token-aaaaaaaaaaaaaaaaaaaa", "DATABASE_PATH": str(path)}, env_file=None
        )
        services = Services(settings)
        await services.open()
        kinds = Dispatcher(services, desk_from(settings, services.service_area)).kinds()
        started = time.perf_counter()
        fired = 0
        while True:
            batch = await fire_due(services, kinds, now)
            fired += batch
            if batch == 0:
                break
        elapsed = time.perf_counter() - started
        await services.close()
    return [
        Row(
            f"fire {count:,} overdue reminders",
            f"{fired / elapsed:,.0f} /s",
            f"{elapsed:.2f} s in all",
            f"{fired / elapsed / TELEGRAM_LIMIT:,.0f}× Telegram's send rate",
        )
    ]


async def bench_outbox(count: int) -> list[Row]:
    """``count`` pushes through the real bot's outbox against an emulator enforcing 30 messages a second."""
    emulator = BotAPIEmulator()
    await emulator.start()
    emulator.flood_limit = TELEGRAM_LIMIT
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            {
                "BOT_TOKEN": emulator.token,
                "BOT_API_BASE_URL": emulator.base_url,
                "DATABASE_PATH": str(Path(folder) / "outbox.sqlite3"),
                "LOG_LEVEL": "WARNING",
            },
            env_file=None,
        )
        services = Services(settings)
        application = build_application(settings, services)
        await start_polling(application, poll_timeout=1)
        now = services.clock.now()
        async with services.db.transaction() as conn:
            for i in range(count):
                user_id = 10_000 + i
                emulator.add_user(user_id, f"U{i}")
                await conn.execute(
                    "INSERT INTO outbox (chat_id, method, params, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
                    (
                        user_id,
                        "sendMessage",
                        json.dumps({"chat_id": user_id, "text": f"push {i}"}),
                        to_db(now),
                        to_db(now),
                    ),
                )
        started = time.perf_counter()
        services.wake_outbox()
        while True:
            row = await services.db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            if row[0] == 0:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        sent = await services.db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'sent'")
        await stop_polling(application)
        floods_paced = emulator.flood_errors

        # The same pushes with no limiter at all, as fast as the bot can send them: what the limiter prevents.
        emulator.flood_errors = 0
        bare = Bot(emulator.token, base_url=emulator.base_url)
        await bare.initialize()
        floods = 0

        async def send(i: int) -> None:
            nonlocal floods
            try:
                await bare.send_message(10_000 + i, f"bare {i}")
            except RetryAfter:
                floods += 1

        await asyncio.gather(*(send(i) for i in range(min(count, 200))))
        await bare.shutdown()
    await emulator.stop()
    rate = sent[0] / elapsed
    return [
        Row(
            f"outbox: {count:,} pushes at Telegram's 30/s",
            f"{rate:.1f} msg/s",
            f"{sent[0]:,} of {count:,} sent",
            f"{rate / TELEGRAM_LIMIT:.1%} of 30/s (target ≥ 90 %)",
        ),
        Row(
            "outbox: 429 flood errors, paced",
            f"{floods_paced}",
            "target 0",
            f"bot paced at {Limits().overall[0]} in any {Limits().overall[1]:g} s",
        ),
        Row(
            f"no limiter: {min(count, 200)} pushes at once",
            f"{floods} × 429",
            "same emulator",
            f"{floods / min(count, 200):.0%} refused",
        ),
    ]


def print_table(rows: list[Row]) -> None:
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("name", "value", "reference", "ratio")]
    header = ("measure", "result", "reference", "ratio")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip((r.name, r.value, r.reference, r.ratio), widths, strict=True)))


async def main(quick: bool) -> None:
    logging.basicConfig(level=logging.ERROR)
    rows: list[Row] = []
    rows += await bench_restore(10_000 if quick else 100_000)
    rows += await bench_fire(2_000 if quick else 10_000)
    rows += await bench_outbox(200 if quick else 1_000)
    print_table(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    asyncio.run(main(parser.parse_args().quick))
