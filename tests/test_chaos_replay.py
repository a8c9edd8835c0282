"""What a crash leaves behind, one story at a time: presses Telegram delivers again, steps lost, late reminders.

The chaos run (tests/test_chaos.py) finds these by chance; here each is played on purpose.
"""

from __future__ import annotations

import logging

import pytest

from bot.platform.db import Database
from tests.support.driver import TestBed, text_of
from tests.support.report_steps import count_rows, walk_to


def number_in(text: str) -> str:
    return text.split("number is ")[1].split(".")[0]


async def test_a_submit_delivered_again_files_nothing_more_and_stays_quiet(
    bed: TestBed, caplog: pytest.LogCaptureFixture
) -> None:
    user = bed.person(6101, "Wen", language_code="en")
    card = await walk_to(user, "review")
    await user.press(card, "Submit")
    await user.expect_message(contains="Your report number is")
    press = next(call for call in bed.emulator.calls_of("answerCallbackQuery"))
    replayed = {
        "callback_query": {
            "id": str(press.params["callback_query_id"]),
            "from": user.user,
            "chat_instance": f"ci-{user.id}",
            "data": "rpt:submit",
            "message": {k: v for k, v in card.items() if not k.startswith("_")},
        }
    }
    # The same press once more, as Telegram re-delivers an update the bot fetched but never confirmed.
    with caplog.at_level(logging.WARNING):
        await bed.emulator.push_update(replayed)
        await user.expect_no_message(wait=1.0)
    assert await count_rows(bed, "reports") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_submit_counts_even_when_the_wizard_step_was_lost(bed: TestBed) -> None:
    user = bed.person(6102, "Lan", language_code="en")
    card = await walk_to(user, "review")
    await bed.stop()
    # A kill before the conversation state was flushed: the wizard's step is gone, the draft (the truth) is not.
    db = await Database.open(bed.database_path)
    await db.execute("DELETE FROM ptb_conversations WHERE name = 'report'")
    await db.close()
    await bed.start()

    await user.press(card, "Submit")
    thanks = await user.expect_message(contains="Your report number is")
    row = await bed.db.fetchone("SELECT public_no FROM reports WHERE reporter_id = ?", (user.id,))
    assert row["public_no"] == number_in(text_of(thanks))


async def test_continue_on_a_late_reminder_after_sending_gives_the_number_not_a_new_report(bed: TestBed) -> None:
    user = bed.person(6103, "Hui", language_code="en")
    card = await walk_to(user, "review")
    await user.press(card, "Submit")
    number = number_in(text_of(await user.expect_message(contains="Your report number is")))

    await user.press_data(card, "rpt:resume")  # the draft reminder's "Continue", delivered after the submit
    answer = await user.expect_message(contains="There is no unfinished report any more")
    assert number in text_of(answer)
    assert await count_rows(bed, "reports") == 1
    assert await count_rows(bed, "report_drafts") == 0


async def test_continue_with_nothing_ever_sent_shows_the_menu(bed: TestBed) -> None:
    user = bed.person(6104, "Jun", language_code="en")
    await user.send("/start")
    menu = await user.expect_message(contains="Hello, Jun")
    await user.press_data(menu, "rpt:resume")
    await user.expect_message(contains="There is no unfinished report any more. Here is the menu.")
    assert await count_rows(bed, "report_drafts") == 0
