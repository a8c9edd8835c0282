"""Escaping user text for HTML messages, and fitting text into Telegram's limits in UTF-16 code units."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.platform.text import ELLIPSIS, TEXT_LIMIT, clip, escape, fit, plain, take_fitting, utf16_len, visible_len


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), ("城管", 2), ("🚧", 2), ("a🚧b", 4), ("👨\u200d👩\u200d👧", 8), ("e\u0301", 2)],
)
def test_utf16_len_counts_as_telegram_does(text: str, units: int) -> None:
    assert utf16_len(text) == units == len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("eleven char", 10, "eleven ch…"),
        ("words and spaces", 7, "words…"),  # no space left dangling before the ellipsis
        ("🚧🚧🚧🚧", 6, "🚧🚧…"),  # never half an emoji: 5 units used of 6
        ("🚧🚧🚧🚧", 8, "🚧🚧🚧🚧"),
        ("城管城管城管", 4, "城管城…"),
        ("anything", 1, ELLIPSIS),
        ("anything", 0, ""),
        ("", 0, ""),
    ],
)
def test_clip(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected


@given(st.text(), st.integers(min_value=0, max_value=300))
def test_clip_always_fits_and_keeps_the_start(text: str, limit: int) -> None:
    clipped = clip(text, limit)
    assert utf16_len(clipped) <= limit
    if utf16_len(text) <= limit:
        assert clipped == text
    elif limit:
        assert clipped.endswith(ELLIPSIS) and text.startswith(clipped[:-1])
    clipped.encode("utf-8")  # a lone surrogate would not encode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>Boss", "&lt;b&gt;Boss"),
        ('<a href="tg://user?id=1">Admin</a>', "&lt;a href=&quot;tg://user?id=1&quot;&gt;Admin&lt;/a&gt;"),
        ("Tom & Jerry's", "Tom &amp; Jerry&#x27;s"),
        ("plain 城管", "plain 城管"),
        (42, "42"),
    ],
)
def test_escape(text: object, expected: str) -> None:
    assert escape(text) == expected


def test_escape_clips_before_escaping_so_no_entity_is_cut() -> None:
    assert escape("&" * 10, 5) == "&amp;" * 4 + ELLIPSIS
    assert visible_len(escape("<" * 5000, 600)) == 600


@given(st.text())
def test_escaped_text_reads_back_as_typed(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == text == plain(escaped)


def test_visible_len_is_what_the_recipient_reads() -> None:
    assert visible_len("<b>R20260101-0001</b> · a &amp; b") == len("R20260101-0001 · a & b")
    assert visible_len('<a href="tg://user?id=1">' + escape("<b>Boss") + "</a>") == len("<b>Boss")
    assert visible_len("🚧 <i>x</i>") == 4


def test_take_fitting_from_the_start_and_from_the_end() -> None:
    entries = ["one", "<b>two</b>", "three", "four"]
    assert take_fitting(entries, 100) == (entries, 0)
    assert take_fitting(entries, 8) == (["one", "<b>two</b>"], 2)  # 4 + 4 units with their newlines
    assert take_fitting(entries, 11, latest=True) == (["three", "four"], 2)
    assert take_fitting(entries, 0, latest=True) == ([], 4)
    # The latest run that fits, not a gap: "three" does not fit, so "two" is not taken past it.
    assert take_fitting(["a", "b" * 50, "c"], 10, latest=True) == (["c"], 2)


def test_fit_keeps_what_fits_and_never_fails_on_the_rest() -> None:
    short = "<b>Title</b>\n" + escape("<b>Boss")
    assert fit(short) == short
    long = "<b>Title</b>\n" + escape("<&>" * 3000)
    fitted = fit(long)
    assert visible_len(fitted) <= TEXT_LIMIT and fitted.endswith(ELLIPSIS)
    assert plain(fitted).startswith("Title\n<&><&>")  # the words survive; only the bold is lost
    assert visible_len(fit("🚧" * 600, 1024)) <= 1024
