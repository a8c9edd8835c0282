"""Wrong input at every step of the report wizard: a hint for that step, the step stays, nothing half-written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.cases import drafts, service
from tests.support.driver import Person, TestBed, text_of
from tests.support.report_steps import BEIJING, HOME, count_rows, draft_step, walk_to

Action = Callable[[Person, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class BadInput:
    description: str
    step: str
    act: Action
    hint: str
    alert: bool = False  # the answer is a button alert rather than a message


def sticker(person: Person, prompt: dict[str, Any]) -> Awaitable[Any]:
    return person.send_sticker()


def photo(person: Person, prompt: dict[str, Any]) -> Awaitable[Any]:
    return person.send_photo()


def voice(person: Person, prompt: dict[str, Any]) -> Awaitable[Any]:
    return person.send_voice()


def location(lat: float, lon: float) -> Action:
    return lambda person, prompt: person.share_location(lat, lon)


def typed(text: str) -> Action:
    return lambda person, prompt: person.send(text)


def forged(data: str) -> Action:
    return lambda person, prompt: person.press_data(prompt, data)


CASES = [
    BadInput("sticker instead of a category", "category", sticker, "Please choose a category"),
    BadInput("photo instead of a category", "category", photo, "Please choose a category"),
    BadInput("text instead of a category", "category", typed("garbage"), "Please choose a category"),
    BadInput("unknown category code", "category", forged("rpt:cat:klingon"), "no longer active", alert=True),
    BadInput("sticker instead of a place", "location", sticker, "Send my location"),
    BadInput("voice instead of a place", "location", voice, "Send my location"),
    BadInput("address too short", "location", typed("ab"), "in 4 to 200 characters (you wrote 2)"),
    BadInput("address too long", "location", typed("x" * 201), "in 4 to 200 characters (you wrote 201)"),
    BadInput("outside the service area", "location", location(*BEIJING), "outside the area we serve"),
    BadInput("text instead of a district", "district", typed("the east one"), "Please choose the district"),
    BadInput("forged district", "district", forged("rpt:dist:atlantis"), "no longer active", alert=True),
    BadInput("a district code no button carries", "district", forged("rpt:dist:a/b"), "no longer active", alert=True),
    BadInput("description too short", "description", typed("bad smell"), "at least 10 characters (you wrote 9)"),
    BadInput("description too long", "description", typed("y" * 1001), "keep it to 1000 characters (you wrote 1001)"),
    BadInput("sticker instead of a description", "description", sticker, "describe the problem in words"),
    BadInput("location instead of a description", "description", location(*HOME), "describe the problem in words"),
    BadInput("photo instead of a description", "description", photo, "describe the problem in words"),
    BadInput("text instead of a photo", "photos", typed("here it is"), "Please send a photo"),
    BadInput("voice instead of a photo", "photos", voice, "Please send a photo"),
    BadInput("a category button at the photo step", "photos", forged("rpt:cat:garbage"), "earlier step", alert=True),
    BadInput("text at the review", "review", typed("is it sent?"), "check the summary above"),
    BadInput("forged edit field", "review", forged("rpt:edit:reporter"), "no longer active", alert=True),
    BadInput("a mine-too button never offered", "review", forged("rpt:same:1"), "earlier step", alert=True),
]


async def go_on(person: Person, step: str, prompt: dict[str, Any]) -> None:
    """The right answer for the step, which must still be the current one."""
    if step == "category":
        await person.press(prompt, "Noise")
        await person.expect_message(contains="Where is it?")
    elif step == "location":
        await person.share_location(*HOME)
        await person.expect_message(contains="Location received")
    elif step == "district":
        await person.press(prompt, "Yongchuan")
        await person.expect_message(contains="describe the problem")
    elif step == "description":
        await person.send("Loud music every night after midnight")
        await person.expect_message(contains="A photo helps")
    elif step == "photos":
        await person.press(prompt, "Skip")
        await person.expect_message(contains="Please check your report")
    else:
        await person.press(prompt, "Submit")
        await person.expect_message(contains="Your report number is")


@pytest.mark.parametrize("case", CASES, ids=[case.description for case in CASES])
async def test_bad_input_gets_a_hint_and_the_step_stays(bed: TestBed, case: BadInput) -> None:
    user = bed.person(3001, "Ana", language_code="en")
    prompt = await walk_to(user, case.step)
    result = await case.act(user, prompt)
    if case.alert:
        answer = await user.expect_answer(result)
        assert case.hint in answer["text"] and answer["show_alert"]
    else:
        hint = await user.expect_message()
        assert case.hint in text_of(hint)
    await user.expect_no_message(wait=0.3)
    assert await draft_step(bed, 3001) == case.step
    assert await count_rows(bed, "reports") == 0
    await go_on(user, case.step, prompt)


async def test_one_hint_for_an_album_sent_at_the_wrong_step(bed: TestBed) -> None:
    user = bed.person(3002, "Bo", language_code="en")
    await walk_to(user, "description")
    await user.send_album(3)
    await user.expect_message(contains="describe the problem in words")
    await user.expect_no_message(wait=0.8)


async def test_old_wizard_buttons_after_the_report_was_filed(bed: TestBed) -> None:
    user = bed.person(3003, "Cai", language_code="en")
    card = await walk_to(user, "review")
    await user.press(card, "Submit")
    thanks = await user.expect_message(contains="Your report number is")
    number = text_of(thanks).split("number is ")[1].split(".")[0]
    await user.press_data(card, "rpt:submit")  # a double tap, or a press re-delivered after a restart
    again = await user.expect_message(contains="This report was already sent")
    assert number in text_of(again)
    assert await count_rows(bed, "reports") == 1


async def test_submit_when_the_wizard_step_lags_a_report_filed_before_a_crash(bed: TestBed) -> None:
    # A process filed the report and died before its wizard step was saved: the step still says "photos".
    user = bed.person(3005, "Dai", language_code="en")
    card = await walk_to(user, "review")
    await user.press_data(card, "rpt:edit:photos")
    await user.expect_message(contains="A photo helps")
    assert await draft_step(bed, 3005) == "photos"
    number = await file_the_draft_as_a_crashed_process_did(bed, 3005)
    await user.press_data(card, "rpt:submit")  # the press re-delivered to the restarted bot
    again = await user.expect_message(contains="This report was already sent")
    assert number in text_of(again)
    assert await count_rows(bed, "reports") == 1


async def file_the_draft_as_a_crashed_process_did(bed: TestBed, telegram_id: int) -> str:
    """Files the person's draft through the core, leaving the wizard's saved step behind (as a kill does): the
    description answered and the report filed in a process that died before its step was saved."""
    assert bed.application is not None
    draft = await drafts.load_draft(bed.db, telegram_id)
    assert draft is not None
    draft.description = draft.description or "Garbage by the gate"
    services, policy = bed.application.bot_data["services"], bed.application.bot_data["policy"]
    return (await service.submit(bed.db, telegram_id, draft, services.clock.now(), policy)).public_no


@pytest.mark.parametrize("step", ["description", "photos"])
async def test_a_step_answered_after_its_report_was_filed_starts_no_new_report(bed: TestBed, step: str) -> None:
    # A step's answer re-delivered after a restart, or the wizard's saved step behind a report filed before a kill.
    user = bed.person(3007, "Fang", language_code="en")
    prompt = await walk_to(user, step)
    number = await file_the_draft_as_a_crashed_process_did(bed, 3007)
    if step == "description":
        await user.send("Garbage by the gate, again")
    else:
        await user.press(prompt, "Skip")
    told = await user.expect_message(contains="There is no unfinished report any more")
    assert number in text_of(told)
    await user.expect_no_message(wait=0.5)
    assert await count_rows(bed, "reports") == 1
    assert await draft_step(bed, 3007) is None  # no new draft begun unasked


async def test_submit_on_an_old_review_card_while_editing_is_refused(bed: TestBed) -> None:
    user = bed.person(3006, "Du", language_code="en")
    card = await walk_to(user, "review")
    await user.press_data(card, "rpt:edit:description")
    await user.expect_message(contains="describe the problem")
    answer = await user.expect_answer(await user.press_data(card, "rpt:submit"))
    assert "belongs to an earlier step" in answer["text"] and answer["show_alert"]
    assert await draft_step(bed, 3006) == "description"
    assert await count_rows(bed, "reports") == 0


async def test_the_districts_served_are_listed_as_chinese_lists_them(bed: TestBed) -> None:
    wang = bed.person(3004, "王芳", language_code="zh-hans")
    await wang.send("📝 反映问题")
    await wang.press(await wang.expect_message(contains="您遇到的是哪类问题"), "占道经营")
    await wang.expect_message(contains="问题在哪里")
    await wang.share_location(*BEIJING)
    refusal = await wang.expect_message(contains="不在我们的服务范围内")
    assert "（武汉经开区、重庆永川区和郑州惠济区）" in text_of(refusal)  # CLDR's list, not "A, B, C"
    assert await draft_step(bed, 3004) == "location"
