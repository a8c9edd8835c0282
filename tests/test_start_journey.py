"""The first journey: greeting, menu, help, language, catch-alls, errors — in both languages."""

from __future__ import annotations

import asyncio

from tests.support.driver import TestBed, keyboard_labels, text_of

FLOOD_NOTICE = "You are sending messages very fast. Please wait a moment."


async def test_start_greets_in_chinese_by_telegram_language(bed: TestBed) -> None:
    wang = bed.person(1001, "王芳", language_code="zh-hans")
    await wang.send("/start")
    reply = await wang.expect_message(contains="王芳")
    assert "城市管理" in text_of(reply)
    assert "📝 反映问题" in keyboard_labels(reply)


async def test_start_greets_in_english_by_telegram_language(bed: TestBed) -> None:
    alice = bed.person(1002, "Alice", language_code="en-US")
    await alice.send("/start")
    reply = await alice.expect_message(contains="Hello, Alice!")
    assert keyboard_labels(reply) == [
        "📝 Report a problem",
        "🛒 Where can I sell?",
        "📋 My reports",
        "🌐 Language",
        "❓ Help",
    ]


async def test_unknown_language_code_falls_back_to_default(bed: TestBed) -> None:
    pierre = bed.person(1003, "Pierre", language_code="fr")
    await pierre.send("/start")
    await pierre.expect_message(contains="您好")


async def test_language_choice_is_stored_and_survives_restart(bed: TestBed) -> None:
    alice = bed.person(1004, "Alice", language_code="zh-CN")
    await alice.send("/language")
    chooser = await alice.expect_message(contains="请选择语言")
    query = await alice.press(chooser, "English")
    await alice.expect_answer(query)
    confirmation = await alice.expect_message(contains="Here is the menu.")
    assert "📝 Report a problem" in keyboard_labels(confirmation)
    assert "Language set: English." in text_of(alice.current(chooser))
    row = await bed.db.fetchone("SELECT language FROM users WHERE telegram_id = 1004")
    assert row["language"] == "en"

    await bed.restart()
    await alice.send("/start")
    await alice.expect_message(contains="Hello, Alice!")


async def test_help_from_the_menu_button(bed: TestBed) -> None:
    alice = bed.person(1005, "Alice", language_code="en")
    await alice.send("❓ Help")
    await alice.expect_message(contains="What I can do")


async def test_unexpected_message_gets_a_hint_and_the_menu(bed: TestBed) -> None:
    alice = bed.person(1006, "Alice", language_code="en")
    await alice.send_sticker()
    reply = await alice.expect_message(contains="did not understand")
    assert "📝 Report a problem" in keyboard_labels(reply)
    await alice.send("hello?")
    await alice.expect_message(contains="did not understand")


async def test_an_album_from_the_main_menu_gets_one_answer(bed: TestBed) -> None:
    alice = bed.person(1011, "Alice", language_code="en")
    await alice.send("/start")
    await alice.expect_message(contains="Hello, Alice")
    await alice.send_album(100)  # a hundred updates with one media_group_id, outside any journey
    reply = await alice.expect_message(contains="did not understand")
    assert "📝 Report a problem" in keyboard_labels(reply)
    await asyncio.sleep(2.0)
    # Beside the one answer, only the flood guard's single notice (100 updates in well under a second).
    assert [text_of(message) for message in alice.read_all()] in ([], [FLOOD_NOTICE])
    await alice.send_album(2)  # another album is another answer
    await alice.expect_message(contains="did not understand")
    await alice.expect_no_message(wait=1.0)


async def test_cancel_outside_a_journey(bed: TestBed) -> None:
    wang = bed.person(1007, "王", language_code="zh")
    await wang.send("/cancel")
    await wang.expect_message(contains="没有需要取消")


async def test_forged_button_is_refused_politely(bed: TestBed) -> None:
    alice = bed.person(1008, "Alice", language_code="en")
    await alice.send("/language")
    chooser = await alice.expect_message()
    for data in ("lang:klingon", "nonsense", "rep:accept:99999"):
        answer = await alice.expect_answer(await alice.press_data(chooser, data))
        assert "no longer active" in answer["text"]
    row = await bed.db.fetchone("SELECT language FROM users WHERE telegram_id = 1008")
    assert row["language"] is None


async def test_commands_are_published_in_both_languages(bed: TestBed) -> None:
    scope = '{"type": "all_private_chats"}'
    chinese = bed.emulator.commands[(scope, "zh")]
    english = bed.emulator.commands[(scope, "en")]
    assert {"command": "language", "description": "切换语言"} in chinese
    assert {"command": "language", "description": "Change language"} in english
    assert bed.emulator.commands[(scope, "")] == chinese  # the default language serves everyone else


async def test_group_chatter_is_ignored(bed: TestBed) -> None:
    group = bed.group(-100500, "Staff")
    alice = bed.person(1009, "Alice", language_code="en").in_group(group)
    await alice.send("hello everyone")
    await alice.expect_no_message(wait=0.5)
