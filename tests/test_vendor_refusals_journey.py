"""Every "no" a vendor can hear carries a concrete alternative; bad input and stale or forged buttons get a
clear answer, the step stays, and nothing is written."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from tests.support.driver import Person, TestBed, inline_buttons, text_of
from tests.test_vendor_journey import BEIJING, HOSPITAL, SCHOOL_GATE, ZHUANKOU, ask_where_to_sell, set_local_time

DISTANCE = re.compile(r"\d+(\.\d+)?(米|公里)")
DISTRICTS = ["武汉经开区", "重庆永川区", "郑州惠济区"]


async def messages_until_quiet(vendor: Person, says: str) -> list[dict]:
    """Everything the bot sends until it falls silent, starting from the message that says ``says``."""
    messages = []
    while True:
        try:
            messages.append(await vendor.expect_message(timeout=1.5))
        except AssertionError:
            break
    start = next((i for i, m in enumerate(messages) if says in text_of(m)), None)
    assert start is not None, f"nobody said {says!r}: {[text_of(m) for m in messages]}"
    return messages[start:]


async def here(vendor: Person, place: tuple[float, float]) -> None:
    await ask_where_to_sell(vendor, "这里能摆摊吗")
    await vendor.share_location(*place)


async def nearest(vendor: Person, place: tuple[float, float]) -> None:
    await ask_where_to_sell(vendor)
    await vendor.share_location(*place)


async def open_spot_page(vendor: Person, name: str) -> None:
    await vendor.send("/sell")
    await vendor.expect_message()
    await vendor.send(name)
    await vendor.expect_message(contains="帮您找到了这些")
    listing = await vendor.expect_message()
    await vendor.press(listing, name)
    await vendor.expect_message()  # the pin


async def flowers_now(vendor: Person, place: tuple[float, float]) -> None:
    await nearest(vendor, place)
    await vendor.expect_message(contains="正在查找")
    summary = None
    while summary is None or "venue" in summary:
        summary = await vendor.expect_message()
    await vendor.press_data(summary, "vres:30.50000:114.16000:flowers:now:0")


async def search_nothing(vendor: Person, _place: tuple[float, float]) -> None:
    await vendor.send("/sell")
    await vendor.expect_message()
    await vendor.send("火星大道")


@dataclass
class Refusal:
    story: str
    hour: int
    act: Callable[[Person, tuple[float, float]], Awaitable[None]]
    place: tuple[float, float]
    says: str
    offers: str  # "distance": a spot with how far it is; "districts": the districts to choose from


REFUSALS = [
    Refusal("school gate in school hours", 10, here, SCHOOL_GATE, "禁止摆摊区域", "distance"),
    Refusal("hospital entrance, at any hour", 23, here, HOSPITAL, "医院出入口", "distance"),
    Refusal("no zone, but only designated spots are legal", 23, here, ZHUANKOU, "只能在指定的摆摊点", "distance"),
    Refusal("nothing open right now", 5, nearest, ZHUANKOU, "附近现在没有开放的摆摊点", "distance"),
    Refusal("no spot for these goods now", 23, flowers_now, ZHUANKOU, "最快能摆上摊", "distance"),
    Refusal("outside the service area", 23, nearest, BEIJING, "不在我们的服务范围内", "districts"),
    Refusal(
        "a temporarily closed spot",
        10,
        lambda v, _: open_spot_page(v, "全力北路便民点"),
        ZHUANKOU,
        "暂停开放",
        "distance",
    ),
    Refusal("a relocated spot", 12, lambda v, _: open_spot_page(v, "沌口老市场外摆点"), ZHUANKOU, "已搬到", "distance"),
    Refusal("no spot matches the name", 12, search_nothing, ZHUANKOU, "没有找到", "districts"),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.story for r in REFUSALS])
async def test_every_refusal_carries_a_concrete_alternative(bed: TestBed, refusal: Refusal) -> None:
    set_local_time(bed, 2026, 11, 23, refusal.hour, 20)  # a Monday
    vendor = bed.person(4100 + REFUSALS.index(refusal), "摊主")
    await refusal.act(vendor, refusal.place)
    messages = await messages_until_quiet(vendor, refusal.says)
    if refusal.offers == "districts":
        assert [b["text"] for b in inline_buttons(messages[0])] == DISTRICTS
    else:
        offered = "\n".join(text_of(m) for m in messages)
        assert DISTANCE.search(offered), offered  # a named spot and how far it is
        assert re.search(r"\d\d:\d\d", offered), offered  # and when it is open


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        ("vres:abc:114.1:-:now:0", "no longer active"),
        ("vres:30.5:114.16:caviar:now:0", "no longer active"),
        ("vres:30.5:114.16:-:someday:0", "no longer active"),
        ("vres:30.5:114.16:-:now:999", "no longer active"),
        ("vgoods:30.5:114.16:never", "no longer active"),
        ("vdist:atlantis:0", "no longer active"),
        ("vspot:abc", "no longer active"),
        ("vspot:99999", "no longer exists"),
        ("vsub:99999", "no longer exists"),
        ("vunsub:-1", "no longer active"),
        ("vmode:teleport", "no longer active"),
    ],
)
async def test_forged_or_stale_buttons_get_a_clear_answer(bed: TestBed, data: str, answer: str) -> None:
    alice = bed.person(4200, "Alice", language_code="en")
    await alice.send("/sell")
    choices = await alice.expect_message()
    reply = await alice.expect_answer(await alice.press_data(choices, data))
    assert answer in reply["text"]
    assert await bed.db.fetchall("SELECT * FROM subscriptions") == []


async def test_a_forged_place_outside_the_area_is_refused_like_a_shared_one(bed: TestBed) -> None:
    alice = bed.person(4201, "Alice", language_code="en")
    await alice.send("/sell")
    choices = await alice.expect_message()
    await alice.press_data(choices, "vres:39.90420:116.40740:-:now:0")
    await alice.expect_message(contains="outside the area we serve")


@pytest.mark.parametrize(
    ("send", "hint"),
    [
        ("sticker", "发送我的位置"),
        ("photo", "发送我的位置"),
        ("voice", "发送我的位置"),
    ],
)
async def test_wrong_kind_of_message_while_a_location_is_awaited(bed: TestBed, send: str, hint: str) -> None:
    set_local_time(bed, 2026, 11, 23, 23, 0)
    vendor = bed.person(4300, "摊主")
    await ask_where_to_sell(vendor)
    await getattr(vendor, f"send_{send}")()
    await vendor.expect_message(contains=hint)
    await vendor.share_location(*ZHUANKOU)  # the step stayed: a location still works
    await vendor.expect_message(contains="正在查找")


async def test_over_long_search_text_keeps_the_step(bed: TestBed) -> None:
    vendor = bed.person(4301, "摊主")
    await vendor.send("/sell")
    choices = await vendor.expect_message()
    await vendor.press(choices, "按名称或街道查找")
    await vendor.expect_message(contains="请输入")
    await vendor.send("夜" * 51)
    await vendor.expect_message(contains="输入的内容太长了")
    await vendor.send_sticker()
    await vendor.expect_message(contains="请输入摆摊点名称")
    await vendor.send("夜市")
    await vendor.expect_message(contains="帮您找到了这些")


async def test_other_menu_buttons_still_work_while_a_location_is_awaited(bed: TestBed) -> None:
    vendor = bed.person(4302, "摊主")
    await ask_where_to_sell(vendor)
    await vendor.send("❓ 帮助")
    await vendor.expect_message(contains="我能做什么")
