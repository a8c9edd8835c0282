"""Internal notes and public replies on a case, each one unit of work.

An internal note (``report_events.kind = 'note'``, ``public = 0``) is for staff only: it is shown on the card's
history and nowhere else — never in a resident's message, "my reports", Open311 or the CSV. A public reply
(``kind = 'reply'``, ``public = 1``) is told to every follower in their language through the outbox, and shown in
"my reports" and as Open311 ``status_notes``. Both are authorised by the actor's role at the moment of writing
(desk staff, or the officer the case was sent to) and re-render every copy of the card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.cases import card_posts
from bot.cases.config import Desk, lang_of_user
from bot.cases.moves import clean_note
from bot.cases.service import NOTHING, AfterCommit
from bot.cases.states import Report, add_event, followers_of, get_report
from bot.people import staff
from bot.people.staff import Action
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.i18n import Lang
from bot.platform.outbox import enqueue_text
from bot.platform.text import NOTE_SHOWN, escape

NOTE_ACTIONS = frozenset({Action.NOTE, Action.REPLY})
KIND_OF = {Action.NOTE: "note", Action.REPLY: "reply"}


@dataclass(frozen=True)
class Written:
    report: Report
    event_id: int
    residents_told: int  # 0 for an internal note, always


def reply_news(t: Lang, report: Report, text: str) -> str:
    """What a follower reads when staff reply publicly on a case."""
    return t._(
        "💬 City staff about your report <b>{number}</b>:\n{reply}",
        number=report.public_no,
        reply=escape(text, NOTE_SHOWN),
    )


async def write(
    db: Database,
    actor_id: int,
    action: Action,
    report_id: int,
    text: str,
    now: datetime,
    desk: Desk,
    *,
    prompt: tuple[int, int] | None = None,
    after: AfterCommit = NOTHING,
) -> Written:
    """Adds an internal note or a public reply; a reply is queued for every follower. Raises staff.NotAllowed,
    ReportNotFound or moves.NoteInvalid (nothing written then). ``prompt`` is the question this answers."""
    if action not in NOTE_ACTIONS:
        raise ValueError(f"{action} is not a note")
    cleaned = clean_note(text)
    async with db.transaction() as conn:
        report = await get_report(conn, report_id)
        role = await staff.authorize(conn, actor_id, action, desk.admin_ids, assignee=report.assignee)
        public = action is Action.REPLY
        event_id = await add_event(
            conn, report_id, KIND_OF[action], actor_id, role.value, None, None, cleaned, public, now
        )
        await conn.execute("UPDATE reports SET updated_at = ? WHERE id = ?", (to_db(now), report_id))
        told = await _tell_followers(conn, report, event_id, cleaned, now, desk) if public else 0
        if prompt is not None:
            await conn.execute("DELETE FROM staff_prompts WHERE chat_id = ? AND message_id = ?", prompt)
        await card_posts.refresh_cards(conn, report_id, now, desk, report)
    after.wake_courier()
    return Written(report, event_id, told)


async def _tell_followers(
    conn: aiosqlite.Connection, report: Report, event_id: int, text: str, now: datetime, desk: Desk
) -> int:
    told = 0
    for follower in await followers_of(conn, report.id):
        t = await lang_of_user(conn, follower, desk)
        await enqueue_text(
            conn,
            follower,
            reply_news(t, report, text),
            now,
            dedupe_key=f"case_reply:{event_id}:{follower}",
            ref=f"case_news:{report.id}",
        )
        told += 1
    return told
