"""A load balancer in front of several bot instances (tests, benchmarks): Telegram knows one webhook URL, the
balancer hands each POST to one instance in turn — to the next when that one does not answer (killed), or to all
of them at once (as when Telegram posts an update again because its answer was late)."""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Balancer:
    """Round robin over ``targets`` (the instances' webhook URLs); 502 when none answers (Telegram then retries)."""

    targets: list[str]
    to_all: bool = False
    routed: list[int] = field(default_factory=list)  # which instance took each POST, in order
    url: str = ""
    _turns: itertools.cycle[int] = field(init=False)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self, path: str = "/telegram/webhook") -> None:
        self._turns = itertools.cycle(range(len(self.targets)))
        app = web.Application()
        app.router.add_post(path, self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.url = f"http://127.0.0.1:{port}{path}"

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.startswith("X-")} | {
            "Content-Type": "application/json"
        }
        if self.to_all:
            statuses = [await self._post(index, body, headers) for index in range(len(self.targets))]
            return web.Response(status=max(statuses))
        first = next(self._turns)
        for n in range(len(self.targets)):  # the next instance in turn; the one after when it does not answer
            status = await self._post((first + n) % len(self.targets), body, headers)
            if status < 500:
                return web.Response(status=status)
        return web.Response(status=502)

    async def _post(self, index: int, body: bytes, headers: dict[str, str]) -> int:
        assert self._session is not None
        try:
            async with self._session.post(self.targets[index], data=body, headers=headers) as answer:
                await answer.read()
                if answer.status < 500:
                    self.routed.append(index)
                return answer.status
        except (aiohttp.ClientError, TimeoutError):
            return 502
