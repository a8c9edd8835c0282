"""One `python -m bot` in polling mode with HTTP_PORT: a case POSTed over Open311 reaches the staff group with no
other process running."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import httpx

from devtools.emulator import BotAPIEmulator
from tests.support.driver import text_of
from tests.test_process import bot_env

STAFF_GROUP = -100500600
KEY = "process-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_polling_with_http_port_files_an_open311_post_as_a_card(emulator: BotAPIEmulator, tmp_path: Path) -> None:
    emulator.add_group(STAFF_GROUP, "City management staff")
    port = free_port()
    env = bot_env(
        BOT_TOKEN=emulator.token,
        BOT_API_BASE_URL=emulator.base_url,
        STAFF_CHAT_ID=str(STAFF_GROUP),
        DEFAULT_LANGUAGE="en",
        HTTP_PORT=str(port),
        OPEN311_API_KEYS=KEY,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            for _ in range(300):  # the process starts: the bot first, then its HTTP side
                try:
                    if (await client.get(f"{root}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            response = await client.post(
                f"{root}/open311/v2/requests.json",
                data={
                    "api_key": KEY,
                    "service_code": "manhole",
                    "lat": "30.48",
                    "long": "114.15",
                    "description": "Manhole cover missing on the cycle lane",
                },
            )
        assert response.status_code == 200, response.text
        number = response.json()[0]["service_request_id"]

        def card_arrived() -> bool:
            return any(f"New report {number}" in text_of(m) for m in emulator.inbox.get(STAFF_GROUP, []))

        await emulator.wait_for(card_arrived, timeout=20)
        [card] = [m for m in emulator.inbox[STAFF_GROUP] if f"New report {number}" in text_of(m)]
        assert "Open or broken manhole cover" in text_of(card) and "Reporter: anonymous" in text_of(card)
        assert card.get("reply_markup", {}).get("inline_keyboard")  # the desk's buttons: it can be worked
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert KEY not in stderr.decode() and "Traceback" not in stderr.decode()
