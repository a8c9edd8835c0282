"""The news of a case: what its followers are told after a public step, and the notes for the staff group."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiosqlite

from bot.cases.config import Desk, lang_of_user
from bot.cases.states import Report, ReportState, Transition, category_of, followers_of
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.i18n import Lang
from bot.platform.outbox import card_ref, enqueue, enqueue_text
from bot.platform.text import CAPTION_LIMIT, DESCRIPTION_SHOWN, NOTE_SHOWN, escape, fit

S = ReportState


def resident_news(t: Lang, report: Report, to_state: ReportState, note: str, original_no: str | None) -> str | None:
    """What followers are told about a public step, in their language; None for steps they need not hear of."""
    number = report.public_no
    if to_state == S.ACCEPTED:
        return t._(
            "✅ Your report <b>{number}</b> ({category}) has been accepted as a case. It should be handled by "
            "{deadline}; we will tell you about each step.",
            number=number,
            category=t._(category_of(report.category).name),
            deadline=t.date_time(report.due_at),
        )
    if to_state == S.DISPATCHED:
        return t._(
            "👮 Your report <b>{number}</b> has been passed to a field officer, who will go and handle it.",
            number=number,
        )
    if to_state == S.RESOLVED:
        return t._(
            "🎉 Your report <b>{number}</b> has been handled. What staff say: {note}\n"
            "Thank you for helping to keep our streets in good order!",
            number=number,
            note=escape(note, NOTE_SHOWN),
        )
    if to_state == S.CLOSED:
        return t._(
            "🏁 Your report <b>{number}</b> is now closed. Thank you for taking the trouble to report it.",
            number=number,
        )
    if to_state == S.REJECTED:
        return t._(
            "Your report <b>{number}</b> could not be taken on as a case. The reason staff give: {note}\n"
            "If you think this is a mistake, you are welcome to report it again with more details.",
            number=number,
            note=escape(note, NOTE_SHOWN),
        )
    if to_state == S.RETURNED:
        return t._(
            "Your report <b>{number}</b> is not one the city management bureau can handle; it has been passed to "
            "the body responsible: {note}\nThank you for reporting it.",
            number=number,
            note=escape(note, NOTE_SHOWN),
        )
    if to_state == S.DUPLICATE:
        return t._(
            "Your report <b>{number}</b> is about the same problem as case <b>{original}</b>, so we have merged "
            "them. From now on you will hear about the progress of {original}.",
            number=number,
            original=original_no or "",
        )
    return None


async def tell_followers(
    conn: aiosqlite.Connection,
    report: Report,
    moved: Transition,
    note: str,
    photo_file_id: str | None,
    original: Report | None,
    now: datetime,
    desk: Desk,
) -> int:
    """Queues the step's news for every follower in their language (with the after-photo, if any)."""
    told = 0
    for follower in await followers_of(conn, report.id):
        t = await lang_of_user(conn, follower, desk)
        text = resident_news(t, report, moved.to_state, note, original.public_no if original else None)
        if text is None:
            continue
        key, ref = f"case_news:{moved.event_id}:{follower}", f"case_news:{report.id}"
        if photo_file_id:
            await enqueue(
                conn,
                follower,
                "sendPhoto",
                {"photo": photo_file_id, "caption": fit(text, CAPTION_LIMIT), "parse_mode": "HTML"},
                now,
                dedupe_key=key,
                ref=ref,
            )
        else:
            await enqueue_text(conn, follower, text, now, dedupe_key=key, ref=ref)
        told += 1
    return told


# ------------------------------------------------------------------ notes for the staff group
async def _sent_card(conn: aiosqlite.Connection, report_id: int) -> tuple[int, int] | None:
    """(chat id, message id) of the case's sent group card, to reply in its thread."""
    async with conn.execute(
        "SELECT chat_id, result_message_id FROM outbox WHERE ref = ? AND state = 'sent' "
        "AND result_message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        (card_ref(report_id),),
    ) as cursor:
        row = await cursor.fetchone()
    return (int(row["chat_id"]), int(row["result_message_id"])) if row else None


async def to_staff_group(
    conn: aiosqlite.Connection, report: Report, text: str, now: datetime, key: str, desk: Desk
) -> None:
    """A note for the staff group, in the thread of the case's card when the card was sent."""
    chat_id = desk.staff_chat_id
    if chat_id is None:
        return
    params: dict[str, Any] = {"text": text, "parse_mode": "HTML"}
    card = await _sent_card(conn, report.id)
    if card is not None and card[0] == chat_id:
        params["reply_parameters"] = {"message_id": card[1], "allow_sending_without_reply": True}
    await enqueue(conn, chat_id, "sendMessage", params, now, dedupe_key=key, ref=f"report_note:{report.id}")


async def info_to_staff(
    conn: aiosqlite.Connection, report: Report, event_id: int, text: str | None, now: datetime, desk: Desk
) -> None:
    """A follower added text or a photo: the group hears of it (ref report_info:<id>)."""
    if desk.staff_chat_id is None:
        return
    t = desk.staff_lang
    body = escape(text, DESCRIPTION_SHOWN) if text else t._("(a photo)")
    await enqueue_text(
        conn,
        desk.staff_chat_id,
        t._("ℹ️ More information on <b>{number}</b> from a resident:\n{text}", number=report.public_no, text=body),
        now,
        ref=f"report_info:{report.id}:{event_id}",
    )


async def withdrawn_to_staff(conn: aiosqlite.Connection, report: Report, now: datetime, desk: Desk) -> None:
    if desk.staff_chat_id is None:
        return
    await enqueue_text(
        conn,
        desk.staff_chat_id,
        desk.staff_lang._("↩️ Report <b>{number}</b> was withdrawn by the resident.", number=report.public_no),
        now,
        dedupe_key=f"report_withdrawn:{report.id}",
        ref=f"report_withdrawn:{report.id}",
    )


# ------------------------------------------------------------------ who hears reminders
async def muted(conn: aiosqlite.Connection, telegram_id: int) -> bool:
    """The person turned reminders off, or blocked the bot."""
    async with conn.execute(
        "SELECT reminders_muted, blocked_bot FROM users WHERE telegram_id = ?", (telegram_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return bool(row and (row["reminders_muted"] or row["blocked_bot"]))


async def set_muted(db: Database, telegram_id: int, muted: bool, now: datetime) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE users SET reminders_muted = ?, updated_at = ? WHERE telegram_id = ?",
            (int(muted), to_db(now), telegram_id),
        )


async def is_muted(db: Database, telegram_id: int) -> bool:
    row = await db.fetchone("SELECT reminders_muted FROM users WHERE telegram_id = ?", (telegram_id,))
    return bool(row and row["reminders_muted"])
