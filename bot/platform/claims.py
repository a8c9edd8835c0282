"""Claims: several bot instances on one PostgreSQL database share the outbox and the due reminders, each row sent
or fired by one instance; a claim held by an instance that died is taken over once its lease runs out.

A claim is the row's ``claimed_by`` (the instance's name, Services.instance) and ``lease_until`` (migration 0011),
written with ``SELECT … FOR UPDATE SKIP LOCKED`` so two instances never wait on, or take, the same rows.

The outbox keeps each chat's order: an instance claims a chat by its oldest pending row (the head), then the next
rows of that chat with it. Another instance passes over a chat whose head carries a live claim, so it cannot send a
later row of the chat first; when the claimed rows are done, the next head is free for whoever comes first.

SQLite has one process per file and no ``SKIP LOCKED``: nothing is claimed there (:func:`shared`), and the courier
and the reminder timer read their rows as they always did.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.platform.clock import from_db, to_db
from bot.platform.db import Database, Row

_CHAT_HEAD = "SELECT MIN(id) FROM outbox WHERE chat_id = ? AND state = 'pending'"
_LOCK_HEAD = "SELECT claimed_by, lease_until FROM outbox WHERE id = ? AND state = 'pending' FOR UPDATE SKIP LOCKED"
_CLAIM_CHAT = (
    "UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE id IN (SELECT id FROM outbox "
    "WHERE chat_id = ? AND state = 'pending' ORDER BY id LIMIT ?) "
    "RETURNING id, chat_id, method, params, attempts, ref, dedupe_key, next_attempt_at"
)
_CLAIM_REMINDERS = (
    "UPDATE reminders SET claimed_by = ?, lease_until = ? WHERE id IN (SELECT id FROM reminders "
    "WHERE state = 'pending' AND due_at <= ? AND (claimed_by IS NULL OR claimed_by = ? OR lease_until < ?) "
    "ORDER BY due_at, id LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING id, kind, target, due_at, payload"
)

# The claim test of the courier's look for chats with work: a head nobody else holds (SQLite: always true).
FREE_HEAD_SQL = "(o.claimed_by IS NULL OR o.claimed_by = ? OR o.lease_until < ?)"


def shared(db: Database) -> bool:
    """Whether several instances may share the database, so rows are claimed before they are sent or fired: on
    PostgreSQL always, cheap and safe even for one instance (a restart overlapping the old process sends nothing
    twice); the updates themselves are shared only in webhook mode (Settings.shares_instances)."""
    return db.engine == "postgres"


def free_head_params(instance: str, now: datetime) -> tuple[Any, ...]:
    return (instance, to_db(now))


def _held_by_another(head: Row, instance: str, now: datetime) -> bool:
    holder, until = head["claimed_by"], head["lease_until"]
    return holder is not None and holder != instance and until is not None and until >= to_db(now)


async def claim_chat(
    db: Database, chat_id: int, instance: str, now: datetime, lease: timedelta, batch: int
) -> list[Row]:
    """Claims the chat's oldest ``batch`` pending rows, in id order; none when another instance holds the chat
    (its head is locked by a claim under way, or carries a live lease)."""
    async with db.transaction() as conn:
        async with conn.execute(_CHAT_HEAD, (chat_id,)) as cursor:
            head_id = (await cursor.fetchone() or (None,))[0]
        if head_id is None:
            return []
        async with conn.execute(_LOCK_HEAD, (head_id,)) as cursor:
            head = await cursor.fetchone()
        if head is None or _held_by_another(head, instance, now):
            return []  # locked by another claim under way, settled meanwhile, or leased to a live instance
        async with conn.execute(_CLAIM_CHAT, (instance, to_db(now + lease), chat_id, batch)) as cursor:
            rows = list(await cursor.fetchall())
    return sorted(rows, key=lambda row: int(row["id"]))


async def renew_chat(db: Database, chat_id: int, instance: str, until: datetime) -> bool:
    """Extends this instance's claim on the chat's pending rows; False when it holds none any more."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE outbox SET lease_until = ? WHERE chat_id = ? AND claimed_by = ? AND state = 'pending'",
            (to_db(until), chat_id, instance),
        )
        return bool(cursor.rowcount)


async def renew_all(db: Database, instance: str, until: datetime) -> None:
    """Extends every claim this instance holds on outbox rows still pending (its heartbeat)."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE outbox SET lease_until = ? WHERE claimed_by = ? AND state = 'pending'", (to_db(until), instance)
        )


async def release_chat(db: Database, chat_id: int, instance: str) -> None:
    """Gives back the chat's rows this instance claimed and did not settle (one waits for a retry, or it stops):
    whoever is free when the head is due takes the chat."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE outbox SET claimed_by = NULL, lease_until = NULL "
            "WHERE chat_id = ? AND claimed_by = ? AND state = 'pending'",
            (chat_id, instance),
        )


async def release_all(db: Database, instance: str) -> None:
    """At a clean stop: every outbox row and reminder this instance claimed is free at once, not after the lease."""
    async with db.transaction() as conn:
        for table in ("outbox", "reminders"):
            await conn.execute(
                f"UPDATE {table} SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ? AND state = 'pending'",
                (instance,),
            )


async def next_unclaimed(db: Database, instance: str) -> datetime | None:
    """When the earliest pending reminder is due for this instance: one another instance has claimed is looked at
    again when that claim runs out (it is normally fired before then)."""
    row = await db.fetchone(
        "SELECT LEAST((SELECT MIN(due_at) FROM reminders WHERE state = 'pending' "
        "AND (claimed_by IS NULL OR claimed_by = ?)), (SELECT MIN(GREATEST(due_at, lease_until)) FROM reminders "
        "WHERE state = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> ?))",
        (instance, instance),
    )
    return from_db(row[0]) if row and row[0] else None


async def claim_due_reminders(db: Database, instance: str, now: datetime, lease: timedelta, limit: int) -> list[Row]:
    """Claims up to ``limit`` due reminders nobody else holds, by due time; rows another instance is claiming at
    the same moment are passed over, not waited for."""
    async with db.transaction() as conn:
        async with conn.execute(
            _CLAIM_REMINDERS, (instance, to_db(now + lease), to_db(now), instance, to_db(now), limit)
        ) as cursor:
            rows = list(await cursor.fetchall())
    return sorted(rows, key=lambda row: (row["due_at"], int(row["id"])))
