"""A case's card in the chats that hold it: queued for the staff group and the officer, and refreshed after a move.

Every copy is sent and edited through the outbox (refs ``outbox.card_ref`` and :func:`officer_card_ref`), so a
card changes in the same transaction as its case and a crash loses no edit.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiosqlite

from bot.cases.card import GROUP_BUTTONS, OFFICER_BUTTONS, CaseView, card_text, keyboard, load_view
from bot.cases.config import Desk, lang_of_user
from bot.cases.states import Report, Transition, category_of
from bot.platform.db import Database, read_rows
from bot.platform.i18n import Lang
from bot.platform.outbox import card_ref, copies, enqueue, enqueue_edit, enqueue_text, record_copy


# ------------------------------------------------------------------ queuing cards
async def _report_photos(conn: aiosqlite.Connection, report_id: int) -> list[str]:
    rows = await read_rows(
        conn, "SELECT file_id FROM report_photos WHERE report_id = ? AND kind = 'report' ORDER BY id", (report_id,)
    )
    return [row["file_id"] for row in rows]


async def queue_case(
    conn: aiosqlite.Connection,
    chat_id: int,
    t: Lang,
    view: CaseView,
    now: datetime,
    *,
    markup: dict[str, Any],
    ref: str,
    key: str,
    for_officer: bool = False,
) -> int | None:
    """The card, then the place as a pin, the photos and the voice note (the courier keeps a chat's order)."""
    report = view.report
    card_id = await enqueue_text(
        conn,
        chat_id,
        card_text(t, view, now, for_officer=for_officer),
        now,
        reply_markup=markup,
        dedupe_key=f"{key}:card",
        ref=ref,
    )
    media_ref = f"report_media:{report.id}"
    if report.lat is not None and report.lon is not None:
        district = view.area.by_code(report.district) if view.area is not None and report.district else None
        # A venue is a pin with a title: the case number, so it cannot be taken for the next case's pin.
        await enqueue(
            conn,
            chat_id,
            "sendVenue",
            {
                "latitude": report.lat,
                "longitude": report.lon,
                "title": f"{report.public_no} · {t._(category_of(report.category).name)}",
                "address": report.address_text or (district.name(t.code) if district else report.public_no),
            },
            now,
            dedupe_key=f"{key}:pin",
            ref=media_ref,
        )
    photos = await _report_photos(conn, report.id)
    caption = t._("📷 Photos of case {number}", number=report.public_no)
    if len(photos) == 1:
        await enqueue(
            conn,
            chat_id,
            "sendPhoto",
            {"photo": photos[0], "caption": caption},
            now,
            dedupe_key=f"{key}:photos",
            ref=media_ref,
        )
    elif photos:
        media = [{"type": "photo", "media": file_id} for file_id in photos]
        media[0]["caption"] = caption
        await enqueue(conn, chat_id, "sendMediaGroup", {"media": media}, now, dedupe_key=f"{key}:photos", ref=media_ref)
    if report.voice_file_id:
        await enqueue(
            conn,
            chat_id,
            "sendVoice",
            {
                "voice": report.voice_file_id,
                "caption": t._("🎤 Voice description of case {number}", number=report.public_no),
            },
            now,
            dedupe_key=f"{key}:voice",
            ref=media_ref,
        )
    return card_id


async def queue_alert(conn: aiosqlite.Connection, report: Report, now: datetime, desk: Desk) -> int | None:
    """The new case for the staff group: its card, pin, photos and voice note; returns the card's outbox id."""
    if desk.staff_chat_id is None:
        return None
    t = desk.staff_lang
    view = await load_view(conn, report.id, now, desk)
    return await queue_case(
        conn,
        desk.staff_chat_id,
        t,
        view,
        now,
        markup=keyboard(t, report, GROUP_BUTTONS),
        ref=card_ref(report.id),
        key=f"report_alert:{report.id}",
    )


def officer_card_ref(report_id: int) -> str:
    return f"report_officer_card:{report_id}"


async def card_row(conn: aiosqlite.Connection, ref: str, chat_id: int) -> Any | None:
    rows = await read_rows(
        conn,
        "SELECT id, state, result_message_id, params FROM outbox WHERE ref = ? AND chat_id = ? "
        "AND state IN ('pending', 'sent') ORDER BY id DESC LIMIT 1",
        (ref, chat_id),
    )
    return rows[0] if rows else None


async def refresh_copies(
    conn: aiosqlite.Connection, ref: str, chat_id: int, text: str, markup: dict[str, Any], now: datetime
) -> bool:
    """Brings a card up to date: rewrites it while it waits to be sent, and edits every copy the chat is known to
    hold (one, or two when a slow send was tried again and someone pressed the copy whose answer was lost)."""
    waiting = await read_rows(
        conn, "SELECT id, params FROM outbox WHERE ref = ? AND chat_id = ? AND state = 'pending'", (ref, chat_id)
    )
    for row in waiting:
        params = {**json.loads(row["params"]), "text": text, "reply_markup": markup}
        # Still pending: one the courier marked sent meanwhile is among the copies below (and it edits a row
        # rewritten while its send was on the way itself: bot/edge/courier.py).
        await conn.execute(
            "UPDATE outbox SET params = ? WHERE id = ? AND state = 'pending'",
            (json.dumps(params, ensure_ascii=False), row["id"]),
        )
    sent = await copies(conn, ref, chat_id)
    for message_id in sent:
        await enqueue_edit(conn, chat_id, message_id, text, markup, now, ref)
    return bool(waiting or sent)


async def refresh_cards(
    conn: aiosqlite.Connection, report_id: int, now: datetime, desk: Desk, report: Report | None = None
) -> int:
    """Re-renders the case's card in the staff group and the officer's copy; returns how many were refreshed."""
    view = await load_view(conn, report_id, now, desk, report)
    report = view.report
    refreshed = 0
    if desk.staff_chat_id is not None:
        t = desk.staff_lang
        refreshed += await refresh_copies(
            conn,
            card_ref(report_id),
            desk.staff_chat_id,
            card_text(t, view, now),
            keyboard(t, report, GROUP_BUTTONS),
            now,
        )
    if report.assignee is not None:
        t = await lang_of_user(conn, report.assignee, desk)
        refreshed += await refresh_copies(
            conn,
            officer_card_ref(report_id),
            report.assignee,
            card_text(t, view, now, for_officer=True),
            keyboard(t, report, OFFICER_BUTTONS),
            now,
        )
    return refreshed


async def keep_copy(
    db: Database, report_id: int, chat_id: int, message_id: int, presser_id: int, now: datetime, desk: Desk
) -> bool:
    """A press on a copy of the case's card the bot did not know of (a send whose answer was lost, then tried
    again): from now on that copy is edited with the others. Only the group's card or the assigned officer's own
    copy is kept; True when the copy was new."""
    async with db.transaction() as conn:
        rows = await read_rows(conn, "SELECT assignee FROM reports WHERE id = ?", (report_id,))
        if not rows:
            return False
        if desk.staff_chat_id is not None and chat_id == desk.staff_chat_id:
            ref = card_ref(report_id)
        elif chat_id == presser_id and rows[0]["assignee"] == presser_id:
            ref = officer_card_ref(report_id)
        else:
            return False
        return await record_copy(conn, ref, chat_id, message_id, now)


async def anonymise_cards(conn: aiosqlite.Connection, report_id: int, now: datetime, desk: Desk) -> int:
    """After the reporter was unlinked (/forget, retention): every posted card is edited through the outbox, and
    every stored card text, queued or sent, is replaced by the current one, so no copy keeps their name."""
    refreshed = await refresh_cards(conn, report_id, now, desk)
    view = await load_view(conn, report_id, now, desk)
    for ref, for_officer in ((card_ref(report_id), False), (officer_card_ref(report_id), True)):
        refs = (ref, f"{ref}:edit")
        for row in await read_rows(conn, "SELECT DISTINCT chat_id FROM outbox WHERE ref IN (?, ?)", refs):
            chat_id = int(row["chat_id"])
            t = await lang_of_user(conn, chat_id, desk) if for_officer else desk.staff_lang
            text = card_text(t, view, now, for_officer=for_officer)
            if for_officer and chat_id != view.report.assignee:  # an earlier officer's copy: its buttons go too
                refreshed += await refresh_copies(conn, ref, chat_id, text, {"inline_keyboard": []}, now)
            await conn.execute(
                "UPDATE outbox SET params = json_set(params, '$.text', ?) WHERE ref IN (?, ?) AND chat_id = ?",
                (text, *refs, chat_id),
            )
    return refreshed


_installed_refreshers: list[Any] = []


async def send_to_officer(
    conn: aiosqlite.Connection, report: Report, officer_id: int, moved: Transition, now: datetime, desk: Desk
) -> None:
    t = await lang_of_user(conn, officer_id, desk)
    view = await load_view(conn, report.id, now, desk, report)
    await queue_case(
        conn,
        officer_id,
        t,
        view,
        now,
        markup=keyboard(t, report, OFFICER_BUTTONS),
        ref=officer_card_ref(report.id),
        key=f"dispatch:{moved.event_id}",
        for_officer=True,
    )


async def after_photo_to_group(
    conn: aiosqlite.Connection, report: Report, file_id: str, moved: Transition, now: datetime, desk: Desk
) -> None:
    assert desk.staff_chat_id is not None
    params: dict[str, Any] = {
        "photo": file_id,
        "caption": desk.staff_lang._("📷 After-photo of case {number}", number=report.public_no),
    }
    card = await card_row(conn, card_ref(report.id), desk.staff_chat_id)
    if card is not None and card["result_message_id"] is not None:
        params["reply_parameters"] = {"message_id": card["result_message_id"], "allow_sending_without_reply": True}
    await enqueue(
        conn,
        desk.staff_chat_id,
        "sendPhoto",
        params,
        now,
        dedupe_key=f"after_photo:{moved.event_id}",
        ref=f"report_media:{report.id}",
    )
