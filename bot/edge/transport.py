"""The bot's HTTP client for the Bot API: python-telegram-bot's BaseRequest over aiohttp.

python-telegram-bot's default client (httpx over httpcore over anyio) spends about a millisecond of CPU on each
call, more than the bot's own work on most updates; a report step makes two or three calls (answer the button,
edit its message, ask the next question). aiohttp, its HTTP parser in C, makes the same calls for a fraction of
that, over pooled keep-alive connections: at most ``pool_size`` at once, as PTB's own pool. Uploads go as multipart
forms; HTTP(S)_PROXY, ALL_PROXY and NO_PROXY are honoured as httpx honours them (http:// proxies).
PTB's timeouts map onto aiohttp's: pool (waiting for a free connection), connect (opening one: ``sock_connect``),
read (between two reads of the answer: ``sock_read``); aiohttp times no write by itself, so the whole exchange is
bounded by connect + write + read (``total``) and a stalled upload ends too.
Errors map to PTB's: TimedOut for every timeout, NetworkError for a connection refused or lost or an answer that
is not HTTP.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

FORM = "application/x-www-form-urlencoded"
MEDIA_WRITE_TIMEOUT = 20.0  # PTB's default write timeout for uploads


@dataclass
class _Session:
    """An aiohttp session and the calls under way on it; once shut down, the last of them closes it."""

    http: aiohttp.ClientSession
    calls: int = 0
    retired: bool = False


class BotAPIRequest(BaseRequest):
    """PTB's BaseRequest over aiohttp: at most ``pool_size`` requests at once, on kept-alive connections."""

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
        self._slots = asyncio.Semaphore(pool_size)  # the pool timeout is PTB's: waiting here, the call is not sent
        self._tls = tls
        self._session: _Session | None = None  # made at the first call: aiohttp wants a running event loop
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts[1]

    async def initialize(self) -> None:
        """Nothing yet: the session is made at the first call (the bot may be built outside a running loop)."""

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.retired = True  # a call still under way finishes, then closes it
            if not session.calls:
                await session.http.close()

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
        uploading = request_data is not None and request_data.contains_files
        connect, read, write, pool = self._timeouts
        connect_s, read_s, write_s, pool_s = (
            default if isinstance(given, DefaultValue) else given
            for given, default in (
                (connect_timeout, connect),
                (read_timeout, read),
                (write_timeout, MEDIA_WRITE_TIMEOUT if uploading else write),
                (pool_timeout, pool),
            )
        )
        phases = (connect_s, write_s, read_s)
        timeout = aiohttp.ClientTimeout(
            total=None if None in phases else sum(s for s in phases if s is not None),
            sock_connect=connect_s,
            sock_read=read_s,
        )
        try:
            async with asyncio.timeout(pool_s):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut("Pool timeout: all connections are busy. Request was *not* sent to Telegram.") from None
        session = self._session or self._open()
        session.calls += 1
        try:
            return await self._exchange(session.http, url, method, request_data, timeout)
        finally:
            session.calls -= 1
            self._slots.release()
            if session.retired and not session.calls:
                await session.http.close()

    def _open(self) -> _Session:
        connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=True if self._tls is None else self._tls)
        http = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": self.USER_AGENT}, cookie_jar=aiohttp.DummyCookieJar()
        )
        self._session = _Session(http)
        return self._session

    async def _exchange(
        self,
        http: aiohttp.ClientSession,
        url: str,
        method: str,
        request_data: RequestData | None,
        timeout: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes]:
        proxy = self._proxy_for(url)
        try:
            try:
                return await _call(http, url, method, request_data, timeout, proxy)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if isinstance(exc, aiohttp.ClientConnectorError):
                    raise
                # A kept-alive connection the server closed as the request went out: once more, on a new one
                # (aiohttp does so only for idempotent methods; a Bot API call may arrive twice all the same).
                return await _call(http, url, method, request_data, timeout, proxy)
        except aiohttp.ConnectionTimeoutError:
            raise TimedOut("Connecting to the Bot API timed out. Request was *not* sent to Telegram.") from None
        except TimeoutError:  # aiohttp's read timeouts are TimeoutErrors too
            raise TimedOut from None
        except aiohttp.InvalidURL:  # its message would show the token
            raise NetworkError("The Bot API address is not an http(s) URL") from None
        except aiohttp.ClientHttpProxyError as exc:
            raise NetworkError(f"The proxy refused the call: {exc.status} {exc.message}") from exc
        except aiohttp.ClientResponseError as exc:  # never for a status (nobody raises for one): a parse error
            raise NetworkError(f"Bot API: not an HTTP answer: {exc.message}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"Bot API connection: {type(exc).__name__}: {exc}") from exc

    def _proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for ``url`` (none if NO_PROXY exempts its host), read once per origin:
        aiohttp's own trust_env reads the environment and ~/.netrc on a thread at every call."""
        parts = urlsplit(url)
        origin = scheme, host = parts.scheme, parts.hostname or ""
        if origin not in self._proxies:
            proxies = urllib.request.getproxies()
            exempt = bool(host) and urllib.request.proxy_bypass(host)
            self._proxies[origin] = None if exempt else proxies.get(scheme) or proxies.get("all")
        return self._proxies[origin]


async def _call(
    http: aiohttp.ClientSession,
    url: str,
    method: str,
    request_data: RequestData | None,
    timeout: aiohttp.ClientTimeout,
    proxy: str | None,
) -> tuple[int, bytes]:
    async with http.request(
        method, url, data=_body(request_data), timeout=timeout, proxy=proxy, allow_redirects=False
    ) as answer:
        return answer.status, await answer.read()


def _body(request_data: RequestData | None) -> aiohttp.BytesPayload | aiohttp.FormData | None:
    """The call's parameters as a urlencoded form, or with files to upload as a multipart one (made anew for each
    attempt: a form is read once)."""
    if request_data is None:
        return None
    if not request_data.contains_files:
        return aiohttp.BytesPayload(request_data.url_encoded_parameters().encode(), content_type=FORM)
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
