"""Time in one place: the bot's notion of "now" (UTC), shiftable for tests and the playground."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DB_FORMAT = "%Y-%m-%d %H:%M:%S"


class Clock:
    """The current time in UTC, plus an offset a test or the playground may advance."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def to_db(moment: datetime) -> str:
    """UTC text SQLite can compare and its date functions can read."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; the bot stores only aware UTC times")
    return moment.astimezone(UTC).strftime(DB_FORMAT)


def from_db(text: str) -> datetime:
    return datetime.strptime(text, DB_FORMAT).replace(tzinfo=UTC)
