"""The Mini App's HTTP side: initData checked as Telegram specifies, the GeoJSON API, the page and its files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.cases import config, service, states
from bot.cases.drafts import Draft
from bot.platform.config import load_settings
from bot.platform.gcj02 import wgs84_to_gcj02
from bot.platform.services import Services
from bot.vending import staff_actions
from bot.vending.reminders import Timing
from bot.vending.spot_import import ensure_sample_spots
from bot.web import Metrics, WebServer
from bot.webapp.init_data import sign

TOKEN = "123456:webapp-test-token-aaaaaaaaaaaaaa"
CITY = ZoneInfo("Asia/Shanghai")
WUHAN = "114.10,30.40,114.25,30.56"  # west,south,east,north around the sample spots of Wuhan's development zone
REPORTER = 4242


@dataclass
class MiniApp:
    services: Services
    port: int
    client: httpx.AsyncClient

    def signed(self, user_id: int = 5001, language_code: str | None = "en", age: timedelta = timedelta()) -> str:
        user: dict[str, Any] = {"id": user_id, "first_name": "Mei"}
        if language_code is not None:
            user["language_code"] = language_code
        return sign(TOKEN, user, self.services.clock.now() - age)

    async def get(self, path: str, init_data: str | None = None, **params: str) -> httpx.Response:
        headers = {"X-Telegram-Init-Data": self.signed() if init_data is None else init_data}
        return await self.client.get(f"http://127.0.0.1:{self.port}{path}", params=params, headers=headers)

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return list(await self.services.db.fetchall(sql, args))


async def start_app(tmp_path: Path, **env: str) -> AsyncIterator[MiniApp]:
    settings = load_settings({"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "bot.sqlite3"), **env}, None)
    services = Services(settings)
    await services.open()
    await ensure_sample_spots(services.db, services.clock.now())
    server = WebServer(services, Metrics())
    port = await server.start("127.0.0.1", 0)
    async with httpx.AsyncClient(trust_env=False) as client:
        yield MiniApp(services, port, client)
    await server.stop()
    await services.close()


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[MiniApp]:
    async for running in start_app(tmp_path):
        yield running


def local(hour: int, minute: int = 0) -> str:
    """An ``at`` in the city's time: a Wednesday in the coming spring (no sample spot has an exception then)."""
    return datetime(2027, 3, 17, hour, minute, tzinfo=CITY).isoformat()


# ------------------------------------------------------------------ initData
API = ["/app/api/config.json", "/app/api/spots.geojson", "/app/api/zones.geojson", "/app/api/cases.geojson"]


def tampered(init_data: str) -> str:
    """The same initData with the user's id changed: the hash no longer fits."""
    return init_data.replace("%22id%22%3A5001", "%22id%22%3A5002")


@pytest.mark.parametrize("path", API)
async def test_unsigned_tampered_and_stale_init_data_get_401(app: MiniApp, path: str) -> None:
    params = {"bbox": WUHAN, "lat": "30.5", "lon": "114.16", "radius": "500"}
    good = app.signed()
    assert tampered(good) != good
    cases = {
        "unsigned": "",
        "tampered": tampered(good),
        "stale": app.signed(age=timedelta(days=1, minutes=1)),
        "other bot": sign("654321:another-bots-token-aaaaaaaaaaa", {"id": 5001}, app.services.clock.now()),
        "garbage": "hash=&&&user=%7B",
    }
    for name, init_data in cases.items():
        response = await app.get(path, init_data, **params)
        assert response.status_code == 401, name
        assert response.json()["error"], name
    assert (await app.get(path, good, **params)).status_code == 200


# ------------------------------------------------------------------ spots
async def test_a_bounding_box_returns_only_the_spots_inside_it(app: MiniApp) -> None:
    west, south, east, north = (float(part) for part in WUHAN.split(","))
    inside = await app.rows(
        "SELECT id FROM spots WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?", south, north, west, east
    )
    everywhere = await app.rows("SELECT id FROM spots")
    assert 0 < len(inside) < len(everywhere)
    response = await app.get("/app/api/spots.geojson", bbox=WUHAN)
    assert response.status_code == 200
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert {feature["id"] for feature in collection["features"]} == {row["id"] for row in inside}
    for feature in collection["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert west <= lon <= east and south <= lat <= north
        assert feature["properties"]["state"] in ("open", "opens_soon", "closed_today", "closed_temporarily")


async def test_a_spots_state_follows_its_openings_and_staff_closures(app: MiniApp) -> None:
    # wh-001, the Zhuankou night market: every night 22:00–04:00.
    row = (await app.rows("SELECT id, lat, lon FROM spots WHERE external_id = 'wh-001'"))[0]
    box = f"{row['lon'] - 0.0005},{row['lat'] - 0.0005},{row['lon'] + 0.0005},{row['lat'] + 0.0005}"

    async def state_at(at: str) -> dict[str, Any]:
        features = (await app.get("/app/api/spots.geojson", bbox=box, at=at)).json()["features"]
        return next(feature["properties"] for feature in features if feature["id"] == row["id"])

    assert (await state_at(local(23)))["state"] == "open"
    assert (await state_at(local(23)))["state_text"].startswith("Open now, until 4:00")
    assert (await state_at(local(20, 30)))["state"] == "opens_soon"
    assert (await state_at(local(12)))["state"] == "closed_today"
    spot = await state_at(local(12))
    assert spot["name"] == "Zhuankou night market point"
    assert "free of charge" in spot["facts"] and spot["today"].startswith("Today:")

    services = app.services
    async with services.db.transaction() as conn:
        await staff_actions.close_spot(
            conn, row["id"], None, "road works", services.clock.now(), timing=Timing.of(services.settings)
        )
    assert (await state_at(local(23)))["state"] == "closed_temporarily"


async def test_the_goods_filter_and_the_walking_distance(app: MiniApp) -> None:
    everything = (await app.get("/app/api/spots.geojson", bbox=WUHAN)).json()["features"]
    flowers = (await app.get("/app/api/spots.geojson", bbox=WUHAN, goods="flowers")).json()["features"]
    assert len(flowers) < len(everything)
    assert all(not f["properties"]["goods"] or "flowers" in f["properties"]["goods"] for f in flowers)
    near = (await app.get("/app/api/spots.geojson", bbox=WUHAN, lat="30.5", lon="114.16")).json()["features"]
    assert all("on foot" in feature["properties"]["walk"] for feature in near)


# ------------------------------------------------------------------ zones
async def test_zones_in_the_box_with_whether_their_ban_is_in_force(app: MiniApp) -> None:
    west, south, east, north = (float(part) for part in WUHAN.split(","))
    expected = await app.rows(
        "SELECT id FROM zones WHERE max_lat >= ? AND min_lat <= ? AND max_lon >= ? AND min_lon <= ?",
        south,
        north,
        west,
        east,
    )
    assert expected
    by_day = (await app.get("/app/api/zones.geojson", bbox=WUHAN, at=local(12))).json()["features"]
    assert {feature["id"] for feature in by_day} == {row["id"] for row in expected}
    for feature in by_day:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert feature["properties"]["kind_text"] and feature["properties"]["hours_text"].startswith("No vending")
    by_night = (await app.get("/app/api/zones.geojson", bbox=WUHAN, at=local(3))).json()["features"]
    flags = {f["id"]: f["properties"]["active"] for f in by_day}, {f["id"]: f["properties"]["active"] for f in by_night}
    assert flags[0] != flags[1], "some zone's ban has hours, so it is in force by day and not at 03:00"


# ------------------------------------------------------------------ cases
async def test_cases_are_the_open_ones_nearby_and_never_say_who_reported(app: MiniApp) -> None:
    services = app.services
    policy = config.policy_from(services.settings, services.lang("en"), services.service_area)
    place: dict[str, Any] = {"lat": 30.48, "lon": 114.15, "district": "wuhan-edz"}
    draft = Draft(category="garbage", description="Bags of rubbish by the bus stop", show_name=True, **place)
    shown = await service.submit(services.db, REPORTER, draft, services.clock.now(), policy)
    gone = await service.submit(
        services.db, REPORTER, Draft(category="noise", description="x" * 12, **place), services.clock.now(), policy
    )
    await service.withdraw(services.db, gone.id, REPORTER, services.clock.now(), policy)
    far = await service.submit(
        services.db,
        REPORTER,
        Draft(category="garbage", description="y" * 12, **{**place, "lat": 30.55}),
        services.clock.now(),
        policy,
    )
    response = await app.get("/app/api/cases.geojson", lat="30.481", lon="114.15", radius="1000")
    assert response.status_code == 200
    features = response.json()["features"]
    assert [feature["id"] for feature in features] == [shown.public_no]
    assert far.public_no not in response.text and gone.public_no not in response.text
    properties = features[0]["properties"]
    assert set(properties) == {"number", "category", "category_text", "state", "state_text", "age_text"}
    assert properties["state"] == states.ReportState.SUBMITTED.value
    assert str(REPORTER) not in response.text and "rubbish" not in response.text


# ------------------------------------------------------------------ bad parameters
BAD = [
    ("/app/api/spots.geojson", {}, "bbox"),
    ("/app/api/spots.geojson", {"bbox": "1,2,3"}, "bbox"),
    ("/app/api/spots.geojson", {"bbox": "114.2,30.4,114.1,30.5"}, "west < east"),
    ("/app/api/spots.geojson", {"bbox": "114,30,nan,31"}, "finite"),
    ("/app/api/spots.geojson", {"bbox": "100,20,120,40"}, "at most"),
    ("/app/api/spots.geojson", {"bbox": WUHAN, "at": "tomorrow"}, "ISO"),
    ("/app/api/spots.geojson", {"bbox": WUHAN, "goods": "guns"}, "goods"),
    ("/app/api/zones.geojson", {"bbox": "a,b,c,d"}, "number"),
    ("/app/api/cases.geojson", {"lat": "30.5", "lon": "114.1"}, "radius"),
    ("/app/api/cases.geojson", {"lat": "30.5", "lon": "114.1", "radius": "-5"}, "radius"),
    ("/app/api/cases.geojson", {"lat": "30.5", "lon": "114.1", "radius": "50000"}, "radius"),
    ("/app/api/cases.geojson", {"lat": "95", "lon": "114.1", "radius": "100"}, "lat"),
    ("/app/api/config.json", {"lat": "30.5", "lon": "inf"}, "finite"),
]


@pytest.mark.parametrize(("path", "params", "hint"), BAD)
async def test_a_bad_parameter_is_a_400_saying_which(
    app: MiniApp, path: str, params: dict[str, str], hint: str
) -> None:
    response = await app.get(path, **params)
    assert response.status_code == 400
    assert hint in response.json()["error"]


# ------------------------------------------------------------------ the person's language
async def test_the_page_speaks_the_persons_language_their_choice_in_the_bot_first(app: MiniApp) -> None:
    english = (await app.get("/app/api/config.json", app.signed(7001, "en"))).json()
    assert english["language"] == "en" and english["strings"]["open"] == "Open now"
    assert [period["code"] for period in english["periods"]] == ["now", "tonight", "morning"]
    assert {category["code"] for category in english["categories"]} == set(states.CATEGORY_BY_CODE)
    await app.services.users.set_language(7001, "zh_Hans", app.services.clock.now())
    chinese = (await app.get("/app/api/config.json", app.signed(7001, "en"))).json()
    assert chinese["language"] == "zh_Hans" and chinese["strings"]["open"] != "Open now"
    assert english["me"] is None and english["zoom"] == 13  # no place known: the district
    here = (await app.get("/app/api/config.json", app.signed(7001, "en"), lat="30.5", lon="114.16")).json()
    assert here["me"] == here["center"] == {"lat": 30.5, "lon": 114.16} and here["zoom"] == 15
    nobody = (await app.get("/app/api/config.json", app.signed(7002, None))).json()
    assert nobody["language"] == "zh_Hans"  # the bot's default
    spots = (await app.get("/app/api/spots.geojson", app.signed(7001, "en"), bbox=WUHAN)).json()["features"]
    assert any(feature["properties"]["name"] == "沌口夜市疏导点" for feature in spots)


# ------------------------------------------------------------------ the page and Leaflet, served locally
async def test_the_page_and_leaflet_come_from_the_bot_itself(app: MiniApp) -> None:
    page = await app.client.get(f"http://127.0.0.1:{app.port}/app/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert (
        'src="static/leaflet/leaflet.js"' in page.text and "//" not in page.text.split("<body>")[1].split("</body>")[0]
    )
    boot = json.loads(page.text.split('<script id="boot" type="application/json">')[1].split("</script>")[0])
    assert boot["strings"]["en"]["unsigned"] == "Please open this map from the bot in Telegram."
    for name in ("static/leaflet/leaflet.js", "static/leaflet/leaflet.css", "static/map.js", "static/map.css"):
        assert (await app.client.get(f"http://127.0.0.1:{app.port}/app/{name}")).status_code == 200, name
    script = (await app.client.get(f"http://127.0.0.1:{app.port}/app/static/map.js")).text
    assert [line for line in script.splitlines() if "https://" in line] == [
        '  var TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js";'
    ]


# ------------------------------------------------------------------ GCJ-02 tiles
async def test_with_chinese_tiles_positions_are_shifted_to_gcj02(tmp_path: Path) -> None:
    async for app in start_app(tmp_path, MAP_TILE_CRS="gcj02", MAP_TILE_URL="https://t.example/{z}/{x}/{y}.png"):
        row = (await app.rows("SELECT id, lat, lon FROM spots WHERE external_id = 'wh-001'"))[0]
        shown_lat, shown_lon = wgs84_to_gcj02(row["lat"], row["lon"])
        box = f"{shown_lon - 0.001},{shown_lat - 0.001},{shown_lon + 0.001},{shown_lat + 0.001}"
        features = (await app.get("/app/api/spots.geojson", bbox=box)).json()["features"]
        spot = next(feature for feature in features if feature["id"] == row["id"])
        assert spot["geometry"]["coordinates"] == pytest.approx([shown_lon, shown_lat], abs=1e-6)
        assert abs(shown_lon - row["lon"]) > 0.003  # a real shift: about 500 m in Wuhan
        page = (await app.get("/app/api/config.json")).json()
        assert page["tiles"]["url"] == "https://t.example/{z}/{x}/{y}.png" and page["tiles"]["crs"] == "gcj02"


def test_stale_means_older_than_a_day_by_the_bots_clock() -> None:
    from bot.webapp.init_data import InitDataError, validate

    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    fresh = sign(TOKEN, {"id": 1, "first_name": "A", "language_code": "zh-hans"}, now - timedelta(hours=23))
    person = validate(fresh, TOKEN, now)
    assert (person.id, person.first_name, person.language_code) == (1, "A", "zh-hans")
    with pytest.raises(InitDataError, match="older than a day"):
        validate(sign(TOKEN, {"id": 1}, now - timedelta(hours=25)), TOKEN, now)
    with pytest.raises(InitDataError, match="no valid user"):
        validate(sign(TOKEN, {"id": "1"}, now), TOKEN, now)
