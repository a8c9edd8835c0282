"""Pacing shaped like Telegram's limits: the buckets and lanes on a fake clock, then a spot closure going to 200
subscribers through the real bot while residents write, against an emulator that enforces every limit."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.edge.courier import OutboxRow, lane_of
from bot.edge.pacing import Lane, Limits, Paced, Pacer, Schedule, Waiter, paced_method
from bot.platform.clock import to_db
from bot.vending import staff_actions
from bot.vending.reminders import Timing
from tests.support.driver import TestBed, eventually, text_of
from tests.support.staff_steps import STAFF_GROUP, file_case, start_staff_bed

ANSWER = 0.05  # seconds Telegram takes to answer, on the fake clock


def waiters(count: int, lane: Lane = Lane.REPLY, first_chat: int = 1000) -> list[Waiter]:
    return [Waiter(lane, first_chat + n) for n in range(count)]


def queued(schedule: Schedule, items: list[Waiter]) -> list[Waiter]:
    for item in items:
        schedule.queue(item)
    return items


def answer_all(schedule: Schedule, granted: list[Waiter], now: float) -> None:
    for waiter in granted:
        schedule.answered(waiter, now)


# ------------------------------------------------------------------ the buckets
def test_a_burst_of_thirty_goes_at_once_and_the_thirty_first_waits_for_the_second_to_pass() -> None:
    schedule = Schedule()
    calls = queued(schedule, waiters(31))
    granted = schedule.grant(0.0)
    assert granted == calls[:30]
    answer_all(schedule, granted, ANSWER)
    assert schedule.grant(0.5) == []
    assert schedule.next_change(0.5) == pytest.approx(1 + ANSWER)  # a token comes back a second after its answer
    assert schedule.grant(1 + ANSWER) == [calls[30]]


def test_one_of_two_instances_sends_fifteen_a_second_and_thirty_once_alone_again() -> None:
    schedule = Schedule()
    schedule.share(2)  # two instances send with the same token (bot/edge/inbound.py counts them)
    calls = queued(schedule, waiters(31))
    granted = schedule.grant(0.0)
    assert granted == calls[:15]
    assert schedule.limits.bulk_spacing == pytest.approx(2 / 30)
    schedule.share(1)  # the other instance is gone
    assert schedule.grant(0.0) == calls[15:30]


def test_a_group_gets_twenty_a_minute_and_the_twenty_first_waits_while_other_chats_go() -> None:
    schedule = Schedule()
    group = queued(schedule, [Waiter(Lane.ALERT, -100) for _ in range(21)])
    granted = schedule.grant(0.0)
    assert granted == group[:20]
    answer_all(schedule, granted, ANSWER)
    other = queued(schedule, [Waiter(Lane.REPLY, 77), Waiter(Lane.ALERT, -200)])
    assert schedule.grant(2.0) == other  # a person and another group are not held up by the full one
    answer_all(schedule, other, 2.0 + ANSWER)
    assert schedule.grant(59.0) == []
    assert schedule.grant(60 + ANSWER) == [group[20]]


def test_a_private_chat_gets_a_burst_of_three_then_one_a_second() -> None:
    schedule = Schedule()
    chat = queued(schedule, [Waiter(Lane.REPLY, 42) for _ in range(5)])
    granted = schedule.grant(0.0)
    assert granted == chat[:3]
    answer_all(schedule, granted, ANSWER)
    assert schedule.grant(0.9) == []
    assert schedule.grant(1 + ANSWER) == [chat[3]]  # one second after the burst, not three
    schedule.answered(chat[3], 1.1)
    assert schedule.grant(1.5 + ANSWER) == []
    assert schedule.grant(2 + ANSWER) == [chat[4]]  # about one a second, sustained


def test_a_chats_later_calls_stay_behind_its_first_that_waits() -> None:
    schedule = Schedule()
    chat = queued(schedule, [Waiter(Lane.REPLY, 42) for _ in range(4)])
    later = queued(schedule, [Waiter(Lane.ALERT, 42), Waiter(Lane.ALERT, 43)])
    granted = schedule.grant(0.0)
    assert granted == [*chat[:3], later[1]]  # 42's fourth waits for its bucket, and its alert behind it; 43 goes
    answer_all(schedule, granted, ANSWER)
    assert schedule.grant(0.9) == []
    assert schedule.grant(1 + ANSWER) == [chat[3]]
    schedule.answered(chat[3], 1 + 2 * ANSWER)
    assert schedule.grant(2 + ANSWER) == [later[0]]


# ------------------------------------------------------------------ the lanes
def run(schedule: Schedule, start: float, until: float, step: float = 0.005) -> list[tuple[float, Waiter]]:
    """Lets the fake clock run, every granted call answered ANSWER later; returns (time granted, call)."""
    sent: list[tuple[float, Waiter]] = []
    answers: list[tuple[float, Waiter]] = []
    now = start
    while now < until:
        for at, waiter in [a for a in answers if a[0] <= now]:
            schedule.answered(waiter, at)
            answers.remove((at, waiter))
        for waiter in schedule.grant(now):
            sent.append((now, waiter))
            answers.append((now + ANSWER, waiter))
        now += step
    for at, waiter in answers:
        schedule.answered(waiter, at)
    return sent


def test_a_reply_queued_behind_five_hundred_bulk_pushes_goes_out_next_and_bulk_still_progresses() -> None:
    schedule = Schedule()
    bulk = queued(schedule, waiters(500, Lane.BULK))
    before = run(schedule, 0.0, 3.0)
    assert 80 <= len(before) <= 90  # the bulk lane fills what is left: about 30 a second
    [reply] = queued(schedule, [Waiter(Lane.REPLY, 7)])
    after = run(schedule, 3.0, 6.0)
    assert after[0][1] is reply and after[0][0] - 3.0 <= 1 / 30  # the next token is the reply's
    assert all(waiter.lane is Lane.BULK for _, waiter in after[1:])
    assert len(after) >= 80  # bulk goes on at the same pace
    assert [w for _, w in before + after[1:]] == bulk[: len(before) + len(after) - 1]  # in queue order


def test_staff_alerts_go_before_bulk_and_replies_before_both() -> None:
    schedule = Schedule()
    filler = queued(schedule, waiters(30, Lane.REPLY, first_chat=5000))
    answer_all(schedule, schedule.grant(0.0), ANSWER)  # the second's window is full
    bulk = queued(schedule, waiters(3, Lane.BULK))
    alert = queued(schedule, [Waiter(Lane.ALERT, -100)])
    reply = queued(schedule, [Waiter(Lane.REPLY, 9)])
    order = [w for _, w in run(schedule, 0.5, 2.0)]
    assert all(w.granted for w in filler)
    assert order[:2] == reply + alert and order[2] is bulk[0]


def test_bulk_is_spaced_so_the_window_never_fills_in_one_clump() -> None:
    schedule = Schedule()
    queued(schedule, waiters(100, Lane.BULK))
    sent = run(schedule, 0.0, 1.0)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 1 / 30 - 1e-9


def test_retry_after_pauses_the_chat_when_it_used_its_own_bucket_else_everyone() -> None:
    schedule = Schedule()
    chat = queued(schedule, [Waiter(Lane.REPLY, 42) for _ in range(3)])
    schedule.grant(0.0)
    schedule.pause(chat[2], until=5.0, now=0.1)  # 42 had spent its three: Telegram means that chat
    answer_all(schedule, chat, 0.1)
    others = queued(schedule, [Waiter(Lane.REPLY, 43), Waiter(Lane.REPLY, 42)])
    assert schedule.grant(3.5) == others[:1]  # 42 waits out its pause, 43 goes
    assert schedule.grant(5.0) == others[1:]

    schedule = Schedule()
    [lone] = queued(schedule, [Waiter(Lane.REPLY, 44)])
    schedule.grant(0.0)
    schedule.pause(lone, until=2.0, now=0.1)  # 44 had room: the overall limit it must have been
    schedule.answered(lone, 0.1)
    nobody = queued(schedule, [Waiter(Lane.REPLY, 45)])
    assert schedule.grant(1.0) == []
    assert schedule.next_change(1.0) == 2.0
    assert schedule.grant(2.0) == nobody


async def test_the_pacer_retries_a_reply_after_retry_after_and_hands_an_outbox_call_its_wait() -> None:
    pacer = Pacer()
    answers: list[tuple[str, float]] = []
    refusals = {"first": 1, "outbox": 1}

    async def telegram(name: str) -> dict[str, Any]:
        answers.append((name, time.monotonic()))
        if refusals.get(name, 0):
            refusals[name] -= 1
            raise RetryAfter(1)
        return {"ok": name}

    started = time.monotonic()
    reply = await pacer.process_request(telegram, ("first",), {}, "sendMessage", {"chat_id": 5}, None)
    assert reply == {"ok": "first"} and [n for n, _ in answers] == ["first", "first"]
    assert answers[1][1] - started >= 1.0  # waited as Telegram asked, then tried again

    pace = Paced(Lane.BULK)
    with pytest.raises(RetryAfter):  # the courier records the wait on its row instead
        await pacer.process_request(telegram, ("outbox",), {}, "sendMessage", {"chat_id": 6}, pace)
    assert pace.let_through.is_set()
    paused_at = time.monotonic()
    answered = await pacer.process_request(telegram, ("answer",), {}, "answerCallbackQuery", {}, None)
    assert answered == {"ok": "answer"} and time.monotonic() - paused_at < 0.5  # not a message: never waits
    await pacer.shutdown()


async def test_a_call_waiting_for_its_chats_shared_slot_does_not_hold_up_other_chats() -> None:
    """With several instances a chat's slot may be a second away (another instance wrote to it): meanwhile this
    instance's overall budget, one token here, serves the other chats."""
    pacer = Pacer(Limits(overall=(1, 1.0)))
    slots = {5: 0.6}  # chat 5's shared slot comes in 0.6 s; the others' now
    taken: list[int] = []

    async def chat_slot(chat_id: int) -> float:
        taken.append(chat_id)
        return slots.pop(chat_id, 0.0)

    pacer.chat_slot = chat_slot
    sent: dict[int, float] = {}

    async def telegram(chat_id: int) -> dict[str, Any]:
        sent[chat_id] = time.monotonic()
        return {"ok": chat_id}

    started = time.monotonic()
    first = asyncio.create_task(pacer.process_request(telegram, (5,), {}, "sendMessage", {"chat_id": 5}, None))
    await asyncio.sleep(0.05)  # chat 5 took the one token, then gave it back to wait for its slot
    await pacer.process_request(telegram, (6,), {}, "sendMessage", {"chat_id": 6}, None)
    assert sent[6] - started < 0.3  # not behind chat 5's wait
    assert await first == {"ok": 5}
    assert sent[5] - started >= 1.0  # its slot, then the token chat 6 spent came back a period after it
    assert taken == [5, 6]  # the slot chat 5 waited for is its own: not taken again
    assert pacer.schedule.overall.in_flight == 0
    await pacer.shutdown()


def test_only_calls_that_send_a_message_are_paced() -> None:
    assert paced_method("sendMessage") and paced_method("sendMediaGroup") and paced_method("copyMessage")
    for method in ("answerCallbackQuery", "getUpdates", "getMe", "setMyCommands", "editMessageText", "sendChatAction"):
        assert not paced_method(method)


def test_the_courier_tells_broadcasts_digests_and_reminders_from_alerts() -> None:
    def row(chat_id: int, key: str | None) -> OutboxRow:
        return OutboxRow(1, chat_id, "sendMessage", {}, 0, None, key)

    assert lane_of(row(5, "spot-news:3:closed:2026-12-01 10:00:00:5")) is Lane.BULK
    assert lane_of(row(5, "reminder:17")) is Lane.BULK
    assert lane_of(row(-100, "reminder:18")) is Lane.BULK  # the daily digest to the staff group
    assert lane_of(row(5, "area_alert:4:5")) is Lane.BULK
    assert lane_of(row(-100, "report_alert:4:card")) is Lane.ALERT
    assert lane_of(row(5, None)) is Lane.ALERT  # news about one person's case


# ------------------------------------------------------------------ the whole bot
SUBSCRIBERS = 200
RESIDENTS = 10


@pytest.fixture
async def limited_bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.emulator.flood_limit = 30  # and with it the group and private-chat limits
    await idle_bed.start()
    yield idle_bed


async def test_a_closure_to_200_subscribers_while_residents_write_floods_nothing_and_replies_come_first(
    limited_bed: TestBed,
) -> None:
    bed = limited_bed
    assert bed.services is not None
    now = bed.services.clock.now()
    spot = await bed.db.fetchone("SELECT id FROM spots WHERE status = 'open' ORDER BY id LIMIT 1")
    async with bed.db.transaction() as conn:
        for n in range(SUBSCRIBERS):
            bed.emulator.add_user(600_000 + n, f"Vendor {n}", "en")
            await conn.execute(
                "INSERT INTO subscriptions (user_id, spot_id, language, created_at) VALUES (?, ?, 'en', ?)",
                (600_000 + n, spot["id"], to_db(now)),
            )
    residents = [bed.person(700_000 + n, f"Resident {n}", "en") for n in range(RESIDENTS)]
    latencies: list[float] = []

    async def write(resident_index: int) -> None:
        resident = residents[resident_index]
        await asyncio.sleep(0.3 * resident_index)  # they write all through the broadcast
        for _ in range(3):
            started = time.monotonic()
            await resident.send("/help")
            await resident.expect_message(contains="/start", timeout=15)
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(1.0)

    async with bed.db.transaction() as conn:
        change = await staff_actions.close_spot(
            conn, spot["id"], None, "road works", now, timing=Timing.of(bed.services.settings)
        )
    assert change.notified == SUBSCRIBERS
    bed.services.wake_outbox()
    await asyncio.gather(*(write(n) for n in range(RESIDENTS)))

    async def broadcast_done() -> bool:
        row = await bed.db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        return bool(row[0] == 0)

    await eventually(broadcast_done, timeout=60)
    news = [
        call
        for call in bed.emulator.calls_of("sendMessage")
        if call.error is None and 600_000 <= call.params["chat_id"] < 600_000 + SUBSCRIBERS
    ]
    assert sorted(call.params["chat_id"] for call in news) == list(range(600_000, 600_000 + SUBSCRIBERS))
    assert all("road works" in call.params["text"] for call in news)
    replies = [
        call
        for call in bed.emulator.calls_of("sendMessage")
        if call.error is None and 700_000 <= call.params["chat_id"] < 700_000 + RESIDENTS
    ]
    assert len(replies) == 3 * RESIDENTS
    assert max(call.at for call in replies) < max(call.at for call in news)  # every reply before the broadcast ends
    assert max(latencies) < 1.0, latencies  # a reply never waits for the broadcast
    assert bed.emulator.flood_errors == 0, bed.emulator.flood_errors_by_scope


@pytest.fixture
async def limited_staff_bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.emulator.flood_limit = 30
    await start_staff_bed(idle_bed)
    yield idle_bed


async def test_a_new_cases_staff_card_overtakes_a_broadcast_under_way(limited_staff_bed: TestBed) -> None:
    bed = limited_staff_bed
    assert bed.services is not None
    now = bed.services.clock.now()
    spot = await bed.db.fetchone("SELECT id FROM spots WHERE status = 'open' ORDER BY id LIMIT 1")
    async with bed.db.transaction() as conn:
        for n in range(SUBSCRIBERS):
            bed.emulator.add_user(600_000 + n, f"Vendor {n}", "en")
            await conn.execute(
                "INSERT INTO subscriptions (user_id, spot_id, language, created_at) VALUES (?, ?, 'en', ?)",
                (600_000 + n, spot["id"], to_db(now)),
            )
        await staff_actions.close_spot(
            conn, spot["id"], None, "road works", now, timing=Timing.of(bed.services.settings)
        )
    bed.services.wake_outbox()
    await bed.emulator.wait_for(lambda: len(bed.emulator.inbox) > 20, timeout=10)  # the broadcast is under way

    filed = time.monotonic()
    report = await file_case(bed, 7301)

    def card() -> bool:
        return any(report.public_no in text_of(m) for m in bed.emulator.inbox.get(STAFF_GROUP, []))

    await bed.emulator.wait_for(card, timeout=10)
    assert time.monotonic() - filed < 1.5  # it did not wait behind the rest of the broadcast
    told = sum(1 for n in range(SUBSCRIBERS) if bed.emulator.inbox.get(600_000 + n))
    assert told < SUBSCRIBERS  # the broadcast was still going

    async def broadcast_done() -> bool:
        row = await bed.db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        return bool(row[0] == 0)

    await eventually(broadcast_done, timeout=60)
    assert all(bed.emulator.inbox.get(600_000 + n) for n in range(SUBSCRIBERS))
    assert bed.emulator.flood_errors == 0, bed.emulator.flood_errors_by_scope
