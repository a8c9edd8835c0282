"""The timers of a case: the re-ping when nobody accepts it, 督办 at half and all of its time limit, and 核查
(asking followers whether it is really fixed). Scheduled by the service with each submission and move, in the same
transaction; what each does when due is here too (bot/scheduled.py calls it inside the firing transaction).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from bot import wire
from bot.cases.card_posts import refresh_cards
from bot.cases.config import Desk, lang_of_user
from bot.cases.news import muted, to_staff_group
from bot.cases.states import (
    FINAL_STATES,
    OPEN_STATES,
    STATE_NAMES,
    Report,
    ReportState,
    Transition,
    category_of,
    followers_of,
    get_report,
)
from bot.platform import reminders
from bot.platform.i18n import N_, Lang
from bot.platform.outbox import enqueue_text
from bot.platform.reminders import Reminder

ACK_ESCALATE = "ack_escalate"
SLA_HALF = "sla_half"
SLA_DUE = "sla_due"
VERIFY_ASK = "verify_ask"
VERIFY_AGAIN = "verify_again"
VERIFY_CLOSE = "verify_close"
CASE_KINDS = (ACK_ESCALATE, SLA_HALF, SLA_DUE, VERIFY_ASK, VERIFY_AGAIN, VERIFY_CLOSE)
VERIFY_KINDS = (VERIFY_ASK, VERIFY_AGAIN, VERIFY_CLOSE)
# How late each may still fire: a re-ping a day late, or a question a month late, is no use.
STALE_AFTER: dict[str, timedelta | None] = {
    ACK_ESCALATE: timedelta(days=1),
    SLA_HALF: timedelta(days=30),
    SLA_DUE: timedelta(days=30),
    VERIFY_ASK: timedelta(days=30),
    VERIFY_AGAIN: timedelta(days=30),
    VERIFY_CLOSE: None,
}

# The buttons these messages carry are written as bot/wire.py says (and read there by handlers/followup.py).
ANSWERS = wire.FOLLOWUP_ANSWERS

UNCONFIRMED_NOTE = N_("Closed as resolved without the resident's confirmation (no answer).")


def case_target(report_id: int) -> str:
    return f"report:{report_id}"


async def case_of(conn: aiosqlite.Connection, reminder: Reminder) -> Report:
    """The case a case reminder (target written by :func:`case_target`) is about."""
    return await get_report(conn, int(reminder.target.removeprefix("report:")))


# ------------------------------------------------------------------ scheduling
async def schedule_new_case(conn: aiosqlite.Connection, report: Report, desk: Desk, now: datetime) -> None:
    """A new case: re-ping staff if nobody accepts it, and 督办 at half and all of its time limit."""
    target = case_target(report.id)
    await reminders.schedule(conn, ACK_ESCALATE, target, now + desk.timing.ack_escalate_after, now)
    category = category_of(report.category)
    half = desk.work_calendar.deadline(report.created_at, category.limit_hours / 2, category.emergency)
    await reminders.schedule(conn, SLA_HALF, target, half, now)
    await reminders.schedule(conn, SLA_DUE, target, report.due_at, now)


async def follow_move(conn: aiosqlite.Connection, report: Report, moved: Transition, desk: Desk, now: datetime) -> None:
    """Keeps a case's timers in step with its state after a move."""
    target = case_target(report.id)
    if moved.to_state != ReportState.SUBMITTED:
        await reminders.cancel(conn, target, (ACK_ESCALATE,))
    if moved.to_state in FINAL_STATES:
        await reminders.cancel(conn, target)
    elif moved.to_state == ReportState.RESOLVED:
        wait = desk.timing.followup_wait
        await reminders.cancel(conn, target, (SLA_HALF, SLA_DUE, *VERIFY_KINDS))
        await reminders.schedule(conn, VERIFY_ASK, target, now, now)
        await reminders.schedule(conn, VERIFY_AGAIN, target, now + wait, now)
        await reminders.schedule(conn, VERIFY_CLOSE, target, now + 2 * wait, now)
    elif moved.to_state == ReportState.REOPENED:
        await reminders.cancel(conn, target, VERIFY_KINDS)
        if report.due_at > now:
            await reminders.schedule(conn, SLA_DUE, target, report.due_at, now)


async def staff_with_roles(conn: aiosqlite.Connection, roles: tuple[str, ...]) -> list[int]:
    async with conn.execute(
        f"SELECT telegram_id FROM users WHERE role IN ({', '.join('?' for _ in roles)}) ORDER BY telegram_id",
        roles,
    ) as cursor:
        return [int(row["telegram_id"]) for row in await cursor.fetchall()]


def _category(t: Lang, report: Report) -> str:
    return t._(category_of(report.category).name)


# ------------------------------------------------------------------ when due: escalation and 督办
async def escalate_unaccepted(conn: aiosqlite.Connection, reminder: Reminder, now: datetime, desk: Desk) -> None:
    """Re-pings the staff group about a case nobody has accepted yet."""
    report = await case_of(conn, reminder)
    if report.state != ReportState.SUBMITTED:
        return
    t = desk.staff_lang
    text = t._(
        "⏰ Report <b>{number}</b> ({category}) has waited {waited} and nobody has accepted it yet.",
        number=report.public_no,
        category=_category(t, report),
        waited=t.duration(now - report.created_at),
    )
    await to_staff_group(conn, report, text, now, f"reminder:{reminder.id}", desk)


async def supervise(conn: aiosqlite.Connection, reminder: Reminder, now: datetime, desk: Desk, overdue: bool) -> None:
    """Supervisors hear at half the time limit, and again (with the card marked) when the case is overdue."""
    report = await case_of(conn, reminder)
    if report.state not in OPEN_STATES:
        return
    for supervisor in await staff_with_roles(conn, ("supervisor",)):
        t = await lang_of_user(conn, supervisor, desk)
        if overdue:
            text = t._(
                "🔴 Supervision: report <b>{number}</b> ({category}) is overdue: it was due {deadline} and is still "
                "“{state}”.",
                number=report.public_no,
                category=_category(t, report),
                deadline=t.date_time(report.due_at),
                state=t._(STATE_NAMES[report.state]),
            )
        else:
            text = t._(
                "🟡 Supervision: report <b>{number}</b> ({category}) has used half of its time limit; it is due "
                "{deadline} and is still “{state}”.",
                number=report.public_no,
                category=_category(t, report),
                deadline=t.date_time(report.due_at),
                state=t._(STATE_NAMES[report.state]),
            )
        await enqueue_text(conn, supervisor, text, now, dedupe_key=f"reminder:{reminder.id}:{supervisor}")
    if overdue:
        t = desk.staff_lang
        await to_staff_group(
            conn,
            report,
            t._(
                "🔴 Report <b>{number}</b> is overdue (due {deadline}).",
                number=report.public_no,
                deadline=t.date_time(report.due_at),
            ),
            now,
            f"reminder:{reminder.id}:group",
            desk,
        )
        await refresh_cards(conn, report.id, now, desk)


# ------------------------------------------------------------------ when due: 核查 / 回访
def answer_keyboard(t: Lang, report_id: int) -> dict[str, Any]:
    labels = {"fixed": t._("✅ Fixed"), "partly": t._("🟡 Partly"), "not_fixed": t._("❌ Not fixed")}
    return {
        "inline_keyboard": [
            [
                {"text": labels[answer], "callback_data": wire.make(wire.FOLLOWUP_ANSWER, report_id, answer)}
                for answer in ANSWERS
            ]
        ]
    }


def satisfaction_keyboard(report_id: int) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [
                {"text": "⭐" * score, "callback_data": wire.make(wire.FOLLOWUP_SATISFACTION, report_id, score)}
                for score in (1, 2, 3)
            ],
            [
                {"text": "⭐" * score, "callback_data": wire.make(wire.FOLLOWUP_SATISFACTION, report_id, score)}
                for score in (4, 5)
            ],
        ]
    }


async def answered(conn: aiosqlite.Connection, report_id: int) -> bool:
    async with conn.execute(
        "SELECT 1 FROM followup_answers WHERE report_id = ? AND fixed IS NOT NULL", (report_id,)
    ) as cursor:
        return await cursor.fetchone() is not None


async def ask_fixed(conn: aiosqlite.Connection, reminder: Reminder, now: datetime, desk: Desk, again: bool) -> None:
    """Followers of a resolved case are asked whether it is really fixed, and once more when nobody answered."""
    report = await case_of(conn, reminder)
    if report.state != ReportState.RESOLVED or await answered(conn, report.id):
        return
    for follower in await followers_of(conn, report.id):
        if await muted(conn, follower):
            continue
        t = await lang_of_user(conn, follower, desk)
        if again:
            text = t._(
                "We have not heard from you yet: is the problem of report <b>{number}</b> ({category}) fixed? "
                "If we hear nothing, the case will be closed as resolved in {wait}.",
                number=report.public_no,
                category=_category(t, report),
                wait=t.duration(desk.timing.followup_wait),
            )
        else:
            text = t._(
                "Staff say the problem of report <b>{number}</b> ({category}) is resolved. Is it really fixed? "
                "Your answer helps us check the work.",
                number=report.public_no,
                category=_category(t, report),
            )
        await enqueue_text(
            conn,
            follower,
            text,
            now,
            reply_markup=answer_keyboard(t, report.id),
            dedupe_key=f"reminder:{reminder.id}:{follower}",
        )


async def unconfirmed(conn: aiosqlite.Connection, reminder: Reminder) -> Report | None:
    """The resolved case nobody confirmed after two questions: the service closes it (None: nothing to close)."""
    report = await case_of(conn, reminder)
    if report.state != ReportState.RESOLVED or await answered(conn, report.id):
        return None
    return report
