"""The setups of bench/e2e.py's "engines" table: the bot on PostgreSQL as one polling process and as two processes in
webhook mode behind a round-robin balancer (devtools/balancer.py), on a throwaway PostgreSQL server of the bench's
own (scripts/postgres.sh in a temporary folder, stopped and deleted at the end); and the table itself."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devtools.balancer import Balancer, free_port

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_SECRET = "bench-webhook-secret"
SETUPS = ("SQLite, 1 process (polling)", "PostgreSQL, 1 process (polling)", "PostgreSQL, 2 processes (webhook)")


async def spawn(args: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def postgres_script(folder: Path, *args: str, database: str = "citybot") -> str:
    """Runs scripts/postgres.sh on the cluster in ``folder``; returns what it printed (the URL of ``database``)."""
    script = await asyncio.create_subprocess_exec(
        "bash",
        str(ROOT / "scripts" / "postgres.sh"),
        *args,
        env={**os.environ, "PG_DIR": str(folder), "PG_DB": database},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await script.communicate()
    if script.returncode != 0:
        raise RuntimeError(f"scripts/postgres.sh {' '.join(args)} failed ({script.returncode})")
    return out.decode().strip()


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """A PostgreSQL server of the bench's own; yields a function making an empty database and returning its URL."""
    folder = Path(tempfile.mkdtemp(prefix="citybot-pg-bench."))
    try:
        await postgres_script(folder)
        yield lambda name: postgres_script(folder, database=name)
    finally:
        await postgres_script(folder, "stop")


@dataclass
class Instances:
    """``python -m bot`` processes on one database: one polling, or several in webhook mode behind a balancer."""

    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    balancer: Balancer | None = None

    async def all_answering(self, ask: Callable[[], Awaitable[object]]) -> None:
        """Asks until every instance has taken an update, then waits out two heartbeats, so each counts the
        others when it takes its share of Telegram's budget: what is measured next is all of them at work."""
        if self.balancer is None:
            return
        while len(set(self.balancer.routed)) < len(self.processes):
            await ask()
        await asyncio.sleep(2.5)

    async def stop(self) -> None:
        await asyncio.gather(*(stop(process) for process in self.processes))
        if self.balancer is not None:
            await self.balancer.stop()


async def start_instances(env: dict[str, str], work: Path, count: int) -> Instances:
    """``count`` processes of the bot; more than one run in webhook mode behind a round-robin balancer, all with the
    same secret, each listening on a port of its own."""
    if count == 1:
        return Instances([await spawn([sys.executable, "-m", "bot"], env, work)])
    ports = [free_port() for _ in range(count)]
    balancer = Balancer([f"http://127.0.0.1:{port}{WEBHOOK_PATH}" for port in ports])
    await balancer.start(WEBHOOK_PATH)
    instances = Instances(balancer=balancer)
    for n, port in enumerate(ports):
        folder = work / f"instance-{n}"
        folder.mkdir(exist_ok=True)
        webhook = {
            "WEBHOOK_URL": balancer.url,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "WEBHOOK_LISTEN": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
        }
        instances.processes.append(await spawn([sys.executable, "-m", "bot"], {**env, **webhook}, folder))
    return instances


@dataclass
class Column:
    """One setup's figures for the engines table."""

    p99_10: float  # seconds
    p99_50: float
    paced: float  # updates/s
    cold: float  # seconds
    floods: int


def engines_table(columns: list[Column]) -> list[tuple[str, ...]]:
    """One row per measure, one column per setup (SETUPS), with a header row."""
    return [
        ("engines", *SETUPS[: len(columns)]),
        ("latency p99, 10 people at once", *(f"{c.p99_10 * 1000:,.0f} ms" for c in columns)),
        ("latency p99, 50 people at once", *(f"{c.p99_50 * 1000:,.0f} ms" for c in columns)),
        ("report conversations, full bot, paced", *(f"{c.paced:.1f} updates/s" for c in columns)),
        ("cold start to first answer", *(f"{c.cold:.2f} s" for c in columns)),
        ("flood errors", *(f"{c.floods}" for c in columns)),
    ]


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
