"""The map Mini App in a real headless browser, inside the playground's panel beside the chats.

The playground signs initData with its token, as Telegram would; tiles point at a closed local port, so the map
draws spots, zones and cases on its plain background (no network at test time). Screenshots of the map in both
languages go to /tmp/map-zh.png and /tmp/map-en.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.test_playground_browser import (
    PlaygroundThread,
    browser,  # noqa: F401  (the fixture)
    choose_persona,
    expect_bubble,
    press_inline,
    type_message,
    wait_until,
)

NO_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # the discard port: refused at once
SCREENSHOTS = {"zh_Hans": Path("/tmp/map-zh.png"), "en": Path("/tmp/map-en.png")}
VENDOR, ADMIN = 7002, 7004


@pytest.fixture(autouse=True)
def chinese_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Noto CJK font the bot already depends on (for its charts), shown to the browser through a fontconfig
    file of the test's own, so the Chinese screenshot is readable on a machine without CJK fonts."""
    import noto_cjk_sans_otc

    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{Path(noto_cjk_sans_otc.__file__).parent}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir>"
        "</fontconfig>",
        encoding="utf-8",
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))


@pytest.fixture
def running(tmp_path: Path) -> Iterator[PlaygroundThread]:
    world = PlaygroundThread(tmp_path / "playground.sqlite3")
    world.playground.environ = {"MAP_TILE_URL": NO_TILES}
    world.start()
    yield world
    world.stop()


def open_map(driver: WebDriver, pane: str) -> int:
    """Taps the chat's 🗺 button, moves into the Mini App's frame and waits for its first load; the load count."""
    driver.switch_to.default_content()
    driver.find_element(By.CSS_SELECTOR, f"#pane-{pane} .map-button").click()
    wait_until(driver, lambda d: d.find_element(By.ID, "miniapp").is_displayed(), "the Mini App panel")
    driver.switch_to.frame(driver.find_element(By.ID, "miniapp-frame"))
    return int(wait_until(driver, lambda d: d.find_element(By.ID, "map").get_attribute("data-loads"), "the map"))


def reload_count(driver: WebDriver) -> int:
    return int(driver.find_element(By.ID, "map").get_attribute("data-loads") or 0)


def click_and_wait(driver: WebDriver, element: Any) -> None:
    """Clicks a control of the map page and waits until the page has loaded what it now shows."""
    before = reload_count(driver)
    element.click()
    wait_until(driver, lambda d: reload_count(d) > before, "the map reloaded")


def in_view(running: PlaygroundThread, box: str) -> tuple[int, int]:
    """(spots, zones) the database holds inside the box the page last asked for."""
    west, south, east, north = (float(part) for part in box.split(","))
    db = running.playground.running().db
    spots = running.call(
        db.fetchone(
            "SELECT count(*) FROM spots WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?", (south, north, west, east)
        )
    )
    zones = running.call(
        db.fetchone(
            "SELECT count(*) FROM zones WHERE max_lat >= ? AND min_lat <= ? AND max_lon >= ? AND min_lon <= ?",
            (south, north, west, east),
        )
    )
    assert spots is not None and zones is not None
    return int(spots[0]), int(zones[0])


def drawn(driver: WebDriver, selector: str) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, f"#map path{selector}"))


def rows(running: PlaygroundThread, sql: str, *args: Any) -> list[Any]:
    return list(running.call(running.playground.running().db.fetchall(sql, args)))


def test_the_map_in_the_playground_subscribes_and_reports_in_both_languages(
    running: PlaygroundThread,
    browser: WebDriver,  # noqa: F811
) -> None:
    playground = running.playground
    browser.get(playground.url + "app/")  # opened outside Telegram, with no initData: it says where to open it
    unsigned = wait_until(browser, lambda d: d.find_element(By.ID, "notice").text, "the page's notice")
    assert unsigned == "请在 Telegram 里从机器人打开这张地图。"
    assert not browser.find_elements(By.CSS_SELECTOR, "script[src*='telegram.org']")  # not inside Telegram
    browser.get(playground.url)
    choose_persona(browser, "a", "vendor")  # 李师傅, in Chinese

    # The vendor opens the map: every spot and zone of the database inside the view is drawn, nothing more.
    open_map(browser, "a")
    box = browser.find_element(By.ID, "map").get_attribute("data-box")
    spots, zones = in_view(running, box)
    assert spots >= 3 and zones >= 1
    assert drawn(browser, ".spot") == spots
    assert drawn(browser, ".zone") == zones
    assert "禁止摆卖" not in browser.find_element(By.ID, "map").text  # popups are closed until tapped
    tonight = browser.find_element(By.CSS_SELECTOR, "#periods button[data-period='tonight']")
    click_and_wait(browser, tonight)  # the now / tonight / tomorrow morning switch asks again for that moment
    assert "chosen" in tonight.get_attribute("class") and drawn(browser, ".spot") == spots
    assert browser.find_element(By.ID, "report-here").text == "📝 在这里上报问题"

    # A tap on a spot opens its popup (name, state, hours, goods, fee); "remind me" goes to the chat.
    browser.execute_script(
        "var layer = window.cityMap.map; var first = null;"
        "layer.eachLayer(function (l) { if (!first && l.feature && l.feature.properties.state) first = l; });"
        "first.openPopup();"
    )
    popup = wait_until(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".spot-popup"), "a spot's popup")
    name = popup.find_element(By.TAG_NAME, "b").text
    assert name and "今天" in popup.text
    browser.save_screenshot(str(SCREENSHOTS["zh_Hans"]))
    popup.find_element(By.CSS_SELECTOR, "button.subscribe").click()
    wait_until(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".spot-popup .done"), "the sent note")
    browser.switch_to.default_content()
    expect_bubble(browser, "a", "🔔")
    subscribed = rows(running, "SELECT s.name FROM subscriptions sub JOIN spots s ON s.id = sub.spot_id "
                               "WHERE sub.user_id = ?", VENDOR)  # fmt: skip
    assert [row["name"] for row in subscribed] == [name]

    # Alex (English) reports here: the pin dragged off the centre, a category, sent; the wizard continues.
    choose_persona(browser, "a", "admin")
    open_map(browser, "a")
    assert browser.find_element(By.ID, "report-here").text == "📝 Report a problem here"
    browser.find_element(By.ID, "report-here").click()
    pin = wait_until(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".leaflet-marker-icon"), "the pin")
    start = browser.execute_script("var p = window.cityMap.state.pin.getLatLng(); return [p.lat, p.lng];")
    ActionChains(browser).drag_and_drop_by_offset(pin, 80, 50).perform()
    place = browser.execute_script("var p = window.cityMap.state.pin.getLatLng(); return [p.lat, p.lng];")
    assert place[0] < start[0] and place[1] > start[1], "dragged down and to the right"
    Select(browser.find_element(By.ID, "category")).select_by_value("facility")
    browser.save_screenshot(str(SCREENSHOTS["en"]))
    browser.find_element(By.ID, "report-send").click()
    browser.switch_to.default_content()
    expect_bubble(browser, "a", "From the map: 💡 Street light, road, public facility")
    expect_bubble(browser, "a", "Please describe the problem")
    type_message(browser, "a", "The street light at this corner has been dark for three nights.")
    expect_bubble(browser, "a", "photo")
    press_inline(browser, "a", "⏭ Skip")
    press_inline(browser, "a", "✅ Submit")
    expect_bubble(browser, "a", "Thank you")
    report = rows(running, "SELECT category, lat, lon, reporter_id FROM reports WHERE reporter_id = ?", ADMIN)
    assert len(report) == 1 and report[0]["category"] == "facility"
    assert report[0]["lat"] == pytest.approx(place[0], abs=1e-6)
    assert report[0]["lon"] == pytest.approx(place[1], abs=1e-6)
