"""The bot's HTTP client for the Bot API (bot/edge/transport.py, over aiohttp), driven through a real telegram.Bot
against a small HTTP server that answers as told: keep-alive, chunks, closed connections, silence, garbage, uploads,
TLS, a proxy.

Every journey test also goes through this client (the composition root installs it); these are the edges.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.edge.transport import BotAPIRequest

TOKEN = "123456:transport-test-token-aaaaaaaaaaaa"
# A self-signed certificate for localhost and 127.0.0.1, valid until 2126 (openssl req -x509 -newkey ec …).
CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgIUa7+/YqdeQczbkmy3F8siGx9KVV4wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMzEzNTUwOVoYDzIxMjYxMTA5
MTM1NTA5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQT/K5lF/5coODeHNrQiwKjcwsVBjsbGY0JSmmMNyfHFbtGl7I41LBw
FTA/e2EdR53NrpdR3hj7iohF1k5Lc2XGo28wbTAdBgNVHQ4EFgQUmE8qhia15nYD
OUJ9m9Z74AE87TIwHwYDVR0jBBgwFoAUmE8qhia15nYDOUJ9m9Z74AE87TIwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSQAwRgIhALI5y/I6/SyZNXbnv4JzF0kKH+e/tGvvEPamzPOWyyQpAiEA
ujlVSgSrXD91q0qvxvniMUfJfqJ+fD/8dQem7ya7pXE=
-----END CERTIFICATE-----
"""
PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJ4gMjFKQFTqwKQP7
LaC209P86524gmltJIiBGQWmfZyhRANCAAQT/K5lF/5coODeHNrQiwKjcwsVBjsb
GY0JSmmMNyfHFbtGl7I41LBwFTA/e2EdR53NrpdR3hj7iohF1k5Lc2XG
-----END PRIVATE KEY-----
"""


ME = json.dumps({"ok": True, "result": {"id": 123456, "is_bot": True, "first_name": "Bot", "username": "b"}}).encode()


def message_json(text: str, message_id: int = 1) -> bytes:
    result = {"message_id": message_id, "date": 0, "chat": {"id": 7, "type": "private"}, "text": text}
    return json.dumps({"ok": True, "result": result}).encode()


@dataclass
class Request:
    target: str  # as the request line names it
    headers: dict[str, str]
    body: bytes

    @property
    def method(self) -> str:
        return self.target.rsplit("/", 1)[-1]

    def form(self) -> dict[str, str]:
        return {name: values[0] for name, values in parse_qs(self.body.decode()).items()}


# How the server answers one request: the raw bytes to write (None: write nothing), and whether to close after.
Answer = Callable[[Request], tuple[bytes | None, bool]]


def plain(body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
        + body
    )


def echo_text(request: Request) -> tuple[bytes | None, bool]:
    """Answers sendMessage with a message carrying the text it was sent."""
    return plain(message_json(request.form().get("text", ""))), False


@dataclass
class Server:
    answer: Answer = echo_text
    pause: Callable[[Request], float] = lambda request: 0.0  # seconds before the answer is written
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    closed: int = 0  # connections that ended
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(lines[0].split(" ")[1], headers, body)
                if request.method == "getMe":  # what Bot.initialize asks first
                    writer.write(plain(ME))
                    continue
                self.requests.append(request)
                raw, close = self.answer(request)
                await asyncio.sleep(self.pause(request))
                if raw is not None:
                    writer.write(raw)
                    await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed += 1
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    served = Server()
    listening = await asyncio.start_server(served.handle, "127.0.0.1", 0)
    served.port = listening.sockets[0].getsockname()[1]
    yield served
    listening.close()


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[Server]:
    """The same server behind TLS, with the certificate above."""
    (tmp_path / "cert.pem").write_text(CERTIFICATE)
    (tmp_path / "key.pem").write_text(PRIVATE_KEY)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    served = Server()
    listening = await asyncio.start_server(served.handle, "127.0.0.1", 0, ssl=context)
    served.port = listening.sockets[0].getsockname()[1]
    yield served
    listening.close()


def bot_for(server: Server, **settings: float) -> Bot:
    return Bot(TOKEN, base_url=server.base_url, request=BotAPIRequest(**settings))  # type: ignore[arg-type]


async def test_calls_share_one_connection_and_send_the_form_telegram_reads(server: Server) -> None:
    async with bot_for(server) as bot:
        for n in range(5):
            message = await bot.send_message(7, f"привет 你好 & = {n}")
            assert message.text == f"привет 你好 & = {n}"
    assert server.connections == 1
    request = server.requests[-1]
    assert request.method == "sendMessage"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {"chat_id": "7", "text": "привет 你好 & = 4"}


async def test_a_chunked_answer_is_read_whole(server: Server) -> None:
    def chunked(request: Request) -> tuple[bytes | None, bool]:
        body = message_json("in three chunks")
        parts = [body[:10], body[10:20], body[20:]]
        encoded = b"".join(f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n" for part in parts)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        return head + encoded + b"0\r\nX-Trailer: yes\r\n\r\n", False

    server.answer = chunked
    async with bot_for(server) as bot:
        assert (await bot.send_message(7, "x")).text == "in three chunks"
        assert (await bot.send_message(7, "y")).text == "in three chunks"  # the connection was left clean
    assert server.connections == 1


async def test_connection_close_is_honoured_and_the_next_call_opens_a_new_one(server: Server) -> None:
    server.answer = lambda request: (plain(message_json("bye"), "Connection: close\r\n"), True)
    async with bot_for(server) as bot:
        for _ in range(3):
            assert (await bot.send_message(7, "x")).text == "bye"
    assert server.connections == 3


async def test_an_idle_connection_the_server_closed_is_not_reused(server: Server) -> None:
    # The server closes each connection right after answering, without saying so (as a keep-alive timeout does).
    server.answer = lambda request: (plain(message_json(request.form()["text"])), True)
    async with bot_for(server) as bot:
        assert (await bot.send_message(7, "one")).text == "one"
        await asyncio.sleep(0.1)
        assert (await bot.send_message(7, "two")).text == "two"
    assert server.connections == 2
    assert [request.form()["text"] for request in server.requests] == ["one", "two"]  # each sent once


async def test_a_request_the_closing_server_never_answered_is_sent_again_on_a_new_connection(server: Server) -> None:
    # A reused connection that ends before any answer: the server dropped it as the request arrived, unhandled.
    answered = 0

    def drop_every_second(request: Request) -> tuple[bytes | None, bool]:
        nonlocal answered
        answered += 1
        if answered == 2:
            return None, True
        return plain(message_json(request.form()["text"])), False

    server.answer = drop_every_second
    async with bot_for(server) as bot:
        assert (await bot.send_message(7, "one")).text == "one"
        assert (await bot.send_message(7, "two")).text == "two"
    assert server.connections == 2


async def test_a_server_that_never_answers_times_out(server: Server) -> None:
    server.answer = lambda request: (None, False)
    async with bot_for(server, read_timeout=0.3) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(7, "anyone?")


async def test_an_answer_that_is_not_http_is_a_network_error(server: Server) -> None:
    server.answer = lambda request: (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", True)
    async with bot_for(server) as bot:
        with pytest.raises(NetworkError, match="not an HTTP answer"):
            await bot.send_message(7, "x")


async def test_nobody_listening_is_a_network_error(server: Server) -> None:
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    request = BotAPIRequest()
    with pytest.raises(NetworkError):
        await Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request).initialize()
    await request.shutdown()


async def test_when_every_connection_is_busy_the_call_times_out_unsent(server: Server) -> None:
    waiting: list[Request] = []

    def hold_the_first(request: Request) -> tuple[bytes | None, bool]:
        if not waiting:
            waiting.append(request)
            return None, False  # never answered: holds the one connection
        return plain(message_json("late")), False

    server.answer = hold_the_first
    async with bot_for(server, pool_size=1, pool_timeout=0.2, read_timeout=5) as bot:
        held = asyncio.create_task(bot.send_message(7, "first"))
        await asyncio.sleep(0.1)
        with pytest.raises(TimedOut, match="not"):
            await bot.send_message(7, "second")
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
    assert [request.form()["text"] for request in server.requests] == ["first"]


async def test_calls_at_once_share_at_most_pool_size_connections(server: Server) -> None:
    server.pause = lambda request: 0.1
    async with bot_for(server, pool_size=2, pool_timeout=5) as bot:
        sent = await asyncio.gather(*(bot.send_message(7, f"at once {n}") for n in range(6)))
    assert [message.text for message in sent] == [f"at once {n}" for n in range(6)]
    assert server.connections == 2


async def test_a_cancelled_call_leaves_no_late_answer_for_the_next(server: Server) -> None:
    server.pause = lambda request: 0.3 if request.form()["text"] == "cancelled" else 0.0
    async with bot_for(server) as bot:
        first = asyncio.create_task(bot.send_message(7, "cancelled"))
        await asyncio.sleep(0.1)  # sent, its answer not yet come
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.sleep(0.4)  # the late answer arrives on the abandoned connection
        assert (await bot.send_message(7, "next")).text == "next"
    assert server.connections == 2


async def test_a_call_under_way_at_shutdown_keeps_no_connection_open(server: Server) -> None:
    server.pause = lambda request: 0.3
    bot = bot_for(server)
    await bot.initialize()
    call = asyncio.create_task(bot.send_message(7, "late"))
    await asyncio.sleep(0.1)
    await bot.shutdown()
    assert (await call).text == "late"  # it finishes
    await asyncio.sleep(0.1)
    assert server.connections == server.closed == 1  # and its connection is closed, not kept


async def test_uploads_are_sent_as_a_multipart_form(server: Server) -> None:
    def document(request: Request) -> tuple[bytes | None, bool]:
        result = {
            "message_id": 3,
            "date": 0,
            "chat": {"id": 7, "type": "private"},
            "document": {"file_id": "f", "file_unique_id": "u", "file_name": "a.csv"},
        }
        return plain(json.dumps({"ok": True, "result": result}).encode()), False

    server.answer = document
    async with bot_for(server) as bot:
        message = await bot.send_document(7, b"a,b\n1,2\n", filename="a.csv")
    assert message.document is not None and message.document.file_name == "a.csv"
    upload = server.requests[-1]
    assert upload.method == "sendDocument"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'filename="a.csv"' in upload.body and b"a,b\n1,2\n" in upload.body
    assert b'name="chat_id"\r\n' in upload.body  # the other parameters as fields of the same form


async def test_https_is_spoken_with_the_certificate_checked(tls_server: Server) -> None:
    trusting = ssl.create_default_context(cadata=CERTIFICATE)
    base_url = f"https://127.0.0.1:{tls_server.port}/bot"
    async with Bot(TOKEN, base_url=base_url, request=BotAPIRequest(tls=trusting)) as bot:
        for text in ("one", "two"):
            assert (await bot.send_message(7, text)).text == text
    assert tls_server.connections == 1
    # Without trusting that certificate (the system's authorities only) the connection is refused, nothing sent.
    untrusting = BotAPIRequest()
    with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
        await Bot(TOKEN, base_url=base_url, request=untrusting).initialize()
    await untrusting.shutdown()
    assert len(tls_server.requests) == 2


async def test_with_http_proxy_set_the_calls_go_through_the_proxy(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The proxy is the test's server: it is asked for the Bot API's absolute URL, as a proxy is.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    async with Bot(TOKEN, base_url="http://api.telegram.invalid/bot", request=BotAPIRequest()) as bot:
        assert (await bot.send_message(7, "via the proxy")).text == "via the proxy"
    assert server.requests[-1].target == f"http://api.telegram.invalid/bot{TOKEN}/sendMessage"


async def test_no_proxy_exempts_its_hosts(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nobody listens there: a call through it would fail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with bot_for(server) as bot:
        assert (await bot.send_message(7, "direct")).text == "direct"
    assert server.requests[-1].target == f"/bot{TOKEN}/sendMessage"


def test_made_outside_a_running_loop_it_works_inside_one() -> None:
    request = BotAPIRequest()  # as the composition root builds it, before run_polling starts the loop

    async def call() -> str | None:
        served = Server()
        listening = await asyncio.start_server(served.handle, "127.0.0.1", 0)
        served.port = listening.sockets[0].getsockname()[1]
        async with listening, Bot(TOKEN, base_url=served.base_url, request=request) as bot:
            return (await bot.send_message(7, "hello")).text

    assert asyncio.run(call()) == "hello"
