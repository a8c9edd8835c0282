"""Follow-ups timed to each case: escalations, 督办, 核查/回访, the staff digest and abandoned drafts.

Every follow-up is a durable reminder (bot/reminders.py). :func:`install` registers :func:`after_submit`
and :func:`after_transition` as hooks of the report core, which runs them inside its own transactions, so a
case's reminders change atomically with the case (callers of ``reports.transition`` need do nothing).
The handlers here run inside the firing transaction and queue their messages through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiosqlite

from bot import wire
from bot.cases.reports import (
    CATEGORIES,
    DRAFT_HOOKS,
    FINAL_STATES,
    OPEN_STATES,
    STATE_NAMES,
    SUBMIT_HOOKS,
    TRANSITION_HOOKS,
    Report,
    ReportState,
    Transition,
    category_of,
    followers_of,
    get_report,
    transition,
)
from bot.platform import reminders
from bot.platform.clock import from_db, to_db
from bot.platform.config import Settings
from bot.platform.i18n import N_, Lang
from bot.platform.outbox import card_ref, enqueue, enqueue_text, sent_message
from bot.platform.reminders import Reminder, reminder_kind
from bot.platform.services import Services
from bot.platform.text import ADDRESS_SHOWN, DESCRIPTION_SHOWN, TITLE_SHOWN, escape, fit
from bot.platform.worktime import WorkCalendar
from bot.vending import spots

ACK_ESCALATE = "ack_escalate"
SLA_HALF = "sla_half"
SLA_DUE = "sla_due"
VERIFY_ASK = "verify_ask"
VERIFY_AGAIN = "verify_again"
VERIFY_CLOSE = "verify_close"
DIGEST = "digest"
DRAFT_NUDGE = "draft_nudge"
CASE_KINDS = (ACK_ESCALATE, SLA_HALF, SLA_DUE, VERIFY_ASK, VERIFY_AGAIN, VERIFY_CLOSE)
VERIFY_KINDS = (VERIFY_ASK, VERIFY_AGAIN, VERIFY_CLOSE)

# The buttons these messages carry are written as bot/wire.py says (and read there by handlers/followup.py).
ANSWERS = wire.FOLLOWUP_ANSWERS

UNCONFIRMED_NOTE = N_("Closed as resolved without the resident's confirmation (no answer).")


def case_target(report_id: int) -> str:
    return f"report:{report_id}"


async def case_of(conn: aiosqlite.Connection, reminder: Reminder) -> Report:
    """The case a case reminder (target written by :func:`case_target`) is about."""
    return await get_report(conn, int(reminder.target.removeprefix("report:")))


def calendar_of(settings: Settings) -> WorkCalendar:
    return WorkCalendar(settings.timezone, settings.work_hours)


# ------------------------------------------------------------------ hooks called by the report core
def install(settings: Settings) -> None:
    """Registers the case hooks with the report core (idempotent: a restarted bot replaces its own)."""

    async def on_submit(conn: aiosqlite.Connection, report: Report, now: datetime) -> None:
        await after_submit(conn, report, settings, now)

    async def on_move(conn: aiosqlite.Connection, report: Report, moved: Transition, now: datetime) -> None:
        await after_transition(conn, report, moved, settings, now)

    async def on_draft_saved(conn: aiosqlite.Connection, telegram_id: int, now: datetime) -> None:
        await schedule_draft_nudge(conn, telegram_id, settings, now)

    async def on_subscription(
        conn: aiosqlite.Connection, user_id: int, spot_id: int, subscribed: bool, now: datetime | None
    ) -> None:
        if subscribed and now is not None:
            await schedule_spot_reminder(conn, spot_id, user_id, settings, now, now)
        else:
            await cancel_spot_reminder(conn, spot_id, user_id)

    spots.SUBSCRIPTION_HOOKS["followups"] = on_subscription
    SUBMIT_HOOKS["followups"] = on_submit
    DRAFT_HOOKS["followups"] = on_draft_saved
    TRANSITION_HOOKS["followups"] = on_move


async def after_submit(conn: aiosqlite.Connection, report: Report, settings: Settings, now: datetime) -> None:
    """A new case: re-ping staff if nobody accepts it, and 督办 at half and all of its time limit."""
    target = case_target(report.id)
    await reminders.schedule(conn, ACK_ESCALATE, target, now + settings.ack_escalate_after, now)
    category = category_of(report.category)
    half = calendar_of(settings).deadline(report.created_at, category.limit_hours / 2, category.emergency)
    await reminders.schedule(conn, SLA_HALF, target, half, now)
    await reminders.schedule(conn, SLA_DUE, target, report.due_at, now)


async def after_transition(
    conn: aiosqlite.Connection, report: Report, moved: Transition, settings: Settings, now: datetime
) -> None:
    """Keeps a case's reminders in step with its state."""
    target = case_target(report.id)
    if moved.to_state != ReportState.SUBMITTED:
        await reminders.cancel(conn, target, (ACK_ESCALATE,))
    if moved.to_state in FINAL_STATES:
        await reminders.cancel(conn, target)
    elif moved.to_state == ReportState.RESOLVED:
        await reminders.cancel(conn, target, (SLA_HALF, SLA_DUE, *VERIFY_KINDS))
        await reminders.schedule(conn, VERIFY_ASK, target, now, now)
        await reminders.schedule(conn, VERIFY_AGAIN, target, now + settings.followup_wait, now)
        await reminders.schedule(conn, VERIFY_CLOSE, target, now + 2 * settings.followup_wait, now)
    elif moved.to_state == ReportState.REOPENED:
        await reminders.cancel(conn, target, VERIFY_KINDS)
        if report.due_at > now:
            await reminders.schedule(conn, SLA_DUE, target, report.due_at, now)


# ------------------------------------------------------------------ helpers
async def _lang(services: Services, telegram_id: int) -> Lang:
    return await services.lang_for(telegram_id)


async def _muted(conn: aiosqlite.Connection, telegram_id: int) -> bool:
    async with conn.execute(
        "SELECT reminders_muted, blocked_bot FROM users WHERE telegram_id = ?", (telegram_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return bool(row and (row["reminders_muted"] or row["blocked_bot"]))


async def staff_with_roles(conn: aiosqlite.Connection, roles: tuple[str, ...]) -> list[int]:
    async with conn.execute(
        f"SELECT telegram_id FROM users WHERE role IN ({', '.join('?' for _ in roles)}) ORDER BY telegram_id",
        roles,
    ) as cursor:
        return [int(row["telegram_id"]) for row in await cursor.fetchall()]


async def _to_staff_group(
    conn: aiosqlite.Connection, services: Services, report: Report, text: str, now: datetime, key: str
) -> None:
    """A note for the staff group, in the thread of the case's card when the card was sent."""
    chat_id = services.settings.staff_chat_id
    if chat_id is None:
        return
    params: dict[str, Any] = {"text": text, "parse_mode": "HTML"}
    card = await sent_message(services.db, card_ref(report.id))
    if card is not None and card[0] == chat_id:
        params["reply_parameters"] = {"message_id": card[1], "allow_sending_without_reply": True}
    await enqueue(conn, chat_id, "sendMessage", params, now, dedupe_key=key, ref=f"report_note:{report.id}")


def _category(t: Lang, report: Report) -> str:
    return t._(category_of(report.category).name)


# ------------------------------------------------------------------ escalation and 督办
@reminder_kind(ACK_ESCALATE, stale_after=timedelta(days=1))
async def escalate_unaccepted(
    conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime
) -> None:
    """Re-pings the staff group about a case nobody has accepted yet."""
    report = await case_of(conn, reminder)
    if report.state != ReportState.SUBMITTED:
        return
    t = services.lang(services.settings.default_language)
    text = t._(
        "⏰ Report <b>{number}</b> ({category}) has waited {waited} and nobody has accepted it yet.",
        number=report.public_no,
        category=_category(t, report),
        waited=t.duration(now - report.created_at),
    )
    await _to_staff_group(conn, services, report, text, now, key=f"reminder:{reminder.id}")


async def _supervise(
    conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime, overdue: bool
) -> None:
    report = await case_of(conn, reminder)
    if report.state not in OPEN_STATES:
        return
    for supervisor in await staff_with_roles(conn, ("supervisor",)):
        t = await _lang(services, supervisor)
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
        t = services.lang(services.settings.default_language)
        await _to_staff_group(
            conn,
            services,
            report,
            t._(
                "🔴 Report <b>{number}</b> is overdue (due {deadline}).",
                number=report.public_no,
                deadline=t.date_time(report.due_at),
            ),
            now,
            key=f"reminder:{reminder.id}:group",
        )
        for refresh in CARD_REFRESHERS:
            await refresh(conn, services, report.id, now)


# Supervisors hear at half the time limit, and again (with the card marked) when the case is overdue.
reminder_kind(SLA_HALF, stale_after=timedelta(days=30))(partial(_supervise, overdue=False))
reminder_kind(SLA_DUE, stale_after=timedelta(days=30))(partial(_supervise, overdue=True))


# The staff journey registers a function that re-renders a case's card (e.g. to show it is overdue).
CARD_REFRESHERS: list[Any] = []


# ------------------------------------------------------------------ 核查 / 回访
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


async def _answered(conn: aiosqlite.Connection, report_id: int) -> bool:
    async with conn.execute(
        "SELECT 1 FROM followup_answers WHERE report_id = ? AND fixed IS NOT NULL", (report_id,)
    ) as cursor:
        return await cursor.fetchone() is not None


async def _ask_fixed(
    conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime, again: bool
) -> None:
    report = await case_of(conn, reminder)
    if report.state != ReportState.RESOLVED or await _answered(conn, report.id):
        return
    for follower in await followers_of(conn, report.id):
        if await _muted(conn, follower):
            continue
        t = await _lang(services, follower)
        if again:
            text = t._(
                "We have not heard from you yet: is the problem of report <b>{number}</b> ({category}) fixed? "
                "If we hear nothing, the case will be closed as resolved in {wait}.",
                number=report.public_no,
                category=_category(t, report),
                wait=t.duration(services.settings.followup_wait),
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


# Followers of a resolved case are asked whether it is really fixed, and once more when nobody answered.
reminder_kind(VERIFY_ASK, stale_after=timedelta(days=30))(partial(_ask_fixed, again=False))
reminder_kind(VERIFY_AGAIN, stale_after=timedelta(days=30))(partial(_ask_fixed, again=True))


@reminder_kind(VERIFY_CLOSE)
async def close_unconfirmed(conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime) -> None:
    """Nobody answered twice: the case closes as resolved, unconfirmed."""
    report = await case_of(conn, reminder)
    if report.state != ReportState.RESOLVED or await _answered(conn, report.id):
        return
    t = services.lang(services.settings.default_language)
    await transition(
        conn,
        report.id,
        None,
        ReportState.CLOSED,
        t._(UNCONFIRMED_NOTE),
        now,
        actor_role="system",
        public=True,
        expected_from=ReportState.RESOLVED,
    )


@dataclass(frozen=True)
class AnswerOutcome:
    report: Report
    answer: str
    reopened: bool
    closed: bool


class FollowupRefused(Exception):
    """The person may not answer for this case, or it has moved on."""


_ANSWER_FIELDS = ("fixed", "satisfaction", "comment")


async def _store_answer(
    conn: aiosqlite.Connection, report_id: int, telegram_id: int, field: str, value: str | int, now: datetime
) -> None:
    """One field of a follower's answer; anyone who does not follow the case is refused."""
    if field not in _ANSWER_FIELDS:
        raise ValueError(field)
    if telegram_id not in await followers_of(conn, report_id):
        raise FollowupRefused("not a follower")
    await conn.execute(
        f"""INSERT INTO followup_answers (report_id, telegram_id, {field}, answered_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (report_id, telegram_id) DO UPDATE SET {field} = excluded.{field},
            answered_at = excluded.answered_at""",
        (report_id, telegram_id, value, to_db(now)),
    )


async def record_answer(
    services: Services, report_id: int, telegram_id: int, answer: str, now: datetime
) -> AnswerOutcome:
    """Stores a follower's "is it fixed?": not fixed reopens the case, fixed closes it, partly tells staff."""
    if answer not in ANSWERS:
        raise FollowupRefused("unknown answer")
    async with services.db.transaction() as conn:
        report = await get_report(conn, report_id)
        if report.state != ReportState.RESOLVED:
            raise FollowupRefused("moved on")
        await _store_answer(conn, report_id, telegram_id, "fixed", answer, now)
        staff_t = services.lang(services.settings.default_language)
        reopened = closed = False
        if answer == "not_fixed":
            note = staff_t._("The resident says it is not fixed.")
            moved = await transition(
                conn,
                report_id,
                telegram_id,
                ReportState.REOPENED,
                note,
                now,
                actor_role="resident",
                public=True,
                expected_from=ReportState.RESOLVED,
            )
            await _to_staff_group(
                conn,
                services,
                report,
                staff_t._(
                    "🔁 Report <b>{number}</b> is reopened: the resident says the problem is not fixed.",
                    number=report.public_no,
                ),
                now,
                key=f"reopened:{report_id}:{moved.event_id}",
            )
            reopened = True
        elif answer == "fixed":
            note = staff_t._("The resident confirmed it is fixed.")
            await transition(
                conn,
                report_id,
                telegram_id,
                ReportState.CLOSED,
                note,
                now,
                actor_role="resident",
                public=True,
                expected_from=ReportState.RESOLVED,
            )
            closed = True
        else:
            await _to_staff_group(
                conn,
                services,
                report,
                staff_t._(
                    "🟡 Report <b>{number}</b>: the resident says it is only partly fixed.", number=report.public_no
                ),
                now,
                key=f"partly:{report_id}:{telegram_id}",
            )
    services.wake_outbox()
    services.reminders_changed()
    return AnswerOutcome(await get_report(services.db, report_id), answer, reopened, closed)


async def record_satisfaction(services: Services, report_id: int, telegram_id: int, score: int, now: datetime) -> None:
    if not 1 <= score <= 5:
        raise FollowupRefused("score out of range")
    async with services.db.transaction() as conn:
        await _store_answer(conn, report_id, telegram_id, "satisfaction", score, now)


async def record_comment(services: Services, report_id: int, telegram_id: int, comment: str, now: datetime) -> None:
    async with services.db.transaction() as conn:
        await _store_answer(conn, report_id, telegram_id, "comment", comment, now)
        report = await get_report(conn, report_id)
        staff_t = services.lang(services.settings.default_language)
        await _to_staff_group(
            conn,
            services,
            report,
            staff_t._(
                "💬 Comment on report <b>{number}</b>: {comment}",
                number=report.public_no,
                comment=escape(comment, DESCRIPTION_SHOWN),
            ),
            now,
            key=f"comment:{report_id}:{telegram_id}:{to_db(now)}",
        )
    services.wake_outbox()


# ------------------------------------------------------------------ the staff digest
def next_digest_at(settings: Settings, now: datetime) -> datetime:
    """The next DIGEST_TIME in the city's zone, as UTC."""
    local = now.astimezone(settings.timezone)
    moment = datetime.combine(local.date(), settings.digest_time, settings.timezone)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), settings.digest_time, settings.timezone)
    return moment


async def ensure_digest(services: Services, now: datetime) -> None:
    """At start: makes sure the next digest is scheduled (once) when there is a staff group."""
    if services.settings.staff_chat_id is None:
        return
    if any(r.kind == DIGEST for r in await reminders.pending(services.db, "digest")):
        return
    async with services.db.transaction() as conn:
        await reminders.schedule(conn, DIGEST, "digest", next_digest_at(services.settings, now), now)


@dataclass(frozen=True)
class DigestLine:
    category: str
    new: int
    open: int
    overdue: int


async def digest_counts(db: Any, now: datetime) -> list[DigestLine]:
    """Per category: new in the last 24 hours, open now, overdue now."""
    open_states = tuple(state.value for state in OPEN_STATES)
    marks = ", ".join("?" for _ in open_states)
    rows = await db.fetchall(
        f"""SELECT category,
                   SUM(created_at > ?) AS new,
                   SUM(state IN ({marks})) AS open,
                   SUM(state IN ({marks}) AND due_at < ?) AS overdue
            FROM reports GROUP BY category""",
        (to_db(now - timedelta(days=1)), *open_states, *open_states, to_db(now)),
    )
    counts = {row["category"]: row for row in rows}
    lines = []
    for category in CATEGORIES:
        row = counts.get(category.code)
        if row and (row["new"] or row["open"] or row["overdue"]):
            lines.append(DigestLine(category.code, int(row["new"]), int(row["open"]), int(row["overdue"])))
    return lines


@reminder_kind(DIGEST, stale_after=timedelta(hours=6))
async def send_digest(conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime) -> None:
    """The staff group's morning digest; schedules tomorrow's."""
    await reminders.schedule(conn, DIGEST, "digest", next_digest_at(services.settings, now), now)
    chat_id = services.settings.staff_chat_id
    if chat_id is None:
        return
    t = services.lang(services.settings.default_language)
    lines = await digest_counts(services.db, now)
    body = [t._("📊 Daily digest, {date}", date=t.date(now.astimezone(services.timezone).date()))]
    if not lines:
        body.append(t._("No new, open or overdue cases. A quiet day."))
    for line in lines:
        body.append(
            t._(
                "{category}: {new} new · {open} open · {overdue} overdue",
                category=t._(category_of(line.category).name),
                new=line.new,
                open=line.open,
                overdue=line.overdue,
            )
        )
    total = [sum(getattr(line, name) for line in lines) for name in ("new", "open", "overdue")]
    body.append(
        t._("In all: {new} new · {open} open · {overdue} overdue", new=total[0], open=total[1], overdue=total[2])
    )
    await enqueue_text(conn, chat_id, fit("\n".join(body)), now, dedupe_key=f"reminder:{reminder.id}")


# ------------------------------------------------------------------ abandoned drafts
def draft_target(telegram_id: int) -> str:
    return f"draft:{telegram_id}"


async def schedule_draft_nudge(conn: aiosqlite.Connection, telegram_id: int, settings: Settings, now: datetime) -> None:
    """Called whenever a draft is saved: one nudge, DRAFT_REMINDER_AFTER after the last change."""
    target = draft_target(telegram_id)
    await reminders.cancel(conn, target, (DRAFT_NUDGE,))
    await reminders.schedule(conn, DRAFT_NUDGE, target, now + settings.draft_reminder_after, now)


@reminder_kind(DRAFT_NUDGE, stale_after=timedelta(days=2))
async def nudge_draft(conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime) -> None:
    """Offers to continue or discard a report left unfinished."""
    telegram_id = int(reminder.target.split(":")[1])
    async with conn.execute(
        "SELECT data, updated_at FROM report_drafts WHERE telegram_id = ?", (telegram_id,)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None or await _muted(conn, telegram_id):
        return
    if from_db(row["updated_at"]) + services.settings.draft_reminder_after > now + timedelta(seconds=1):
        return  # touched since: a newer nudge is scheduled
    t = await _lang(services, telegram_id)
    keyboard = {
        "inline_keyboard": [
            [
                {"text": t._("▶️ Continue"), "callback_data": wire.RESUME_DRAFT},
                {"text": t._("🗑 Discard"), "callback_data": wire.DISCARD_DRAFT},
            ]
        ]
    }
    await enqueue_text(
        conn,
        telegram_id,
        t._("You started a report and did not finish it. Would you like to continue where you left off?"),
        now,
        reply_markup=keyboard,
        dedupe_key=f"reminder:{reminder.id}",
    )


# ------------------------------------------------------------------ muting
async def set_muted(services: Services, telegram_id: int, muted: bool, now: datetime) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(
            "UPDATE users SET reminders_muted = ?, updated_at = ? WHERE telegram_id = ?",
            (int(muted), to_db(now), telegram_id),
        )


async def is_muted(services: Services, telegram_id: int) -> bool:
    row = await services.db.fetchone("SELECT reminders_muted FROM users WHERE telegram_id = ?", (telegram_id,))
    return bool(row and row["reminders_muted"])


# ------------------------------------------------------------------ "your spot opens in 30 minutes"
SPOT_OPENS = "spot_opens"


def spot_target(spot_id: int, user_id: int) -> str:
    return f"spot:{spot_id}:user:{user_id}"


def spot_targets_of(user_id: int) -> str:
    """A LIKE pattern matching the targets of every spot reminder of one person."""
    return f"spot:%:user:{user_id}"


async def schedule_spot_reminder(
    conn: aiosqlite.Connection, spot_id: int, user_id: int, settings: Settings, now: datetime, after: datetime
) -> datetime | None:
    """Schedules the reminder before the spot's first opening after ``after`` (date exceptions respected)."""
    target = spot_target(spot_id, user_id)
    await reminders.cancel(conn, target, (SPOT_OPENS,))
    try:
        spot = await spots.get_spot(conn, spot_id, now, settings.timezone)
    except spots.SpotNotFound:
        return None
    if spot.status == spots.STATUS_RELOCATED:
        return None
    opening = spots.next_opening(spot, after + settings.spot_reminder_before, settings.timezone)
    if opening is None:
        return None
    due = opening.opens_at - settings.spot_reminder_before
    await reminders.schedule(conn, SPOT_OPENS, target, due, now, {"opens_at": to_db(opening.opens_at)})
    return due


async def cancel_spot_reminder(conn: aiosqlite.Connection, spot_id: int, user_id: int) -> None:
    await reminders.cancel(conn, spot_target(spot_id, user_id), (SPOT_OPENS,))


async def ensure_spot_reminders(services: Services, now: datetime) -> int:
    """At start: every subscription has its next reminder (a subscription made while it could not be, gets one)."""
    rows = await services.db.fetchall(
        "SELECT s.spot_id, s.user_id FROM subscriptions AS s WHERE NOT EXISTS ("
        "  SELECT 1 FROM reminders AS r WHERE r.state = 'pending' AND r.kind = ? "
        "  AND r.target = 'spot:' || s.spot_id || ':user:' || s.user_id)",
        (SPOT_OPENS,),
    )
    if not rows:
        return 0
    async with services.db.transaction() as conn:
        for row in rows:
            await schedule_spot_reminder(conn, row["spot_id"], row["user_id"], services.settings, now, now)
    return len(rows)


@reminder_kind(SPOT_OPENS)
async def remind_spot_opening(
    conn: aiosqlite.Connection, reminder: Reminder, services: Services, now: datetime
) -> None:
    """Tells a vendor their spot opens soon (if it still will, and they still follow it); schedules the next."""
    _, spot_id, _, user_id = reminder.target.split(":")
    async with conn.execute(
        "SELECT 1 FROM subscriptions WHERE spot_id = ? AND user_id = ?", (int(spot_id), int(user_id))
    ) as cursor:
        if await cursor.fetchone() is None:
            return
    opens_at = from_db(reminder.payload["opens_at"])
    settings = services.settings
    try:
        spot = await spots.get_spot(conn, int(spot_id), now, settings.timezone)
    except spots.SpotNotFound:
        return
    # Closed meanwhile (a date exception, a temporary closure) or already open: nothing to announce.
    opening = spots.current_opening(spot, opens_at, settings.timezone)
    if opening is not None and now < opens_at and not await _muted(conn, int(user_id)):
        t = await _lang(services, int(user_id))
        text = t._(
            "🔔 {spot} opens {when}: {hours}. Address: {address}",
            spot=escape(spot.title(t.code), TITLE_SHOWN),
            when=t.relative(opens_at, now),
            hours=spots.opening_text(t, opening),
            address=escape(spot.place(t.code), ADDRESS_SHOWN),
        )
        await enqueue_text(conn, int(user_id), text, now, dedupe_key=f"reminder:{reminder.id}")
    await schedule_spot_reminder(conn, int(spot_id), int(user_id), settings, now, max(now, opens_at))
