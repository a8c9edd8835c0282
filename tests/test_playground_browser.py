"""The playground page in a real headless browser (Debian's chromium + chromedriver, driven by selenium).

Install the browser with ``scripts/install-browser.sh``; nothing is downloaded at test time.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from devtools.playground import STAFF_GROUP_ID, Playground

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 20.0
RESIDENT, VENDOR, STAFF = 7001, 7002, 7003
T = TypeVar("T")


class PlaygroundThread:
    """The playground on its own event loop in a thread, so selenium's blocking calls do not stall it."""

    def __init__(self, database_path: Path) -> None:
        self.playground = Playground(port=0, database_path=database_path, environ={}, env_file=None)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="playground", daemon=True)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=WAIT)

    def start(self) -> None:
        self.thread.start()
        self.call(self.playground.start())

    def stop(self) -> None:
        self.call(self.playground.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=WAIT)
        self.loop.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[PlaygroundThread]:
    world = PlaygroundThread(tmp_path / "playground.sqlite3")
    world.start()
    yield world
    world.stop()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: install the browser with scripts/install-browser.sh")
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium must never try to fetch a driver or a browser
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=en-US",
        "--window-size=1440,960",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    yield driver
    driver.quit()


# ------------------------------------------------------------------------------------- page vocabulary
def wait_until(driver: WebDriver, condition: Callable[[WebDriver], T], what: str) -> T:
    def attempt(d: WebDriver) -> T | bool:
        try:
            return condition(d)
        except StaleElementReferenceException:
            return False  # the page re-rendered the element under us; look again

    try:
        return WebDriverWait(driver, WAIT).until(attempt)  # type: ignore[return-value]
    except WebDriverException as exc:
        raise AssertionError(f"the page never showed {what}") from exc


def pane(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.ID, f"pane-{name}")


def bubble_texts(driver: WebDriver, name: str, kind: str = "bot") -> list[str]:
    return [node.text for node in pane(driver, name).find_elements(By.CSS_SELECTOR, f".msg.{kind} .text")]


def expect_bubble(driver: WebDriver, name: str, contains: str, kind: str = "bot") -> str:
    return wait_until(
        driver,
        lambda d: next((text for text in bubble_texts(d, name, kind) if contains in text), None),
        f"a {kind} message with {contains!r} in pane {name}",
    )


def count_bubbles(driver: WebDriver, name: str, kind: str = "bot") -> int:
    return len(pane(driver, name).find_elements(By.CSS_SELECTOR, f".msg.{kind}"))


def expect_more_bubbles(driver: WebDriver, name: str, than: int, kind: str = "bot") -> None:
    wait_until(driver, lambda d: count_bubbles(d, name, kind) > than, f"a new {kind} message in pane {name}")


def type_message(driver: WebDriver, name: str, text: str) -> None:
    box = pane(driver, name).find_element(By.CSS_SELECTOR, ".composer .message-input")
    box.send_keys(text, Keys.ENTER)


def keyboard_keys(driver: WebDriver, name: str) -> list[WebElement]:
    return pane(driver, name).find_elements(By.CSS_SELECTOR, ".keyboard button")


def click_first(driver: WebDriver, find: Callable[[WebDriver], list[WebElement]], what: str) -> None:
    """Finds and clicks in one attempt, looking again if the page re-rendered the element meanwhile."""

    def clicked(d: WebDriver) -> bool:
        found = find(d)
        if found:
            found[0].click()
        return bool(found)

    wait_until(driver, clicked, what)


def tap_key(driver: WebDriver, name: str, label: str) -> None:
    click_first(
        driver, lambda d: [k for k in keyboard_keys(d, name) if label in k.text], f"a keyboard button {label!r}"
    )


def press_inline(driver: WebDriver, name: str, label: str) -> None:
    """Presses the newest inline button with ``label``, as a person answers the latest question."""

    def newest(d: WebDriver) -> list[WebElement]:
        buttons = [b for b in pane(d, name).find_elements(By.CSS_SELECTOR, ".inline-button") if label in b.text]
        return buttons[-1:]

    click_first(driver, newest, f"an inline button {label!r} in pane {name}")


def share_place(driver: WebDriver, name: str, place: str, bot_asks: bool = True) -> None:
    """Taps the bot's 📍 location button (or, if the bot may not ask, the 📍 attachment); picks a sample place."""

    def location_button(d: WebDriver) -> list[WebElement]:
        keys = [key for key in keyboard_keys(d, name) if key.text.startswith("📍")]
        return keys if bot_asks else keys or pane(d, name).find_elements(By.CSS_SELECTOR, ".location-button")

    click_first(driver, location_button, "a way to share the location")
    wait_until(driver, lambda d: d.find_element(By.ID, "picker").get_attribute("open") is not None, "the picker")
    driver.find_element(By.CSS_SELECTOR, f"#picker [data-place='{place}']").click()


def choose_persona(driver: WebDriver, name: str, persona: str) -> None:
    Select(pane(driver, name).find_element(By.CSS_SELECTOR, "select.persona")).select_by_value(persona)
    wait_until(driver, lambda d: pane(d, name).get_attribute("data-persona") == persona, f"{persona} in pane {name}")


# ------------------------------------------------------------------------------------------- the story
def test_a_visitor_plays_resident_vendor_and_staff_in_the_browser(
    running: PlaygroundThread, browser: WebDriver, tmp_path: Path
) -> None:
    playground = running.playground
    services = playground.running()
    browser.get(playground.url)
    wait_until(browser, lambda d: pane(d, "a").get_attribute("data-persona") == "resident", "the resident's chat")
    assert pane(browser, "b").get_attribute("data-chat") == str(STAFF_GROUP_ID)

    # The resident starts the bot and picks English from the menu's language button.
    type_message(browser, "a", "/start")
    expect_bubble(browser, "a", "王芳")
    assert "📝 反映问题" in [key.text for key in keyboard_keys(browser, "a")]
    tap_key(browser, "a", "🌐")
    expect_bubble(browser, "a", "请选择语言")
    press_inline(browser, "a", "English")
    expect_bubble(browser, "a", "Language set: English.")  # the chooser, edited in place
    expect_bubble(browser, "a", "Here is the menu.")
    row = running.call(services.db.fetchone("SELECT language FROM users WHERE telegram_id = ?", (RESIDENT,)))
    assert row is not None and row["language"] == "en"

    # The resident reports exposed garbage: category, a place of the sample city, a description, a photo from disk.
    tap_key(browser, "a", "📝 Report a problem")
    press_inline(browser, "a", "🗑")
    before = count_bubbles(browser, "a")
    share_place(browser, "a", "edz-dongfeng")
    expect_more_bubbles(browser, "a", before)
    type_message(browser, "a", "A pile of garbage at the crossing for two days now; it smells.")
    photo = tmp_path / "street.png"
    photo.write_bytes(sample_png())
    wait_until(browser, lambda d: d.find_element(By.ID, "picker").get_attribute("open") is None, "the picker closed")
    before = count_bubbles(browser, "a")
    pane(browser, "a").find_element(By.CSS_SELECTOR, ".photo-input").send_keys(str(photo))
    image = wait_until(
        browser,
        lambda d: next(iter(pane(d, "a").find_elements(By.CSS_SELECTOR, ".msg.out img.photo")), None),
        "the resident's photo",
    )
    wait_until(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0, "the image loaded")
    expect_more_bubbles(browser, "a", before)
    press_inline(browser, "a", "✅")  # done with photos
    press_inline(browser, "a", "✅ Submit")
    thanks = wait_until(
        browser,
        lambda d: next(
            (re.search(r"R\d{8}-\d{4}", t) for t in bubble_texts(d, "a") if re.search(r"R\d{8}-\d{4}", t)), None
        ),
        "the report number",
    )
    case_number = thanks.group(0)
    expect_bubble(browser, "b", case_number)  # the alert card in the staff group, live
    report = running.call(
        services.db.fetchone("SELECT category, state FROM reports WHERE public_no = ?", (case_number,))
    )
    assert report is not None and report["category"] == "garbage"

    # The vendor asks where to sell and shares a place of the sample city (from the bot's button, if it asks).
    choose_persona(browser, "a", "vendor")
    type_message(browser, "a", "/start")
    expect_bubble(browser, "a", "李师傅")
    before = count_bubbles(browser, "a")
    tap_key(browser, "a", "🛒")
    expect_more_bubbles(browser, "a", before)
    before = count_bubbles(browser, "a")
    share_place(browser, "a", "edz-dongfeng", bot_asks=False)  # as far as the vendor journey goes, or the 📍 button
    card = wait_until(
        browser,
        lambda d: next(iter(pane(d, "a").find_elements(By.CSS_SELECTOR, ".msg.out .location-card")), None),
        "the shared location card",
    )
    assert "30.49850, 114.16500" in card.text
    expect_more_bubbles(browser, "a", before)

    # The staff group: an alert card arrives and is edited live; a force-reply makes the answer a reply.
    bot = playground.application.bot if playground.application else None
    assert bot is not None
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Accept", callback_data="playground:accept")]])
    alert = running.call(
        bot.send_message(STAFF_GROUP_ID, "🆕 Report #1: garbage on Dongfeng Ave", reply_markup=buttons)
    )
    expect_bubble(browser, "b", "Report #1: garbage")
    running.call(
        bot.edit_message_text("✅ Report #1: dispatched to team 3", chat_id=STAFF_GROUP_ID, message_id=alert.message_id)
    )
    expect_bubble(browser, "b", "dispatched to team 3")
    assert not [text for text in bubble_texts(browser, "b") if "garbage on" in text]  # the old state is gone
    edited = pane(browser, "b").find_element(By.CSS_SELECTOR, f"[data-message-id='{alert.message_id}'] .edited")
    assert edited.text

    question = running.call(bot.send_message(STAFF_GROUP_ID, "Why return report #1?", reply_markup=ForceReply()))
    wait_until(browser, lambda d: pane(d, "b").find_element(By.CSS_SELECTOR, ".reply-bar").is_displayed(), "reply bar")
    type_message(browser, "b", "Not our department")
    reply = wait_until(
        browser,
        lambda d: next(
            (
                m
                for (chat, _), m in list(playground.emulator.messages.items())  # a copy: the bot's thread adds more
                if chat == STAFF_GROUP_ID and m.get("text") == "Not our department"
            ),
            None,
        ),
        "the staff member's reply",
    )
    assert reply["reply_to_message"]["message_id"] == question.message_id
    assert reply["from"]["id"] == STAFF

    # The time control moves the bot's clock.
    shown = browser.find_element(By.ID, "clock-now").text
    browser.find_element(By.CSS_SELECTOR, ".advance[data-minutes='60']").click()
    wait_until(browser, lambda d: services.clock.offset.total_seconds() == 3600, "the clock an hour ahead")
    wait_until(browser, lambda d: d.find_element(By.ID, "clock-now").text != shown, "the new time")
    before = count_bubbles(browser, "b")
    browser.find_element(By.CSS_SELECTOR, ".advance[data-minutes='1440']").click()
    expect_more_bubbles(browser, "b", before)  # the unaccepted report's reminders reach the staff group at once

    screenshot = tmp_path / "playground.png"
    assert browser.save_screenshot(str(screenshot))
    if os.environ.get("PLAYGROUND_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["PLAYGROUND_SCREENSHOT"])
    assert screenshot.stat().st_size > 10_000


def sample_png() -> bytes:
    from devtools.playground import sample_photo

    return sample_photo(160, 120)
