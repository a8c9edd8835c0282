"""Button data (bot.wire): what the bot writes is read back; anything else, however close, is refused, never raised."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import wire
from bot.cases import moves, timers
from bot.platform.i18n import get_lang
from bot.wire import (
    CaseButton,
    DeskButton,
    FollowupAnswer,
    ForgetButton,
    MineButton,
    Place,
    ReportButton,
    Satisfaction,
    StaffButton,
    VendorDistrict,
    VendorGoods,
    VendorResults,
)

BIGGEST = 2**63 - 1  # SQLite's largest INTEGER

# Button data exactly as the bot writes it, and what it is read as.
READ_BACK: list[tuple[str, Any]] = [
    ("lang:zh_Hans", "zh_Hans"),
    ("set:mute", True),
    ("set:unmute", False),
    ("fu:7:not_fixed", FollowupAnswer(7, "not_fixed")),
    ("fs:7:5", Satisfaction(7, 5)),
    ("rpt:cat:garbage", ReportButton("cat", value="garbage")),
    ("rpt:dist:wuhan-edz", ReportButton("dist", value="wuhan-edz")),
    ("rpt:same:12", ReportButton("same", report_id=12)),
    ("rpt:edit:photos", ReportButton("edit", value="photos")),
    ("rpt:submit", ReportButton("submit")),
    ("mine:page:5", MineButton("page", offset=5)),
    ("mine:show:7:5", MineButton("show", 7, 5)),
    ("mine:withdrawn:7:0", MineButton("withdrawn", 7, 0)),
    ("mine:info:7", MineButton("info", 7)),
    ("mine:cancel", MineButton("cancel")),
    ("case:accept:7:submitted", CaseButton("accept", 7, "submitted")),
    (f"case:to:{BIGGEST}:accepted:12345", CaseButton("to", BIGGEST, "accepted", 12345)),
    ("case:back:7:reopened", CaseButton("back", 7, "reopened")),
    ("staff:list", StaffButton("list")),
    ("staff:removed:42", StaffButton("removed", 42)),
    ("staff:role:42:supervisor", StaffButton("role", 42, "supervisor")),
    ("forget:yes:29000000", ForgetButton(True, 29000000)),
    ("forget:no:0", ForgetButton(False, 0)),
    ("vmode:district", "district"),
    ("vres:30.50000:114.16000:flowers:now:0", VendorResults(Place(30.5, 114.16), "flowers", "now", 0)),
    ("vres:-90.00000:-180.00000:-:morning:30", VendorResults(Place(-90, -180), None, "morning", 30)),
    ("vgoods:30.50000:114.16000:tonight", VendorGoods(Place(30.5, 114.16), "tonight")),
    ("vdist:wuhan-edz:2", VendorDistrict("wuhan-edz", 2)),
    ("vspot:3", 3),
    ("vsub:3", 3),
    ("vunsub:3", 3),
    ("note:note:12", DeskButton("note", 12)),
    ("note:reply:12", DeskButton("reply", 12)),
    ("mod:menu:12", DeskButton("menu", 12)),
    ("mod:unblock:12", DeskButton("unblock", 12)),
    ("mod:hidep:12:40", DeskButton("hidep", 12, 40)),
    (f"mod:showp:{BIGGEST}:{BIGGEST}", DeskButton("showp", BIGGEST, BIGGEST)),
]

# The forged data of issue 13, then more of each kind: non-ASCII digits, signs, overflow, empty, missing and extra
# parts, unknown values, whitespace, exponents.
REFUSED = [
    "case:accept:²:submitted",
    "mine:show:²:0",
    "fu:²:fixed",
    "fs:²:5",
    "vspot:²",
    "forget:no:²",
    "fu:99999999999999999999999:fixed",
    f"fu:{BIGGEST + 1}:fixed",
    "fu:١٢:fixed",
    "fu:１:fixed",
    "fu:+1:fixed",
    "fu:01:fixed",
    "fu: 1:fixed",
    "fu:1_0:fixed",
    "fu:1:fixed:",
    "fu:1",
    "fu:1:FIXED",
    "fs:1:0",
    "fs:1:6",
    "fs:1:٥",
    "lang:",
    "lang:xx",
    "lang:en:en",
    "set:Mute",
    "rpt:same:-1",
    "rpt:same:²",
    "rpt:cat:klingon",
    "rpt:dist:a/b",
    "rpt:edit:reporter",
    "rpt:submit:now",
    "rpt:explode",
    "mine:show:-1:0",
    "mine:show:1:",
    "mine:show:1:0:0",
    "mine:page:²",
    "mine:page:100001",
    "mine:info:٣",
    "mine:cancel:1",
    "mine:explode",
    "case:accept:-1:submitted",
    "case:accept::submitted",
    "case:accept:1:submitted:1",
    "case:to:1:accepted",
    "case:to:1:accepted:²",
    "case:invite:1:submitted",
    "case:accept:1:SUBMITTED",
    "staff:show:²",
    "staff:show:",
    "staff:list:1",
    "staff:role:1",
    "staff:role:1:god",
    "staff:removed:99999999999999999999999",
    "forget:yes:-1",
    "forget:yes:",
    "forget:maybe:1",
    "forget:yes:1:1",
    "vmode:teleport",
    "vmode:",
    "vres:1e1:114:-:now:0",
    "vres:nan:nan:-:now:0",
    "vres:inf:0:-:now:0",
    "vres:91:0:-:now:0",
    "vres:0:181:-:now:0",
    "vres:٣0.5:114.16:-:now:0",
    "vres:30.5:114.16:-:now:-1",
    "vres:30.5:114.16:-:now",
    "vres:30.5:114.16:caviar:now:0",
    "vres:30.5:114.16:-:someday:0",
    "vgoods:30.5: 114.16:now",
    "vgoods:30.5:114.16",
    "vdist::0",
    "vdist:wuhan-edz:²",
    "vsub:-1",
    "vunsub:",
    "vspot:1:1",
    "note:note:²",
    "note:remark:1",
    "note:reply:1:1",
    "mod:hide:1:1",
    "mod:hidep:1",
    "mod:showp:1:-1",
    "mod:nuke:1",
    f"mod:menu:{BIGGEST + 1}",
    "",
    ":",
    "x" * 64,
    "vspot:" + "1" * 58,
    "zzz:1",
]


@pytest.mark.parametrize(("data", "read"), READ_BACK)
def test_what_the_bot_writes_is_read_back(data: str, read: Any) -> None:
    prefix, *parts = data.split(":")
    assert wire.make(prefix, *parts) == data
    assert wire.READERS[prefix](data) == read
    assert wire.well_formed(data)


@pytest.mark.parametrize("data", REFUSED)
def test_forged_data_is_refused_without_raising(data: str) -> None:
    reader = wire.READERS.get(data.split(":")[0])
    assert reader is None or reader(data) is None
    assert not wire.well_formed(data)


def test_every_prefix_has_a_reader_and_none_hides_another() -> None:
    assert set(wire.READERS) == set(wire.PREFIXES)
    assert len(set(wire.PREFIXES)) == len(wire.PREFIXES)
    assert all(":" not in prefix for prefix in wire.PREFIXES)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("7", 7), (str(BIGGEST), BIGGEST), (str(BIGGEST + 1), None), ("²", None), ("٣", None), ("１", None)]
    + [(text, None) for text in ("", "-1", "+1", "07", " 1", "1 ", "1_000", "0x1", "1.0", "1e3")],
)
def test_a_number_is_ascii_digits_within_sqlites_range(text: str, value: int | None) -> None:
    assert wire.number(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("30.50000", 30.5), ("-0.00000", 0.0), ("90", 90.0), ("-90.0", -90.0)]
    + [(text, None) for text in ("90.00001", "nan", "inf", "-inf", "1e1", " 30.5", "30.5\n", "٣0.5", "+30.5", "")],
)
def test_a_latitude_is_a_plain_decimal_in_range(text: str, value: float | None) -> None:
    assert wire.coordinate(text, 90) == value


def test_make_refuses_data_that_could_not_be_read_back() -> None:
    with pytest.raises(ValueError, match="contains ':'"):
        wire.make(wire.REPORT, "dist", "a:b")
    with pytest.raises(ValueError, match="too long"):
        wire.make(wire.VENDOR_SPOT, "1" * 60)
    longest = wire.make(wire.VENDOR_RESULTS, "-89.12345", "-179.12345", "own_produce", "tonight", 30)
    assert len(longest.encode()) <= wire.MAX_BYTES
    assert wire.vendor_results(longest) is not None


def test_the_buttons_the_core_queues_are_read_back() -> None:
    t = get_lang("en", UTC)
    pressed = [
        wire.followup_answer(button["callback_data"])
        for row in timers.answer_keyboard(t, 9)["inline_keyboard"]
        for button in row
    ]
    assert pressed == [FollowupAnswer(9, answer) for answer in wire.FOLLOWUP_ANSWERS]
    scores = [
        wire.satisfaction(button["callback_data"])
        for row in timers.satisfaction_keyboard(9)["inline_keyboard"]
        for button in row
    ]
    assert scores == [Satisfaction(9, score) for score in wire.SCORES]
    assert wire.report_button(wire.RESUME_DRAFT) == ReportButton("resume")
    assert wire.report_button(wire.DISCARD_DRAFT) == ReportButton("discard")


def test_the_case_moves_are_the_cores() -> None:
    assert set(wire.CASE_MOVES) == {action.value for action in moves.CASE_ACTIONS}


@given(prefix=st.sampled_from(wire.PREFIXES), rest=st.text(max_size=80))
def test_no_data_at_all_makes_a_reader_raise_and_what_is_accepted_is_ascii(prefix: str, rest: str) -> None:
    data = f"{prefix}:{rest}"
    if wire.READERS[prefix](data) is not None:
        assert data.isascii() and len(data) <= wire.MAX_BYTES


@given(
    prefix=st.sampled_from(wire.PREFIXES),
    digits=st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=25).filter(lambda s: not s.isascii()),
    shape=st.integers(0, 5),
)
def test_digits_that_are_not_ascii_are_never_a_number(prefix: str, digits: str, shape: int) -> None:
    parts = ["accept", digits, "submitted", digits, digits][:shape]
    data = ":".join([prefix, *parts]) if parts else f"{prefix}:{digits}"
    assert wire.number(digits) is None
    assert wire.READERS[prefix](data) is None
