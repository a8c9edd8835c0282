"""Open311 intake: another channel POSTs requests.json and the case is filed like one from Telegram — public
number, deadline, duplicate check, the staff group's card — read back with a real Open311 client (georeport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cases import area_alerts
from bot.cases.config import policy_from
from bot.cases.intake_open311 import Open311Intake
from bot.platform.config import load_settings
from bot.platform.services import Services
from bot.web import Metrics, WebServer
from tests.support.driver import TestBed, text_of
from tests.support.report_steps import HOME, north_of
from tests.support.staff_steps import ADMIN_ID, STAFF_GROUP, enlist, next_with, staff_env, wait_for_card

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "other-key-0123456789abcdef"
TOKEN = "123456:open311-intake-token-aaaaaaaaaa"


@pytest.fixture
async def desk_with_http(idle_bed: TestBed) -> AsyncIterator[tuple[TestBed, str]]:
    """The bot with a staff group, and its HTTP endpoints served beside it as polling mode with HTTP_PORT does."""
    bed = idle_bed
    bed.env = {**staff_env(), "OPEN311_API_KEYS": f"{KEY}, {OTHER_KEY}"}
    bed.group(STAFF_GROUP, "City management staff")
    bed.person(ADMIN_ID, "Admin", "en")
    await bed.start()
    assert bed.application is not None
    data = bed.application.bot_data
    server = WebServer(data["services"], data["metrics"], intake=data["open311_intake"])
    port = await server.start("127.0.0.1", 0)
    yield bed, f"http://127.0.0.1:{port}/open311/v2"
    await server.stop()


async def post(root: str, form: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.post(f"{root}/requests.json", data=form)


async def test_an_open311_post_becomes_a_card_in_the_staff_group(
    desk_with_http: tuple[TestBed, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bed, root = desk_with_http
    assert bed.services is not None
    dana = bed.person(6010, "Dana", "en")
    await enlist(bed, dana, "dispatcher")
    room = dana.in_group(bed.emulator.chats[STAFF_GROUP])
    neighbour = bed.person(6001, "Neighbour", language_code="en")
    await area_alerts.subscribe(
        bed.db, 6001, "near", "instant", bed.services.clock.now(), bed.desk, lat=HOME[0], lon=HOME[1], radius_m=1000
    )
    response = await post(
        root,
        {
            "api_key": KEY,
            "service_code": "facility",
            "lat": str(HOME[0]),
            "long": str(HOME[1]),
            "description": "Street lamp out at the school gate <b>since</b> Monday",
            "first_name": "Zhang",
            "last_name": "San",
            "email": "zhang@example.com",
            "phone": "+86 138 0000 0000",
            "media_url": "https://example.com/lamp.jpg",
        },
    )
    assert response.status_code == 200, response.text
    [answer] = response.json()
    number = answer["service_request_id"]
    assert number.startswith("R") and answer["service_notice"] == "Handled within 14 office hours."

    report = await bed.db.fetchone("SELECT * FROM reports WHERE public_no = ?", (number,))
    assert (report["reporter_id"], report["follower_count"], report["anonymous"], report["district"]) == (
        0,
        0,
        0,
        "wuhan-edz",
    )
    assert report["due_at"] > report["created_at"]
    origin = await bed.db.fetchone("SELECT * FROM report_origins WHERE report_id = ?", (report["id"],))
    assert (origin["channel"], origin["email"], origin["media_url"]) == (
        "open311",
        "zhang@example.com",
        "https://example.com/lamp.jpg",
    )
    assert KEY not in str(dict(origin))  # a fingerprint, never the key
    assert await bed.db.fetchone("SELECT 1 FROM report_followers WHERE report_id = ?", (report["id"],)) is None

    card = await next_with(room, f"New report {number}")
    text = text_of(card)
    assert f"New report {number}" in text and "Reporter: Zhang San" in text
    assert "<b>since</b> Monday" in text  # shown as typed: escaped, not taken for markup
    assert "an Open311 client: media_url: https://example.com/lamp.jpg" in text
    alert = await neighbour.expect_message(contains=number)
    assert "Zhang" not in text_of(alert)

    # The desk works it like any case; nobody in Telegram follows it, so nobody is told (and nothing fails).
    await room.expect_answer(await room.press(card, "Accept"))
    card = await wait_for_card(bed, room, card, "State: accepted")
    assert "accepted — Dana" in text_of(card)
    failed = await bed.db.fetchall(
        "SELECT chat_id, method, state, error FROM outbox WHERE chat_id = 0 OR state = 'failed'"
    )
    assert [tuple(r) for r in failed] == []

    # Such a case has nobody in Telegram to block: the admin is told so, nothing is written, the channel goes on.
    admin = bed.person(ADMIN_ID, "Admin", "en")
    await admin.send(f"/block {number} spam")
    said = await next_with(admin, "no reporter in Telegram")
    assert "another channel" in text_of(said)
    assert await bed.db.fetchall("SELECT telegram_id FROM blocked_people") == []
    again = await post(root, {"api_key": KEY, "service_code": "other", "address_string": "Dongfeng Ave, 武汉经开区"})
    assert again.status_code == 400  # no description: refused for that, not for the block
    again = await post(
        root,
        {"api_key": KEY, "service_code": "other", "address_string": "东风大道, 武汉经开区", "description": "Again"},
    )
    assert again.status_code == 200, again.text

    from georeport import GeoReport

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the client uses requests, which honours proxy settings
    client = GeoReport(root, api_key=KEY)
    one = await asyncio.to_thread(client.get_service_request, number)
    assert one["service_request_id"] == number and one["status"] == "open" and one["service_code"] == "facility"
    assert "Zhang" not in str(one) and "example.com" not in str(one)  # the sender's details stay with staff
    definition = await asyncio.to_thread(client.get_service_definition, "facility")
    assert definition == {"service_code": "facility", "attributes": []}


async def test_an_address_names_the_district_and_a_second_post_hears_of_the_first(
    desk_with_http: tuple[TestBed, str],
) -> None:
    bed, root = desk_with_http
    by_address = await post(
        root,
        {
            "api_key": OTHER_KEY,
            "service_code": "garbage",
            "address_string": "No. 8 Jingkai Avenue, 武汉经开区",
            "description": "Bins overflowing for three days",
        },
    )
    assert by_address.status_code == 200, by_address.text
    row = await bed.db.fetchone(
        "SELECT lat, district, anonymous, address_text FROM reports WHERE public_no = ?",
        (by_address.json()[0]["service_request_id"],),
    )
    assert tuple(row) == (None, "wuhan-edz", 1, "No. 8 Jingkai Avenue, 武汉经开区")  # anonymous: no name given

    form = {"api_key": KEY, "service_code": "noise", "description": "Loud music every night after midnight"}
    here, there = north_of(HOME, 20), north_of(HOME, 60)
    first = await post(root, {**form, "lat": str(here[0]), "long": str(here[1])})
    second = await post(root, {**form, "lat": str(there[0]), "long": str(there[1])})
    number = first.json()[0]["service_request_id"]
    assert second.status_code == 200
    assert f"The same problem was already reported nearby as {number}" in second.json()[0]["service_notice"]


CASES = [
    ("no key", {"api_key": None}, 403, "api_key is missing or not valid"),
    ("a wrong key", {"api_key": "not-the-key-0123456789"}, 403, "api_key is missing or not valid"),
    ("an unknown service", {"service_code": "potholes"}, 404, "unknown service_code: potholes"),
    ("no service", {"service_code": None}, 400, "service_code is required"),
    ("no location", {"lat": None, "long": None}, 400, "a location is required: lat and long, or address_string"),
    ("lat without long", {"long": None}, 400, "lat and long go together: give both, or address_string instead"),
    ("outside the city", {"lat": "39.9042", "long": "116.4074"}, 400, "the location is outside the service area"),
    ("not a number", {"lat": "nan"}, 400, "lat is not a decimal number of degrees"),
    ("off the globe", {"long": "181"}, 400, "long is out of range"),
    ("no description", {"description": " "}, 400, "description is required"),
    ("only control characters", {"description": "\x00\x07\u202e"}, 400, "description is required"),
    ("too long", {"description": "x" * 1001}, 400, "description is longer than 1000 characters"),
    ("a bad photo link", {"media_url": "javascript:alert(1)"}, 400, "media_url is not an http(s) address"),
    ("a bad e-mail", {"email": "zhang"}, 400, "email is not an e-mail address"),
    ("a bad phone", {"phone": "call me"}, 400, "phone is not a telephone number"),
    (
        "an address in no district",
        {"lat": None, "long": None, "address_string": "Somewhere else"},
        400,
        "address_string must name one district",
    ),
]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Services, str]]:
    """`python -m bot serve`'s server (no bot in this process) over a fresh database, taking requests with KEY."""
    settings = load_settings(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "bot.sqlite3"), "OPEN311_API_KEYS": KEY}, env_file=None
    )
    services = Services(settings)
    await services.open()
    policy = policy_from(settings, services.lang("en"), services.service_area)
    server = WebServer(services, Metrics(), intake=Open311Intake(policy, settings.open311_api_keys))
    port = await server.start("127.0.0.1", 0)
    yield services, f"http://127.0.0.1:{port}/open311/v2"
    await server.stop()
    await services.close()


@pytest.mark.parametrize(("case", "change", "status", "description"), CASES, ids=[c[0] for c in CASES])
async def test_a_refused_request_is_the_specs_error_and_files_nothing(
    served: tuple[Services, str], case: str, change: dict[str, str | None], status: int, description: str
) -> None:
    services, root = served
    form = {
        "api_key": KEY,
        "service_code": "garbage",
        "lat": str(HOME[0]),
        "long": str(HOME[1]),
        "description": "Garbage bags piled up at the bus stop",
        **change,
    }
    response = await post(root, {name: value for name, value in form.items() if value is not None})
    assert response.status_code == status
    [error] = response.json()
    assert error["code"] == status and error["description"].startswith(description)
    row = await services.db.fetchone("SELECT (SELECT COUNT(*) FROM reports) + (SELECT COUNT(*) FROM outbox)")
    assert row[0] == 0


async def test_the_service_definition_and_its_errors(served: tuple[Services, str]) -> None:
    _, root = served
    async with httpx.AsyncClient(trust_env=False) as client:
        found = await client.get(f"{root}/services/manhole.json")
        unknown = await client.get(f"{root}/services/potholes.json")
        posted_elsewhere = await client.post(f"{root}/services.json", data={"api_key": KEY})
    assert found.status_code == 200 and found.json() == {"service_code": "manhole", "attributes": []}
    assert unknown.status_code == 404 and unknown.json() == [
        {"code": 404, "description": "unknown service_code: potholes"}
    ]
    assert posted_elsewhere.status_code == 405


def test_the_keys_setting_is_checked_and_never_echoed() -> None:
    from bot.platform.config import ConfigError

    settings = load_settings({"BOT_TOKEN": TOKEN, "OPEN311_API_KEYS": f" {KEY} ,{OTHER_KEY},, "}, env_file=None)
    assert settings.open311_api_keys == frozenset({KEY, OTHER_KEY})
    assert load_settings({"BOT_TOKEN": TOKEN}, env_file=None).open311_api_keys == frozenset()
    for weak in ("short-key", "has space in it 0123456789", "x" * 129):
        with pytest.raises(ConfigError) as refused:
            load_settings({"BOT_TOKEN": TOKEN, "OPEN311_API_KEYS": f"{KEY},{weak}"}, env_file=None)
        assert str(refused.value).startswith("OPEN311_API_KEYS is invalid: each key must be 16-128 characters")
        assert weak not in str(refused.value) and KEY not in str(refused.value)


async def test_in_webhook_mode_the_same_server_takes_the_post(idle_bed: TestBed) -> None:
    from bot.app import build_application, start_webhook, stop_webhook
    from tests.test_web import SECRET, free_port

    port = free_port()
    idle_bed.env = {
        **staff_env(),
        "OPEN311_API_KEYS": KEY,
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
    }
    idle_bed.group(STAFF_GROUP, "City management staff")
    idle_bed.settings = idle_bed.make_settings()
    idle_bed.services = Services(idle_bed.settings)
    application = build_application(idle_bed.settings, idle_bed.services)
    await start_webhook(application, idle_bed.settings)
    try:
        form = {"api_key": KEY, "service_code": "stall", "lat": "30.48", "long": "114.15", "description": "Stall"}
        response = await post(f"http://127.0.0.1:{port}/open311/v2", form)
        assert response.status_code == 200, response.text
        number = response.json()[0]["service_request_id"]
        room = idle_bed.person(6020, "Dana", "en").in_group(idle_bed.emulator.chats[STAFF_GROUP])
        card = await next_with(room, f"New report {number}")
        assert "Legal vending spots to offer the vendor" in text_of(card)  # a stall case, worked like any other
    finally:
        await stop_webhook(application)
