"""What the Bot API says, for the emulator: its error answers, the records of calls, chats and files, and
Telegram's rules for text (HTML entities, lengths in UTF-16 code units, 64-byte button data)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

_ALLOWED_HTML = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    }
)
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64


class AnswerLost(Exception):
    """The call was carried out, but its answer never reaches the bot: the connection broke on the way back."""


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": …, "description": …}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


@dataclass
class Fault:
    """One injected failure for the next call of a method."""

    kind: str  # "429", "500", "502", "403", "400", "slow", "drop", "lost" (done, but the answer never comes)
    retry_after: int = 1
    delay: float = 0.0
    description: str = ""


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float
    result: Any = None
    error: str | None = None


@dataclass
class Chat:
    id: int
    type: str
    title: str = ""
    first_name: str = ""
    username: str | None = None
    blocked: bool = False  # a private chat whose user blocked the bot

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name
        else:
            data["title"] = self.title
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class StoredFile:
    file_id: str
    unique_id: str
    path: str
    content: bytes = b""
    filename: str | None = None


class _EntityChecker(HTMLParser):
    """Refuses what Telegram refuses in parse_mode=HTML: unknown or unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_HTML:
            self.error = self.error or f'unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'unexpected end tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def utf16_units(text: str) -> int:
    """A length as Telegram measures it: UTF-16 code units (written apart from bot.platform.text, to check it)."""
    return len(text.encode("utf-16-le")) // 2


def plain_text(text: str, parse_mode: str | None) -> str:
    """The text as the recipient sees it, after Telegram has applied parse_mode."""
    if (parse_mode or "").upper() != "HTML":
        return text
    if re.search(r"<(?![a-zA-Z/])", text):
        raise ApiError(400, "Bad Request: can't parse entities: unescaped '<'")
    checker = _EntityChecker()
    checker.feed(text)
    checker.close()
    if checker.error or checker.stack:
        raise ApiError(400, f"Bad Request: can't parse entities: {checker.error or 'unclosed tag'}")
    return "".join(checker.text)  # the parser has decoded the entities already: "&amp;amp;" reads "&amp;"


def public_message(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_") and k != "deleted"}


def location_of(params: dict[str, Any]) -> dict[str, float]:
    try:
        latitude, longitude = float(params["latitude"]), float(params["longitude"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, "Bad Request: wrong location") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ApiError(400, "Bad Request: wrong location")
    return {"latitude": latitude, "longitude": longitude}


def fault_error(fault: Fault) -> ApiError:
    if fault.kind == "429":
        return ApiError(429, f"Too Many Requests: retry after {fault.retry_after}", retry_after=fault.retry_after)
    if fault.kind == "403":
        return ApiError(403, "Forbidden: bot was blocked by the user")
    if fault.kind == "400":
        return ApiError(400, fault.description or "Bad Request: injected")
    return ApiError(int(fault.kind) if fault.kind.isdigit() else 500, "Internal Server Error")
