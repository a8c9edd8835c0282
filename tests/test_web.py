"""Operations over HTTP: the bot in webhook mode end to end, the secret token, /healthz and /metrics."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import BotApplication, build_application, start_webhook, stop_webhook
from bot.platform.config import load_settings
from bot.platform.logs import KeyValueFormatter
from bot.platform.services import Services
from bot.web import SECRET_HEADER, Metrics, WebServer
from tests.support.driver import TestBed, eventually
from tests.support.report_steps import file_behind_the_scenes

SECRET = "s3cret-token_for-tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def webhook_bed(idle_bed: TestBed) -> AsyncIterator[tuple[TestBed, BotApplication, str]]:
    """The bot in webhook mode: the emulator POSTs every update to it, as Telegram does."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    idle_bed.env.update(
        {"WEBHOOK_URL": url, "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port), "WEBHOOK_SECRET": SECRET}
    )
    idle_bed.settings = idle_bed.make_settings()
    idle_bed.services = Services(idle_bed.settings)
    application = build_application(idle_bed.settings, idle_bed.services)
    await start_webhook(application, idle_bed.settings)
    yield idle_bed, application, f"http://127.0.0.1:{port}"
    await stop_webhook(application)


async def test_the_bot_answers_through_the_webhook(webhook_bed: tuple[TestBed, BotApplication, str]) -> None:
    bed, _, base = webhook_bed
    assert bed.emulator.webhook_url == f"{base}/telegram/webhook"
    assert bed.emulator.webhook_secret == SECRET
    assert bed.emulator.calls_of("getUpdates") == []  # nobody polls

    alice = bed.person(7001, "Alice", "en")
    await alice.send("/start")
    await alice.expect_message(contains="Hello, Alice!")
    await alice.send("/help")
    await alice.expect_message(contains="What I can do")
    row = await bed.db.fetchone("SELECT first_name FROM users WHERE telegram_id = 7001")
    assert row["first_name"] == "Alice"


@pytest.mark.parametrize(
    ("description", "headers", "body", "status"),
    [
        ("no secret at all", {}, {"update_id": 1}, 403),
        ("a wrong secret", {SECRET_HEADER: "guessed"}, {"update_id": 1}, 403),
        ("the secret with a letter changed", {SECRET_HEADER: SECRET[:-1] + "X"}, {"update_id": 1}, 403),
        ("the right secret, not an update", {SECRET_HEADER: SECRET}, ["nonsense"], 400),
    ],
)
async def test_the_webhook_refuses_what_telegram_did_not_send(
    webhook_bed: tuple[TestBed, BotApplication, str],
    description: str,
    headers: dict[str, str],
    body: object,
    status: int,
) -> None:
    bed, application, base = webhook_bed
    metrics: Metrics = application.bot_data["metrics"]
    handled_before = metrics.handled
    forged = {
        "update_id": 999,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 7002, "type": "private"},
            "from": {"id": 7002, "is_bot": False, "first_name": "Mallory"},
            "text": "/start",
        },
    }
    payload = forged if body == {"update_id": 1} else body
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"{base}/telegram/webhook", json=payload, headers=headers)
    assert response.status_code == status, description
    assert metrics.handled == handled_before
    assert await bed.db.fetchone("SELECT 1 FROM users WHERE telegram_id = 7002") is None
    async with httpx.AsyncClient(trust_env=False) as client:
        scraped = (await client.get(f"{base}/metrics")).text
    assert "citybot_webhook_refused_total 1.0" in scraped


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("description", "body", "status"),
    [
        ("a message that is a string, no update id", b'{"message":"x"}', 400),
        ("a message that is a string", b'{"update_id":5,"message":"x"}', 200),
        ("a message missing its date and chat", b'{"update_id":6,"message":{"message_id":1}}', 200),
        ("a chat without its type", b'{"update_id":7,"message":{"message_id":1,"date":0,"chat":{"id":1}}}', 200),
        ("a date past any clock", b'{"update_id":8,"message":{"message_id":1,"date":1e30,"chat":{"id":1}}}', 200),
        ("a button press without its chat instance", b'{"update_id":9,"callback_query":{"id":"1"}}', 200),
        ("nesting inside an update", f'{{"update_id":10,"message":{nested(500)}}}'.encode(), 200),
        ("nesting deeper than the parser goes", f'{{"update_id":11,"message":{nested(50_000)}}}'.encode(), 400),
        ("a list", b'["nonsense"]', 400),
        ("a number", b"5", 400),
        ("null", b"null", 400),
        ("an update id that is text", b'{"update_id":"12"}', 400),
        ("invalid JSON", b'{"update_id": 13, "message": {', 400),
        ("not UTF-8", b'{"update_id": 14, "x": "\xff"}', 400),
    ],
)
async def test_a_badly_shaped_update_with_the_right_secret_is_dropped_with_a_warning(
    webhook_bed: tuple[TestBed, BotApplication, str],
    caplog: pytest.LogCaptureFixture,
    description: str,
    body: bytes,
    status: int,
) -> None:
    """Never a 5xx, which Telegram would retry for ever: 400 for what is no update, 200 for one PTB cannot read."""
    bed, application, base = webhook_bed
    metrics: Metrics = application.bot_data["metrics"]
    caplog.set_level(logging.WARNING)
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"{base}/telegram/webhook", content=body, headers=headers)
    assert response.status_code == status, description
    warnings = [r for r in caplog.records if r.name == "bot.web" and r.levelno == logging.WARNING]
    assert any("webhook:" in r.getMessage() for r in warnings), description
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == [], description
    assert metrics.handled == 0

    alice = bed.person(7003, "Alice", "en")  # and the bot goes on answering
    await alice.send("/start")
    await alice.expect_message(contains="Hello, Alice!")


async def test_health_and_metrics_beside_the_webhook(webhook_bed: tuple[TestBed, BotApplication, str]) -> None:
    bed, application, base = webhook_bed
    async with httpx.AsyncClient(trust_env=False) as client:
        before = (await client.get(f"{base}/healthz")).json()
    assert before == {"status": "ok", "database": "ok", "last_update_at": None, "updates_handled": 0}

    await file_behind_the_scenes(bed, 7003)
    bob = bed.person(7003, "Bob", "en")
    await bob.send("/start")
    await bob.expect_message(contains="Hello, Bob!")
    metrics: Metrics = application.bot_data["metrics"]

    async def counted() -> bool:
        return metrics.handled >= 1

    await eventually(counted)

    async with httpx.AsyncClient(trust_env=False) as client:
        health = await client.get(f"{base}/healthz")
        scraped = await client.get(f"{base}/metrics")
    assert health.status_code == 200
    assert health.json()["last_update_at"] is not None and health.json()["updates_handled"] >= 1
    assert scraped.headers["Content-Type"].startswith("text/plain")
    text = scraped.text
    assert "citybot_updates_handled_total 1.0" in text
    assert 'citybot_update_seconds_bucket{le="+Inf"} 1.0' in text
    assert "citybot_update_seconds_count 1.0" in text
    assert 'citybot_reports{state="submitted"} 1.0' in text
    assert 'citybot_reports{state="closed"} 0.0' in text
    assert "citybot_outbox_backlog " in text
    pending = await bed.db.fetchone("SELECT COUNT(*) FROM reminders WHERE state = 'pending'")
    assert f"citybot_reminders_pending {float(pending[0])}" in text


async def test_health_says_503_when_the_database_is_gone(tmp_path: object) -> None:
    settings = load_settings({"BOT_TOKEN": "123456:health-test-token-aaaaaaaaaaaa"}, env_file=None)
    services = Services(settings)  # never opened: the database cannot be reached
    server = WebServer(services, Metrics())
    port = await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.get(f"http://127.0.0.1:{port}/healthz")
            metrics = await client.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        await server.stop()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable" and response.json()["database"] == "unreachable"
    assert metrics.status_code == 503


def test_a_webhook_needs_its_secret() -> None:
    settings = load_settings({"BOT_TOKEN": "123456:health-test-token-aaaaaaaaaaaa"}, env_file=None)
    with pytest.raises(ValueError, match="secret"):
        WebServer(Services(settings), Metrics(), webhook_path="/hook", webhook_secret=None)


# ------------------------------------------------------------------ logs
def test_log_lines_are_single_key_value_lines_with_the_token_masked() -> None:
    token = "123456:AAE-very-secret-token-value"
    formatter = KeyValueFormatter((token,))
    record = logging.LogRecord(
        "bot.app", logging.ERROR, __file__, 1, "call to %s failed\nsecond line", (f"/bot{token}/getMe",), None
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "\n" not in line
    assert token not in line and "<token>" in line
    assert line.startswith("ts=") and " level=ERROR logger=bot.app " in line
    assert 'msg="call to /bot<token>/getMe failed\\nsecond line"' in line
    assert 'exc="Traceback' in line
