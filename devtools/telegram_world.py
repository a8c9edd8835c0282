"""The little Telegram world around one bot, as the emulator keeps it: users, chats, messages, files, callback
answers, the updates waiting for the bot, injected faults, and a condition to wait on for any change."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from devtools.bot_api import Call, Chat, Fault, StoredFile


class TelegramWorld:
    """The state the Bot API methods read and change, and what the other side (people, tests) does to it."""

    def __init__(
        self,
        token: str = "123456:emulator-token-aaaaaaaaaaaaaaaaaaaa",
        bot_username: str = "city_service_bot",
    ):
        self.token = token
        self.bot_user = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "City Service",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.inbox: dict[int, list[dict[str, Any]]] = {}  # chat id -> messages the bot sent there, in order
        self.edits: list[tuple[int, int]] = []  # (chat id, message id) of each edit, in order
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.calls: list[Call] = []
        self.files: dict[str, StoredFile] = {}
        self.faults: dict[str, deque[Fault]] = {}
        self.down = False
        # Messages in any rolling second before answering 429, like Telegram; set, it also turns on the limits of
        # one group (20 a minute) and one private chat (a burst of 3, then one a second): see BotAPIEmulator.
        self.flood_limit: float | None = None
        self.flood_errors = 0
        self.flood_errors_by_scope: dict[str, int] = {"overall": 0, "group": 0, "chat": 0}
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._send_times: deque[float] = deque()
        self._group_sends: dict[int, deque[float]] = {}  # group chat id -> its sends in the last minute
        self._chat_tokens: dict[int, tuple[float, float]] = {}  # private chat id -> (tokens, when counted)
        self._webhook_task: asyncio.Task[None] | None = None
        # Every stored, edited or deleted message as (chat id, message id), in order: a page can follow it by index.
        self.journal: list[tuple[int, int]] = []
        # Seconds since the epoch for message dates; the playground points it at its shiftable clock.
        self.clock: Callable[[], float] = time.time

    @property
    def serving(self) -> bool:
        """Whether a server answers for this world; long polls end when it stops."""
        return False

    # ------------------------------------------------------------ the world
    def add_user(
        self,
        user_id: int,
        first_name: str = "User",
        language_code: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        if username:
            user["username"] = username
        self.users[user_id] = user
        self.chats.setdefault(user_id, Chat(user_id, "private", first_name=first_name, username=username))
        return user

    def add_group(self, chat_id: int, title: str) -> Chat:
        chat = Chat(chat_id, "supergroup", title=title)
        self.chats[chat_id] = chat
        return chat

    def inject(self, method: str, kind: str, count: int = 1, retry_after: int = 1, delay: float = 0.0) -> None:
        """The next ``count`` calls of ``method`` ("*" for any) fail with ``kind``."""
        queue = self.faults.setdefault(method, deque())
        for _ in range(count):
            queue.append(Fault(kind, retry_after=retry_after, delay=delay))

    async def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queues an update for the bot (getUpdates or webhook) and returns it with its update_id."""
        update = {"update_id": next(self._update_ids), **update}
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()
        return update

    async def redeliver(self, updates: list[dict[str, Any]]) -> None:
        """Puts fetched updates back at the head of the queue with their ids, as Telegram does when the bot
        fetched them but died before confirming them (the next getUpdates offset)."""
        async with self._changed:
            known = {update["update_id"] for update in self._updates}
            again = [update for update in updates if update["update_id"] not in known]
            self._updates = sorted([*again, *self._updates], key=lambda update: update["update_id"])
            self._changed.notify_all()

    def last_fetched(self) -> list[dict[str, Any]]:
        """The updates of the last getUpdates answer that carried any (what a bot killed now may not have confirmed)."""
        for call in reversed(self.calls):
            if call.method == "getUpdates" and call.result:
                return list(call.result)
        return []

    def new_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def new_file(self, kind: str, content: bytes = b"", filename: str | None = None) -> StoredFile:
        number = next(self._file_ids)
        stored = StoredFile(f"{kind}-file-{number:06d}", f"u{number:06d}", f"{kind}/file_{number}", content, filename)
        self.files[stored.file_id] = stored
        return stored

    def new_callback_id(self) -> str:
        return str(next(self._callback_ids) + 10_000_000)

    def store_message(self, message: dict[str, Any]) -> None:
        key = (message["chat"]["id"], message["message_id"])
        self.messages[key] = message
        self.journal.append(key)

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        return self.messages[(chat_id, message_id)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """Waits until ``predicate()`` is truthy (checked after every call the bot makes); returns its value."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the bot did not do what was expected in time")
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    continue

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]
