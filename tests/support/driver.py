"""The test bed: the real Application polling the Bot API emulator over HTTP, and people who talk to it.

A test reads as a story::

    alice = bed.person(1001, "Alice", language_code="en")
    await alice.send("/start")
    menu = await alice.expect_message(contains="Hello, Alice")
    await alice.press(card, "Submit")
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot.app import BotApplication, build_application, start_polling, stop_polling
from bot.cases.config import Desk
from bot.platform.config import Settings, load_settings
from bot.platform.reminders import ReminderKinds
from bot.platform.services import Services
from devtools.emulator import BotAPIEmulator, Chat

DEFAULT_TIMEOUT = 8.0
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = DEFAULT_TIMEOUT) -> T:
    """Waits until ``check()`` returns something truthy (e.g. a row the bot writes) and returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s (last value: {value!r})")
        await asyncio.sleep(0.05)


_photo_numbers = itertools.count(1)


def text_of(message: Mapping[str, Any]) -> str:
    return str(message.get("text") or message.get("caption") or "")


def inline_buttons(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def keyboard_labels(message: Mapping[str, Any]) -> list[str]:
    """The labels of the reply keyboard a message put under the input field."""
    markup = message.get("_keyboard") or {}
    return [
        button["text"] if isinstance(button, dict) else str(button)
        for row in markup.get("keyboard", [])
        for button in row
    ]


@dataclass
class Person:
    """Somebody using Telegram: in their private chat with the bot, or in a group."""

    emulator: BotAPIEmulator
    user: dict[str, Any]
    chat: Chat
    cursor: int = 0

    @property
    def id(self) -> int:
        return int(self.user["id"])

    def in_group(self, group: Chat) -> Person:
        """The same person, speaking in a group chat (with its own reading cursor)."""
        return Person(self.emulator, self.user, group, cursor=len(self.emulator.inbox.get(group.id, [])))

    # --------------------------------------------------------- acting
    async def _send_message(self, body: dict[str, Any], kind: str = "message") -> dict[str, Any]:
        message = {
            "message_id": self.emulator.new_message_id(self.chat.id),
            "date": int(time.time()),
            "chat": self.chat.as_dict(),
            "from": self.user,
            **body,
        }
        self.emulator.store_message(message)
        await self.emulator.push_update({kind: message})
        return message

    async def send(self, text: str, reply_to: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Types a message (a /command is marked as one, as clients do)."""
        body: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if reply_to is not None:
            body["reply_to_message"] = dict(reply_to)
        return await self._send_message(body)

    async def share_location(self, latitude: float, longitude: float) -> dict[str, Any]:
        return await self._send_message({"location": {"latitude": latitude, "longitude": longitude}})

    async def send_web_app_data(self, data: str, button_text: str = "🗺") -> dict[str, Any]:
        """What Telegram posts when a Mini App opened from a keyboard button calls ``Telegram.WebApp.sendData``."""
        return await self._send_message({"web_app_data": {"data": data, "button_text": button_text}})

    async def share_contact(self, phone: str = "+8613800000000") -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": self.user["first_name"], "user_id": self.id}
        return await self._send_message({"contact": contact})

    async def send_photo(
        self,
        caption: str | None = None,
        media_group_id: str | None = None,
        reply_to: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        stored = self.emulator.new_file("photo", b"\xff\xd8\xff-fake-jpeg-%d" % next(_photo_numbers))
        body: dict[str, Any] = {
            "photo": [{"file_id": stored.file_id, "file_unique_id": stored.unique_id, "width": 800, "height": 600}]
        }
        if caption:
            body["caption"] = caption
        if media_group_id:
            body["media_group_id"] = media_group_id
        if reply_to is not None:
            body["reply_to_message"] = dict(reply_to)
        return await self._send_message(body)

    async def send_album(self, count: int) -> list[dict[str, Any]]:
        """Several photos at once: one media group, as a phone sends them."""
        group_id = f"album-{next(_photo_numbers)}"
        return [await self.send_photo(media_group_id=group_id) for _ in range(count)]

    async def send_voice(self, seconds: int = 5) -> dict[str, Any]:
        stored = self.emulator.new_file("voice", b"OggS-fake-voice")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "duration": seconds,
            "mime_type": "audio/ogg",
        }
        return await self._send_message({"voice": voice})

    async def send_sticker(self) -> dict[str, Any]:
        stored = self.emulator.new_file("sticker")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
        return await self._send_message({"sticker": sticker})

    async def edit(self, message: Mapping[str, Any], text: str) -> dict[str, Any]:
        edited = {**message, "text": text, "edit_date": int(time.time())}
        await self.emulator.push_update({"edited_message": edited})
        return edited

    async def block_bot(self) -> None:
        """Blocks the bot in the client: sends fail with 403, and the bot is told (my_chat_member)."""
        self.chat.blocked = True
        await self._membership("member", "kicked")

    async def unblock_bot(self) -> None:
        self.chat.blocked = False
        await self._membership("kicked", "member")

    async def _membership(self, old: str, new: str) -> None:
        bot = self.emulator.bot_user
        await self.emulator.push_update(
            {
                "my_chat_member": {
                    "chat": self.chat.as_dict(),
                    "from": self.user,
                    "date": int(time.time()),
                    "old_chat_member": {"user": bot, "status": old, **({"until_date": 0} if old == "kicked" else {})},
                    "new_chat_member": {"user": bot, "status": new, **({"until_date": 0} if new == "kicked" else {})},
                }
            }
        )

    async def press(self, message: Mapping[str, Any], label: str) -> str:
        """Presses the inline button whose text contains ``label``; returns the callback query id."""
        matches = [b for b in inline_buttons(message) if label in b.get("text", "")]
        if not matches:
            labels = [b.get("text") for b in inline_buttons(message)]
            raise AssertionError(f"no button {label!r} under the message; there are {labels}")
        return await self.press_data(message, matches[0]["callback_data"])

    async def press_data(self, message: Mapping[str, Any], data: str) -> str:
        """Sends a callback query with any data at all (forged data included)."""
        query_id = self.emulator.new_callback_id()
        public = {k: v for k, v in message.items() if not k.startswith("_")}
        await self.emulator.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user,
                    "chat_instance": f"ci-{self.chat.id}",
                    "data": data,
                    "message": public,
                }
            }
        )
        return query_id

    # -------------------------------------------------------- reading
    async def expect_message(self, contains: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next message the bot sends to this chat (optionally checking its text)."""
        inbox = self.emulator.inbox

        def arrived() -> bool:
            return len(inbox.get(self.chat.id, [])) > self.cursor

        try:
            await self.emulator.wait_for(arrived, timeout)
        except TimeoutError:
            raise AssertionError(f"{self.user['first_name']} got no message from the bot in {timeout}s") from None
        message = inbox[self.chat.id][self.cursor]
        self.cursor += 1
        if contains is not None and contains not in text_of(message):
            raise AssertionError(f"expected {contains!r} in the bot's message, got: {text_of(message)!r}")
        return message

    async def expect_message_among(
        self, contains: str, at_most: int = 5, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        """The next message containing ``contains``, letting up to ``at_most`` other messages pass before it."""
        for _ in range(at_most + 1):
            message = await self.expect_message(timeout=timeout)
            if contains in text_of(message):
                return message
        raise AssertionError(f"no message with {contains!r} among the next {at_most + 1}")

    async def expect_messages(self, count: int, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
        return [await self.expect_message(timeout=timeout) for _ in range(count)]

    async def expect_no_message(self, wait: float = 0.5) -> None:
        """Nothing more arrives in this chat within ``wait`` seconds."""
        before = len(self.emulator.inbox.get(self.chat.id, []))
        deadline = time.monotonic() + wait
        try:
            await self.emulator.wait_for(
                lambda: len(self.emulator.inbox.get(self.chat.id, [])) > before or time.monotonic() > deadline,
                wait + 1,
            )
        except TimeoutError:
            return
        extra = self.emulator.inbox.get(self.chat.id, [])[before:]
        if extra:
            raise AssertionError(f"unexpected message from the bot: {text_of(extra[0])!r}")

    async def expect_answer(self, query_id: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The bot's answer to a button press (the toast or alert text)."""
        try:
            return await self.emulator.wait_for(lambda: self.emulator.callback_answers.get(query_id), timeout)
        except TimeoutError:
            raise AssertionError("the bot did not answer the button press") from None

    async def expect_edit(
        self, message: Mapping[str, Any], contains: str, timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        """Waits until the bot has edited ``message`` so that its text contains ``contains``; returns it."""

        def edited() -> dict[str, Any] | None:
            current = self.current(message)
            return current if contains in text_of(current) else None

        try:
            return await self.emulator.wait_for(edited, timeout)  # type: ignore[no-any-return]
        except TimeoutError:
            raise AssertionError(
                f"the message was not edited to contain {contains!r}; it reads {text_of(self.current(message))!r}"
            ) from None

    def current(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """The message as it is now, after any edits the bot made."""
        return self.emulator.message(message["chat"]["id"], message["message_id"])

    def read_all(self) -> list[dict[str, Any]]:
        """Marks everything so far as read and returns it."""
        inbox = self.emulator.inbox.get(self.chat.id, [])
        unread, self.cursor = inbox[self.cursor :], len(inbox)
        return unread


@dataclass
class TestBed:
    """One fake Telegram, one database file, and the real bot between them."""

    __test__ = False  # not a test class, despite the name

    emulator: BotAPIEmulator
    database_path: Path
    env: dict[str, str] = field(default_factory=dict)
    database_url: str | None = None  # PostgreSQL instead of the file (TEST_DATABASE_URL)
    application: BotApplication | None = None
    services: Services | None = None
    settings: Settings | None = None
    more_reminder_kinds: ReminderKinds | None = None  # a test's own kinds of reminder, beside the bot's

    def make_settings(self) -> Settings:
        environ = {
            "BOT_TOKEN": self.emulator.token,
            "BOT_API_BASE_URL": self.emulator.base_url,
            "BOT_API_FILE_URL": self.emulator.file_url,
            "DATABASE_PATH": str(self.database_path),
            "DATABASE_URL": self.database_url or "",
            "PERSISTENCE_INTERVAL": "0.2",
            "LOG_LEVEL": "DEBUG",
            **self.env,
        }
        return load_settings(environ, env_file=None)

    async def start(self) -> BotApplication:
        self.settings = self.make_settings()
        self.services = Services(self.settings)
        self.application = build_application(self.settings, self.services, self.more_reminder_kinds)
        await start_polling(self.application, poll_timeout=1)
        return self.application

    @property
    def database_target(self) -> str | Path:
        """What Database.open takes for this bed's database."""
        return self.database_url or self.database_path

    @property
    def desk(self) -> Desk:
        """The running bot's staff-side settings (what case operations called from a test need)."""
        assert self.application is not None
        desk: Desk = self.application.bot_data["desk"]
        return desk

    async def stop(self) -> None:
        if self.application is not None:
            await stop_polling(self.application)
            self.application = None

    async def restart(self) -> BotApplication:
        """Stops the bot gracefully and starts a new one on the same database file."""
        await self.stop()
        return await self.start()

    def person(self, user_id: int, first_name: str = "User", language_code: str | None = "zh-hans") -> Person:
        user = self.emulator.add_user(user_id, first_name, language_code)
        return Person(self.emulator, user, self.emulator.chats[user_id])

    def group(self, chat_id: int, title: str = "Staff") -> Chat:
        return self.emulator.add_group(chat_id, title)

    @property
    def db(self) -> Any:
        assert self.services is not None
        return self.services.db
