"""The street vendor's journey, end to end in the sample city: where and when may I sell?

The bot loads the illustrative sample spots on its first start. Each story sets the bot's clock to a known
local time in the city (Asia/Shanghai) and plays a vendor in Wuhan's economic development zone, where the
sample has night markets (22:00-04:00), a farmers' morning point (06:00-08:30), a temporarily closed spot, a
relocated one, and a school gate where vending is banned on weekdays 07:00-17:00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.driver import Person, TestBed, inline_buttons, keyboard_labels, text_of

CITY = ZoneInfo("Asia/Shanghai")
ZHUANKOU = (30.5000, 114.1600)  # beside the Zhuankou night market point (wh-001)
SCHOOL_GATE = (30.4969, 114.1612)  # inside the Zhuankou Primary School gate zone (weekdays 07:00-17:00)
HOSPITAL = (30.4890, 114.1675)  # inside the EDZ People's Hospital entrance zone (always)
BEIJING = (39.9042, 116.4074)  # outside the service area


def set_local_time(bed: TestBed, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Moves the bot's clock so that "now" is this local time in the city; returns it in UTC."""
    assert bed.services is not None
    target = datetime(year, month, day, hour, minute, tzinfo=CITY).astimezone(UTC)
    bed.services.clock.offset = target - datetime.now(UTC)
    return target


async def ask_where_to_sell(vendor: Person, mode_label: str = "现在哪里可以摆摊") -> None:
    await vendor.send("🛒 哪里可以摆摊？")
    choices = await vendor.expect_message(contains="什么时候可以摆摊")
    await vendor.press(choices, mode_label)
    prompt = await vendor.expect_message(contains="位置")
    assert any("发送我的位置" in label for label in keyboard_labels(prompt))


async def expect_results(vendor: Person, pins: int) -> tuple[list[dict], dict]:
    """The venue pins, then the one summary message."""
    venues = [await vendor.expect_message() for _ in range(pins)]
    assert all("venue" in venue for venue in venues), venues
    summary = await vendor.expect_message()
    return venues, summary


async def test_night_market_open_now_nearest_three_with_distance_and_hours(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 23, 0)  # a Monday, 23:00
    vendor = bed.person(4001, "李师傅")
    await ask_where_to_sell(vendor)
    await vendor.share_location(*ZHUANKOU)
    await vendor.expect_message(contains="正在查找")
    venues, summary = await expect_results(vendor, 3)

    assert venues[0]["venue"]["title"] == "1. 沌口夜市疏导点"
    text = text_of(summary)
    assert "现在开放的摆摊点" in text
    assert "沌口夜市疏导点" in text and "步行约" in text
    assert "营业中，到04:00" in text
    assert "22:00–次日04:00" in text  # the window crosses midnight
    assert "免费" in text and "约12个空位" in text
    assert "熟食小吃" in text
    labels = [button["text"] for button in inline_buttons(summary)]
    assert "✓ 现在" in labels and "今晚" in labels and "明早" in labels


async def test_after_midnight_the_night_market_is_still_open(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 24, 1, 30)  # Tuesday 01:30, in Monday's 22:00-04:00 window
    vendor = bed.person(4002, "王阿姨")
    await ask_where_to_sell(vendor)
    await vendor.share_location(*ZHUANKOU)
    await vendor.expect_message(contains="正在查找")
    venues, summary = await expect_results(vendor, 3)
    assert venues[0]["venue"]["title"] == "1. 沌口夜市疏导点"
    assert "营业中，到04:00" in text_of(summary)


async def test_no_spot_open_now_shows_the_soonest_to_open(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 5, 20)  # Monday 05:20: nights are over, mornings not begun
    vendor = bed.person(4003, "张大爷")
    await ask_where_to_sell(vendor)
    await vendor.share_location(*ZHUANKOU)
    await vendor.expect_message(contains="正在查找")
    venues, summary = await expect_results(vendor, 3)
    text = text_of(summary)
    assert "附近现在没有开放的摆摊点" in text
    assert "40分钟后开放（06:00）" in text  # the farmers' point opens at 06:00
    assert venues[0]["venue"]["title"] == "1. 车城北路自产自销点"
