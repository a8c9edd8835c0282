"""The outbox's courier: delivers queued pushes through the bot, paced by PTB's AIORateLimiter.

Rows are written by bot/outbox.py inside the transaction that caused them; this loop sends them in id order, per
chat in order, and records the outcome. ``RetryAfter`` waits as Telegram asks; network errors and 5xx retry with
capped exponential backoff (bounded in attempts); ``Forbidden`` marks the user unreachable and drops their pushes
until they write again. A crash between sending and marking re-sends that one row on restart (at least once).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.edge import calls as edge
from bot.platform.clock import from_db, to_db
from bot.platform.outbox import duplicate_removal, is_known_copy
from bot.platform.services import Services

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 30  # with the 60 s cap: keeps trying for about half an hour of outage
BACKOFF_CAP = timedelta(seconds=60)
BATCH = 50
ANSWER_TIMEOUT = 5.0  # seconds without Telegram's answer before the row is tried again (PTB's read timeout)
LATE_ANSWER_WAIT = 60.0  # a slow answer is still awaited this long, to learn whether that try arrived after all


@dataclass(frozen=True)
class OutboxRow:
    id: int
    chat_id: int
    method: str
    params: dict[str, Any]
    attempts: int
    ref: str | None


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
    ) -> None:
        self.bot = bot
        self.services = services
        self.idle_poll = idle_poll
        self.answer_timeout = answer_timeout
        self.late_answer_wait = late_answer_wait
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._late: set[asyncio.Task[None]] = set()  # slow answers still awaited after their row was retried
        self.delivered = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-delivery")

    async def stop(self) -> None:
        for task in [*self._late, *([self._task] if self._task is not None else [])]:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox delivery round failed; trying again shortly")
                sent = 0
            if sent == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_poll)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def due_rows(self, now: datetime) -> list[OutboxRow]:
        """The oldest pending rows that are due, several per chat, each behind every earlier pending row of its chat.

        A chat's rows are read in id order until one is not due yet (it waits for a retry): that row and everything
        after it in the chat wait, so pushes arrive in order and a busy chat (the staff group) is not held to one
        message per round.
        """
        rows = await self.services.db.fetchall(
            "SELECT id, chat_id, method, params, attempts, ref, next_attempt_at FROM outbox "
            "WHERE state = 'pending' ORDER BY id LIMIT ?",
            (BATCH * 4,),
        )
        due: list[OutboxRow] = []
        waiting: set[int] = set()
        for r in rows:
            if r["chat_id"] in waiting:
                continue
            if from_db(r["next_attempt_at"]) > now:
                waiting.add(r["chat_id"])
                continue
            due.append(OutboxRow(r["id"], r["chat_id"], r["method"], json.loads(r["params"]), r["attempts"], r["ref"]))
            if len(due) >= BATCH:
                break
        return due

    async def deliver_due(self) -> int:
        """Sends one batch of due rows; returns how many were settled (sent or given up)."""
        now = self.services.clock.now()
        rows = await self.due_rows(now)
        held: set[int] = set()  # chats with an earlier row waiting: later rows must not overtake it
        settled = 0
        for row in rows:
            if row.chat_id in held:
                continue
            if await self._unreachable(row.chat_id):
                await self._settle(row, "dropped", error="the user has blocked the bot")
                settled += 1
                continue
            outcome = await self._send(row)
            if outcome:
                settled += 1
            else:
                held.add(row.chat_id)
        return settled

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
        request = asyncio.create_task(
            edge.call(self.bot, row.method, row.params, read_timeout=self.late_answer_wait), name=f"outbox-{row.id}"
        )
        try:
            done, _ = await asyncio.wait({request}, timeout=self.answer_timeout)
        except asyncio.CancelledError:
            request.cancel()
            raise
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
            if cursor.rowcount or not edge.creates_message(row.method):
                return bool(cursor.rowcount)
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
