"""The outbox courier: pushes go out once, wait when Telegram asks, retry on failures, stop at blocked users."""

from __future__ import annotations

from typing import Any

from bot.platform.outbox import enqueue, enqueue_text
from tests.support.driver import Person, TestBed, eventually, text_of


async def push(bed: TestBed, chat_id: int, text: str, key: str | None = None) -> int | None:
    assert bed.services is not None
    async with bed.db.transaction() as conn:
        row_id = await enqueue_text(conn, chat_id, text, bed.services.clock.now(), dedupe_key=key)
    bed.services.wake_outbox()
    return row_id


async def row_of(bed: TestBed, row_id: int | None) -> dict[str, Any]:
    return dict(await bed.db.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,)))


async def settled(bed: TestBed, row_id: int | None) -> dict[str, Any]:
    """The row once the courier has finished with it."""

    async def check() -> dict[str, Any] | None:
        row = await row_of(bed, row_id)
        return row if row["state"] != "pending" else None

    return await eventually(check)


async def blocked_flag(bed: TestBed, user_id: int, expected: int) -> bool:
    async def check() -> bool:
        row = await bed.db.fetchone("SELECT blocked_bot FROM users WHERE telegram_id = ?", (user_id,))
        return bool(row["blocked_bot"] == expected)

    return await eventually(check)


async def resident(bed: TestBed, user_id: int = 3001) -> Person:
    person = bed.person(user_id, "Zhao", "en")
    await person.send("/start")
    await person.expect_message(contains="Hello, Zhao")
    return person


async def test_a_queued_push_is_delivered_once_and_recorded(bed: TestBed) -> None:
    zhao = await resident(bed)
    row_id = await push(bed, zhao.id, "Your case R1 was accepted.", key="accepted:R1")
    message = await zhao.expect_message(contains="Your case R1 was accepted.")
    assert await push(bed, zhao.id, "Your case R1 was accepted.", key="accepted:R1") is None  # deduplicated
    await zhao.expect_no_message(wait=1.2)
    row = await settled(bed, row_id)
    assert row["state"] == "sent" and row["result_message_id"] == message["message_id"]


async def test_retry_after_waits_then_delivers_once(bed: TestBed) -> None:
    zhao = await resident(bed)
    bed.emulator.inject("sendMessage", "429", retry_after=1)
    row_id = await push(bed, zhao.id, "Hello after a flood wait")
    await zhao.expect_message(contains="Hello after a flood wait")
    await zhao.expect_no_message(wait=1.0)
    outcomes = [call.error for call in bed.emulator.calls_of("sendMessage")][-2:]
    assert outcomes[0] and "Too Many Requests" in outcomes[0] and outcomes[1] is None
    assert (await settled(bed, row_id))["state"] == "sent"


async def test_server_errors_retry_with_backoff_and_keep_order(bed: TestBed) -> None:
    zhao = await resident(bed)
    bed.emulator.inject("sendMessage", "500", count=2)
    first = await push(bed, zhao.id, "first")
    await push(bed, zhao.id, "second")
    assert text_of(await zhao.expect_message(timeout=12)) == "first"
    assert text_of(await zhao.expect_message(timeout=5)) == "second"
    row = await settled(bed, first)
    assert row["state"] == "sent" and row["attempts"] == 3


async def test_an_outage_loses_nothing(bed: TestBed) -> None:
    zhao = await resident(bed)
    bed.emulator.down = True
    await push(bed, zhao.id, "queued during the outage")
    await zhao.expect_no_message(wait=1.5)
    bed.emulator.down = False
    await zhao.expect_message(contains="queued during the outage", timeout=15)


async def test_blocked_user_is_marked_and_skipped_until_they_write_again(bed: TestBed) -> None:
    zhao = await resident(bed)
    zhao.chat.blocked = True  # blocked, and the bot has not been told yet
    first = await push(bed, zhao.id, "will bounce")
    assert (await settled(bed, first))["state"] == "dropped"
    assert await blocked_flag(bed, zhao.id, 1)

    calls_before = len(bed.emulator.calls_of("sendMessage"))
    second = await push(bed, zhao.id, "not even tried")
    assert (await settled(bed, second))["state"] == "dropped"
    assert len(bed.emulator.calls_of("sendMessage")) == calls_before

    zhao.chat.blocked = False
    await zhao.send("/start")  # writing again means pushes reach them again
    await zhao.expect_message(contains="Hello, Zhao")
    await push(bed, zhao.id, "welcome back")
    await zhao.expect_message(contains="welcome back")


async def test_my_chat_member_tracks_blocking_and_unblocking(bed: TestBed) -> None:
    zhao = await resident(bed)
    await zhao.block_bot()
    assert await blocked_flag(bed, zhao.id, 1)
    await zhao.unblock_bot()
    assert await blocked_flag(bed, zhao.id, 0)


async def test_an_edit_sent_again_that_changes_nothing_ends_sent(bed: TestBed) -> None:
    """A card edit re-sent after a kill (the first had arrived): Telegram answers "message is not modified"."""
    zhao = await resident(bed)
    card = await settled(bed, await push(bed, zhao.id, "Case R1: submitted."))
    message_id = card["result_message_id"]
    assert bed.services is not None
    edits = []
    for _ in range(2):
        async with bed.db.transaction() as conn:
            edit = {"message_id": message_id, "text": "Case R1: accepted.", "parse_mode": "HTML"}
            edits.append(await enqueue(conn, zhao.id, "editMessageText", edit, bed.services.clock.now()))
        bed.services.wake_outbox()
        row = await settled(bed, edits[-1])
        assert (row["state"], row["result_message_id"], row["error"]) == ("sent", message_id, None)
    refused = [call.error for call in bed.emulator.calls_of("editMessageText") if call.error]
    assert len(refused) == 1 and "message is not modified" in refused[0]
    assert text_of(bed.emulator.message(zhao.id, message_id)) == "Case R1: accepted."
