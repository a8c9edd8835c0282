"""Privacy: /privacy, /forget with its confirmation, the retention job, and no media ever downloaded."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from bot import privacy
from bot.cases import config, service, states
from bot.cases.states import ReportState
from bot.platform import reminders
from bot.platform.db import Database
from tests.support.driver import TestBed, text_of
from tests.support.report_steps import file_behind_the_scenes

ROOT = Path(__file__).resolve().parent.parent


async def count(db: Database, sql: str, *params: object) -> int:
    row = await db.fetchone(sql, params)
    return int(row[0])


async def personal_rows(db: Database, telegram_id: int) -> dict[str, int]:
    """Every row that links to the person."""
    return {
        "users": await count(db, "SELECT COUNT(*) FROM users WHERE telegram_id = ?", telegram_id),
        "reports": await count(db, "SELECT COUNT(*) FROM reports WHERE reporter_id = ?", telegram_id),
        "followers": await count(db, "SELECT COUNT(*) FROM report_followers WHERE telegram_id = ?", telegram_id),
        "events": await count(db, "SELECT COUNT(*) FROM report_events WHERE actor_id = ?", telegram_id),
        "answers": await count(db, "SELECT COUNT(*) FROM followup_answers WHERE telegram_id = ?", telegram_id),
        "drafts": await count(db, "SELECT COUNT(*) FROM report_drafts WHERE telegram_id = ?", telegram_id),
        "subscriptions": await count(db, "SELECT COUNT(*) FROM subscriptions WHERE user_id = ?", telegram_id),
        "outbox": await count(db, "SELECT COUNT(*) FROM outbox WHERE chat_id = ?", telegram_id),
        "user_data": await count(db, "SELECT COUNT(*) FROM ptb_user_data WHERE user_id = ?", telegram_id),
        "conversations": await count(
            db,
            "SELECT COUNT(*) FROM ptb_conversations WHERE EXISTS "
            "(SELECT 1 FROM json_each(ptb_conversations.key) WHERE value = ?)",
            telegram_id,
        ),
    }


async def test_privacy_explains_what_is_kept_and_for_how_long(bed: TestBed) -> None:
    alice = bed.person(8001, "Alice", "en")
    await alice.send("/privacy")
    reply = await alice.expect_message(contains="Your data and privacy")
    assert "365 days after a case is finished" in text_of(reply)
    assert "never download" in text_of(reply) and "/forget" in text_of(reply)
    wang = bed.person(8002, "王芳", "zh-hans")
    await wang.send("/privacy")
    await wang.expect_message(contains="个人信息")


async def test_forget_deletes_the_person_and_keeps_the_case_anonymous(bed: TestBed) -> None:
    assert bed.services is not None
    wang = bed.person(8003, "王芳", "en")
    report = await file_behind_the_scenes(bed, wang.id, show_name=True)
    await bed.db.execute(
        "INSERT INTO followup_answers (report_id, telegram_id, satisfaction, comment, answered_at) "
        "VALUES (?, ?, 4, 'Thanks', '2026-01-01 00:00:00')",
        (report.id, wang.id),
    )
    await wang.send("/report")  # in the middle of a new report: a draft and a conversation state
    await wang.expect_message(contains="What kind of problem")
    await wang.send("/forget")
    question = await wang.expect_message(contains="Do you want us to delete your data?")
    before = await personal_rows(bed.db, wang.id)
    assert before["users"] == before["reports"] == before["followers"] == 1 and before["answers"] == 1

    answer = await wang.press(question, "Yes, delete my data")
    await wang.expect_answer(answer)
    await bed.emulator.wait_for(lambda: "your data has been deleted" in text_of(wang.current(question)), 8)

    await bed.services.users.get(wang.id)  # the cache was forgotten too
    assert set((await personal_rows(bed.db, wang.id)).values()) == {0}
    case = await states.get_report(bed.db, report.id)
    assert case.reporter_id == privacy.ANONYMOUS_REPORTER and case.anonymous
    assert case.state == ReportState.SUBMITTED and case.description  # the case itself stays for the statistics
    kept = await bed.db.fetchone("SELECT satisfaction, comment, telegram_id FROM followup_answers")
    assert (kept["satisfaction"], kept["comment"]) == (4, "Thanks") and kept["telegram_id"] < 0
    assert await count(bed.db, "SELECT COUNT(*) FROM report_events WHERE report_id = ?", report.id) == 1

    await wang.send("/start")  # writing again starts afresh, outside the abandoned wizard
    await wang.expect_message(contains="Hello, 王芳")
    assert (await personal_rows(bed.db, wang.id))["reports"] == 0


async def test_keep_it_deletes_nothing(bed: TestBed) -> None:
    alice = bed.person(8004, "Alice", "en")
    await alice.send("/forget")
    question = await alice.expect_message(contains="delete your data")
    await alice.expect_answer(await alice.press(question, "Keep it"))
    await bed.emulator.wait_for(lambda: "Nothing was deleted" in text_of(alice.current(question)), 8)
    assert (await personal_rows(bed.db, alice.id))["users"] == 1


@pytest.mark.parametrize(
    ("description", "data", "expected"),
    [
        ("forged action", "forget:everything:0", "no longer active"),
        ("missing minute", "forget:yes", "no longer active"),
        ("an old question", "forget:yes:1000", "expired"),
        ("a question from the future, forged to never expire", "forget:yes:99999999999", "expired"),
    ],
)
async def test_stale_or_forged_confirmations_delete_nothing(
    bed: TestBed, description: str, data: str, expected: str
) -> None:
    alice = bed.person(8005, "Alice", "en")
    await alice.send("/forget")
    question = await alice.expect_message(contains="delete your data")
    answer = await alice.expect_answer(await alice.press_data(question, data))
    assert expected in answer["text"], description
    assert (await personal_rows(bed.db, alice.id))["users"] == 1


async def test_the_question_expires_after_ten_minutes(bed: TestBed) -> None:
    assert bed.services is not None
    alice = bed.person(8006, "Alice", "en")
    await alice.send("/forget")
    question = await alice.expect_message(contains="delete your data")
    await bed.services.advance_clock(timedelta(minutes=11))
    answer = await alice.expect_answer(await alice.press(question, "Yes, delete my data"))
    assert "expired" in answer["text"]
    assert (await personal_rows(bed.db, alice.id))["users"] == 1


async def test_staff_must_leave_the_staff_first(idle_bed: TestBed) -> None:
    idle_bed.env["ADMIN_IDS"] = "8007"
    await idle_bed.start()
    admin = idle_bed.person(8007, "Admin", "en")
    await admin.send("/forget")
    question = await admin.expect_message(contains="delete your data")
    answer = await admin.expect_answer(await admin.press(question, "Yes, delete my data"))
    assert "ask an administrator to remove your role" in answer["text"]
    assert (await personal_rows(idle_bed.db, admin.id))["users"] == 1


# ------------------------------------------------------------------ retention
async def test_retention_unlinks_old_finished_cases_only(bed: TestBed) -> None:
    assert bed.services is not None and bed.settings is not None
    services = bed.services
    old = await file_behind_the_scenes(bed, 8101)
    recent = await file_behind_the_scenes(bed, 8102)
    still_open = await file_behind_the_scenes(bed, 8103)
    async with services.db.transaction() as conn:
        for report in (old, recent):
            await service.apply_move(conn, report.id, 8101, ReportState.WITHDRAWN, "", services.clock.now(), bed.desk)
    await services.db.execute(
        "UPDATE reports SET updated_at = '2020-01-01 00:00:00', created_at = '2020-01-01 00:00:00' WHERE id IN (?, ?)",
        (old.id, still_open.id),
    )
    desk = config.desk_from(bed.settings, services.service_area)
    async with services.db.transaction() as conn:
        outcome = await privacy.apply_retention(conn, services.clock.now(), bed.settings.retention_days, desk)
    assert outcome.cases_unlinked == 1
    assert (await states.get_report(services.db, old.id)).reporter_id == privacy.ANONYMOUS_REPORTER
    assert (await states.get_report(services.db, recent.id)).reporter_id == 8102
    assert (await states.get_report(services.db, still_open.id)).reporter_id == 8103  # open: still needed
    assert await count(services.db, "SELECT COUNT(*) FROM report_followers WHERE report_id = ?", old.id) == 0
    async with services.db.transaction() as conn:  # a second run finds nothing more to do
        assert (await privacy.apply_retention(conn, services.clock.now(), 365, desk)).cases_unlinked == 0


async def test_retention_runs_daily_as_a_durable_reminder(bed: TestBed) -> None:
    assert bed.services is not None
    [scheduled] = await reminders.pending(bed.db, privacy.RETENTION_TARGET)
    local = scheduled.due_at.astimezone(bed.services.timezone)
    assert (local.hour, local.minute) == (3, 30)
    assert scheduled.due_at - bed.services.clock.now() <= timedelta(days=1)
    await bed.restart()  # not scheduled twice
    assert len(await reminders.pending(bed.db, privacy.RETENTION_TARGET)) == 1

    await bed.services.advance_clock(timedelta(days=1, minutes=1))
    [tomorrow] = await reminders.pending(bed.db, privacy.RETENTION_TARGET)
    assert tomorrow.due_at > scheduled.due_at
    row = await bed.db.fetchone("SELECT state FROM reminders WHERE id = ?", (scheduled.id,))
    assert row["state"] == "done"


# ------------------------------------------------------------------ media
def test_nothing_downloads_media() -> None:
    """Photos and voice notes stay Telegram file ids: no module asks Telegram for a file or downloads one."""
    forbidden = {"get_file", "download_to_drive", "download_to_memory", "download_as_bytearray", "getFile"}
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name in ("emulator.py", "playground.py"):
                continue  # the fake Telegram serves files; it is not the bot
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "value", None)
                assert name not in forbidden, f"{path.relative_to(ROOT)} calls {name}"


async def test_a_report_with_a_photo_never_fetches_it(bed: TestBed) -> None:
    report = await file_behind_the_scenes(bed, 8201, photos=["photo-file-000001"])
    stored = await bed.db.fetchone("SELECT file_id FROM report_photos WHERE report_id = ?", (report.id,))
    assert stored["file_id"] == "photo-file-000001"
    assert bed.emulator.calls_of("getFile") == []
