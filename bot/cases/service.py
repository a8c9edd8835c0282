"""The operations on cases, each one unit of work: submit, follow, add information, withdraw, move, answer 核查.

Each operation opens one transaction and calls the parts in order, explicitly: the rows and the state machine
(states, intake, duplicates, mine), the timers (timers), the card copies (card_posts) and the news (news). After the
commit it wakes the courier and re-arms the reminder timer through the :class:`AfterCommit` it is given. Nothing is
installed or registered: what a move brings is written in :func:`apply_move`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiosqlite

from bot.cases import area_alerts, card_posts, grids, news, timers
from bot.cases.blocks import refuse_blocked
from bot.cases.card import first_name
from bot.cases.config import Desk, ReportPolicy, desk_for
from bot.cases.drafts import Draft, schedule_nudge, write_draft
from bot.cases.duplicates import FollowResult, add_follower
from bot.cases.intake import insert_report
from bot.cases.mine import insert_info
from bot.cases.moves import (
    CASE_ACTIONS,
    TARGET,
    NotAnOfficer,
    Outcome,
    clean_note,
    find_original,
)
from bot.cases.origins import Origin
from bot.cases.states import (
    NotReporter,
    Report,
    ReportError,
    ReportEvent,
    ReportState,
    StateChanged,
    Transition,
    followers_of,
    get_report,
    transition,
    visible_report,
)
from bot.people import staff
from bot.people.staff import Action
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.reminders import Reminder
from bot.platform.text import DESCRIPTION_SHOWN, escape


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class AfterCommit:
    """What to do once an operation committed: wake the outbox courier, re-arm the reminder timer."""

    wake_courier: Callable[[], None] = field(default=_nothing)
    rearm_timer: Callable[[], None] = field(default=_nothing)

    def __call__(self) -> None:
        self.wake_courier()
        self.rearm_timer()


NOTHING = AfterCommit()


# ------------------------------------------------------------------ the resident's operations
async def save_draft(
    db: Database,
    telegram_id: int,
    draft: Draft,
    step: str,
    now: datetime,
    policy: ReportPolicy,
    after: AfterCommit = NOTHING,
) -> None:
    """Stores the wizard's answers and the step it waits at, and (re)schedules the nudge for an unfinished draft."""
    async with db.transaction() as conn:
        await write_draft(conn, telegram_id, draft, step, now)
        await schedule_nudge(conn, telegram_id, policy.timing.draft_reminder_after, now)
    after.rearm_timer()


async def submit(
    db: Database,
    reporter_id: int,
    draft: Draft,
    now: datetime,
    policy: ReportPolicy,
    after: AfterCommit = NOTHING,
    origin: Origin | None = None,
) -> Report:
    """Files the report: its rows, the staff group's card, the case's timers and the area alerts, in one
    transaction. ``origin``: the channel of a case from outside Telegram (Open311), filed the same way."""
    desk = desk_for(policy)
    async with db.transaction() as conn:
        if origin is None:  # an Open311 case has no Telegram person to block (reporter_id 0 is nobody)
            await refuse_blocked(conn, reporter_id, now)
        report = await insert_report(conn, reporter_id, draft, now, policy, origin)
        await grids.tag_case(conn, report)
        await card_posts.queue_alert(conn, report, now, desk)
        await timers.schedule_new_case(conn, report, desk, now)
        await area_alerts.alert_new_report(conn, report, now, desk)
    after()
    return report


async def follow(
    db: Database, report_id: int, telegram_id: int, now: datetime, desk: Desk, after: AfterCommit = NOTHING
) -> FollowResult:
    """并单 "this is mine too": the person follows the open case, and the staff cards show the new count."""
    async with db.transaction() as conn:
        await refuse_blocked(conn, telegram_id, now)
        followed = await add_follower(conn, report_id, telegram_id, now)
        if not followed.already_following:
            await card_posts.refresh_cards(conn, report_id, now, desk, followed.report)
    after()
    return followed


async def add_info(
    db: Database,
    report_id: int,
    telegram_id: int,
    now: datetime,
    policy: ReportPolicy,
    *,
    text: str | None = None,
    photo_file_id: str | None = None,
    after: AfterCommit = NOTHING,
) -> ReportEvent:
    """The reporter or a follower adds text or a photo; the staff group is told."""
    if not text and not photo_file_id:
        raise ReportError("nothing to add")
    async with db.transaction() as conn:
        await refuse_blocked(conn, telegram_id, now)
        report, event = await insert_info(conn, report_id, telegram_id, text, photo_file_id, now)
        await news.info_to_staff(conn, report, event.id, text, now, desk_for(policy))
    after()
    return event


async def withdraw(
    db: Database, report_id: int, telegram_id: int, now: datetime, policy: ReportPolicy, after: AfterCommit = NOTHING
) -> Transition:
    """The reporter takes the report back (until it is dispatched); the staff group is told, the cards follow."""
    desk = desk_for(policy)
    async with db.transaction() as conn:
        report = await visible_report(conn, report_id, telegram_id)
        if report.reporter_id != telegram_id:
            raise NotReporter(report.public_no)
        done = await apply_move(
            conn, report_id, telegram_id, ReportState.WITHDRAWN, "", now, desk, actor_role="resident", current=report
        )
        await news.withdrawn_to_staff(conn, report, now, desk)
    after()
    return done


# ------------------------------------------------------------------ moves
async def apply_move(
    conn: aiosqlite.Connection,
    report_id: int,
    actor_id: int | None,
    to_state: ReportState,
    note: str,
    now: datetime,
    desk: Desk,
    *,
    actor_role: str = "system",
    public: bool = True,
    expected_from: ReportState | None = None,
    assignee: int | None = None,
    duplicate_of: int | None = None,
    current: Report | None = None,
) -> Transition:
    """A move and what every move brings, inside the caller's transaction: the row and its audit event, the
    case's timers in step with its new state, and every copy of its card re-rendered."""
    moved = await transition(
        conn,
        report_id,
        actor_id,
        to_state,
        note,
        now,
        actor_role=actor_role,
        public=public,
        expected_from=expected_from,
        assignee=assignee,
        duplicate_of=duplicate_of,
        current=current,
    )
    await timers.follow_move(conn, moved.report, moved, desk, now)
    await card_posts.refresh_cards(conn, report_id, now, desk, moved.report)
    return moved


async def move(
    db: Database,
    actor_id: int,
    action: Action,
    report_id: int,
    expected: ReportState,
    now: datetime,
    desk: Desk,
    *,
    note: str = "",
    officer_id: int | None = None,
    original_no: str | None = None,
    photo_file_id: str | None = None,
    prompt: tuple[int, int] | None = None,
    after: AfterCommit = NOTHING,
) -> Outcome:
    """Makes one staff move in one transaction, authorised by the actor's role now; tells whoever must know.

    Raises staff.NotAllowed, StateChanged (someone moved the case first), InvalidTransition, ReportNotFound, or
    a CaseworkError about the input (nothing is written then). ``prompt`` (chat id, message id) is the question
    this answers; it is closed with the move. The case is read once.
    """
    if action not in CASE_ACTIONS:
        raise ValueError(f"{action} is not a move of a case")
    if action in {Action.REJECT, Action.RETURN, Action.RESOLVE}:
        note = clean_note(note)
    async with db.transaction() as conn:
        report = await get_report(conn, report_id)
        role = await staff.authorize(conn, actor_id, action, desk.admin_ids, assignee=report.assignee)
        if report.state != expected:
            raise StateChanged(report_id, expected, report.state, TARGET[action])
        original = None
        if action == Action.DUPLICATE:
            original = await find_original(conn, original_no or "", report)
            note = original.public_no
        if action == Action.DISPATCH:
            if officer_id is None:
                raise ValueError("dispatching needs an officer")
            if await staff.role_of(conn, officer_id, frozenset()) is not staff.Role.OFFICER:
                raise NotAnOfficer(officer_id, await first_name(conn, officer_id) or str(officer_id))
        moved = await apply_move(
            conn,
            report_id,
            actor_id,
            TARGET[action],
            note,
            now,
            desk,
            actor_role=role.value,
            expected_from=expected,
            assignee=officer_id if action == Action.DISPATCH else None,
            duplicate_of=original.id if original else None,
            current=report,
        )
        if photo_file_id:
            await conn.execute(
                "INSERT INTO report_photos (report_id, file_id, kind, event_id, created_at) "
                "VALUES (?, ?, 'after', ?, ?)",
                (report_id, photo_file_id, moved.event_id, to_db(now)),
            )
        if prompt is not None:
            await conn.execute("DELETE FROM staff_prompts WHERE chat_id = ? AND message_id = ?", prompt)
        told = await news.tell_followers(conn, moved.report, moved, note, photo_file_id, original, now, desk)
        if action == Action.DISPATCH and officer_id is not None:
            await card_posts.send_to_officer(conn, moved.report, officer_id, moved, now, desk)
        if photo_file_id and desk.staff_chat_id is not None:
            await card_posts.after_photo_to_group(conn, moved.report, photo_file_id, moved, now, desk)
        if action == Action.ACCEPT and desk.auto_dispatch == "on":
            moved = await dispatch_to_grid_officer(conn, moved, now, desk) or moved
    after()
    return Outcome(moved.report, moved, told)


async def dispatch_to_grid_officer(
    conn: aiosqlite.Connection, accepted: Transition, now: datetime, desk: Desk
) -> Transition | None:
    """AUTO_DISPATCH=on: an accepted case goes straight to its grid's field officer, who gets it privately; the
    audit trail says the system sent it and why. None when the case has no grid or the grid no field officer."""
    report = accepted.report
    officers = await grids.grid_officers(conn, report.id)
    if not officers:
        return None
    note = desk.staff_lang._(
        "Sent automatically to the officer of grid {grid}.", grid=await grids.grid_name_of_case(conn, report.id)
    )
    moved = await apply_move(
        conn,
        report.id,
        None,
        ReportState.DISPATCHED,
        note,
        now,
        desk,
        public=False,
        expected_from=ReportState.ACCEPTED,
        assignee=officers[0],
        current=report,
    )
    await news.tell_followers(conn, moved.report, moved, "", None, None, now, desk)
    await card_posts.send_to_officer(conn, moved.report, officers[0], moved, now, desk)
    return moved


async def refresh(db: Database, report_id: int, now: datetime, desk: Desk, after: AfterCommit = NOTHING) -> int:
    """Re-renders the case's cards in a transaction of their own (e.g. after a press on a card that moved on)."""
    async with db.transaction() as conn:
        refreshed = await card_posts.refresh_cards(conn, report_id, now, desk)
    after()
    return refreshed


async def close_unconfirmed(conn: aiosqlite.Connection, reminder: Reminder, now: datetime, desk: Desk) -> None:
    """When VERIFY_CLOSE is due and nobody answered twice: the case closes as resolved, unconfirmed."""
    report = await timers.unconfirmed(conn, reminder)
    if report is None:
        return
    await apply_move(
        conn,
        report.id,
        None,
        ReportState.CLOSED,
        desk.staff_lang._(timers.UNCONFIRMED_NOTE),
        now,
        desk,
        expected_from=ReportState.RESOLVED,
        current=report,
    )


# ------------------------------------------------------------------ 核查: the followers' answers
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


async def answer_fixed(
    db: Database,
    report_id: int,
    telegram_id: int,
    answer: str,
    now: datetime,
    desk: Desk,
    after: AfterCommit = NOTHING,
) -> AnswerOutcome:
    """A follower's "is it fixed?": not fixed reopens the case, fixed closes it, partly tells staff."""
    if answer not in timers.ANSWERS:
        raise FollowupRefused("unknown answer")
    staff_t = desk.staff_lang
    async with db.transaction() as conn:
        report = await get_report(conn, report_id)
        if report.state != ReportState.RESOLVED:
            raise FollowupRefused("moved on")
        await _store_answer(conn, report_id, telegram_id, "fixed", answer, now)
        if answer == "partly":
            text = staff_t._(
                "🟡 Report <b>{number}</b>: the resident says it is only partly fixed.", number=report.public_no
            )
            await news.to_staff_group(conn, report, text, now, f"partly:{report_id}:{telegram_id}", desk)
            after_answer = report
        else:
            reopen = answer == "not_fixed"
            note = (
                staff_t._("The resident says it is not fixed.")
                if reopen
                else staff_t._("The resident confirmed it is fixed.")
            )
            moved = await apply_move(
                conn,
                report_id,
                telegram_id,
                ReportState.REOPENED if reopen else ReportState.CLOSED,
                note,
                now,
                desk,
                actor_role="resident",
                expected_from=ReportState.RESOLVED,
                current=report,
            )
            if reopen:
                text = staff_t._(
                    "🔁 Report <b>{number}</b> is reopened: the resident says the problem is not fixed.",
                    number=report.public_no,
                )
                await news.to_staff_group(conn, report, text, now, f"reopened:{report_id}:{moved.event_id}", desk)
            after_answer = moved.report
    after()
    return AnswerOutcome(after_answer, answer, answer == "not_fixed", answer == "fixed")


async def rate(db: Database, report_id: int, telegram_id: int, score: int, now: datetime) -> None:
    """A follower's satisfaction, 1 to 5 stars."""
    if not 1 <= score <= 5:
        raise FollowupRefused("score out of range")
    async with db.transaction() as conn:
        await _store_answer(conn, report_id, telegram_id, "satisfaction", score, now)


async def comment(
    db: Database, report_id: int, telegram_id: int, text: str, now: datetime, desk: Desk, after: AfterCommit = NOTHING
) -> None:
    """A follower's comment on the work; the staff group reads it."""
    async with db.transaction() as conn:
        await refuse_blocked(conn, telegram_id, now)
        await _store_answer(conn, report_id, telegram_id, "comment", text, now)
        report = await get_report(conn, report_id)
        note = desk.staff_lang._(
            "💬 Comment on report <b>{number}</b>: {comment}",
            number=report.public_no,
            comment=escape(text, DESCRIPTION_SHOWN),
        )
        await news.to_staff_group(conn, report, note, now, f"comment:{report_id}:{telegram_id}:{to_db(now)}", desk)
    after.wake_courier()
