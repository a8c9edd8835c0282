"""Several instances on one PostgreSQL behind one webhook URL: each update handled once, each chat's in order.

A webhook POST stores the update (``ON CONFLICT (update_id) DO NOTHING``: Telegram re-delivers when an answer is
late) and is answered once the row is committed; then the instance tries to take the chat's lease. The holder
handles the chat's pending updates in ``update_id`` order, marks each done, lets go of the lease when none are left,
then looks once more (an update stored while it let go would otherwise wait for the sweeper). An instance that finds
the lease taken just returns: the holder's loop picks the row up.

Every second each instance beats: it renews its ``instances`` row and every lease it holds, takes 1/N of Telegram's
overall budget (N = instances seen in the last few seconds), and sweeps: chats with pending updates whose lease ran
out (a killed instance) are taken over, and their updates handled again, which the handlers are written to survive
(tests/test_chaos_replay.py). Done rows are kept an hour (Telegram's re-deliveries), then deleted.

Before a chat's update is handled, that chat's conversation steps are read from ``ptb_conversations`` into the
ConversationHandlers (PTB reads them only at start), and after it the changed ones are written at once.

Polling stays one instance: getUpdates answers one caller (a second gets 409 Conflict), and a load balancer in front
of N webhook servers already gives what a leader lease would (failover, deploys without downtime).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.edge.chat_pace import ChatPace
from bot.edge.pacing import Pacer
from bot.edge.persistence import SQLitePersistence
from bot.platform.db import Database, Row
from bot.platform.services import Services

log = logging.getLogger(__name__)

LEASE_SECONDS = 15.0  # a chat held by an instance that stopped beating is taken over after this (INSTANCE_LEASE)
BEAT_SECONDS = 1.0  # heartbeat, lease renewal and sweep
ALIVE_SECONDS = 5.0  # an instance seen this recently counts in the budget's N
KEEP_DONE = "1 hour"  # done updates are kept this long, so a late re-delivery is still recognised
CLEANUP_EVERY = 60  # beats between deletions of old done updates and long-gone instances
HANDLING_AT_ONCE = 64  # updates of different chats handled at the same time by one instance

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class SharedInbound:
    """The update side of several instances sharing one database: store, lease per chat, handle in order."""

    def __init__(
        self, application: AnyApplication, lease_seconds: float = LEASE_SECONDS, beat_seconds: float = BEAT_SECONDS
    ) -> None:
        self.application = application
        services: Services = application.bot_data["services"]
        self.instance_id = services.instance  # the name its outbox and reminder claims carry too
        self.lease_seconds = lease_seconds
        self.beat_seconds = beat_seconds
        self.instances = 1  # live instances at the last beat: this one's share of the budget is 1/instances
        self._draining: dict[int, asyncio.Task[None]] = {}  # chat key -> the task handling its updates here
        self._again: set[int] = set()  # chats woken while their task was finishing: it goes round once more
        self._handling = asyncio.Semaphore(HANDLING_AT_ONCE)
        self._beating: asyncio.Task[None] | None = None
        self._beats = 0
        self._stopping = False

    @property
    def db(self) -> Database:
        services: Services = self.application.bot_data["services"]
        return services.db

    # ------------------------------------------------------------- feed
    async def receive(self, update: Update, payload: dict[str, Any]) -> None:
        """Stores one update from the webhook (once, however often Telegram sends it), then wakes its chat."""
        chat = update.effective_chat
        chat_key = chat.id if chat is not None else 0
        await self.db.execute(
            "INSERT INTO inbound_updates (update_id, chat_key, payload) VALUES (?, ?, ?) "
            "ON CONFLICT (update_id) DO NOTHING",
            (update.update_id, chat_key, json.dumps(payload, ensure_ascii=False)),
        )
        self.wake(chat_key)

    def wake(self, chat_key: int) -> None:
        """Starts handling the chat's pending updates here, unless this instance already is."""
        if self._stopping:
            return
        if chat_key in self._draining:
            self._again.add(chat_key)  # its task may be past its last look: it goes round once more
            return
        self._draining[chat_key] = asyncio.create_task(self._drain(chat_key), name=f"inbound chat {chat_key}")

    async def _drain(self, chat_key: int) -> None:
        """Takes the chat's lease and handles its pending updates; returns when another instance holds it or when
        nothing is left after letting go."""
        try:
            while not self._stopping:
                self._again.discard(chat_key)
                if not await self._take(chat_key):
                    return  # another instance holds the chat: its loop picks the row up
                try:
                    await self._handle_pending(chat_key)
                finally:
                    await self._release(chat_key)
                if chat_key in self._again:
                    continue
                if not await self._has_pending(chat_key) and chat_key not in self._again:
                    return  # (checked after letting go: a row stored meanwhile is not left to the sweeper)
        except Exception:
            log.warning("handling the updates of chat %s stopped; the sweeper tries again", chat_key, exc_info=True)
        finally:
            self._draining.pop(chat_key, None)

    async def _handle_pending(self, chat_key: int) -> None:
        while not self._stopping:
            row = await self.db.fetchone(
                "SELECT update_id, payload FROM inbound_updates WHERE chat_key = ? AND state = 'pending' "
                "ORDER BY update_id LIMIT 1",
                (chat_key,),
            )
            if row is None:
                return
            if not await self._renew(chat_key):
                log.warning("the lease of chat %s ran out while its updates were handled here", chat_key)
                return  # the instance that took it over carries on from this row
            try:
                await self._handle(chat_key, row)
            except Exception:  # as PTB does with an update that raised: logged and dropped, not tried forever
                log.exception("update %s of chat %s could not be handled", row["update_id"], chat_key)
            await self.db.execute(
                "UPDATE inbound_updates SET state = 'done', claimed_by = ?, done_at = now() "
                "WHERE update_id = ? AND state = 'pending'",
                (self.instance_id, row["update_id"]),
            )

    async def _handle(self, chat_key: int, row: Row) -> None:
        """One update through the Application, the chat's steps read before and the changed ones written after."""
        update = Update.de_json(json.loads(row["payload"]), self.application.bot)
        async with self._handling:
            if chat_key != 0:
                await self._read_steps(chat_key)
            await self.application.process_update(update)
            await self.application.update_persistence()

    async def _read_steps(self, chat_key: int) -> None:
        """Puts the chat's stored conversation steps into the ConversationHandlers, replacing what this instance
        remembered (another instance may have moved the conversation on, or ended it)."""
        persistence = self.application.persistence
        assert isinstance(persistence, SQLitePersistence)
        stored = await persistence.chat_conversations(chat_key)
        # PTB keeps each persistent conversation's steps in this dict (name -> key -> state); untracked changes,
        # so reading them does not write them back.
        for name, steps in self.application._conversation_handler_conversations.items():
            found = stored.get(name, {})
            for key in [k for k in steps.data if k and k[0] == chat_key and k not in found]:
                del steps.data[key]
            steps.update_no_track(found)

    # ------------------------------------------------------------ leases
    async def _take(self, chat_key: int) -> bool:
        row = await self.db.fetchone(
            "INSERT INTO chat_leases (chat_key, owner, lease_until) VALUES (?, ?, now() + make_interval(secs => ?)) "
            "ON CONFLICT (chat_key) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until "
            "WHERE chat_leases.lease_until < now() OR chat_leases.owner = excluded.owner RETURNING chat_key",
            (chat_key, self.instance_id, self.lease_seconds),
        )
        return row is not None

    async def _renew(self, chat_key: int) -> bool:
        row = await self.db.fetchone(
            "UPDATE chat_leases SET lease_until = now() + make_interval(secs => ?) "
            "WHERE chat_key = ? AND owner = ? RETURNING chat_key",
            (self.lease_seconds, chat_key, self.instance_id),
        )
        return row is not None

    async def _release(self, chat_key: int) -> None:
        await self.db.execute("DELETE FROM chat_leases WHERE chat_key = ? AND owner = ?", (chat_key, self.instance_id))

    async def _has_pending(self, chat_key: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM inbound_updates WHERE chat_key = ? AND state = 'pending' LIMIT 1", (chat_key,)
        )
        return row is not None

    # --------------------------------------------------------- heartbeat
    async def start(self) -> None:
        pacer = self.application.bot.rate_limiter
        if isinstance(pacer, Pacer):  # what the instances send into one chat keeps the chat's limits together
            pacer.chat_slot = ChatPace(self.db).take_slot
        # Chats this name held before a restart (INSTANCE_NAME) are its own again at once, not after the lease.
        await self.db.execute("DELETE FROM chat_leases WHERE owner = ?", (self.instance_id,))
        await self.beat()
        self._beating = asyncio.create_task(self._beat_forever(), name="inbound heartbeat")

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.beat_seconds)
            try:
                await self.beat()
            except Exception:  # the database may be away for a moment: the next beat tries again
                log.warning("instance heartbeat failed", exc_info=True)

    async def beat(self) -> None:
        """Says this instance is alive, keeps its leases, takes its share of the budget and sweeps."""
        db = self.db
        await db.execute(
            "INSERT INTO instances (id, last_seen) VALUES (?, now()) ON CONFLICT (id) DO UPDATE SET last_seen = now()",
            (self.instance_id,),
        )
        await db.execute(
            "UPDATE chat_leases SET lease_until = now() + make_interval(secs => ?) WHERE owner = ?",
            (self.lease_seconds, self.instance_id),
        )
        alive = await db.fetchone(
            "SELECT COUNT(*) FROM instances WHERE last_seen > now() - make_interval(secs => ?)", (ALIVE_SECONDS,)
        )
        self.share_budget(max(1, int(alive[0]) if alive is not None else 1))
        for row in await db.fetchall(
            "SELECT DISTINCT u.chat_key FROM inbound_updates u LEFT JOIN chat_leases l ON l.chat_key = u.chat_key "
            "WHERE u.state = 'pending' AND (l.chat_key IS NULL OR l.lease_until < now())"
        ):
            self.wake(int(row["chat_key"]))
        self._beats += 1
        if self._beats % CLEANUP_EVERY == 0:
            await db.execute(
                f"DELETE FROM inbound_updates WHERE state = 'done' AND done_at < now() - interval '{KEEP_DONE}'"
            )
            await db.execute("DELETE FROM instances WHERE last_seen < now() - interval '1 hour'")

    def share_budget(self, instances: int) -> None:
        if instances == self.instances:
            return
        log.info("%s instances share the bot's Telegram budget", instances)
        self.instances = instances
        pacer = self.application.bot.rate_limiter
        if isinstance(pacer, Pacer):
            pacer.share(instances)

    async def stop(self) -> None:
        """Stops taking chats: each running chat finishes its update and lets go; this instance leaves the count."""
        self._stopping = True
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
            self._beating = None
        running = list(self._draining.values())
        if running:
            _, late = await asyncio.wait(running, timeout=self.lease_seconds)
            for task in late:  # its lease runs out and another instance handles the update again
                task.cancel()
        await self.db.execute("DELETE FROM instances WHERE id = ?", (self.instance_id,))
