"""The offline playground's JSON API, played as the page plays it: the real bot, the emulator, a fresh database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.platform.config import ConfigError
from bot.platform.geo import load_service_area
from devtools.playground import (
    PERSONAS,
    PLAYGROUND_TOKEN,
    SAMPLE_PLACES,
    STAFF_GROUP_ID,
    Playground,
    places_in,
    playground_settings,
    resolve_port,
    sample_photo,
)

ROOT = Path(__file__).resolve().parent.parent
RESIDENT = 7001
TIMEOUT = 10.0
POST = {"X-Playground": "1"}


class Page:
    """What the chat page does over HTTP: act as a persona, and follow a chat by its journal cursor."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.cursors: dict[int, int] = {}
        self.seen: dict[int, dict[int, dict[str, Any]]] = {}

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(path, json=body, headers=POST)

    async def act(self, chat: int, action: str, persona: str = "resident", **body: Any) -> Any:
        response = await self.post(f"/api/chats/{chat}/{action}", {"persona": persona, **body})
        assert response.status_code == 200, response.text
        return response.json()

    async def follow(self, chat: int, wait: float = 2.0) -> list[dict[str, Any]]:
        """One poll: the messages of the chat that are new or changed since the last poll."""
        after = self.cursors.get(chat, 0)
        response = await self.client.get(f"/api/chats/{chat}/updates", params={"after": after, "wait": wait})
        data = response.json()
        self.cursors[chat] = data["cursor"]
        for message in data["messages"]:
            self.seen.setdefault(chat, {})[message["message_id"]] = message
        return list(data["messages"])

    async def expect(self, chat: int, found: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Polls until a message of the chat (as it is now) satisfies ``found``."""
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while True:
            for message in sorted(self.seen.get(chat, {}).values(), key=lambda m: m["message_id"]):
                if found(message):
                    return message
            if asyncio.get_running_loop().time() > deadline:
                shown = [m.get("text") for m in self.seen.get(chat, {}).values()]
                raise AssertionError(f"no such message in chat {chat}; the page shows {shown}")
            await self.follow(chat)

    async def expect_bot(self, chat: int, contains: str = "", after_id: int = 0) -> dict[str, Any]:
        return await self.expect(
            chat,
            lambda m: m["from"]["is_bot"] and m["message_id"] > after_id and contains in (m.get("text") or ""),
        )


def keyboard_labels(message: dict[str, Any]) -> list[str]:
    return [button["text"] for row in message.get("keyboard", {}).get("keyboard", []) for button in row]


def inline_button(message: dict[str, Any], label: str) -> dict[str, Any]:
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row if label in b["text"]]
    assert buttons, f"no button {label!r}"
    return buttons[0]


@pytest.fixture
async def playground(tmp_path: Path) -> AsyncIterator[Playground]:
    world = Playground(port=0, database_path=tmp_path / "playground.sqlite3", environ={}, env_file=None)
    await world.start()
    yield world
    await world.stop()


@pytest.fixture
async def page(playground: Playground) -> AsyncIterator[Page]:
    async with httpx.AsyncClient(base_url=playground.url.rstrip("/"), timeout=TIMEOUT + 5) as client:
        yield Page(client)


# ------------------------------------------------------------------------------------------ stories
async def test_the_page_and_its_world_are_served(playground: Playground, page: Page) -> None:
    html = await page.client.get("/")
    assert html.status_code == 200 and "/static/app.js" in html.text
    assert (await page.client.get("/static/app.js")).status_code == 200
    world = (await page.client.get("/api/world")).json()
    assert [p["key"] for p in world["personas"]] == ["resident", "vendor", "staff", "admin"]
    assert world["staff_group"]["id"] == STAFF_GROUP_ID
    assert {"command": "language", "description": "切换语言"} in world["commands"]["zh"]
    assert world["clock"]["timezone"] == "Asia/Shanghai"
    assert any(place["district"] is None for place in world["places"])


async def test_resident_starts_switches_to_english_by_button_and_it_is_stored(
    playground: Playground, page: Page
) -> None:
    await page.act(RESIDENT, "send", text="/start")
    menu = await page.expect_bot(RESIDENT, contains="王芳")
    assert "🌐 语言" in keyboard_labels(menu)

    await page.act(RESIDENT, "send", text="🌐 语言")  # tapping a reply-keyboard button sends its text
    chooser = await page.expect_bot(RESIDENT, contains="请选择语言")
    english = inline_button(chooser, "English")
    result = await page.act(RESIDENT, "press", message_id=chooser["message_id"], data=english["callback_data"])
    assert result["answer"] == {"text": None, "show_alert": False}

    edited = await page.expect(
        RESIDENT, lambda m: m["message_id"] == chooser["message_id"] and "Language set" in (m.get("text") or "")
    )
    assert edited["edit_date"] and "reply_markup" not in edited
    confirmation = await page.expect_bot(RESIDENT, contains="Here is the menu.")
    assert "📝 Report a problem" in keyboard_labels(confirmation)
    row = await playground.running().db.fetchone("SELECT language FROM users WHERE telegram_id = ?", (RESIDENT,))
    assert row is not None and row["language"] == "en"


async def test_a_stale_button_gets_an_alert_not_a_crash(page: Page) -> None:
    await page.act(RESIDENT, "send", text="/language")
    chooser = await page.expect_bot(RESIDENT, contains="请选择语言")
    result = await page.act(RESIDENT, "press", message_id=chooser["message_id"], data="forged:by:hand")
    assert result["answer"]["show_alert"] is True and result["answer"]["text"]


async def test_photo_upload_becomes_a_photo_update_and_is_viewable(playground: Playground, page: Page) -> None:
    picture = sample_photo(64, 48)
    response = await page.client.post(
        f"/api/chats/{RESIDENT}/photos",
        data={"persona": "resident", "caption": "路边垃圾"},
        files={"photo": ("street.png", picture, "image/png")},
        headers=POST,
    )
    assert response.status_code == 200, response.text
    (sent,) = response.json()["messages"]
    assert sent["caption"] == "路边垃圾" and "media_group_id" not in sent
    file_id = sent["photo"][-1]["file_id"]
    download = await page.client.get(f"/api/files/{file_id}")
    assert download.content == picture and download.headers["content-type"] == "image/png"

    answer = await page.expect_bot(RESIDENT, after_id=sent["message_id"])  # whichever journey claims it
    assert answer["text"] or answer.get("caption")
    # The bot can fetch the photo from the emulator's file endpoint, as from Telegram.
    bot_file = await page.client.get(f"/file/bot{PLAYGROUND_TOKEN}/{playground.emulator.files[file_id].path}")
    assert bot_file.content == picture


async def test_several_photos_go_as_one_album_and_no_file_means_the_sample(page: Page) -> None:
    files = [("photo", (f"p{n}.png", sample_photo(32, 24), "image/png")) for n in range(3)]
    response = await page.client.post(
        f"/api/chats/{RESIDENT}/photos", data={"persona": "resident"}, files=files, headers=POST
    )
    album = response.json()["messages"]
    assert len(album) == 3 and len({m["media_group_id"] for m in album}) == 1

    response = await page.client.post(f"/api/chats/{RESIDENT}/photos", data={"persona": "resident"}, headers=POST)
    (sample,) = response.json()["messages"]
    download = await page.client.get(f"/api/files/{sample['photo'][0]['file_id']}")
    assert download.headers["content-type"] == "image/png" and len(download.content) > 1000


async def test_location_contact_and_voice_arrive_as_telegram_shapes(playground: Playground, page: Page) -> None:
    place = SAMPLE_PLACES[0]
    shared = await page.act(RESIDENT, "location", latitude=place.latitude, longitude=place.longitude)
    assert shared["location"] == {"latitude": place.latitude, "longitude": place.longitude}
    contact = await page.act(RESIDENT, "contact")
    assert contact["contact"]["user_id"] == RESIDENT
    voice = await page.act(RESIDENT, "voice")
    download = await page.client.get(f"/api/files/{voice['voice']['file_id']}")
    assert download.headers["content-type"] == "audio/wav"
    await page.expect_bot(RESIDENT, after_id=voice["message_id"])  # the bot answered the last one too


async def test_a_reply_goes_as_a_reply_to_that_message(playground: Playground, page: Page) -> None:
    await page.act(RESIDENT, "send", text="/help")
    help_message = await page.expect_bot(RESIDENT)
    sent = await page.act(RESIDENT, "send", text="谢谢", reply_to=help_message["message_id"])
    assert sent["reply_to_message"]["message_id"] == help_message["message_id"]
    stored = playground.emulator.message(RESIDENT, sent["message_id"])
    assert stored["reply_to_message"]["text"] == help_message["text"]


async def test_staff_group_cards_show_their_latest_edit_without_reloading(playground: Playground, page: Page) -> None:
    await page.follow(STAFF_GROUP_ID, wait=0)
    bot = playground.application.bot if playground.application else None
    assert bot is not None
    waiting = asyncio.create_task(page.follow(STAFF_GROUP_ID, wait=8))
    card = await bot.send_message(STAFF_GROUP_ID, "<b>New report</b> #42: garbage")
    first = await asyncio.wait_for(waiting, TIMEOUT)  # the long poll woke up for the new card
    assert [m["text"] for m in first] == ["New report #42: garbage"]

    await bot.edit_message_text("Report #42: dispatched to team 3", chat_id=STAFF_GROUP_ID, message_id=card.message_id)
    (changed,) = await page.follow(STAFF_GROUP_ID)
    assert changed["message_id"] == card.message_id
    assert changed["text"] == "Report #42: dispatched to team 3" and changed["edit_date"]


async def test_telegram_language_switch_changes_how_the_bot_answers(page: Page) -> None:
    response = await page.post("/api/personas/resident/language", {"language_code": "en"})
    assert response.json() == {"key": "resident", "language_code": "en"}
    await page.act(RESIDENT, "send", text="/start")
    await page.expect_bot(RESIDENT, contains="Hello, 王芳!")


async def test_time_control_moves_the_bot_clock_and_wakes_the_listeners(playground: Playground, page: Page) -> None:
    services = playground.running()
    heard: list[Any] = []

    async def listener() -> None:
        heard.append(services.clock.now())

    services.time_listeners.append(listener)
    before = services.clock.now()
    response = await page.post("/api/clock", {"minutes": 60})
    assert response.status_code == 200
    clock = response.json()
    assert clock["offset_seconds"] == 3600
    assert len(heard) == 1 and heard[0] - before >= timedelta(hours=1)
    await page.act(RESIDENT, "send", text="/start")
    answer = await page.expect_bot(RESIDENT)
    assert answer["date"] >= int((before + timedelta(hours=1)).timestamp())  # message times follow the bot's clock


BAD_REQUESTS = [
    ("an unknown persona", "/api/chats/7001/send", {"persona": "mayor", "text": "hi"}, "no persona"),
    ("someone else's chat", "/api/chats/7002/send", {"persona": "resident", "text": "hi"}, "not in that chat"),
    (
        "a resident in the staff group",
        f"/api/chats/{STAFF_GROUP_ID}/send",
        {"persona": "resident", "text": "x"},
        "not in",
    ),
    ("an empty message", "/api/chats/7001/send", {"persona": "resident", "text": "  "}, "type something"),
    ("an over-long message", "/api/chats/7001/send", {"persona": "resident", "text": "长" * 4097}, "4096"),
    (
        "a reply to nothing",
        "/api/chats/7001/send",
        {"persona": "resident", "text": "a", "reply_to": 999},
        "not in this",
    ),
    ("words for coordinates", "/api/chats/7001/location", {"persona": "resident", "latitude": "north"}, "numbers"),
    (
        "coordinates off the globe",
        "/api/chats/7001/location",
        {"persona": "resident", "latitude": 95, "longitude": 1},
        "-90",
    ),
    (
        "a press on no message",
        "/api/chats/7001/press",
        {"persona": "resident", "message_id": 999, "data": "x"},
        "not in",
    ),
    ("a clock going backwards", "/api/clock", {"minutes": -5}, "forward"),
    ("a clock jump of a year", "/api/clock", {"minutes": 525600}, "31 days"),
    ("a clock in words", "/api/clock", {"minutes": "soon"}, "whole number"),
    ("a made-up language code", "/api/personas/resident/language", {"language_code": "x" * 40}, "language code"),
]


@pytest.mark.parametrize(("case", "path", "body", "hint"), BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
async def test_bad_requests_get_a_clear_answer_and_change_nothing(
    playground: Playground, page: Page, case: str, path: str, body: dict[str, Any], hint: str
) -> None:
    journal, offset = len(playground.emulator.journal), playground.running().clock.offset
    response = await page.post(path, body)
    assert response.status_code == 400
    assert hint in response.json()["error"]
    assert len(playground.emulator.journal) == journal
    assert playground.running().clock.offset == offset


async def test_a_file_that_is_not_a_photo_is_refused(playground: Playground, page: Page) -> None:
    response = await page.client.post(
        f"/api/chats/{RESIDENT}/photos",
        data={"persona": "resident"},
        files={"photo": ("notes.txt", b"just text", "image/png")},
        headers=POST,
    )
    assert response.status_code == 400 and "notes.txt is not a photo" in response.json()["error"]
    assert not playground.emulator.journal


async def test_another_web_page_cannot_act_in_the_playground(playground: Playground, page: Page) -> None:
    response = await page.client.post(f"/api/chats/{RESIDENT}/send", json={"persona": "resident", "text": "hi"})
    assert response.status_code == 403
    assert not playground.emulator.journal


# ------------------------------------------------------------------------------------------ settings
def test_settings_need_no_token_and_force_what_the_playground_owns(tmp_path: Path) -> None:
    environ = {"TIMEZONE": "Asia/Chongqing", "WEBHOOK_URL": "https://example.org/hook", "STAFF_CHAT_ID": "-5"}
    settings = playground_settings("http://127.0.0.1:1/bot", "http://127.0.0.1:1/file/bot", tmp_path / "p.db", environ)
    assert settings.bot_token == PLAYGROUND_TOKEN
    assert settings.api_base_url == "http://127.0.0.1:1/bot" and settings.database_path == tmp_path / "p.db"
    assert settings.staff_chat_id == STAFF_GROUP_ID and not settings.use_webhook
    assert settings.admin_ids == frozenset({next(p.user_id for p in PERSONAS if p.role == "admin")})
    assert str(settings.timezone) == "Asia/Chongqing"  # the rest still comes from the environment


@pytest.mark.parametrize(
    ("cli", "environ", "expected"),
    [(None, {}, 8080), (None, {"PLAYGROUND_PORT": "9000"}, 9000), (9100, {"PLAYGROUND_PORT": "9000"}, 9100)],
)
def test_port_comes_from_the_flag_then_the_environment(cli: int | None, environ: dict[str, str], expected: int) -> None:
    assert resolve_port(cli, environ, env_file=None) == expected


def test_port_may_come_from_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PLAYGROUND_PORT=8181\n")
    assert resolve_port(None, {}, env_file=tmp_path / ".env") == 8181
    assert resolve_port(None, {"PLAYGROUND_PORT": "8282"}, env_file=tmp_path / ".env") == 8282


@pytest.mark.parametrize("raw", ["eighty", "70000", "-1"])
def test_a_bad_port_is_named(raw: str) -> None:
    with pytest.raises(ConfigError, match="PLAYGROUND_PORT is invalid"):
        resolve_port(None, {"PLAYGROUND_PORT": raw}, env_file=None)


def test_sample_places_lie_where_they_say() -> None:
    places = {place["key"]: place for place in places_in(load_service_area())}
    outside = {key for key, place in places.items() if place["district"] is None}
    assert outside == {"outside-tower"}
    assert places["edz-dongfeng"]["district"] == "wuhan-edz"
    assert places["yc-square"]["district"] == "cq-yongchuan" and places["hj-huayuankou"]["district"] == "zz-huiji"


# ---------------------------------------------------------------------------------- the real command
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def playground_env(**values: str) -> dict[str, str]:
    """No BOT_TOKEN and nothing else from the developer's shell."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")}
    env.update(values)
    return env


async def test_python_m_bot_playground_runs_without_a_token_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "playground.sqlite3").write_bytes(b"left over from last time, not a database")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "playground",
        cwd=tmp_path,
        env=playground_env(PLAYGROUND_PORT=str(port)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert f"http://127.0.0.1:{port}/" in line
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await client.post(
                f"/api/chats/{RESIDENT}/send", json={"persona": "resident", "text": "/start"}, headers=POST
            )
            page = Page(client)
            await page.expect_bot(RESIDENT, contains="王芳")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_a_taken_port_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "playground",
            "--port",
            str(port),
            cwd=tmp_path,
            env=playground_env(),
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in stderr.decode() and "Traceback" not in stderr.decode()


async def test_the_staff_persona_is_an_officer_the_admin_can_dispatch_to(playground: Playground) -> None:
    from bot.people import staff

    services = playground.services
    member = await staff.get_member(services.db, 7003, services.settings.admin_ids)
    assert member is not None and member.role == staff.Role.OFFICER
    officers = await staff.officers(services.db)
    assert [officer.telegram_id for officer in officers] == [7003]
    admin = await staff.get_member(services.db, 7004, services.settings.admin_ids)
    assert admin is not None and admin.role == staff.Role.ADMIN
