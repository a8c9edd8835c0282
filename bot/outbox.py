"""Queuing outbound pushes in the caller's transaction, so a change and its notification commit together.

Delivery (rate limits, retries, blocked users) is bot/notify.py's job; this module only writes rows.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiosqlite

from bot.clock import to_db


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
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING""",
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
    return cursor.lastrowid if cursor.rowcount else None


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
