"""A staff card posted twice (Telegram has no idempotency key): a send whose answer was lost or came too late is
tried again, and both copies land in the group. The copy someone presses is edited; every copy the bot learns of is
kept in step, or removed when it arrived late and nobody has used it; no stale buttons remain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.cases import config, service
from bot.cases.card import button_data
from bot.cases.states import ReportState
from tests.support.driver import Person, TestBed, eventually, text_of
from tests.support.staff_steps import STAFF_GROUP, enlist, file_case, labels, next_with, start_staff_bed

ACCEPTED_BUTTONS = ["👮 Dispatch", "🛠 Resolve", "🔁 Duplicate of…", "↪️ Return"]


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    await start_staff_bed(idle_bed)
    yield idle_bed


async def dispatcher(bed: TestBed) -> Person:
    dana = bed.person(9401, "Dana", "en")
    await enlist(bed, dana, "dispatcher")
    return dana.in_group(bed.emulator.chats[STAFF_GROUP])


async def cards(bed: TestBed, number: str, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    """The first ``count`` messages in the group that are the case's card (the pin and photos are not)."""

    def found() -> list[dict[str, Any]] | None:
        inbox = bed.emulator.inbox.get(STAFF_GROUP, [])
        copies = [m for m in inbox if number in text_of(m) and m.get("reply_markup") is not None]
        return copies[:count] if len(copies) >= count else None

    return await bed.emulator.wait_for(found, timeout)  # type: ignore[no-any-return]


async def card_row(bed: TestBed, report_id: int) -> dict[str, Any]:
    """The card's outbox row, once the courier has settled it."""

    async def settled() -> dict[str, Any] | None:
        sql = "SELECT * FROM outbox WHERE ref = ? ORDER BY id LIMIT 1"
        row = dict(await bed.db.fetchone(sql, (f"report_card:{report_id}",)))
        return row if row["state"] != "pending" else None

    return await eventually(settled)


async def test_pressing_the_copy_whose_answer_was_lost_edits_it_and_the_other(bed: TestBed) -> None:
    room = await dispatcher(bed)
    bed.emulator.inject("sendMessage", "lost")  # the card lands, but the bot never hears so: it sends it again
    report = await file_case(bed, 5101)
    lost, known = await cards(bed, report.public_no, 2)
    assert text_of(lost) == text_of(known) and "State: submitted" in text_of(lost)
    assert (await card_row(bed, report.id))["result_message_id"] == known["message_id"]

    answer = await room.expect_answer(await room.press(lost, "Accept"))
    assert "now “accepted”" in answer["text"]
    for copy in (lost, known):
        await room.expect_edit(copy, "State: accepted")
        assert labels(room.current(copy)) == ACCEPTED_BUTTONS
    assert text_of(room.current(lost)) == text_of(room.current(known))

    # From now on every move edits both copies, whichever was pressed.
    resolved = await room.press(room.current(known), "Resolve")
    await room.expect_answer(resolved)
    question = await next_with(room, "what was done about case")
    await room.send("Bags collected, bin emptied.", reply_to=question)
    await next_with(room, "Done: case")
    for copy in (lost, known):
        await room.expect_edit(copy, "State: resolved")
        assert labels(room.current(copy)) == ["🏁 Close"]


async def test_a_copy_that_arrives_after_the_retry_is_removed(bed: TestBed) -> None:
    room = await dispatcher(bed)
    bed.emulator.inject("sendMessage", "slow", delay=7.0)  # beyond the courier's 5 s wait: it sends it again
    report = await file_case(bed, 5102)
    retried, late = await cards(bed, report.public_no, 2, timeout=20)
    assert late["message_id"] > retried["message_id"]

    def removed() -> bool:
        return bool(room.current(late).get("deleted"))

    await bed.emulator.wait_for(removed, 10)  # the slow try's answer came after all: its copy is the duplicate
    row = await card_row(bed, report.id)
    assert row["state"] == "sent" and row["result_message_id"] == retried["message_id"]

    async def deletion_sent() -> bool:  # recorded once Telegram's answer to the deletion is back
        deletion = await bed.db.fetchone("SELECT state FROM outbox WHERE method = 'deleteMessage'")
        return bool(deletion["state"] == "sent")

    assert await eventually(deletion_sent)

    await room.expect_answer(await room.press(retried, "Accept"))
    await room.expect_edit(retried, "State: accepted")
    assert labels(room.current(retried)) == ACCEPTED_BUTTONS
    edits = [c for c in bed.emulator.calls_of("editMessageText") if c.params.get("message_id") == late["message_id"]]
    assert edits == []  # nothing is sent to the removed copy


async def test_a_card_brought_up_to_date_while_its_send_was_on_the_way_is_edited_to_match(bed: TestBed) -> None:
    """A card waits its turn in the courier, read with the text of that moment; a resident's "mine too" rewrites
    the queued card meanwhile. The message that lands says what was read, so an edit must follow with the change."""
    room = await dispatcher(bed)
    assert bed.services is not None
    services = bed.services
    bed.emulator.inject("sendMessage", "slow", delay=3.0)  # on its way for 3 s: within the courier's 5 s wait
    report = await file_case(bed, 5105)
    await bed.emulator.wait_for(lambda: not bed.emulator.faults.get("sendMessage"), 10)  # the card is on its way
    policy = config.policy_from(services.settings, services.lang("en"), services.service_area)
    await service.follow(services.db, report.id, 5106, services.clock.now(), config.desk_for(policy))

    (card,) = await cards(bed, report.public_no, 1)
    assert "1 resident follows it" in text_of(card)  # as the courier read it
    await room.expect_edit(card, "2 residents follow it")
    assert labels(room.current(card)) == labels(card) and "✅ Accept" in labels(card)  # its buttons kept
    row = await card_row(bed, report.id)
    assert row["state"] == "sent" and "2 residents follow it" in row["params"]


async def test_a_press_on_a_message_of_another_case_changes_nothing(bed: TestBed) -> None:
    room = await dispatcher(bed)
    first = await file_case(bed, 5103)
    second = await file_case(bed, 5104)
    (card,) = await cards(bed, first.public_no, 1)
    (other,) = await cards(bed, second.public_no, 1)
    # A client can send any data for a message: here the second case's accept, pressed on the first case's card.
    forged = button_data("accept", second.id, ReportState.SUBMITTED)
    await room.expect_answer(await room.press_data(card, forged))
    await room.expect_edit(other, "State: accepted")
    copies = await bed.db.fetchall("SELECT * FROM outbox WHERE dedupe_key LIKE 'copy:%'")
    assert copies == []  # the first card was not taken for a copy of the second case's card
    assert not [c for c in bed.emulator.calls_of("editMessageText") if c.params.get("message_id") == card["message_id"]]
    assert first.public_no in text_of(room.current(card)) and "State: submitted" in text_of(room.current(card))
