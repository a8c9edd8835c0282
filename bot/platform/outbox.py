"""Queuing outbound pushes in the caller's transaction, so a change and its notification commit together.

Delivery (rate limits, retries, blocked users) is bot/edge/courier.py's job; this module only writes rows.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiosqlite

from bot.platform.clock import to_db
from bot.platform.db import returned_id


async def enqueue(
    conn: aiosqlite.Connection,
    chat_id: int,
    method: str,
    params: dict[str, Any],
    now: datetime,
    *,
    dedupe_key: str | None = None,
    ref: str | None = None,
) -> int | None:
    """Queues one Bot API call to ``chat_id``; returns its outbox id, or None if ``dedupe_key`` was queued before."""
    cursor = await conn.execute(
        """INSERT INTO outbox (chat_id, method, params, dedupe_key, ref, next_attempt_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id""",
        (
            chat_id,
            method,
            json.dumps({**params, "chat_id": chat_id}, ensure_ascii=False),
            dedupe_key,
            ref,
            to_db(now),
            to_db(now),
        ),
    )
    return await returned_id(cursor)


async def enqueue_text(
    conn: aiosqlite.Connection,
    chat_id: int,
    text: str,
    now: datetime,
    *,
    reply_markup: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    ref: str | None = None,
) -> int | None:
    """Queues a text message (HTML parse mode, as everything the bot sends)."""
    params: dict[str, Any] = {"text": text, "parse_mode": "HTML"}
    if reply_markup is not None:
        params["reply_markup"] = reply_markup
    return await enqueue(conn, chat_id, "sendMessage", params, now, dedupe_key=dedupe_key, ref=ref)


async def enqueue_texts(conn: aiosqlite.Connection, messages: list[tuple[int, str, str, str]], now: datetime) -> None:
    """Queues many text messages at once — (chat id, text, dedupe key, ref) each — for a push to many people
    (spot news, area alerts): one statement, where :func:`enqueue_text` per person would be one each."""
    await conn.executemany(
        """INSERT INTO outbox (chat_id, method, params, dedupe_key, ref, next_attempt_at, created_at)
           VALUES (?, 'sendMessage', ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING""",
        [
            (
                chat_id,
                json.dumps({"text": text, "parse_mode": "HTML", "chat_id": chat_id}, ensure_ascii=False),
                key,
                ref,
                to_db(now),
                to_db(now),
            )
            for chat_id, text, key, ref in messages
        ],
    )


async def enqueue_edit(
    conn: aiosqlite.Connection,
    chat_id: int,
    message_id: int,
    text: str,
    markup: dict[str, Any] | None,
    now: datetime,
    ref: str,
) -> int | None:
    """Queues the edit of a sent message to ``text`` and ``markup``; a markup without buttons (or none) takes the
    message's buttons away, since an edit that names no markup removes it."""
    edit: dict[str, Any] = {"message_id": message_id, "text": text, "parse_mode": "HTML"}
    if markup and markup.get("inline_keyboard"):
        edit["reply_markup"] = markup
    return await enqueue(conn, chat_id, "editMessageText", edit, now, ref=f"{ref}:edit")


def card_ref(report_id: int) -> str:
    """The ref of a report's alert card in the staff group (edited in place, replied to by later news)."""
    return f"report_card:{report_id}"


async def sent_message(db: Any, ref: str) -> tuple[int, int] | None:
    """(chat id, message id) of the latest sent push with this ref, to edit it or reply to it."""
    row = await db.fetchone(
        "SELECT chat_id, result_message_id FROM outbox WHERE ref = ? AND state = 'sent' "
        "AND result_message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        (ref,),
    )
    return (int(row["chat_id"]), int(row["result_message_id"])) if row else None


def copy_key(chat_id: int, message_id: int) -> str:
    """The dedupe key of the record that a message in a chat is a copy of some push."""
    return f"copy:{chat_id}:{message_id}"


async def record_copy(conn: aiosqlite.Connection, ref: str, chat_id: int, message_id: int, now: datetime) -> bool:
    """Notes one more message in the chat carrying the push ``ref`` (a copy whose sending seemed lost, found when
    someone pressed it), as a row already sent, so it is edited with the others; True when it was not known."""
    async with conn.execute(
        "SELECT 1 FROM outbox WHERE ref = ? AND chat_id = ? AND result_message_id = ? AND state = 'sent'",
        (ref, chat_id, message_id),
    ) as cursor:
        if await cursor.fetchone() is not None:
            return False
    cursor = await conn.execute(
        """INSERT INTO outbox (chat_id, method, params, dedupe_key, ref, state, result_message_id, next_attempt_at,
           created_at, sent_at) VALUES (?, 'sendMessage', ?, ?, ?, 'sent', ?, ?, ?, ?)
           ON CONFLICT (dedupe_key) DO NOTHING""",
        (
            chat_id,
            json.dumps({"chat_id": chat_id, "copy_of": ref}),
            copy_key(chat_id, message_id),
            ref,
            message_id,
            to_db(now),
            to_db(now),
            to_db(now),
        ),
    )
    return bool(cursor.rowcount)


async def is_known_copy(conn: aiosqlite.Connection, chat_id: int, message_id: int) -> bool:
    """Whether the message was recorded as a copy someone used (see :func:`record_copy`)."""
    async with conn.execute("SELECT 1 FROM outbox WHERE dedupe_key = ?", (copy_key(chat_id, message_id),)) as cursor:
        return await cursor.fetchone() is not None


async def copies(conn: aiosqlite.Connection, ref: str, chat_id: int) -> list[int]:
    """Every message in the chat known to carry the push ``ref`` (normally one), oldest first."""
    async with conn.execute(
        "SELECT DISTINCT result_message_id FROM outbox WHERE ref = ? AND chat_id = ? AND state = 'sent' "
        "AND result_message_id IS NOT NULL ORDER BY result_message_id",
        (ref, chat_id),
    ) as cursor:
        return [int(row[0]) for row in await cursor.fetchall()]


async def duplicate_removal(
    conn: aiosqlite.Connection, chat_id: int, message_id: int, ref: str | None, now: datetime
) -> int | None:
    """Queues the deletion of a message a push left twice (Telegram has no idempotency key)."""
    return await enqueue(
        conn,
        chat_id,
        "deleteMessage",
        {"message_id": message_id},
        now,
        dedupe_key=f"duplicate:{chat_id}:{message_id}",
        ref=f"{ref or 'push'}:duplicate",
    )
