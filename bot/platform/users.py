"""People who write to the bot: their language choice and whether pushes still reach them."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.platform.clock import to_db
from bot.platform.config import SUPPORTED_LANGUAGES
from bot.platform.db import Database, Reader, read_rows
from bot.platform.i18n import Lang, get_lang, resolve_language

_RECORD_COLUMNS = "telegram_id, first_name, language, telegram_language, role, blocked_bot, username"


@dataclass(frozen=True)
class UserRecord:
    telegram_id: int
    first_name: str
    language: str | None
    telegram_language: str | None
    role: str
    blocked_bot: bool
    username: str | None = None


def record_of(row: sqlite3.Row) -> UserRecord:
    return UserRecord(
        row["telegram_id"],
        row["first_name"],
        row["language"],
        row["telegram_language"],
        row["role"],
        bool(row["blocked_bot"]),
        row["username"],
    )


def answer_lang(record: UserRecord | None, telegram_code: str | None, default: str, timezone: tzinfo) -> Lang:
    """The language to answer a person in — their stored choice, then their Telegram app's language (as this update
    says, else as last seen), then the bot's default. Every way to a person's language ends here."""
    stored = record.language if record is not None else None
    telegram_code = telegram_code or (record.telegram_language if record is not None else None)
    return get_lang(resolve_language(stored, telegram_code, default), timezone)


async def lang_for(source: Reader, telegram_id: int, default: str, timezone: tzinfo) -> Lang:
    """:func:`answer_lang` from a fresh read of the person's row, for code inside a transaction (pushes, outbox)."""
    rows = await read_rows(source, f"SELECT {_RECORD_COLUMNS} FROM users WHERE telegram_id = ?", (telegram_id,))
    return answer_lang(record_of(rows[0]) if rows else None, None, default, timezone)


class UnknownLanguage(ValueError):
    """The language is not one the bot has a catalog for."""


class UserDirectory:
    """The users table, with a small cache so a busy bot does not read the same row for every update."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[int, UserRecord] = {}

    async def get(self, telegram_id: int) -> UserRecord | None:
        if telegram_id in self._cache:
            return self._cache[telegram_id]
        row = await self.db.fetchone(f"SELECT {_RECORD_COLUMNS} FROM users WHERE telegram_id = ?", (telegram_id,))
        if row is None:
            return None
        record = record_of(row)
        self._cache[telegram_id] = record
        return record

    async def seen(
        self,
        telegram_id: int,
        first_name: str,
        telegram_language: str | None,
        now: datetime,
        username: str | None = None,
    ) -> UserRecord:
        """Records that the user wrote; writing again also means pushes reach them again. A staff member's
        @username is kept too (a grids file may name an officer by it); a resident's never is."""
        known = await self.get(telegram_id)
        if (
            known is not None
            and not known.blocked_bot
            and known.first_name == first_name
            and known.telegram_language == telegram_language
            and known.username == (username if known.role != "resident" else None)
        ):
            return known
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO users (telegram_id, first_name, telegram_language, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (telegram_id) DO UPDATE
                   SET first_name = excluded.first_name, telegram_language = excluded.telegram_language,
                       username = CASE WHEN users.role = 'resident' THEN NULL ELSE ? END,
                       blocked_bot = 0, updated_at = excluded.updated_at""",
                (telegram_id, first_name, telegram_language, to_db(now), to_db(now), username),
            )
        self._cache.pop(telegram_id, None)
        record = await self.get(telegram_id)
        assert record is not None
        return record

    async def set_language(self, telegram_id: int, language: str, now: datetime) -> None:
        if language not in SUPPORTED_LANGUAGES:
            raise UnknownLanguage(language)
        async with self.db.transaction() as conn:
            await conn.execute(
                """INSERT INTO users (telegram_id, language, created_at, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (telegram_id) DO UPDATE SET language = excluded.language,
                   updated_at = excluded.updated_at""",
                (telegram_id, language, to_db(now), to_db(now)),
            )
        self._cache.pop(telegram_id, None)

    async def mark_blocked(self, telegram_id: int, now: datetime) -> None:
        """Telegram answered Forbidden: stop pushing to this user until they write again."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE users SET blocked_bot = 1, updated_at = ? WHERE telegram_id = ?",
                (to_db(now), telegram_id),
            )
        self._cache.pop(telegram_id, None)

    def forget_cached(self, telegram_id: int) -> None:
        self._cache.pop(telegram_id, None)
