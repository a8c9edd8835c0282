"""A Telegram Bot API emulator: a real HTTP server speaking the Bot API's shapes, for tests and the playground.

The bot talks to it exactly as to Telegram (``BOT_API_BASE_URL=http://127.0.0.1:PORT/bot``). The other side —
people typing, sharing locations and pressing buttons — is played through :meth:`BotAPIEmulator.push_update`
and the helpers in ``tests/support/driver.py``. Every call the bot makes is recorded; faults (429, 5xx, 403,
slow answers, an outage) can be injected per method.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

log = logging.getLogger(__name__)

# Parameters that are strings on the wire even when they look like JSON numbers.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "inline_message_id",
        "title",
        "address",
        "file_id",
        "photo",
        "voice",
        "document",
        "audio",
        "video",
        "sticker",
        "url",
        "secret_token",
        "language_code",
        "parse_mode",
        "action",
        "description",
        "short_description",
        "foursquare_id",
        "google_place_id",
        "first_name",
        "last_name",
        "phone_number",
        "emoji",
        "name",
        "query",
    }
)
_ALLOWED_HTML = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    }
)
_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_MAX_CALLBACK_DATA = 64


class AnswerLost(Exception):
    """The call was carried out, but its answer never reaches the bot: the connection broke on the way back."""


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": …, "description": …}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


@dataclass
class Fault:
    """One injected failure for the next call of a method."""

    kind: str  # "429", "500", "502", "403", "400", "slow", "drop", "lost" (done, but the answer never comes)
    retry_after: int = 1
    delay: float = 0.0
    description: str = ""


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float
    result: Any = None
    error: str | None = None


@dataclass
class Chat:
    id: int
    type: str
    title: str = ""
    first_name: str = ""
    username: str | None = None
    blocked: bool = False  # a private chat whose user blocked the bot

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name
        else:
            data["title"] = self.title
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class StoredFile:
    file_id: str
    unique_id: str
    path: str
    content: bytes = b""
    filename: str | None = None


class _EntityChecker(HTMLParser):
    """Refuses what Telegram refuses in parse_mode=HTML: unknown or unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_HTML:
            self.error = self.error or f'unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'unexpected end tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _units(text: str) -> int:
    """A length as Telegram measures it: UTF-16 code units (written apart from bot.platform.text, to check it)."""
    return len(text.encode("utf-16-le")) // 2


def _plain_text(text: str, parse_mode: str | None) -> str:
    """The text as the recipient sees it, after Telegram has applied parse_mode."""
    if (parse_mode or "").upper() != "HTML":
        return text
    if re.search(r"<(?![a-zA-Z/])", text):
        raise ApiError(400, "Bad Request: can't parse entities: unescaped '<'")
    checker = _EntityChecker()
    checker.feed(text)
    checker.close()
    if checker.error or checker.stack:
        raise ApiError(400, f"Bad Request: can't parse entities: {checker.error or 'unclosed tag'}")
    return "".join(checker.text)  # the parser has decoded the entities already: "&amp;amp;" reads "&amp;"


class BotAPIEmulator:
    """The Bot API server and the state of the little Telegram world around one bot."""

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
        self.flood_limit: float | None = None  # messages per second before answering 429, like Telegram
        self.flood_errors = 0
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._send_times: deque[float] = deque()
        self._server: HTTPServer | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self.port = 0
        self.host = "127.0.0.1"
        # Every stored, edited or deleted message as (chat id, message id), in order: a page can follow it by index.
        self.journal: list[tuple[int, int]] = []
        # Seconds since the epoch for message dates; the playground points it at its shiftable clock.
        self.clock: Callable[[], float] = time.time
        self._embedded = False

    # ----------------------------------------------------------------- server
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    def routes(self, prefix: str = "") -> list[Any]:
        """Tornado routes serving the Bot API (for embedding beside other pages, as the playground does)."""
        return [
            (prefix + r"/bot([^/]+)/([A-Za-z]+)/?", _MethodHandler, {"emulator": self}),
            (prefix + r"/file/bot([^/]+)/(.+)", _FileHandler, {"emulator": self}),
        ]

    def attach(self, host: str, port: int) -> None:
        """Serves through :meth:`routes` mounted in someone else's server listening on ``host:port``."""
        self.host, self.port = host, port
        self._embedded = True

    @property
    def serving(self) -> bool:
        return self._server is not None or self._embedded

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = tornado.web.Application(self.routes())
        sockets = bind_sockets(port, host)
        self.host, self.port = host, sockets[0].getsockname()[1]
        self._server = HTTPServer(app)
        self._server.add_sockets(sockets)

    async def stop(self) -> None:
        if self._webhook_task:
            self._webhook_task.cancel()
        if self._server:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
        self._embedded = False
        async with self._changed:
            self._changed.notify_all()

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

    # ------------------------------------------------------------- dispatch
    async def handle(self, method: str, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> Any:
        """Runs one Bot API method; returns its result or raises ApiError."""
        if self.down:
            raise ApiError(502, "Bad Gateway")
        fault = self._next_fault(method)
        call = Call(method, params, time.monotonic())
        if fault:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind != "lost":
                error = _fault_error(fault)
                call.error = error.description
                await self._record(call)
                raise error
        handler = getattr(self, f"_api_{method.lower()}", None)
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            if method.lower() != "getupdates":
                self._check_flood(method)
            call.result = await handler(params, uploads)
        except ApiError as exc:
            call.error = exc.description
            await self._record(call)
            raise
        await self._record(call)
        if fault is not None and fault.kind == "lost":
            raise AnswerLost(method)
        return call.result

    def _next_fault(self, method: str) -> Fault | None:
        for key in (method, "*"):
            queue = self.faults.get(key)
            if queue:
                return queue.popleft()
        return None

    def _check_flood(self, method: str) -> None:
        if self.flood_limit is None or not method.lower().startswith(("send", "copy", "forward")):
            return
        now = time.monotonic()
        while self._send_times and now - self._send_times[0] > 1.0:
            self._send_times.popleft()
        if len(self._send_times) >= self.flood_limit:
            self.flood_errors += 1
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        self._send_times.append(now)

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # ------------------------------------------------------- the methods
    async def _api_getme(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        return self.bot_user

    async def _api_logout(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _api_close(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _api_getupdates(self, params: dict[str, Any], uploads: Any) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        async with self._changed:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and self.serving:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    break
            return self._updates[:limit]

    async def _api_setwebhook(self, params: dict[str, Any], uploads: Any) -> bool:
        self.webhook_url = params.get("url") or None
        self.webhook_secret = params.get("secret_token") or None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self.webhook_url and self._webhook_task is None:
            self._webhook_task = asyncio.create_task(self._deliver_webhooks())
        return True

    async def _api_deletewebhook(self, params: dict[str, Any], uploads: Any) -> bool:
        self.webhook_url = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_getwebhookinfo(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _api_setmycommands(self, params: dict[str, Any], uploads: Any) -> bool:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        self.commands[(scope, params.get("language_code") or "")] = list(params["commands"])
        return True

    async def _api_getmycommands(self, params: dict[str, Any], uploads: Any) -> list[dict[str, Any]]:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        return self.commands.get((scope, params.get("language_code") or ""), [])

    async def _api_deletemycommands(self, params: dict[str, Any], uploads: Any) -> bool:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        self.commands.pop((scope, params.get("language_code") or ""), None)
        return True

    async def _api_setchatmenubutton(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _api_getchat(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        return {**self._chat(params).as_dict(), "accent_color_id": 0, "max_reaction_count": 11}

    async def _api_sendchataction(self, params: dict[str, Any], uploads: Any) -> bool:
        self._chat(params)
        return True

    async def _api_sendmessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        text = str(params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        plain = _plain_text(text, params.get("parse_mode"))
        if _units(plain) > _MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._deliver(params, {"text": plain})

    async def _api_sendlocation(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        location = _location(params)
        return self._deliver(params, {"location": location})

    async def _api_sendvenue(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        location = _location(params)
        venue = {"location": location, "title": str(params["title"]), "address": str(params["address"])}
        return self._deliver(params, {"venue": venue, "location": location})

    async def _api_sendphoto(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
        stored = self._file_param(params, uploads, "photo")
        sizes = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.unique_id,
                "width": 1280,
                "height": 960,
                "file_size": len(stored.content),
            }
        ]
        return self._deliver(params, {"photo": sizes, **self._caption(params)})

    async def _api_senddocument(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
        stored = self._file_param(params, uploads, "document")
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_name": stored.filename or "file",
            "file_size": len(stored.content),
        }
        return self._deliver(params, {"document": document, **self._caption(params)})

    async def _api_sendvoice(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
        stored = self._file_param(params, uploads, "voice")
        voice = {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "duration": 3}
        return self._deliver(params, {"voice": voice, **self._caption(params)})

    async def _api_sendmediagroup(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]]) -> list[Any]:
        media = params.get("media") or []
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the group")
        group_id = str(next(self._file_ids) + 9_000_000)
        sent = []
        for item in media:
            reference = str(item["media"])
            if reference.startswith("attach://"):
                content, name = uploads[reference.removeprefix("attach://")]
                stored = self.new_file(item["type"], content, name)
            else:
                stored = self._known_file(reference)
            if item["type"] == "photo":
                body: dict[str, Any] = {
                    "photo": [
                        {
                            "file_id": stored.file_id,
                            "file_unique_id": stored.unique_id,
                            "width": 1280,
                            "height": 960,
                        }
                    ]
                }
            else:
                body = {item["type"]: {"file_id": stored.file_id, "file_unique_id": stored.unique_id}}
            if item.get("caption"):
                body.update(self._caption(item))
            sent.append(self._deliver(params, {**body, "media_group_id": group_id}))
        return sent

    async def _api_forwardmessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        original = self.messages.get((int(params["from_chat_id"]), int(params["message_id"])))
        if original is None:
            raise ApiError(400, "Bad Request: message to forward not found")
        body = {k: v for k, v in original.items() if k not in {"message_id", "chat", "date", "from"}}
        return self._deliver(
            params,
            {
                **body,
                "forward_origin": {
                    "type": "hidden_user",
                    "date": int(self.clock()),
                    "sender_user_name": "hidden",
                },
            },
        )

    async def _api_copymessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        original = self.messages.get((int(params["from_chat_id"]), int(params["message_id"])))
        if original is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        body = {k: v for k, v in original.items() if k not in {"message_id", "chat", "date", "from", "reply_markup"}}
        if "caption" in params:
            body.pop("caption", None)
            body.update(self._caption(params))
        sent = self._deliver(params, body)
        return {"message_id": sent["message_id"]}

    async def _api_editmessagetext(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._editable(params)
        text = _plain_text(str(params.get("text", "")), params.get("parse_mode"))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _units(text) > _MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._markup(params)
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message["text"] = text
        self._set_markup(message, markup)
        return self._edited(message)

    async def _api_editmessagecaption(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._editable(params)
        message.update(self._caption(params))
        self._set_markup(message, self._markup(params))
        return self._edited(message)

    async def _api_editmessagereplymarkup(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._editable(params)
        markup = self._markup(params)
        if message.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified")
        self._set_markup(message, markup)
        return self._edited(message)

    async def _api_deletemessage(self, params: dict[str, Any], uploads: Any) -> bool:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to delete not found")
        self.messages[key]["deleted"] = True
        self.journal.append(key)
        return True

    async def _api_answercallbackquery(self, params: dict[str, Any], uploads: Any) -> bool:
        query_id = str(params["callback_query_id"])
        if query_id in self.callback_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.callback_answers[query_id] = {
            "text": params.get("text"),
            "show_alert": bool(params.get("show_alert")),
        }
        return True

    async def _api_getfile(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        stored = self._known_file(str(params["file_id"]))
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.content),
            "file_path": stored.path,
        }

    # ------------------------------------------------------------ helpers
    def _chat(self, params: dict[str, Any]) -> Chat:
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= _MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not str(button.get("text", "")).strip():
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        return dict(markup)

    @staticmethod
    def _set_markup(message: dict[str, Any], markup: dict[str, Any] | None) -> None:
        # Only inline keyboards stay attached to a message; editing without one removes it.
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

    def _caption(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("caption"):
            return {}
        caption = _plain_text(str(params["caption"]), params.get("parse_mode"))
        if _units(caption) > _MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        return {"caption": caption}

    def _deliver(self, params: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        markup = self._markup(params)
        message: dict[str, Any] = {
            "message_id": self.new_message_id(chat.id),
            "date": int(self.clock()),
            "chat": chat.as_dict(),
            "from": self.bot_user,
            **body,
        }
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        elif markup is not None:
            message["_keyboard"] = markup  # what the client shows under the input field; not echoed back
        reply_to = params.get("reply_to_message_id") or (params.get("reply_parameters") or {}).get("message_id")
        if reply_to and (chat.id, int(reply_to)) in self.messages:
            message["reply_to_message"] = {
                k: v for k, v in self.messages[(chat.id, int(reply_to))].items() if k != "reply_to_message"
            }
        self.store_message(message)
        self.inbox.setdefault(chat.id, []).append(message)
        return _public(message)

    def _editable(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported here")
        chat = self._chat(params)
        message = self.messages.get((chat.id, int(params.get("message_id") or 0)))
        if message is None or message.get("deleted"):
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edited(self, message: dict[str, Any]) -> dict[str, Any]:
        message["edit_date"] = int(self.clock())
        self.edits.append((message["chat"]["id"], message["message_id"]))
        self.journal.append((message["chat"]["id"], message["message_id"]))
        return _public(message)

    def _file_param(self, params: dict[str, Any], uploads: dict[str, tuple[bytes, str]], name: str) -> StoredFile:
        value = params.get(name)
        if value is None and name in uploads:
            content, filename = uploads[name]
            return self.new_file(name, content, filename)
        if isinstance(value, str) and value.startswith("attach://"):
            content, filename = uploads[value.removeprefix("attach://")]
            return self.new_file(name, content, filename)
        if isinstance(value, str):
            return self._known_file(value)
        raise ApiError(400, f"Bad Request: there is no {name} in the request")

    def _known_file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return stored

    async def _deliver_webhooks(self) -> None:
        """Posts pending updates to the webhook in order, as Telegram does, retrying on failure."""
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                async with self._changed:
                    while not (self.webhook_url and self._updates):
                        await self._changed.wait()
                    update, url = self._updates[0], self.webhook_url
                headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
                try:
                    response = await client.post(url, json=update, headers=headers)
                    delivered = response.status_code < 300
                except httpx.HTTPError:
                    delivered = False
                if delivered:
                    async with self._changed:
                        if self._updates and self._updates[0] is update:
                            self._updates.pop(0)
                        self._changed.notify_all()
                else:
                    await asyncio.sleep(0.2)


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_") and k != "deleted"}


def _location(params: dict[str, Any]) -> dict[str, float]:
    try:
        latitude, longitude = float(params["latitude"]), float(params["longitude"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, "Bad Request: wrong location") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ApiError(400, "Bad Request: wrong location")
    return {"latitude": latitude, "longitude": longitude}


def _fault_error(fault: Fault) -> ApiError:
    if fault.kind == "429":
        return ApiError(429, f"Too Many Requests: retry after {fault.retry_after}", retry_after=fault.retry_after)
    if fault.kind == "403":
        return ApiError(403, "Forbidden: bot was blocked by the user")
    if fault.kind == "400":
        return ApiError(400, fault.description or "Bad Request: injected")
    return ApiError(int(fault.kind) if fault.kind.isdigit() else 500, "Internal Server Error")


def _decode_params(
    handler: tornado.web.RequestHandler,
) -> tuple[dict[str, Any], dict[str, tuple[bytes, str]]]:
    """Reads form, multipart or JSON parameters; values that are JSON on the wire are decoded."""
    request = handler.request
    params: dict[str, Any] = {}
    if request.headers.get("Content-Type", "").startswith("application/json") and request.body:
        params = json.loads(request.body)
    else:
        for name, values in {**request.query_arguments, **request.body_arguments}.items():
            raw = values[-1].decode("utf-8")
            if name in _STRING_PARAMS:
                params[name] = raw
                continue
            try:
                params[name] = json.loads(raw)
            except ValueError:
                params[name] = raw
    uploads = {name: (files[0]["body"], files[0]["filename"]) for name, files in request.files.items()}
    return params, uploads


class _MethodHandler(tornado.web.RequestHandler):
    def initialize(self, emulator: BotAPIEmulator) -> None:
        self.emulator = emulator

    def check_xsrf_cookie(self) -> None:  # the Bot API has no cookies
        return None

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)

    async def post(self, token: str, method: str) -> None:
        if token != self.emulator.token:
            self._answer(ApiError(401, "Unauthorized"))
            return
        if self.emulator.down:
            # An outage: the connection drops without an answer.
            self.request.connection.close()  # type: ignore[union-attr]
            return
        params, uploads = _decode_params(self)
        try:
            result = await self.emulator.handle(method, params, uploads)
        except AnswerLost:
            self.request.connection.close()  # type: ignore[union-attr]
        except ApiError as exc:
            self._answer(exc)
        except (KeyError, TypeError, ValueError) as exc:
            self._answer(ApiError(400, f"Bad Request: {exc}"))
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"ok": True, "result": result}))

    def _answer(self, error: ApiError) -> None:
        self.set_status(error.code)
        body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class _FileHandler(tornado.web.RequestHandler):
    def initialize(self, emulator: BotAPIEmulator) -> None:
        self.emulator = emulator

    def get(self, token: str, path: str) -> None:
        for stored in self.emulator.files.values():
            if token == self.emulator.token and stored.path == path:
                self.finish(stored.content)
                return
        self.set_status(404)
        self.finish("Not Found")
