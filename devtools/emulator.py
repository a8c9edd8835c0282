"""A Telegram Bot API emulator: a real HTTP server speaking the Bot API's shapes, for tests and the playground.

The bot talks to it exactly as to Telegram (``BOT_API_BASE_URL=http://127.0.0.1:PORT/bot``). The other side —
people typing, sharing locations and pressing buttons — is played through :meth:`BotAPIEmulator.push_update`
and the helpers in ``tests/support/driver.py``. Every call the bot makes is recorded; faults (429, 5xx, 403,
slow answers, an outage) can be injected per method.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from devtools.bot_api import AnswerLost, ApiError, Call, Chat, Fault, StoredFile, fault_error
from devtools.bot_api_methods import BotAPIMethods

# Telegram's per-chat limits as the emulator enforces them (with flood_limit set).
GROUP_PER_MINUTE = 20
CHAT_BURST = 3
CHAT_PER_SECOND = 1.0

__all__ = ["AnswerLost", "ApiError", "BotAPIEmulator", "Call", "Chat", "Fault", "StoredFile"]


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


class BotAPIEmulator(BotAPIMethods):
    """The Bot API server around the little Telegram world of one bot (see TelegramWorld and BotAPIMethods)."""

    def __init__(
        self,
        token: str = "123456:emulator-token-aaaaaaaaaaaaaaaaaaaa",
        bot_username: str = "city_service_bot",
    ):
        super().__init__(token, bot_username)
        self._server: HTTPServer | None = None
        self.port = 0
        self.host = "127.0.0.1"
        self._embedded = False

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
                error = fault_error(fault)
                call.error = error.description
                await self._record(call)
                raise error
        handler = getattr(self, f"_api_{method.lower()}", None)
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            if method.lower() != "getupdates":
                self._check_flood(method, params)
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

    def _check_flood(self, method: str, params: dict[str, Any]) -> None:
        """Telegram's flood limits on new messages, on while ``flood_limit`` is set: ``flood_limit`` in any rolling
        second overall, GROUP_PER_MINUTE in any rolling minute into one group, and into one private chat a token
        bucket of CHAT_BURST refilled at CHAT_PER_SECOND (short bursts, about one a second sustained)."""
        name = method.lower()
        if self.flood_limit is None or not name.startswith(("send", "copy", "forward")) or name == "sendchataction":
            return
        now = time.monotonic()
        while self._send_times and now - self._send_times[0] > 1.0:
            self._send_times.popleft()
        if len(self._send_times) >= self.flood_limit:
            self._flooded("overall", 1.0 - (now - self._send_times[0]))
        chat_id = params.get("chat_id")
        group: deque[float] | None = None
        tokens = 0.0
        if isinstance(chat_id, int) and chat_id < 0:
            group = self._group_sends.setdefault(chat_id, deque())
            while group and now - group[0] > 60.0:
                group.popleft()
            if len(group) >= GROUP_PER_MINUTE:
                self._flooded("group", 60.0 - (now - group[0]))
        elif isinstance(chat_id, int):
            tokens, counted = self._chat_tokens.get(chat_id, (float(CHAT_BURST), now))
            tokens = min(float(CHAT_BURST), tokens + (now - counted) * CHAT_PER_SECOND)
            if tokens < 1.0:
                self._flooded("chat", (1.0 - tokens) / CHAT_PER_SECOND)
            self._chat_tokens[chat_id] = (tokens - 1.0, now)
        if group is not None:
            group.append(now)
        self._send_times.append(now)

    def _flooded(self, scope: str, wait: float) -> None:
        """Answers 429 with the true wait, rounded up to whole seconds as Telegram does, and counts it."""
        self.flood_errors += 1
        self.flood_errors_by_scope[scope] += 1
        seconds = max(1, math.ceil(wait))
        raise ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()


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
