"""Follow-ups timed to each case: re-pings, 督办, "is it fixed?", satisfaction, closing unconfirmed, the digest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.cases import config, service
from bot.cases.drafts import Draft
from bot.cases.states import Report, ReportState
from bot.platform import reminders
from devtools.emulator import Chat
from tests.support.driver import Person, TestBed, eventually, text_of

STAFF_GROUP = -100200


@pytest.fixture
async def bed(idle_bed: TestBed) -> AsyncIterator[TestBed]:
    idle_bed.env.update(
        {
            "STAFF_CHAT_ID": str(STAFF_GROUP),
            "ACK_ESCALATE_AFTER": "2s",
            "FOLLOWUP_WAIT": "3d",
            "DIGEST_TIME": "08:30",
            "DEFAULT_LANGUAGE": "en",
        }
    )
    idle_bed.group(STAFF_GROUP, "Staff")
    await idle_bed.start()
    yield idle_bed


async def resident(bed: TestBed, user_id: int = 4001, name: str = "Zhou") -> Person:
    person = bed.person(user_id, name, "en")
    await person.send("/start")
    await person.expect_message(contains=f"Hello, {name}")
    return person


def staff_room(bed: TestBed) -> Person:
    watcher = bed.person(4900, "Watcher", "en")
    return watcher.in_group(bed.emulator.chats[STAFF_GROUP])


async def submit(bed: TestBed, reporter: Person, category: str = "garbage") -> Report:
    assert bed.services is not None and bed.settings is not None
    services = bed.services
    policy = config.policy_from(bed.settings, services.lang("en"), services.service_area)
    draft = Draft(
        category=category,
        lat=30.50,
        lon=114.10,
        district="wuhan-edz",
        description="Garbage piled at the corner for three days",
    )
    report = await service.submit(services.db, reporter.id, draft, services.clock.now(), policy)
    services.wake_outbox()
    services.reminders_changed()
    return report


async def move(bed: TestBed, report: Report, to_state: ReportState, note: str = "", **extra: object) -> None:
    assert bed.services is not None
    async with bed.db.transaction() as conn:
        await service.apply_move(
            conn, report.id, 4999, to_state, note, bed.services.clock.now(), bed.desk, actor_role="dispatcher", **extra
        )  # type: ignore[arg-type]
    bed.services.wake_outbox()
    bed.services.reminders_changed()


async def reminder_states(bed: TestBed, report: Report) -> dict[str, str]:
    rows = await bed.db.fetchall("SELECT kind, state FROM reminders WHERE target = ?", (f"report:{report.id}",))
    return {row["kind"]: row["state"] for row in rows}


async def test_an_unaccepted_case_is_pinged_again_and_accepting_cancels_the_rest(bed: TestBed) -> None:
    zhou, staff = await resident(bed), staff_room(bed)
    report = await submit(bed, zhou)
    await staff.expect_message_among(report.public_no)  # the alert card
    ping = await staff.expect_message_among("nobody has accepted it yet", timeout=10)
    assert report.public_no in text_of(ping)

    second = await submit(bed, await resident(bed, 4002, "Wu"))
    await staff.expect_message_among(second.public_no)
    await move(bed, second, ReportState.ACCEPTED)
    await asyncio.sleep(3)  # past the escalation time: the ping must not come
    assert not [m for m in staff.read_all() if "nobody has accepted" in text_of(m)]
    assert (await reminder_states(bed, second))["ack_escalate"] == "cancelled"


async def test_supervisors_are_told_at_half_time_and_when_overdue(bed: TestBed) -> None:
    assert bed.services is not None
    zhou, staff = await resident(bed), staff_room(bed)
    boss = await resident(bed, 4500, "Boss")
    await bed.db.execute("UPDATE users SET role = 'supervisor' WHERE telegram_id = ?", (boss.id,))
    report = await submit(bed, zhou, category="manhole")  # an emergency: 2 calendar hours
    await staff.expect_message_among(report.public_no)
    await move(bed, report, ReportState.ACCEPTED)

    await bed.services.advance_clock(timedelta(hours=1, minutes=1))
    half = await boss.expect_message(contains="half of its time limit")
    assert report.public_no in text_of(half) and "accepted" in text_of(half)
    await bed.services.advance_clock(timedelta(hours=1))
    await boss.expect_message(contains="is overdue")
    await staff.expect_message_among("is overdue")


async def test_fixed_closes_the_case_then_stars_and_a_comment(bed: TestBed) -> None:
    zhou, staff = await resident(bed), staff_room(bed)
    report = await submit(bed, zhou)
    await staff.expect_message_among(report.public_no)  # the alert card
    await move(bed, report, ReportState.ACCEPTED)
    await move(bed, report, ReportState.RESOLVED, "Cleaned up this morning")
    question = await zhou.expect_message(contains="Is it really fixed?")
    await zhou.press(question, "Fixed")
    stars = await zhou.expect_edit(question, "Glad to hear it is fixed")
    assert await _state(bed, report, ReportState.CLOSED)
    await zhou.press(stars, "⭐⭐⭐⭐⭐")
    prompt = await zhou.expect_message(contains="Anything you would like to add?")
    await zhou.send("Thank you, very quick!", reply_to=prompt)
    await zhou.expect_message(contains="passed to staff")
    comment = await staff.expect_message_among("Comment on report")
    assert "very quick" in text_of(comment)
    row = await bed.db.fetchone(
        "SELECT fixed, satisfaction, comment FROM followup_answers WHERE report_id = ?", (report.id,)
    )
    assert (row["fixed"], row["satisfaction"], row["comment"]) == ("fixed", 5, "Thank you, very quick!")
    assert set((await reminder_states(bed, report)).values()) <= {"done", "cancelled"}


async def test_not_fixed_reopens_and_tells_staff(bed: TestBed) -> None:
    zhou, staff = await resident(bed), staff_room(bed)
    report = await submit(bed, zhou)
    await move(bed, report, ReportState.ACCEPTED)
    await move(bed, report, ReportState.RESOLVED, "Done")
    question = await zhou.expect_message(contains="Is it really fixed?")
    await zhou.press(question, "Not fixed")
    await zhou.expect_edit(question, "reopened")
    assert await _state(bed, report, ReportState.REOPENED)
    await staff.expect_message_among(report.public_no)  # the card
    await staff.expect_message_among("is reopened")


async def test_no_answer_asks_once_more_then_closes_unconfirmed(bed: TestBed) -> None:
    assert bed.services is not None
    zhou = await resident(bed)
    report = await submit(bed, zhou)
    await move(bed, report, ReportState.ACCEPTED)
    await move(bed, report, ReportState.RESOLVED, "Done")
    await zhou.expect_message(contains="Is it really fixed?")
    await bed.services.advance_clock(timedelta(days=3, minutes=1))
    await zhou.expect_message(contains="We have not heard from you yet")
    await bed.services.advance_clock(timedelta(days=3))
    await eventually(lambda: _state(bed, report, ReportState.CLOSED))
    events = await bed.db.fetchall("SELECT note FROM report_events WHERE report_id = ? ORDER BY id", (report.id,))
    assert "without the resident's confirmation" in events[-1]["note"]


async def test_a_forged_or_foreign_answer_changes_nothing(bed: TestBed) -> None:
    zhou, stranger = await resident(bed), await resident(bed, 4003, "Stranger")
    report = await submit(bed, zhou)
    await move(bed, report, ReportState.ACCEPTED)
    await move(bed, report, ReportState.RESOLVED, "Done")
    question = await zhou.expect_message(contains="Is it really fixed?")
    for data in (f"fu:{report.id}:not_fixed", f"fu:{report.id}:maybe", "fu:x:fixed", f"fs:{report.id}:9"):
        answer = await stranger.expect_answer(await stranger.press_data(question, data))
        assert "no longer" in answer["text"]
    assert await _state(bed, report, ReportState.RESOLVED)


async def test_muted_residents_are_not_asked(bed: TestBed) -> None:
    zhou = await resident(bed)
    await zhou.send("/settings")
    panel = await zhou.expect_message(contains="Reminders are on")
    await zhou.press(panel, "Turn reminders off")
    await zhou.expect_edit(panel, "Reminders are off")
    assert await _muted(bed, zhou)
    report = await submit(bed, zhou)
    await move(bed, report, ReportState.ACCEPTED)
    await move(bed, report, ReportState.RESOLVED, "Done")
    await zhou.expect_no_message(wait=1.5)


async def test_the_morning_digest_counts_by_category(bed: TestBed) -> None:
    assert bed.services is not None
    staff = staff_room(bed)
    report = await submit(bed, await resident(bed))
    await staff.expect_message_among(report.public_no)
    await move(bed, report, ReportState.ACCEPTED)
    pending = [r for r in await reminders.pending(bed.db) if r.kind == "digest"]
    assert len(pending) == 1
    await bed.services.advance_clock(pending[0].due_at - bed.services.clock.now() + timedelta(seconds=1))
    digest = await staff.expect_message_among("Daily digest", timeout=10)  # overdue notes may come first
    assert "Exposed garbage" in text_of(digest) and "1 new · 1 open" in text_of(digest)
    after = [r for r in await reminders.pending(bed.db) if r.kind == "digest"]
    assert len(after) == 1 and after[0].due_at - pending[0].due_at == timedelta(days=1)


async def _state(bed: TestBed, report: Report, state: ReportState) -> bool:
    row = await bed.db.fetchone("SELECT state FROM reports WHERE id = ?", (report.id,))
    return bool(row["state"] == state.value)


async def _muted(bed: TestBed, person: Person) -> bool:
    row = await bed.db.fetchone("SELECT reminders_muted FROM users WHERE telegram_id = ?", (person.id,))
    return bool(row["reminders_muted"])


_ = Chat


async def test_an_abandoned_draft_is_nudged_once_and_continues_where_it_stopped(idle_bed: TestBed) -> None:
    from tests.support.report_steps import walk_to

    idle_bed.env.update({"DRAFT_REMINDER_AFTER": "2s", "DEFAULT_LANGUAGE": "en"})
    await idle_bed.start()
    zhou = await resident(idle_bed)
    await walk_to(zhou, "location")
    nudge = await zhou.expect_message(contains="did not finish it", timeout=10)
    await zhou.expect_no_message(wait=3)  # one nudge, not one every two seconds
    await zhou.press(nudge, "Continue")
    await zhou.expect_message(contains="Where is it?")


async def test_discarding_from_the_nudge_drops_the_draft(idle_bed: TestBed) -> None:
    from tests.support.report_steps import walk_to

    idle_bed.env.update({"DRAFT_REMINDER_AFTER": "2s", "DEFAULT_LANGUAGE": "en"})
    await idle_bed.start()
    zhou = await resident(idle_bed)
    await walk_to(zhou, "location")
    await zhou.send("/cancel")
    await zhou.expect_message()
    assert await idle_bed.db.fetchone("SELECT 1 FROM report_drafts WHERE telegram_id = ?", (zhou.id,)) is None
    await zhou.expect_no_message(wait=3)  # nothing to nudge about once the draft is gone
