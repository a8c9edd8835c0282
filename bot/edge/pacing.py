"""Telegram-shaped pacing for everything the bot sends: a token bucket per scope, and lanes.

Telegram's limits as we model them (the emulator enforces the same): about 30 messages in any rolling second
overall, 20 a minute into one group, about one a second sustained into one private chat with short bursts. Each
scope is a :class:`Bucket` whose tokens come back one period after the call that spent them was *answered*, so
Telegram (which saw the request before we saw its answer) never counts more than ``capacity`` in one period, however
long the request was on the way; a burst of up to ``capacity`` goes at once. A private chat's bucket refills: a
burst of 3, then one a second.

Lanes: a reply to someone who just wrote (every direct call from a handler) goes first; staff alert cards and news
about one person's case next; bulk pushes (broadcasts, digests, reminders) take what is left, one per 1/30 s at
most, so they never fill the window in one clump and a reply finds a token within about 1/30 s. Only calls that put
a new message in a chat are paced; edits, answers to button presses, getUpdates, setMyCommands… go straight through.

``RetryAfter`` pauses what it covers, then the call is tried again: Telegram does not say which limit it was, so
when the chat had used up its own bucket the pause is that chat's, otherwise it is everyone's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import IntEnum
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)


class Lane(IntEnum):
    """Who goes first when tokens are short: lower first."""

    REPLY = 0  # an answer to someone who just wrote
    ALERT = 1  # a staff alert card, news about one person's case
    BULK = 2  # broadcasts, digests, reminders: what is left


@dataclass(eq=False)
class Paced:
    """What a caller tells the pacer through PTB's ``rate_limit_args``: the lane, and an event set when the call is
    let through (the courier times Telegram's answer from then, not from when the call started waiting)."""

    lane: Lane
    let_through: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Limits:
    """(capacity, period in seconds) per scope, and the spacing of bulk pushes."""

    overall: tuple[int, float] = (30, 1.0)
    group: tuple[int, float] = (20, 60.0)
    private: tuple[int, float] = (3, 3.0)
    bulk_spacing: float = 1 / 30


def paced_method(endpoint: str) -> bool:
    """Whether the Bot API method puts a new message in a chat (the calls Telegram's flood limits count)."""
    name = endpoint.lower()
    return name.startswith(("send", "copy", "forward")) and name != "sendchataction"


class Bucket:
    """``capacity`` tokens; a spent token comes back ``period`` after the call that spent it was answered, or, when
    ``refilling``, one every ``period / capacity`` (a burst, then a steady pace: no long gap after the burst)."""

    def __init__(self, capacity: int, period: float, refilling: bool = False) -> None:
        self.capacity = capacity
        self.period = period
        self.refilling = refilling
        self.in_flight = 0
        self._back: deque[float] = deque()  # when spent tokens come back, earliest first

    def free(self, now: float) -> int:
        while self._back and self._back[0] <= now:
            self._back.popleft()
        return self.capacity - self.in_flight - len(self._back)

    def spend(self) -> None:
        self.in_flight += 1

    def unspend(self) -> None:
        """A spent token that was not used after all: free again at once."""
        self.in_flight -= 1

    def answered(self, now: float) -> None:
        self.in_flight -= 1
        if self.refilling:
            self._back.append(max(now, self._back[-1] if self._back else now) + self.period / self.capacity)
        else:
            self._back.append(now + self.period)

    def next_back(self) -> float | None:
        """When the next token comes back by itself (None: only an answer frees one)."""
        return self._back[0] if self._back else None


@dataclass(eq=False)
class Waiter:
    """One call waiting for its turn."""

    lane: Lane
    chat_id: int | None
    granted: bool = False


class Schedule:
    """The pacing decisions, clock-free (times are passed in): who may send now, and when to look again."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = self.whole = limits or Limits()
        self.overall = Bucket(*self.limits.overall)
        self.chats: dict[int, Bucket] = {}
        self.queues: dict[Lane, list[Waiter]] = {lane: [] for lane in Lane}
        self.paused_until = 0.0
        self.chat_paused: dict[int, float] = {}
        self.next_bulk_at = 0.0
        self.held: set[int] = set()  # chats whose waiters the last grant had to keep waiting

    def bucket(self, chat_id: int | None) -> Bucket | None:
        if chat_id is None:
            return None
        found = self.chats.get(chat_id)
        if found is None:
            group = chat_id < 0
            found = self.chats[chat_id] = Bucket(*(self.limits.group if group else self.limits.private), not group)
        return found

    def share(self, instances: int) -> None:
        """Several instances send with one token: each takes 1/N of the overall budget (at least one message a
        period) and spaces its bulk pushes N times wider; the per-chat and per-group buckets stay whole."""
        capacity, period = self.whole.overall
        share = max(1, capacity // max(1, instances))
        self.limits = replace(
            self.whole, overall=(share, period), bulk_spacing=self.whole.bulk_spacing * max(1, instances)
        )
        self.overall.capacity = share

    def queue(self, waiter: Waiter) -> None:
        self.queues[waiter.lane].append(waiter)

    def drop(self, waiter: Waiter) -> None:
        """Forgets a waiter that gave up before its turn."""
        if waiter in self.queues[waiter.lane]:
            self.queues[waiter.lane].remove(waiter)

    def waiting(self) -> int:
        return sum(len(queue) for queue in self.queues.values())

    def grant(self, now: float) -> list[Waiter]:
        """Lets through, lane by lane, every waiter whose scopes have a token; a chat's later waiters stay behind
        its first one that must wait."""
        granted: list[Waiter] = []
        if now < self.paused_until:
            return granted
        held: set[int | None] = set()
        for lane in Lane:
            queue, keep = self.queues[lane], []
            for index, waiter in enumerate(queue):
                if self.overall.free(now) <= 0 or (lane is Lane.BULK and now < self.next_bulk_at):
                    keep.extend(queue[index:])
                    break
                if waiter.chat_id in held or not self._chat_ready(waiter.chat_id, now):
                    held.add(waiter.chat_id)
                    keep.append(waiter)
                    continue
                self.overall.spend()
                chat = self.bucket(waiter.chat_id)
                if chat is not None:
                    chat.spend()
                waiter.granted = True
                granted.append(waiter)
                if lane is Lane.BULK:
                    self.next_bulk_at = now + self.limits.bulk_spacing
            self.queues[lane] = keep
        self.held = {chat_id for chat_id in held if chat_id is not None}
        return granted

    def _chat_ready(self, chat_id: int | None, now: float) -> bool:
        if chat_id is None:
            return True
        if self.chat_paused.get(chat_id, 0.0) > now:
            return False
        chat = self.chats.get(chat_id)
        return chat is None or chat.free(now) > 0

    def give_back(self, waiter: Waiter) -> None:
        """A granted call that did not go (it must wait for its chat's shared slot first): its tokens are free again
        at once, for the calls behind it."""
        self.overall.unspend()
        chat = self.chats.get(waiter.chat_id) if waiter.chat_id is not None else None
        if chat is not None:
            chat.unspend()
        waiter.granted = False

    def answered(self, waiter: Waiter, now: float) -> None:
        """Telegram answered a granted call (whatever it said): its tokens start their way back."""
        self.overall.answered(now)
        chat = self.chats.get(waiter.chat_id) if waiter.chat_id is not None else None
        if chat is not None:
            chat.answered(now)

    def pause(self, waiter: Waiter, until: float, now: float) -> None:
        """A RetryAfter for a granted call: the chat's when its own bucket was used up, else everyone's."""
        chat = self.chats.get(waiter.chat_id) if waiter.chat_id is not None else None
        if chat is not None and waiter.chat_id is not None and chat.free(now) <= 0:
            self.chat_paused[waiter.chat_id] = max(until, self.chat_paused.get(waiter.chat_id, 0.0))
        else:
            self.paused_until = max(until, self.paused_until)

    def next_change(self, now: float) -> float | None:
        """When waiting calls could next be let through without an answer arriving first (None: nobody waits, or
        only answers can free a token)."""
        if not self.waiting():
            return None
        if now < self.paused_until:
            return self.paused_until
        if self.overall.free(now) <= 0:
            return self.overall.next_back()
        times: list[float] = []
        if self.queues[Lane.BULK] and self.next_bulk_at > now:
            times.append(self.next_bulk_at)
        for chat_id in self.held:
            paused = self.chat_paused.get(chat_id, 0.0)
            if paused > now:
                times.append(paused)
            chat = self.chats.get(chat_id)
            back = chat.next_back() if chat is not None else None
            if back is not None:
                times.append(back)
        return min(times) if times else None

    def prune(self, now: float) -> None:
        """Forgets the buckets and pauses of chats that are back to full: the tables stay as small as the traffic."""
        for chat_id in [c for c, b in self.chats.items() if b.in_flight == 0 and b.free(now) == b.capacity]:
            del self.chats[chat_id]
        for chat_id in [c for c, until in self.chat_paused.items() if until <= now]:
            del self.chat_paused[chat_id]


def chat_of(data: dict[str, Any]) -> int | None:
    """The numeric chat a call goes to (a @username has no bucket of its own: only the overall one applies)."""
    chat_id = data.get("chat_id")
    try:
        return int(chat_id) if chat_id is not None else None
    except (TypeError, ValueError):
        return None


def retry_seconds(error: RetryAfter) -> float:
    after = error.retry_after
    return after.total_seconds() if isinstance(after, timedelta) else float(after)


class Pacer(BaseRateLimiter[Paced]):
    """PTB's rate limiter for this bot: the :class:`Schedule` in the event loop, waking itself when a token comes
    back. A direct call (a handler's reply) that meets RetryAfter waits and tries again up to ``max_retries``
    times; the courier's calls get the RetryAfter back at once, to record the wait on their outbox row."""

    def __init__(
        self, limits: Limits | None = None, max_retries: int = 3, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.schedule = Schedule(limits)
        self.max_retries = max_retries
        self.clock = clock
        self._timer: asyncio.TimerHandle | None = None
        self._turns: dict[Waiter, asyncio.Future[None]] = {}
        self._pruned_at = 0.0
        # Several instances on one database: takes the chat's slot in the shared bucket (bot/edge/chat_pace.py) and
        # says in how many seconds it comes.
        self.chat_slot: Callable[[int], Coroutine[Any, Any, float]] | None = None

    async def initialize(self) -> None:
        return None

    def share(self, instances: int) -> None:
        """This instance's part of the overall budget when ``instances`` send with the same token."""
        self.schedule.share(instances)
        self._run()

    async def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Paced | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if not paced_method(endpoint):
            if rate_limit_args is not None:
                rate_limit_args.let_through.set()
            return await callback(*args, **kwargs)
        lane = rate_limit_args.lane if rate_limit_args is not None else Lane.REPLY
        retries = 0 if rate_limit_args is not None else self.max_retries
        chat_id = chat_of(data)
        for attempt in range(retries + 1):
            waiter = await self._shared_turn(lane, chat_id)
            try:
                if rate_limit_args is not None:
                    rate_limit_args.let_through.set()
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                now = self.clock()
                self.schedule.pause(waiter, now + retry_seconds(error), now)
                log.info("Telegram asked to wait %ss (%s to %s)", error.retry_after, endpoint, chat_id)
                if attempt == retries:
                    raise
            finally:
                self.schedule.answered(waiter, self.clock())
                self._run()
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _shared_turn(self, lane: Lane, chat_id: int | None) -> Waiter:
        """This instance's turn, and with several instances the chat's shared slot too; a call whose slot is still
        to come gives its turn back while it waits, so the other chats' calls are not held up by it."""
        waiter = await self._turn(lane, chat_id)
        if self.chat_slot is None or chat_id is None:
            return waiter
        try:
            delay = await self.chat_slot(chat_id)
        except BaseException:
            self._give_back(waiter)
            raise
        if delay <= 0:
            return waiter
        self._give_back(waiter)
        await asyncio.sleep(delay)
        return await self._turn(lane, chat_id)

    def _give_back(self, waiter: Waiter) -> None:
        self.schedule.give_back(waiter)
        self._run()

    async def _turn(self, lane: Lane, chat_id: int | None) -> Waiter:
        """Waits until the schedule lets this call through; a caller that gives up leaves no token spent."""
        waiter = Waiter(lane, chat_id)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._turns[waiter] = turn
        self.schedule.queue(waiter)
        self._run()
        try:
            await turn
        except asyncio.CancelledError:
            if waiter.granted:
                self.schedule.answered(waiter, self.clock())
            else:
                self.schedule.drop(waiter)
            self._run()
            raise
        finally:
            self._turns.pop(waiter, None)
        return waiter

    def _run(self) -> None:
        """Lets through whoever may go now and sets the timer for the next moment someone could."""
        now = self.clock()
        for waiter in self.schedule.grant(now):
            turn = self._turns.get(waiter)
            if turn is not None and not turn.done():
                turn.set_result(None)
        if now - self._pruned_at > 10.0:
            self.schedule.prune(now)
            self._pruned_at = now
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        wake_at = self.schedule.next_change(now)
        if wake_at is not None:
            self._timer = asyncio.get_running_loop().call_later(max(0.0, wake_at - now), self._run)
