"""One person flooding the bot is slowed down, told once, and does not hold up anybody else."""

from __future__ import annotations

import asyncio
import time

from bot.platform.ratelimit import UserRateLimiter, Verdict
from tests.support.driver import TestBed, eventually, text_of


def test_bucket_allows_a_burst_then_the_steady_rate() -> None:
    limiter = UserRateLimiter(burst=5, per_second=2)
    verdicts = [limiter.check(1, 0.0) for _ in range(7)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False, False]
    assert [v.warn for v in verdicts[5:]] == [True, False]  # told once
    assert limiter.check(1, 0.5).allowed  # one token back after half a second at 2/s
    assert limiter.check(1, 0.5) == Verdict(False, False)  # still flooding: not told again
    assert limiter.check(1, 10.0).allowed and limiter.check(1, 10.0).allowed
    for _ in range(3):
        assert limiter.check(1, 10.0).allowed
    assert limiter.check(1, 10.0) == Verdict(False, True)  # a new flood after a pause: told again
    assert limiter.check(2, 0.5).allowed  # other people have their own bucket


def test_memory_stays_bounded() -> None:
    limiter = UserRateLimiter(burst=2, per_second=1, max_users=100)
    for user in range(1000):
        limiter.check(user, float(user) * 10)
    assert len(limiter._buckets) <= 100


async def test_a_flooding_user_does_not_slow_others(bed: TestBed) -> None:
    flooder = bed.person(7001, "Flood", "en")
    calm = bed.person(7002, "Calm", "en")
    flood_started = time.monotonic()
    for i in range(100):
        await flooder.send(f"spam {i}")
    flood_seconds = time.monotonic() - flood_started
    started = time.monotonic()
    await calm.send("/start")
    await calm.expect_message(contains="Hello, Calm")
    calm_latency = time.monotonic() - started

    # Telegram takes about one message a second into one chat: the flooder's answers leave at that pace (nobody
    # else waits for them), the warning after the burst's.
    async def warned() -> bool:
        return any("very fast" in text_of(m) for m in bed.emulator.inbox.get(flooder.id, []))

    await eventually(warned, timeout=40)
    await asyncio.sleep(1.5)
    replies = [text_of(m) for m in flooder.read_all()]
    assert sum("very fast" in r for r in replies) == 1
    assert len(replies) <= 20 + 4 * (flood_seconds + 1.5) + 1  # the burst and the refill are answered, no more
    assert calm_latency < 5.0, calm_latency  # a generous bound: the point is not waiting behind 100 floods


async def test_a_flood_of_button_presses_is_answered_so_no_button_keeps_spinning(bed: TestBed) -> None:
    presser = bed.person(7003, "Presser", "en")
    await presser.send("/language")
    menu = await presser.expect_message(contains="anguage")
    query_ids = [await presser.press_data(menu, "lang:en") for _ in range(60)]
    answers = [await presser.expect_answer(query_id) for query_id in query_ids]
    assert sum("very fast" in (answer.get("text") or "") for answer in answers) >= 30
