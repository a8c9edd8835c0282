"""The map Mini App in the chat: its buttons (only with WEBAPP_URL), and what its page sends (``web_app_data``):
"remind me" on a spot subscribes the vendor, "report here" continues the report wizard at the pin's place."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.platform.gcj02 import wgs84_to_gcj02
from bot.web import Metrics, WebServer
from bot.webapp.init_data import sign
from tests.support.driver import Person, TestBed, eventually, inline_buttons, text_of
from tests.support.report_steps import count_rows, draft_step

URL = "https://city.example/app/"
PIN = (30.4805, 114.1520)  # in Wuhan's development zone, away from every sample case
BEIJING = (39.9042, 116.4074)  # outside the service area


def web_app_buttons(message: dict[str, Any]) -> list[str]:
    """The URLs of the Mini App buttons a message carries, inline or under the input field."""
    rows = [*(message.get("reply_markup") or {}).get("inline_keyboard", [])]
    rows += (message.get("_keyboard") or {}).get("keyboard", [])
    return [
        button["web_app"]["url"] for row in rows for button in row if isinstance(button, dict) and "web_app" in button
    ]


async def start_with_map(bed: TestBed, **env: str) -> None:
    bed.env.update({"WEBAPP_URL": URL, **env})
    await bed.start()


async def spot_id(bed: TestBed, external_id: str) -> int:
    row = await bed.db.fetchone("SELECT id FROM spots WHERE external_id = ?", (external_id,))
    return int(row["id"])


async def open_report_at_location_step(resident: Person) -> dict[str, Any]:
    await resident.send("/report")
    categories = await resident.expect_message(contains="Choose a category")
    await resident.press(categories, "Exposed garbage")
    return await resident.expect_message(contains="Where is it?")


# ------------------------------------------------------------------ the buttons
async def test_without_webapp_url_there_is_no_map_button_anywhere(bed: TestBed) -> None:
    resident = bed.person(6001, "Ann", language_code="en")
    location_step = await open_report_at_location_step(resident)
    await resident.send("/cancel")
    await resident.expect_message(contains="Report cancelled")
    await resident.send("/sell")
    choices = await resident.expect_message(contains="Where and when may you sell?")
    assert web_app_buttons(location_step) == [] and web_app_buttons(choices) == []
    assert not [call for call in bed.emulator.calls if call.method.lower() == "setchatmenubutton"]


async def test_with_webapp_url_the_menus_and_the_menu_button_open_the_map(idle_bed: TestBed) -> None:
    await start_with_map(idle_bed)
    menu_calls = [call for call in idle_bed.emulator.calls if call.method.lower() == "setchatmenubutton"]
    assert len(menu_calls) == 1
    button = menu_calls[0].params["menu_button"]
    button = json.loads(button) if isinstance(button, str) else button
    assert button["type"] == "web_app" and button["web_app"]["url"] == URL and button["text"] == "🗺 打开地图"

    resident = idle_bed.person(6002, "Ann", language_code="en")
    await resident.send("/report")
    categories = await resident.expect_message(contains="Choose a category")
    assert web_app_buttons(categories) == [URL]
    await resident.press(categories, "Exposed garbage")
    location_step = await resident.expect_message(contains="Where is it?")
    assert web_app_buttons(location_step) == [URL]  # a keyboard button: sendData reaches the chat from it
    await resident.send("/cancel")
    await resident.expect_message(contains="Report cancelled")
    await resident.send("/sell")
    choices = await resident.expect_message(contains="Where and when may you sell?")
    assert web_app_buttons(choices) == [URL]
    assert "🗺 Open the map" in [button["text"] for button in inline_buttons(choices)]


# ------------------------------------------------------------------ "remind me" from a spot's popup
async def test_subscribing_from_the_map_subscribes_and_plans_the_reminder(idle_bed: TestBed) -> None:
    await start_with_map(idle_bed)
    vendor = idle_bed.person(6003, "Li", language_code="en")
    night_market = await spot_id(idle_bed, "wh-001")
    await vendor.send_web_app_data(json.dumps({"action": "subscribe", "spot": night_market}))
    answer = await vendor.expect_message(contains="I will remind you before")
    assert "Zhuankou night market point" in text_of(answer)
    rows = await idle_bed.db.fetchall("SELECT user_id, spot_id FROM subscriptions")
    assert [(row["user_id"], row["spot_id"]) for row in rows] == [(6003, night_market)]
    reminders = await idle_bed.db.fetchall(
        "SELECT kind FROM reminders WHERE target = ? AND state = 'pending'", (f"spot:{night_market}:user:6003",)
    )
    assert reminders, "subscribing plans the reminder before the spot opens"

    await vendor.send_web_app_data(json.dumps({"action": "subscribe", "spot": 999999}))
    await vendor.expect_message(contains="That spot no longer exists")
    assert await count_rows(idle_bed, "subscriptions") == 1


async def test_what_the_page_never_sends_is_answered_and_changes_nothing(idle_bed: TestBed) -> None:
    await start_with_map(idle_bed)
    someone = idle_bed.person(6004, "Eve", language_code="en")
    forged = [
        "not json",
        json.dumps({"action": "subscribe", "spot": "1"}),
        json.dumps({"action": "report", "category": "weapons", "lat": 30.48, "lon": 114.15}),
        json.dumps({"action": "report", "category": "garbage", "lat": "30.48", "lon": 114.15}),
        json.dumps([1, 2, 3]),
        "[" * 5000,
    ]
    for data in forged:
        await someone.send_web_app_data(data)
        await someone.expect_message(contains="I could not read what the map sent")
    assert await count_rows(idle_bed, "subscriptions") == 0
    assert await count_rows(idle_bed, "report_drafts") == 0


# ------------------------------------------------------------------ "report here"
async def test_report_here_continues_the_wizard_at_the_pins_place(idle_bed: TestBed) -> None:
    await start_with_map(idle_bed)
    resident = idle_bed.person(6005, "Ann", language_code="en")
    await open_report_at_location_step(resident)
    # On the map: the pin dragged to PIN, the category changed to a broken street light, "send to the chat".
    await resident.send_web_app_data(
        json.dumps({"action": "report", "category": "facility", "lat": PIN[0], "lon": PIN[1]})
    )
    await resident.expect_message(contains="From the map: 💡 Street light, road, public facility at")
    await resident.expect_message(contains="Please describe the problem")
    assert await draft_step(idle_bed, 6005) == "description"
    await resident.send("The street light by the bus stop has been dark for a week.")
    photos = await resident.expect_message(contains="photo")
    await resident.press(photos, "Skip")
    review = await resident.expect_message(contains="Submit")
    await resident.press(review, "Submit")
    await resident.expect_message(contains="Thank you")
    row = await idle_bed.db.fetchone("SELECT category, lat, lon, district, reporter_id FROM reports")
    assert (row["category"], row["lat"], row["lon"], row["district"]) == ("facility", *PIN, "wuhan-edz")
    assert row["reporter_id"] == 6005


async def test_report_here_starts_the_wizard_from_the_menu_button_too_and_refuses_a_place_outside(
    idle_bed: TestBed,
) -> None:
    await start_with_map(idle_bed)
    resident = idle_bed.person(6006, "Bo", language_code="en")
    await resident.send_web_app_data(
        json.dumps({"action": "report", "category": "garbage", "lat": BEIJING[0], "lon": BEIJING[1]})
    )
    await resident.expect_message(contains="outside the area we serve")
    assert await draft_step(idle_bed, 6006) == "location"
    await resident.share_location(*PIN)  # the wizard waits for the place, the category already chosen
    await resident.expect_message(contains="Location received")
    await resident.expect_message(contains="Please describe the problem")
    assert await count_rows(idle_bed, "reports") == 0


async def test_with_chinese_tiles_the_pin_is_converted_back_to_wgs84(idle_bed: TestBed) -> None:
    await start_with_map(idle_bed, MAP_TILE_CRS="gcj02")
    resident = idle_bed.person(6007, "Chen", language_code="en")
    shown = wgs84_to_gcj02(*PIN)  # where the pin sits on GCJ-02 tiles
    await resident.send_web_app_data(
        json.dumps({"action": "report", "category": "garbage", "lat": shown[0], "lon": shown[1]})
    )
    await resident.expect_message(contains="From the map")
    await resident.expect_message(contains="Please describe the problem")
    row = await idle_bed.db.fetchone("SELECT data FROM report_drafts WHERE telegram_id = 6007")
    draft = json.loads(row["data"])
    assert abs(draft["lat"] - PIN[0]) < 1e-7 and abs(draft["lon"] - PIN[1]) < 1e-7


# ------------------------------------------------------------------ opened from an inline or the menu button
@dataclass
class PageApi:
    """The page's own POST /app/api/send, which it uses when Telegram cannot carry sendData."""

    bed: TestBed
    port: int

    async def send(self, person: Person, data: Any, init_data: str | None = None) -> httpx.Response:
        assert self.bed.settings is not None and self.bed.services is not None
        signed = sign(self.bed.settings.bot_token, dict(person.user), self.bed.services.clock.now(), query_id="AAH1")
        async with httpx.AsyncClient(trust_env=False) as client:
            return await client.post(
                f"http://127.0.0.1:{self.port}/app/api/send",
                json={"data": data if isinstance(data, str) else json.dumps(data)},
                headers={"X-Telegram-Init-Data": signed if init_data is None else init_data},
            )


@pytest.fixture
async def page(idle_bed: TestBed) -> AsyncIterator[PageApi]:
    await start_with_map(idle_bed)
    assert idle_bed.services is not None
    server = WebServer(idle_bed.services, Metrics())
    port = await server.start("127.0.0.1", 0)
    yield PageApi(idle_bed, port)
    await server.stop()


async def test_from_the_menu_button_report_here_keeps_the_place_and_continue_resumes_the_wizard(page: PageApi) -> None:
    resident = page.bed.person(6008, "Dai", language_code="en")
    response = await page.send(resident, {"action": "report", "category": "garbage", "lat": PIN[0], "lon": PIN[1]})
    assert response.status_code == 200
    assert await draft_step(page.bed, 6008) == "duplicates"
    invitation = await resident.expect_message(contains="From the map: 🗑 Exposed garbage, sanitation at")
    await resident.press(invitation, "Continue")
    await resident.expect_message(contains="Please describe the problem")
    row = await page.bed.db.fetchone("SELECT data FROM report_drafts WHERE telegram_id = 6008")
    draft = json.loads(row["data"])
    assert (draft["category"], draft["lat"], draft["lon"]) == ("garbage", *PIN)


async def test_from_the_menu_button_subscribing_answers_in_the_chat(page: PageApi) -> None:
    vendor = page.bed.person(6009, "Fan", language_code="en")
    night_market = await spot_id(page.bed, "wh-001")
    response = await page.send(vendor, {"action": "subscribe", "spot": night_market})
    assert response.status_code == 200 and "I will remind you" in response.json()["sent"]
    await vendor.expect_message(contains="I will remind you before Zhuankou night market point opens")
    assert await count_rows(page.bed, "subscriptions") == 1


async def test_the_pages_send_refuses_what_it_cannot_do_and_changes_nothing(page: PageApi) -> None:
    someone = page.bed.person(6010, "Gu", language_code="en")
    refused = [
        ({"action": "subscribe", "spot": 999999}, None, 409, "no longer exists"),
        ({"action": "report", "category": "garbage", "lat": BEIJING[0], "lon": BEIJING[1]}, None, 409, "outside"),
        ({"action": "dance"}, None, 400, "subscribe or report"),
        ("{", None, 400, "subscribe or report"),
        ({"action": "subscribe", "spot": 1}, "", 401, "missing"),
        ({"action": "subscribe", "spot": 1}, "auth_date=1&hash=00&user=%7B%7D", 401, "not signed"),
    ]
    for data, init_data, status, hint in refused:
        response = await page.send(someone, data, init_data)
        assert response.status_code == status, data
        assert hint in response.json()["error"], data
    await someone.expect_no_message()
    assert await count_rows(page.bed, "subscriptions") == 0
    assert await count_rows(page.bed, "report_drafts") == 0


async def test_the_nearest_spots_open_the_map_at_the_vendors_place(idle_bed: TestBed) -> None:
    await start_with_map(idle_bed)
    vendor = idle_bed.person(6011, "He", language_code="en")
    await vendor.send("/sell")
    choices = await vendor.expect_message(contains="Where and when may you sell?")
    await vendor.press(choices, "Where can I sell now?")
    await vendor.expect_message(contains="share your location")
    await vendor.share_location(30.5, 114.16)

    async def map_at_the_place() -> bool:
        urls = [url for message in idle_bed.emulator.inbox.get(vendor.id, []) for url in web_app_buttons(message)]
        return f"{URL}?lat=30.50000&lon=114.16000" in urls

    assert await eventually(map_at_the_place)
