"""python-telegram-bot persistence kept in the bot's one SQLite file.

Conversation keys (tuples of ids) and states are stored as JSON; user and chat data as JSON objects.
Bot data is not persisted: the domain tables are the truth and shared services live there at run time.

Shared (several instances on one PostgreSQL, bot/edge/inbound.py): PTB reads conversations and data only at start,
so a person's data is read again before each of their updates (``refresh_*``), and a chat's conversation steps
through :meth:`SQLitePersistence.chat_conversations` before its next update is handled.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from bot.platform.db import Database

_STORE = PersistenceInput(bot_data=False, chat_data=True, user_data=True, callback_data=False)


class SQLitePersistence(BasePersistence[dict[str, Any], dict[str, Any], dict[str, Any]]):
    """Stores conversations, user data and chat data in the tables of migration 0001."""

    def __init__(
        self, open_database: Callable[[], Awaitable[Database]], update_interval: float = 1.0, shared: bool = False
    ) -> None:
        super().__init__(store_data=_STORE, update_interval=update_interval)
        self._open_database = open_database
        self.shared = shared  # other instances write the same rows: read them again before each update
        # What each row holds now (JSON as written; absent when there is no row), so that what did not change is
        # not written again: PTB hands over every touched person's data and every set state at each flush.
        self._stored: dict[tuple[str, str], str] = {}

    async def _db(self) -> Database:
        return await self._open_database()

    # --------------------------------------------------------------- reads
    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        rows = await (await self._db()).fetchall("SELECT user_id, data FROM ptb_user_data")
        self._stored.update((("ptb_user_data", str(row["user_id"])), row["data"]) for row in rows)
        return {row["user_id"]: json.loads(row["data"]) for row in rows}

    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        rows = await (await self._db()).fetchall("SELECT chat_id, data FROM ptb_chat_data")
        self._stored.update((("ptb_chat_data", str(row["chat_id"])), row["data"]) for row in rows)
        return {row["chat_id"]: json.loads(row["data"]) for row in rows}

    async def get_bot_data(self) -> dict[str, Any]:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await (await self._db()).fetchall("SELECT key, state FROM ptb_conversations WHERE name = ?", (name,))
        self._stored.update(((f"conversation {name}", row["key"]), row["state"]) for row in rows)
        return {tuple(json.loads(row["key"])): json.loads(row["state"]) for row in rows}

    # -------------------------------------------------------------- writes
    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        encoded_key = json.dumps(list(key))
        encoded_state = None if new_state is None else json.dumps(new_state)
        stored = (f"conversation {name}", encoded_key)
        if not self.shared and self._stored.get(stored) == encoded_state:
            return  # the step was set again to what it was (a hint, a repeated question)
        # (Shared: another instance may have moved the step since this one remembered it, so it is always written.)
        db = await self._db()
        if encoded_state is None:
            await db.execute("DELETE FROM ptb_conversations WHERE name = ? AND key = ?", (name, encoded_key))
        else:
            await db.execute(
                "INSERT INTO ptb_conversations (name, key, state) VALUES (?, ?, ?) "
                "ON CONFLICT (name, key) DO UPDATE SET state = excluded.state",
                (name, encoded_key, encoded_state),
            )
        self._remember(stored, encoded_state)

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        await self._upsert("ptb_user_data", "user_id", user_id, data)

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        await self._upsert("ptb_chat_data", "chat_id", chat_id, data)

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        await (await self._db()).execute("DELETE FROM ptb_chat_data WHERE chat_id = ?", (chat_id,))
        self._stored.pop(("ptb_chat_data", str(chat_id)), None)

    async def drop_user_data(self, user_id: int) -> None:
        await (await self._db()).execute("DELETE FROM ptb_user_data WHERE user_id = ?", (user_id,))
        self._stored.pop(("ptb_user_data", str(user_id)), None)

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        if self.shared:
            await self._reread("ptb_user_data", "user_id", user_id, user_data)

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        if self.shared:
            await self._reread("ptb_chat_data", "chat_id", chat_id, chat_data)

    async def chat_conversations(self, chat_id: int) -> dict[str, dict[ConversationKey, object]]:
        """The conversation steps stored for one chat, by conversation name (keys start with the chat's id)."""
        rows = await (await self._db()).fetchall(
            "SELECT name, key, state FROM ptb_conversations WHERE key LIKE ? OR key = ?",
            (f"[{chat_id},%", f"[{chat_id}]"),
        )
        found: dict[str, dict[ConversationKey, object]] = {}
        for row in rows:
            found.setdefault(row["name"], {})[tuple(json.loads(row["key"]))] = json.loads(row["state"])
        return found

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None  # every update is already committed

    async def _upsert(self, table: str, column: str, key: int, data: dict[str, Any]) -> None:
        encoded = json.dumps(data, ensure_ascii=False, default=str) if data else None
        stored = (table, str(key))
        if self._stored.get(stored) == encoded:
            return  # unchanged since it was read or last written (most updates touch nobody's data)
        db = await self._db()
        if encoded is None:
            await db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
        else:
            await db.execute(
                f"INSERT INTO {table} ({column}, data) VALUES (?, ?) "
                f"ON CONFLICT ({column}) DO UPDATE SET data = excluded.data",
                (key, encoded),
            )
        self._remember(stored, encoded)

    async def _reread(self, table: str, column: str, key: int, data: dict[str, Any]) -> None:
        """Replaces ``data`` in place with the stored row (another instance may have changed it)."""
        row = await (await self._db()).fetchone(f"SELECT data FROM {table} WHERE {column} = ?", (key,))
        data.clear()
        if row is not None:
            data.update(json.loads(row["data"]))
        self._remember((table, str(key)), None if row is None else row["data"])

    def _remember(self, stored: tuple[str, str], encoded: str | None) -> None:
        if encoded is None:
            self._stored.pop(stored, None)
        else:
            self._stored[stored] = encoded
