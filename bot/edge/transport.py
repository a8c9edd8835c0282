"""The bot's HTTP client for the Bot API: plain HTTP/1.1 keep-alive connections on asyncio streams.

python-telegram-bot's default client (httpx over httpcore over anyio) spends about a millisecond of CPU on each
call, more than the bot's own work on most updates; a report step makes two or three calls (answer the button,
edit its message, ask the next question). Bot API calls are small form-encoded POSTs answered with JSON, so this
client writes the request itself and reads the answer by its Content-Length (or chunks), over pooled connections.
File uploads, downloads and anything sent through a proxy (HTTP(S)_PROXY / ALL_PROXY) go through PTB's own client.
Errors map to PTB's: TimedOut for every timeout, NetworkError for a connection lost or an answer that is not HTTP.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
MAX_HEADER_BYTES = 64 * 1024
USER_AGENT = BaseRequest.USER_AGENT


class BadAnswer(Exception):
    """The server's answer is not HTTP/1.x as this client reads it."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        """False once the server closed it (an idle keep-alive connection may be closed at any time)."""
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


Origin = tuple[str, str, int]  # scheme, host, port


class BotAPIRequest(BaseRequest):
    """PTB's BaseRequest over pooled HTTP/1.1 connections: at most ``pool_size`` requests at once."""

    def __init__(
        self,
        pool_size: int = 256,
        connect_timeout: float = 5.0,
        read_timeout: float = 5.0,
        write_timeout: float = 5.0,
        pool_timeout: float = 1.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: whom to trust over https (a self-hosted Bot API server with a private CA); the system's
        certificates when not given."""
        self._timeouts = (connect_timeout, read_timeout, write_timeout, pool_timeout)
        self._pool_size = pool_size
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: dict[Origin, list[_Connection]] = {}
        # Made at first need, as each costs tens of milliseconds at start (loading the system's certificates).
        self._tls = self._trusted = tls
        self._fallback: HTTPXRequest | None = None
        self._through_proxy = any(os.environ.get(name) for name in PROXY_VARIABLES)
        self._open = True

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts[1]

    async def initialize(self) -> None:
        self._open = True

    async def shutdown(self) -> None:
        self._open = False  # a call still under way closes its connection when it is done
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One call: (HTTP status, body)."""
        if self._through_proxy or method != "POST" or (request_data is not None and request_data.contains_files):
            return await self._ptb_client().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
            )
        connect_s, read_s, write_s, pool_s = (
            default if isinstance(given, DefaultValue) else given
            for given, default in zip(
                (connect_timeout, read_timeout, write_timeout, pool_timeout), self._timeouts, strict=True
            )
        )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NetworkError(f"cannot call {parts.scheme}:// addresses")
        origin: Origin = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        body = urlencode(request_data.json_parameters).encode() if request_data is not None else b""
        head = (
            f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nUser-Agent: {USER_AGENT}\r\nAccept: application/json\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        try:
            async with asyncio.timeout(pool_s):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut("Pool timeout: all connections are busy. Request was *not* sent to Telegram.") from None
        try:
            return await self._exchange(origin, head + body, connect_s, read_s, write_s)
        finally:
            self._slots.release()

    def _ptb_client(self) -> HTTPXRequest:
        """Uploads, downloads and proxies: PTB's client, configured alike."""
        if self._fallback is None:
            connect_s, read_s, write_s, pool_s = self._timeouts
            self._fallback = HTTPXRequest(
                connection_pool_size=self._pool_size,
                connect_timeout=connect_s,
                read_timeout=read_s,
                write_timeout=write_s,
                pool_timeout=pool_s,
                httpx_kwargs=None if self._trusted is None else {"verify": self._trusted},
            )
        return self._fallback

    async def _exchange(
        self, origin: Origin, request: bytes, connect_s: float | None, read_s: float | None, write_s: float | None
    ) -> tuple[int, bytes]:
        connection, reused = await self._connection(origin, connect_s)
        try:
            try:
                status, body, keep = await _send(connection, request, read_s, write_s)
            except (ConnectionError, _Unanswered):
                if not reused:
                    raise
                # The server had closed this idle connection as the request went out (nothing came back, so it
                # was not handled): once more on a new connection.
                connection.close()
                connection, _ = await self._connection(origin, connect_s, idle=False)
                status, body, keep = await _send(connection, request, read_s, write_s)
        except TimeoutError:
            connection.close()
            raise TimedOut from None
        except (OSError, asyncio.IncompleteReadError, BadAnswer, _Unanswered) as exc:
            connection.close()
            raise NetworkError(f"Bot API connection: {type(exc).__name__}: {exc}") from exc
        except BaseException:  # cancelled mid-answer: the rest of it would be read as the next call's
            connection.close()
            raise
        if keep and self._open:
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
        return status, body

    async def _connection(self, origin: Origin, connect_s: float | None, idle: bool = True) -> tuple[_Connection, bool]:
        """An idle connection to ``origin`` still open (and True), or a new one (and False)."""
        waiting = self._idle.get(origin, []) if idle else []
        while waiting:
            connection = waiting.pop()
            if connection.usable():
                return connection, True
            connection.close()
        scheme, host, port = origin
        try:
            async with asyncio.timeout(connect_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._tls_context() if scheme == "https" else None, limit=MAX_HEADER_BYTES
                )
        except TimeoutError:
            raise TimedOut("Connecting to the Bot API timed out") from None
        except OSError as exc:
            raise NetworkError(f"Connecting to the Bot API failed: {exc}") from exc
        return _Connection(reader, writer), False

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


class _Unanswered(Exception):
    """The connection ended before the first byte of an answer."""


async def _send(
    connection: _Connection, request: bytes, read_s: float | None, write_s: float | None
) -> tuple[int, bytes, bool]:
    connection.writer.write(request)
    async with asyncio.timeout(write_s):
        await connection.writer.drain()
    async with asyncio.timeout(read_s):
        try:
            head = await connection.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _Unanswered from exc
            raise
        except asyncio.LimitOverrunError as exc:
            raise BadAnswer("headers too long") from exc
        return await _read_answer(head, connection.reader)


async def _read_answer(head: bytes, reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection may be used again, of one HTTP/1.x answer (its head read)."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise BadAnswer(f"not an HTTP answer: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunks(reader)
    elif "content-length" in headers:
        length = headers["content-length"]
        if not length.isdigit():
            raise BadAnswer(f"bad Content-Length {length[:20]!r}")
        body = await reader.readexactly(int(length))
    else:  # the body ends when the server closes the connection
        body = await reader.read()
        keep = False
    return int(code), body, keep


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError as exc:
            raise BadAnswer(f"bad chunk size {size_line[:20]!r}") from exc
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, if any, up to the blank line
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the CRLF after each chunk
