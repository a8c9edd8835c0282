"""Telegram's Mini App ``initData``: checked as Telegram specifies, and signed the same way (playground, tests).

The data-check string is every received field but ``hash``, as ``key=value`` sorted by key and joined by newlines;
the secret key is HMAC-SHA256 of the bot token keyed with ``"WebAppData"``; ``hash`` is the hex HMAC-SHA256 of the
data-check string under that key. Only the bot (which knows the token) can have made it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

MAX_AGE = timedelta(days=1)  # older initData is refused: a leaked one stops working by tomorrow
MAX_LENGTH = 4096  # Telegram's initData is far shorter; a longer one is not Telegram's


class InitDataError(ValueError):
    """initData missing, malformed, not signed with our token, or too old (the API answers 401)."""


@dataclass(frozen=True)
class WebAppUser:
    """Who opened the Mini App, as initData's signed ``user`` field says."""

    id: int
    first_name: str
    language_code: str | None


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields))


def sign(bot_token: str, user: dict[str, Any], auth_date: datetime, **extra: str) -> str:
    """initData as Telegram would give it to a page opened by ``user`` at ``auth_date``."""
    fields = {
        "auth_date": str(int(auth_date.timestamp())),
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
        **extra,
    }
    digest = hmac.new(_secret(bot_token), _data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def validate(init_data: str, bot_token: str, now: datetime) -> WebAppUser:
    """The signed user; InitDataError when missing, tampered with, or older than MAX_AGE."""
    if not init_data:
        raise InitDataError("initData is missing: open the map from the bot in Telegram")
    if len(init_data) > MAX_LENGTH:
        raise InitDataError("initData is too long")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("initData is not a query string") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataError("initData repeats a field")
    given = fields.pop("hash", "")
    expected = hmac.new(_secret(bot_token), _data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise InitDataError("initData is not signed by this bot")
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), tz=UTC)
    except (KeyError, ValueError, OverflowError, OSError):
        raise InitDataError("initData has no valid auth_date") from None
    if now - signed_at > MAX_AGE:
        raise InitDataError("initData is older than a day: open the map again from the bot")
    try:
        user = json.loads(fields["user"])
        user_id = user["id"]
        if type(user_id) is not int:
            raise TypeError("id")
        language = user.get("language_code")
        return WebAppUser(user_id, str(user.get("first_name", "")), language if isinstance(language, str) else None)
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError):
        raise InitDataError("initData has no valid user") from None
