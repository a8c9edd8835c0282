"""User text in HTML messages: the one escaping helper, and fitting text into Telegram's limits.

Telegram counts a message's length in UTF-16 code units after parsing its entities (4096 for a text, 1024 for a
caption), so an emoji outside the Basic Multilingual Plane counts twice. Everything a person, an import or staff
typed goes through :func:`escape` on its way into an HTML message, optionally clipped first; whatever the bot
builds from stored text is measured with :func:`visible_len` and fitted, so no view can fail for being too long.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ELLIPSIS = "…"

# How much of a stored field a message shows, in UTF-16 code units. Generous: twice the typed limit, so text
# within the input checks (which count characters) is never cut, even all in emoji; only stored text longer
# than anyone could type (an import, an older version) is clipped.
NAME_SHOWN = 64  # Telegram's own limit for a first name
ADDRESS_SHOWN = 400
DESCRIPTION_SHOWN = 2000
TITLE_SHOWN = 200  # a spot's or a zone's name
NOTE_SHOWN = 600  # one entry of a history, one reason or note

_TAG = re.compile(r"<[^>]*>")


def escape(text: object, limit: int | None = None) -> str:
    """User text made safe for parse_mode HTML; with ``limit``, clipped to that many UTF-16 units first."""
    plain = str(text)
    return html.escape(plain if limit is None else clip(plain, limit))


def utf16_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (a character outside the BMP counts two)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def clip(text: str, limit: int) -> str:
    """The text if it fits in ``limit`` UTF-16 units, else its start and "…" (never half a surrogate pair)."""
    if utf16_len(text) <= limit:
        return text
    if limit < 1:
        return ""
    room, units = limit - 1, 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > room:
            return text[:index].rstrip() + ELLIPSIS
    return text  # not reached: the text did not fit


def plain(markup: str) -> str:
    """What the recipient reads of an HTML message: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", markup))


def visible_len(markup: str) -> int:
    """The length Telegram checks against its limits: of the text after the HTML is parsed, in UTF-16 units."""
    return utf16_len(plain(markup))


def take_fitting(entries: Sequence[str], budget: int, *, latest: bool = False) -> tuple[list[str], int]:
    """As many entries (lines of HTML) as fit in ``budget`` with a newline each, from the start or, with
    ``latest``, from the end (kept in order); and how many were left out."""
    order = range(len(entries) - 1, -1, -1) if latest else range(len(entries))
    kept: list[int] = []
    used = 0
    for index in order:
        cost = visible_len(entries[index]) + 1
        if used + cost > budget:
            break
        kept.append(index)
        used += cost
    kept.sort()
    return [entries[index] for index in kept], len(entries) - len(kept)


def fit(markup: str, limit: int = TEXT_LIMIT) -> str:
    """The message as it is when it fits; else, as a last resort, its visible text clipped (formatting lost,
    never the message)."""
    if visible_len(markup) <= limit:
        return markup
    return html.escape(clip(plain(markup), limit), quote=False)
