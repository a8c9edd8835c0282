"""The street vendor's journey, end to end in the sample city: where and when may I sell?

The bot loads the illustrative sample spots on its first start. Each story sets the bot's clock to a known
local time in the city (Asia/Shanghai) and plays a vendor in Wuhan's economic development zone, where the
sample has night markets (22:00-04:00), a farmers' morning point (06:00-08:30), a temporarily closed spot, a
relocated one, and a school gate where vending is banned on weekdays 07:00-17:00.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.vending.spot_import import import_file
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


# Monday 16:00 at Zhuankou nothing is open. By opening time alone the Junshan St point (10.1 km, opens 16:30)
# came first; on foot the vendor would be there at 18:15. Selling could start sooner at Dongfeng Ave (2.8 km,
# opens 17:00), Shenlong Ave (1.3 km, 17:30) and Zhushan Lake (3.7 km, 18:00).
SOONEST_AT_FOUR = ["1. 东风大道水果疏导点", "2. 神龙大道便民点", "3. 硃山湖夜市疏导点"]


async def test_nothing_open_lists_where_selling_could_start_soonest_walk_included(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 16, 0)
    vendor = bed.person(4004, "刘师傅")
    await ask_where_to_sell(vendor)
    await vendor.share_location(*ZHUANKOU)
    await vendor.expect_message(contains="正在查找")
    venues, summary = await expect_results(vendor, 3)
    assert [venue["venue"]["title"] for venue in venues] == SOONEST_AT_FOUR
    text = text_of(summary)
    assert "算上走过去的时间，最快能摆上摊的是这几个" in text and "军山街" not in text
    assert re.search(r"2\.8公里，步行约37分钟\n⏳ \d+分钟后开放（17:00）", text), text
    await vendor.press(summary, "更多摆摊点")
    venues, more = await read_results(vendor)
    assert venues[0]["venue"]["title"] == "4. 军山街临时经营点" and "步行约135分钟" in text_of(more)


async def test_can_i_sell_here_when_nothing_is_open_ranks_by_when_selling_could_start(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 16, 0)
    vendor = bed.person(4005, "黄大姐")
    await ask_where_to_sell(vendor, "这里能摆摊吗")
    await vendor.share_location(*ZHUANKOU)
    verdict = await vendor.expect_message(contains="这里没有专门的禁摆规定")
    assert "您附近的有这些" in text_of(verdict) and "最近" not in text_of(verdict)
    venues, summary = await read_results(vendor)
    assert [venue["venue"]["title"] for venue in venues] == SOONEST_AT_FOUR
    assert "军山街" not in text_of(summary)


async def read_results(vendor: Person) -> tuple[list[dict], dict]:
    """Venue pins until the one summary message (their number varies with what is open)."""
    venues = []
    while True:
        message = await vendor.expect_message()
        if "venue" not in message:
            return venues, message
        venues.append(message)


async def test_school_gate_in_school_hours_names_the_zone_and_the_nearest_legal_spot(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 10, 30)  # Monday morning: the school-gate ban is in force
    vendor = bed.person(4010, "赵师傅")
    await ask_where_to_sell(vendor, "这里能摆摊吗")
    await vendor.share_location(*SCHOOL_GATE)
    verdict = await vendor.expect_message(contains="禁止摆摊区域")
    text = text_of(verdict)
    assert "沌口小学门前（校门口）" in text
    assert "上学放学时孩子们都从这里走" in text
    assert "禁摆时间为周一–周五 07:00–17:00，这次到17:00结束" in text
    assert "请到下面这些正规摆摊点去" in text
    venues, summary = await read_results(vendor)
    assert venues and "东风大道水果疏导点" in text_of(summary) and "营业中，到14:00" in text_of(summary)


async def test_school_gate_after_school_hours_is_still_honest(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 19, 0)
    vendor = bed.person(4011, "钱阿姨")
    await ask_where_to_sell(vendor, "这里能摆摊吗")
    await vendor.share_location(*SCHOOL_GATE)
    verdict = await vendor.expect_message(contains="现在不在禁摆时段")
    assert "街头摆摊只能在指定的摆摊点" in text_of(verdict)
    venues, summary = await read_results(vendor)
    assert len(venues) == 3 and "步行约" in text_of(summary)


async def test_no_zone_here_is_answered_honestly_with_the_nearest_spots(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 23, 0)
    vendor = bed.person(4012, "孙大姐")
    await ask_where_to_sell(vendor, "这里能摆摊吗")
    await vendor.share_location(*ZHUANKOU)
    verdict = await vendor.expect_message(contains="这里没有专门的禁摆规定")
    assert "实话实说" in text_of(verdict)
    venues, _ = await read_results(vendor)
    assert venues[0]["venue"]["title"] == "1. 沌口夜市疏导点"


async def test_more_pages_and_the_time_and_goods_filters(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 14, 0)
    vendor = bed.person(4013, "周师傅")
    await ask_where_to_sell(vendor)
    await vendor.share_location(*ZHUANKOU)
    await vendor.expect_message(contains="正在查找")
    _, summary = await read_results(vendor)

    await vendor.press(summary, "今晚")
    venues, tonight = await read_results(vendor)
    assert len(venues) == 3 and "附近今晚开放的摆摊点" in text_of(tonight)
    assert "🕒 开放时间" in text_of(tonight) and "✓ 今晚" in [b["text"] for b in inline_buttons(tonight)]
    await vendor.press(tonight, "更多摆摊点")
    venues, more = await read_results(vendor)
    assert venues[0]["venue"]["title"].startswith("4. ") and "4. " in text_of(more)

    await vendor.press(more, "品类")
    chooser = await bed.emulator.wait_for(lambda: goods_chooser(vendor.current(more)), 5)
    await vendor.press(chooser, "农户自产自销农产品")
    venues, produce = await read_results(vendor)
    text = text_of(produce)
    assert "品类：农户自产自销农产品" in text and "✓ 今晚" in [b["text"] for b in inline_buttons(produce)]
    assert "军山街临时经营点" in text  # 16:30-19:30; the other farmers' point opens only in the morning
    assert len(venues) == 1 and "沌口夜市疏导点" not in text


async def with_button(bed: TestBed, vendor: Person, message: dict, label: str) -> dict:
    """The message once the bot has edited it to show a button with this label."""

    def edited() -> dict | None:
        current = vendor.current(message)
        return current if any(label in b["text"] for b in inline_buttons(current)) else None

    return await bed.emulator.wait_for(edited, 5)


def goods_chooser(message: dict) -> dict | None:
    """The message once the bot has turned its buttons into the goods chooser."""
    return message if any("农户自产自销" in b["text"] for b in inline_buttons(message)) else None


async def test_no_gps_by_district(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 23, 0)
    vendor = bed.person(4014, "吴师傅")
    await vendor.send("/sell")
    choices = await vendor.expect_message()
    await vendor.press(choices, "按区域查看")
    districts = await vendor.expect_message(contains="您在哪个区")
    await vendor.press(districts, "武汉经开区")
    listing = await vendor.expect_message(contains="武汉经开区的摆摊点")
    lines = text_of(listing).splitlines()
    assert lines[2] == "1. 后官湖夜市" and lines[3] == "✅ 营业中，到04:00"  # open ones first
    assert text_of(listing).count("✅ 营业中") == 3
    await vendor.press(listing, "更多摆摊点")
    second = await vendor.expect_message(contains="9. ")
    assert "全力北路便民点\n⛔ 暂停开放" in text_of(second)


async def test_no_gps_by_name_then_the_spot_page_with_hours_and_closures_and_reminders(bed: TestBed) -> None:
    set_local_time(bed, 2027, 1, 20, 12, 0)  # the Spring Festival break is coming up
    vendor = bed.person(4015, "郑阿姨")
    await vendor.send("🛒 哪里可以摆摊？")
    choices = await vendor.expect_message()
    await vendor.press(choices, "按名称或街道查找")
    await vendor.expect_message(contains="请输入摆摊点名称")
    await vendor.send("沌阳大道")
    await vendor.expect_message(contains="帮您找到了这些")
    listing = await vendor.expect_message(contains="和“沌阳大道”相关的摆摊点")
    await vendor.press(listing, "沌口夜市疏导点")
    pin = await vendor.expect_message()
    assert pin["venue"]["title"] == "沌口夜市疏导点"
    page = await vendor.expect_message(contains="开放时间")
    text = text_of(page)
    assert "星期一：22:00–次日04:00" in text and "星期日：22:00–次日04:00" in text
    assert "近期休市日期" in text and "2027年2月5日至2027年2月11日：春节休市" in text
    assert "约12个空位" in text and "免费" in text

    answer = await vendor.expect_answer(await vendor.press(page, "开放前提醒我"))
    assert "开放前我会提醒您" in answer["text"]
    rows = await bed.db.fetchall("SELECT user_id, language FROM subscriptions")
    assert [(row["user_id"], row["language"]) for row in rows] == [(4015, "zh_Hans")]
    page = await with_button(bed, vendor, page, "取消这个摆摊点的提醒")

    await vendor.send("/sell")
    choices = await vendor.expect_message()
    await vendor.press(choices, "我关注的摆摊点")
    mine = await vendor.expect_message(contains="您关注的摆摊点")
    assert "沌口夜市疏导点" in text_of(mine)

    answer = await vendor.expect_answer(await vendor.press(page, "取消这个摆摊点的提醒"))
    assert "已取消" in answer["text"]
    assert await bed.db.fetchall("SELECT * FROM subscriptions") == []
    await with_button(bed, vendor, page, "开放前提醒我")


async def test_a_temporarily_closed_spot_says_why_and_offers_another(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 10, 30)  # its hours say open, but it is closed for road works
    vendor = bed.person(4016, "冯师傅")
    await ask_where_to_sell(vendor)
    await vendor.share_location(30.4850, 114.1950)  # at the closed spot
    await vendor.expect_message(contains="正在查找")
    _, summary = await read_results(vendor)
    assert "全力北路便民点" not in text_of(summary)

    await vendor.send("/sell")
    await vendor.expect_message()
    await vendor.send("全力")
    await vendor.expect_message(contains="帮您找到了这些")
    listing = await vendor.expect_message(contains="⛔ 暂停开放")
    await vendor.press(listing, "全力北路便民点")
    await vendor.expect_message()  # the pin
    page = await vendor.expect_message(contains="⛔ 暂停开放，恢复时间另行通知。")
    text = text_of(page)
    assert "原因：道路施工，暂停使用" in text
    assert "附近最快能摆上摊的地方：东风大道水果疏导点" in text and "现在开放，营业到14:00" in text


async def test_a_relocated_spot_points_to_its_new_place(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 12, 0)
    vendor = bed.person(4017, "陈师傅")
    await vendor.send("/sell")
    await vendor.expect_message()
    await vendor.send("老市场")
    await vendor.expect_message(contains="帮您找到了这些")
    listing = await vendor.expect_message(contains="已搬到别处")
    await vendor.press(listing, "沌口老市场外摆点")
    await vendor.expect_message()
    page = await vendor.expect_message(contains="这个摆摊点已搬到神龙大道便民点")
    assert "今天那里：17:30–22:00" in text_of(page)
    answer = await vendor.expect_answer(await vendor.press_data(page, "vsub:" + page_spot_id(page)))
    assert "请关注新地点" in answer["text"]
    await vendor.press(page, "查看新地点")
    await vendor.expect_message()
    await vendor.expect_message(contains="神龙大道便民点")
    assert await bed.db.fetchall("SELECT * FROM subscriptions") == []


def page_spot_id(page: dict) -> str:
    """The relocated spot's own number, as shown on its page."""
    text = text_of(page)
    return text[text.index("编号 ") + 3 : text.index("）")]


async def test_outside_the_service_area_the_step_stays(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 23, 0)
    vendor = bed.person(4018, "褚师傅")
    await ask_where_to_sell(vendor)
    await vendor.share_location(*BEIJING)
    refusal = await vendor.expect_message(contains="不在我们的服务范围内")
    assert [b["text"] for b in inline_buttons(refusal)] == ["武汉经开区", "重庆永川区", "郑州惠济区"]
    assert "（武汉经开区、重庆永川区和郑州惠济区）" in text_of(refusal)
    await vendor.share_location(*ZHUANKOU)  # still waiting for a location
    await vendor.expect_message(contains="正在查找")
    venues, _ = await read_results(vendor)
    assert len(venues) == 3


async def test_the_journey_in_english(bed: TestBed) -> None:
    set_local_time(bed, 2026, 11, 23, 23, 0)
    alice = bed.person(4019, "Alice", language_code="en")
    await alice.send("🛒 Where can I sell?")
    choices = await alice.expect_message(contains="Where and when may you sell?")
    await alice.press(choices, "Where can I sell now?")
    await alice.expect_message(contains="share your location")
    await alice.share_location(*ZHUANKOU)
    await alice.expect_message(contains="Looking for spots")
    venues, summary = await read_results(alice)
    assert venues[0]["venue"]["title"] == "1. Zhuankou night market point"
    text = text_of(summary)
    assert "Open now near you" in text and "minutes on foot" in text and "(next day)" in text
    assert "free of charge" in text and "about 12 stalls free" in text


async def test_cancel_while_a_location_is_awaited(bed: TestBed) -> None:
    vendor = bed.person(4020, "卫师傅")
    await ask_where_to_sell(vendor)
    await vendor.send("/cancel")
    menu = await vendor.expect_message(contains="好的，这是菜单")
    assert "🛒 哪里可以摆摊？" in keyboard_labels(menu)


async def test_a_spot_with_every_text_at_its_longest_still_shows_its_page(bed: TestBed, tmp_path: Path) -> None:
    """An import takes names up to 100 characters, addresses 200, reasons and notes 300 and 100 closed periods:
    the spot's page still goes out, as one message within Telegram's limit."""
    now = set_local_time(bed, 2026, 11, 23, 12, 0)
    assert bed.services is not None
    services = bed.services
    first_day = datetime(2026, 11, 24).date()
    props = {
        "id": "longest",
        "name": "长名" + "字" * 98,
        "address": "路" * 200,
        "hours": "Mo-Su 06:00-07:00,08:00-09:00,10:00-11:00,13:00-14:00",
        "status": "closed_temporarily",
        "status_reason": "修" * 300,
        "note": "注" * 300,
        "closed": [{"from": str(first_day + timedelta(days=n)), "reason": "休" * 300} for n in range(100)],
    }
    feature = {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [114.158, 30.50]}}
    path = tmp_path / "longest.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False), "utf-8")
    await import_file(services.db, path, services.service_area, services.timezone, now)

    vendor = bed.person(4021, "蒋师傅")
    await vendor.send("/sell")
    await vendor.expect_message()
    await vendor.send("长名字字")
    await vendor.expect_message(contains="帮您找到了这些")
    listing = await vendor.expect_message(contains="长名字字")
    await vendor.press(listing, "长名字字")
    assert "venue" in await vendor.expect_message()
    page = text_of(await vendor.expect_message(contains="原因：修修"))
    assert "长名" + "字" * 98 in page and "休休" in page and len(page) <= 4096
