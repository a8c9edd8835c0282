"""The outbox's courier: delivers queued pushes through the bot, paced by bot.edge.pacing in the row's lane.

Rows are written by bot/platform/outbox.py inside the transaction that caused them. Many chats are served at once
(one task per chat, each waiting for its own turn in the pacer), each chat's rows one after another in id order;
chats whose next row is not bulk are started first. Every outcome is recorded on the row. ``RetryAfter`` waits as
Telegram asks; network errors and 5xx retry with capped exponential backoff (bounded in attempts); ``Forbidden``
marks the user unreachable and drops their pushes until they write again. A crash between sending and marking
re-sends that one row on restart (at least once).

On PostgreSQL several instances may run the courier on one database: a chat's rows are claimed before they are
sent (bot/platform/claims.py), the claim renewed while the chat is served and given back when it waits for a retry
or the courier stops; a chat claimed by an instance that died is taken over when its lease runs out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.edge import calls as edge
from bot.edge.pacing import Lane, Paced
from bot.platform import claims
from bot.platform.clock import from_db, to_db
from bot.platform.outbox import duplicate_removal, enqueue_edit, is_known_copy
from bot.platform.services import Services

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 30  # with the 60 s cap: keeps trying for about half an hour of outage
BACKOFF_CAP = timedelta(seconds=60)
SCAN = 500  # chats looked at per round, those whose next row is not bulk first
MAX_CHATS = 1000  # chats being delivered to at once (each waits for its turn in the pacer)
BULK_CHATS = 200  # of which at most this many are started for bulk rows, so news and cards always find a place
CHAT_BATCH = 20  # rows of one chat read at a time
# Dedupe keys of bulk pushes: reminders and digests ("reminder:…"), spot broadcasts ("spot-news:…") and area alerts
# with their folds and digests ("area_alert…").
BULK_KEYS = ("reminder:", "spot-news:", "area_alert")
ANSWER_TIMEOUT = 5.0  # seconds without Telegram's answer before the row is tried again (PTB's read timeout)
LATE_ANSWER_WAIT = 60.0  # a slow answer is still awaited this long, to learn whether that try arrived after all
LEASE = timedelta(seconds=15)  # PostgreSQL: a dead instance's chats are taken over then (INSTANCE_LEASE)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    chat_id: int
    method: str
    params: dict[str, Any]
    attempts: int
    ref: str | None
    dedupe_key: str | None = None
    next_attempt_at: datetime | None = None


def lane_of(row: OutboxRow) -> Lane:
    """A broadcast, digest or reminder is bulk; everything else the outbox carries (staff alert cards, their edits
    and notes, news about one person's case, an invite's answer) goes in the alert lane."""
    return Lane.BULK if (row.dedupe_key or "").startswith(BULK_KEYS) else Lane.ALERT


# SQL for "the row is bulk", in step with lane_of.
_BULK_SQL = " OR ".join("substr(COALESCE(dedupe_key, ''), 1, ?) = ?" for _ in BULK_KEYS)
_BULK_PARAMS = tuple(item for key in BULK_KEYS for item in (len(key), key))


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s … capped at a minute."""
    return min(BACKOFF_CAP, timedelta(seconds=2 ** min(attempts, 10)))


class Notifier:
    """Runs the delivery loop while the bot runs; ``wake()`` after queuing makes it look at once."""

    def __init__(
        self,
        bot: Bot,
        services: Services,
        idle_poll: float = 1.0,
        answer_timeout: float = ANSWER_TIMEOUT,
        late_answer_wait: float = LATE_ANSWER_WAIT,
        lease: timedelta = LEASE,
    ) -> None:
        self.bot = bot
        self.services = services
        self.lease = lease
        self.idle_poll = idle_poll
        self.answer_timeout = answer_timeout
        self.late_answer_wait = late_answer_wait
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._late: set[asyncio.Task[None]] = set()  # slow answers still awaited after their row was retried
        self._chats: dict[int, asyncio.Task[None]] = {}  # chat id -> the task delivering its rows
        self._stopping = False
        self._renew_at = 0.0  # monotonic: when this instance's claims are renewed next (PostgreSQL)
        self.delivered = 0

    @property
    def claims(self) -> bool:
        """Whether rows are claimed before they are sent (PostgreSQL, where several instances may share the work)."""
        return claims.shared(self.services.db)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-delivery")

    async def stop(self) -> None:
        self._stopping = True  # a wake racing the cancellation must not start another round
        for tasks in ([self._task] if self._task is not None else [], [*self._late, *self._chats.values()]):
            for task in tasks:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self._task = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._keep_claims()
                more = await self.start_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox delivery round failed; trying again shortly")
                more = False
            if not more:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_poll)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def _keep_claims(self) -> None:
        """Renews the leases of every chat this instance holds, a third of a lease apart: a row waiting long for
        its turn in the pacer (a broadcast under way) keeps its chat."""
        if not self.claims or time.monotonic() < self._renew_at:
            return
        until = self.services.clock.now() + self.lease
        await claims.renew_all(self.services.db, self.services.instance, until)
        self._renew_at = time.monotonic() + self.lease.total_seconds() / 3

    async def start_due(self) -> bool:
        """Starts delivering to each chat whose oldest pending row is due and that nobody serves yet; True when
        there may be more to start at once."""
        now = self.services.clock.now()
        heads = await self.services.db.fetchall(
            "SELECT chat_id, next_attempt_at, "
            f"CASE WHEN {_BULK_SQL} THEN 1 ELSE 0 END AS bulk FROM outbox AS o "
            f"WHERE state = 'pending' AND {claims.FREE_HEAD_SQL} AND NOT EXISTS (SELECT 1 FROM outbox AS e "
            "WHERE e.state = 'pending' AND e.chat_id = o.chat_id AND e.id < o.id) "
            "ORDER BY bulk, id LIMIT ?",
            (*_BULK_PARAMS, *claims.free_head_params(self.services.instance, now), SCAN),
        )
        started = 0
        for head in heads:
            chat_id = int(head["chat_id"])
            if chat_id in self._chats or from_db(head["next_attempt_at"]) > now:
                continue
            if len(self._chats) >= (BULK_CHATS if head["bulk"] else MAX_CHATS):
                break
            self._chats[chat_id] = asyncio.create_task(self._deliver_chat(chat_id), name=f"outbox-chat-{chat_id}")
            started += 1
        return started > 0 and len(heads) >= SCAN and len(self._chats) < BULK_CHATS

    async def _deliver_chat(self, chat_id: int) -> None:
        """Sends the chat's pending rows in id order until one must wait for a retry or none is left."""
        held: datetime | None = None  # PostgreSQL: until when this instance's claim on the chat holds
        try:
            while True:
                rows = await self._chat_rows(chat_id)
                if self.claims:
                    held = self.services.clock.now() + self.lease if rows else None
                for row in rows:
                    if row.next_attempt_at is not None and row.next_attempt_at > self.services.clock.now():
                        return
                    if held is not None and not (held := await self._renewed(chat_id, held)):
                        return  # the claim ran out and another instance took the chat
                    if await self._unreachable(chat_id):
                        await self._settle(row, "dropped", error="the user has blocked the bot")
                    elif not await self._send(row):
                        return
                if len(rows) < CHAT_BATCH:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox delivery to chat %s failed; trying again shortly", chat_id)
        finally:
            self._chats.pop(chat_id, None)
            if held is not None:
                await self._release(chat_id)
            if len(self._chats) <= BULK_CHATS // 2:
                self.wake()  # room for more chats: look again (not after every chat of a big broadcast)

    async def _renewed(self, chat_id: int, held: datetime) -> datetime | None:
        """The claim on the chat, renewed when half its lease is gone; None when this instance lost it."""
        now = self.services.clock.now()
        if held - now > self.lease / 2:
            return held
        until = now + self.lease
        return until if await claims.renew_chat(self.services.db, chat_id, self.services.instance, until) else None

    async def _release(self, chat_id: int) -> None:
        try:
            await claims.release_chat(self.services.db, chat_id, self.services.instance)
        except Exception:  # the rows stay claimed until the lease runs out: later, not lost
            log.warning("outbox claim on chat %s not given back; it is taken over when its lease ends", chat_id)

    async def _chat_rows(self, chat_id: int) -> list[OutboxRow]:
        """The chat's next pending rows in id order; on PostgreSQL claimed first (none if another instance holds
        the chat)."""
        if self.claims:
            db, now = self.services.db, self.services.clock.now()
            rows = await claims.claim_chat(db, chat_id, self.services.instance, now, self.lease, CHAT_BATCH)
        else:
            rows = await self.services.db.fetchall(
                "SELECT id, chat_id, method, params, attempts, ref, dedupe_key, next_attempt_at FROM outbox "
                "WHERE chat_id = ? AND state = 'pending' ORDER BY id LIMIT ?",
                (chat_id, CHAT_BATCH),
            )
        return [
            OutboxRow(
                r["id"],
                r["chat_id"],
                r["method"],
                json.loads(r["params"]),
                r["attempts"],
                r["ref"],
                r["dedupe_key"],
                from_db(r["next_attempt_at"]),
            )
            for r in rows
        ]

    async def _unreachable(self, chat_id: int) -> bool:
        if chat_id < 0:
            return False
        record = await self.services.users.get(chat_id)
        return record is not None and record.blocked_bot

    async def _send(self, row: OutboxRow) -> bool:
        """Tries one row; True when it is settled, False when it waits for a retry."""
        try:
            delivery = await self._call(row)
        except RetryAfter as exc:
            delay = exc.retry_after if isinstance(exc.retry_after, timedelta) else timedelta(seconds=exc.retry_after)
            await self._retry(row, delay, f"retry after {delay.total_seconds():.0f}s", count=False)
            return False
        except Forbidden as exc:
            if row.chat_id > 0:
                await self.services.users.mark_blocked(row.chat_id, self.services.clock.now())
            await self._settle(row, "dropped", error=str(exc))
            return True
        except BadRequest as exc:
            log.warning("outbox row %s refused by Telegram: %s", row.id, exc)
            await self._settle(row, "failed", error=str(exc))
            return True
        except (NetworkError, TelegramError) as exc:
            if row.attempts + 1 >= MAX_ATTEMPTS:
                log.error("outbox row %s given up after %s attempts: %s", row.id, row.attempts + 1, exc)
                await self._settle(row, "failed", error=str(exc))
                return True
            await self._retry(row, backoff(row.attempts), str(exc))
            return False
        await self._delivered(row, delivery)
        self.delivered += 1
        return True

    async def _call(self, row: OutboxRow) -> edge.Delivery:
        """Makes the row's call; an answer slower than ``answer_timeout`` counts as lost (the row is tried again),
        but is still awaited in the background: if that try did arrive, it is recorded, or removed as a duplicate.
        """
        pace = Paced(lane_of(row))
        request = asyncio.create_task(
            edge.call(self.bot, row.method, row.params, read_timeout=self.late_answer_wait, pace=pace),
            name=f"outbox-{row.id}",
        )
        turn = asyncio.create_task(pace.let_through.wait())
        try:
            # Waiting for its turn in the pacer is not waiting for Telegram: the answer is timed from the sending.
            await asyncio.wait({request, turn}, return_when=asyncio.FIRST_COMPLETED)
            done, _ = await asyncio.wait({request}, timeout=self.answer_timeout)
        except asyncio.CancelledError:
            request.cancel()
            raise
        finally:
            turn.cancel()
        if request in done:
            return request.result()
        late = asyncio.create_task(self._late_answer(row, request), name=f"outbox-late-{row.id}")
        self._late.add(late)
        late.add_done_callback(self._late.discard)
        raise TimedOut(f"no answer within {self.answer_timeout:g}s")

    async def _late_answer(self, row: OutboxRow, request: asyncio.Task[edge.Delivery]) -> None:
        try:
            delivery = await request
        except Exception as exc:  # a background task: whatever it was, the retry stands
            log.info("outbox row %s: the slow try failed after all (%s); the retry stands", row.id, exc)
            return
        log.info("outbox row %s: a slow try arrived after all, as message %s", row.id, delivery.message_ids)
        if await self._delivered(row, delivery, late=True):
            self.delivered += 1
        self.wake()  # the chat's later rows no longer wait for the retry

    async def _delivered(self, row: OutboxRow, delivery: edge.Delivery, late: bool = False) -> bool:
        """Marks the row sent by this delivery (True); when another try already did, a message this one added is
        a duplicate, and is removed (unless someone already used it: a card they pressed is kept in step)."""
        now = self.services.clock.now()
        async with self.services.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + ?, sent_at = ?, error = NULL, "
                "result_message_id = ? WHERE id = ? AND state IN ('pending', 'failed')",
                (0 if late else 1, to_db(now), delivery.message_id, row.id),
            )
            if cursor.rowcount:
                await self._changed_on_the_way(conn, row, delivery.message_id, now)
                return True
            if not edge.creates_message(row.method):
                return False
            async with conn.execute("SELECT state, result_message_id FROM outbox WHERE id = ?", (row.id,)) as found:
                settled = await found.fetchone()
            if settled is None or settled["state"] != "sent":
                return False  # forgotten meanwhile (/forget), or given up: nothing to compare with
            first = settled["result_message_id"]
            for message_id in delivery.message_ids:
                if message_id == first or await is_known_copy(conn, row.chat_id, message_id):
                    continue
                log.info("outbox row %s arrived twice; removing the later copy, message %s", row.id, message_id)
                await duplicate_removal(conn, row.chat_id, message_id, row.ref, now)
        return False

    async def _changed_on_the_way(self, conn: Any, row: OutboxRow, message_id: int | None, now: datetime) -> None:
        """A message rewritten in its row while its send was on the way (a card brought up to date) went out as it
        was read: an edit brings it to what the row holds now."""
        if row.method != "sendMessage" or message_id is None:
            return
        async with conn.execute("SELECT params FROM outbox WHERE id = ?", (row.id,)) as found:
            current = await found.fetchone()
        params = json.loads(current["params"]) if current is not None else row.params
        if (params.get("text"), params.get("reply_markup")) == (row.params.get("text"), row.params.get("reply_markup")):
            return
        log.info("outbox row %s changed while it was sent; its message %s is edited to match", row.id, message_id)
        await enqueue_edit(
            conn, row.chat_id, message_id, params["text"], params.get("reply_markup"), now, row.ref or "push"
        )
        self.wake()

    async def _retry(self, row: OutboxRow, delay: timedelta, error: str, count: bool = True) -> None:
        next_at = self.services.clock.now() + delay
        async with self.services.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + ?, next_attempt_at = ?, error = ? WHERE id = ?",
                (1 if count else 0, to_db(next_at), error[:500], row.id),
            )

    async def _settle(
        self, row: OutboxRow, state: str, error: str | None = None, message_id: int | None = None
    ) -> None:
        async with self.services.db.transaction() as conn:
            # Only a row still pending: a slow earlier try may have been recorded as its delivery meanwhile.
            await conn.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, sent_at = ?, error = ?, "
                "result_message_id = ? WHERE id = ? AND state = 'pending'",
                (state, to_db(self.services.clock.now()), error and error[:500], message_id, row.id),
            )


async def backlog(services: Services) -> int:
    """Rows still waiting to be sent."""
    row = await services.db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
    return int(row[0]) if row else 0
