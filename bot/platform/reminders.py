"""Durable reminders: the ``reminders`` table is the truth; the JobQueue only holds one timer for the earliest.

A reminder fires exactly once: it is marked done in the same transaction in which its handler queues the
outbox rows it sends, so a crash before the commit leaves it pending (it fires after restart) and a crash after
leaves it done with its messages queued. Restoring at start costs one query, however many reminders wait.

The timer is given, by the composition root, the one function that fires a due reminder and how late each kind
may still fire (:class:`ReminderKinds`; bot/scheduled.py holds both). Overdue reminders of the same kind and target
are coalesced (only the latest fires), a reminder later than its kind's ``stale_after`` expires unsent ("your spot
opens in 30 minutes" is no use three hours after the opening), and a kind the timer was not told of fails. Whoever
schedules re-arms the timer after the commit (``Services.reminders_changed``).

On PostgreSQL several instances may run the timer on one database: due reminders are claimed first
(bot/platform/claims.py), so each is fired by one instance, and those claimed by an instance that died are fired
by another once the claim's lease runs out. Firing stays exactly once either way: the reminder is marked done only
while still pending, in the transaction that queues its messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from bot.platform import claims
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database, returned_id
from bot.platform.services import Services

log = logging.getLogger(__name__)

TICK_JOB_NAME = "reminders:tick"
FIRE_BATCH = 200
LEASE = timedelta(seconds=15)  # PostgreSQL: a dead instance's reminders are fired by another then (INSTANCE_LEASE)


@dataclass(frozen=True)
class Reminder:
    id: int
    kind: str
    target: str
    due_at: datetime
    payload: dict[str, Any]


# Queues a due reminder's messages, inside the transaction that marks it done.
FireReminder = Callable[[aiosqlite.Connection, Reminder, datetime], Awaitable[None]]
SAFETY_POLL = 60.0  # seconds: the timer looks again at least this often, whatever it was told


@dataclass(frozen=True)
class ReminderKinds:
    """The kinds the timer fires: how late each may still fire (None: whenever), and the one function firing them."""

    stale_after: Mapping[str, timedelta | None]
    fire: FireReminder

    def with_more(self, more: ReminderKinds) -> ReminderKinds:
        """These kinds and ``more`` (which win for the kinds they name)."""

        async def fire(conn: aiosqlite.Connection, reminder: Reminder, now: datetime) -> None:
            chosen = more if reminder.kind in more.stale_after else self
            await chosen.fire(conn, reminder, now)

        return ReminderKinds({**self.stale_after, **more.stale_after}, fire)


async def schedule(
    conn: aiosqlite.Connection,
    kind: str,
    target: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """Adds a pending reminder (in the caller's transaction); None when the same one is already scheduled.

    The caller re-arms the timer after its commit (``Services.reminders_changed``)."""
    cursor = await conn.execute(
        "INSERT INTO reminders (kind, target, due_at, payload, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, target, due_at) WHERE state = 'pending' DO NOTHING RETURNING id",
        (kind, target, to_db(due_at), json.dumps(payload or {}, ensure_ascii=False), to_db(now)),
    )
    return await returned_id(cursor)


async def cancel(conn: aiosqlite.Connection, target: str, kinds: tuple[str, ...] | None = None) -> int:
    """Cancels pending reminders about ``target`` (e.g. the case moved on); returns how many."""
    sql = "UPDATE reminders SET state = 'cancelled' WHERE state = 'pending' AND target = ?"
    params: list[Any] = [target]
    if kinds:
        sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params.extend(kinds)
    cursor = await conn.execute(sql, params)
    return cursor.rowcount


async def purge(conn: aiosqlite.Connection, targets: tuple[str, ...] = (), like: tuple[str, ...] = ()) -> int:
    """Deletes every reminder, pending or settled, about these targets (exact, or LIKE patterns): a target can
    name a person (``draft:<telegram id>``), and a forgotten person leaves no row behind."""
    clauses = ["target = ?"] * len(targets) + ["target LIKE ?"] * len(like)
    if not clauses:
        return 0
    cursor = await conn.execute(f"DELETE FROM reminders WHERE {' OR '.join(clauses)}", (*targets, *like))
    return cursor.rowcount


async def purge_settled(conn: aiosqlite.Connection, before: datetime) -> int:
    """Deletes reminders created before ``before`` that are no longer pending: only pending ones are read again."""
    cursor = await conn.execute("DELETE FROM reminders WHERE state != 'pending' AND created_at < ?", (to_db(before),))
    return cursor.rowcount


async def pending(db: Any, target: str | None = None) -> list[Reminder]:
    sql = "SELECT id, kind, target, due_at, payload FROM reminders WHERE state = 'pending'"
    params: tuple[Any, ...] = ()
    if target is not None:
        sql += " AND target = ?"
        params = (target,)
    rows = await db.fetchall(sql + " ORDER BY due_at, id", params)
    return [_reminder(row) for row in rows]


async def next_due(db: Database, instance: str = "") -> datetime | None:
    """When the earliest pending reminder is due (on PostgreSQL, for this instance: see claims.next_unclaimed)."""
    if claims.shared(db):
        return await claims.next_unclaimed(db, instance)
    row = await db.fetchone("SELECT MIN(due_at) FROM reminders WHERE state = 'pending'")
    return from_db(row[0]) if row and row[0] else None


def _reminder(row: Any) -> Reminder:
    return Reminder(row["id"], row["kind"], row["target"], from_db(row["due_at"]), json.loads(row["payload"]))


async def fire_due(
    services: Services, kinds: ReminderKinds, now: datetime, limit: int = FIRE_BATCH, lease: timedelta = LEASE
) -> int:
    """Fires the reminders due by ``now`` (one transaction each; on PostgreSQL those this instance could claim);
    returns how many were settled."""
    db = services.db
    if claims.shared(db):
        rows = await claims.claim_due_reminders(db, services.instance, now, lease, limit)
    else:
        rows = await db.fetchall(
            "SELECT id, kind, target, due_at, payload FROM reminders WHERE state = 'pending' AND due_at <= ? "
            "ORDER BY due_at, id LIMIT ?",
            (to_db(now), limit),
        )
    due = [_reminder(row) for row in rows]
    latest: dict[tuple[str, str], Reminder] = {}
    for reminder in due:
        latest[(reminder.kind, reminder.target)] = reminder
    settled = 0
    for reminder in due:
        if latest[(reminder.kind, reminder.target)] is not reminder:
            await _settle(services, reminder, "coalesced", now)
        else:
            await _fire(services, kinds, reminder, now)
        settled += 1
    return settled


async def _fire(services: Services, kinds: ReminderKinds, reminder: Reminder, now: datetime) -> None:
    if reminder.kind not in kinds.stale_after:
        log.error("reminder %s has unknown kind %s; marking it failed", reminder.id, reminder.kind)
        await _settle(services, reminder, "failed", now)
        return
    stale_after = kinds.stale_after[reminder.kind]
    if stale_after is not None and now - reminder.due_at > stale_after:
        await _settle(services, reminder, "expired", now)
        return
    try:
        async with services.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE reminders SET state = 'done', done_at = ? WHERE id = ? AND state = 'pending'",
                (to_db(now), reminder.id),
            )
            if cursor.rowcount:  # nobody settled it meanwhile
                await kinds.fire(conn, reminder, now)
    except Exception:
        log.exception("reminder %s (%s) failed; marking it failed", reminder.id, reminder.kind)
        await _settle(services, reminder, "failed", now)


async def _settle(services: Services, reminder: Reminder, state: str, now: datetime) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(
            "UPDATE reminders SET state = ?, done_at = ? WHERE id = ? AND state = 'pending'",
            (state, to_db(now), reminder.id),
        )


class ReminderTimer:
    """Keeps one JobQueue job armed for the earliest pending reminder and fires what is due when it runs."""

    def __init__(self, services: Services, job_queue: Any, kinds: ReminderKinds) -> None:
        # job_queue: a telegram.ext.JobQueue (typed loosely so the core imports no telegram.ext)
        self.services = services
        self.kinds = kinds
        self.job_queue = job_queue
        self.lease = LEASE
        self.fired = 0
        self._stopped = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # When the armed tick runs (event-loop time); None while none waits (or one is running).
        self._armed_at: float | None = None

    async def restore(self) -> datetime | None:
        """At start: arms the timer for whatever is pending (overdue ones fire at once)."""
        self._stopped = False
        return await self.arm()

    def stop(self) -> None:
        """Stops re-arming (the bot is stopping; its JobQueue and database go away)."""
        self._stopped = True

    async def arm(self) -> datetime | None:
        """Makes sure the tick runs by the earliest pending reminder. A tick already armed for sooner is kept (every
        draft saved schedules a nudge an hour away: no job is replaced for it); a tick too early only looks again."""
        due = await next_due(self.services.db, self.services.instance)
        if due is None:
            return None
        # The JobQueue runs on the wall clock; the bot's clock may be shifted (tests, playground).
        delay = min(max(0.0, (due - self.services.clock.now()).total_seconds()), SAFETY_POLL)
        now = asyncio.get_running_loop().time()
        runs_at = now + delay
        if self._armed_at is not None and now < self._armed_at <= runs_at:
            return due
        # None armed, one too late, or one whose time passed without a tick (APScheduler skips a misfired job).
        for job in self.job_queue.get_jobs_by_name(TICK_JOB_NAME):
            job.schedule_removal()
        self.job_queue.run_once(self._tick, when=delay, name=TICK_JOB_NAME)
        self._armed_at = runs_at
        return due

    def changed(self) -> None:
        """Something was scheduled or cancelled: re-arm (in the background; callers are synchronous)."""
        if self._stopped:
            return
        task = asyncio.get_running_loop().create_task(self.arm())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run_now(self) -> int:
        """Fires everything due now (after the clock jumped) and re-arms."""
        total = 0
        while True:
            fired = await fire_due(self.services, self.kinds, self.services.clock.now(), lease=self.lease)
            total += fired
            if fired:
                self.services.wake_outbox()
            if fired < FIRE_BATCH:
                break
        self.fired += total
        await self.arm()
        return total

    async def catch_up(self) -> None:
        """A time listener: the clock jumped, so fire what is now due."""
        await self.run_now()

    async def _tick(self, context: Any) -> None:
        self._armed_at = None  # this job is running: the next arm() arms a new one
        await self.run_now()
