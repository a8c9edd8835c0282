"""python-telegram-bot persistence kept in the bot's one SQLite file.

Conversation keys (tuples of ids) and states are stored as JSON; user and chat data as JSON objects.
Bot data is not persisted: the domain tables are the truth and shared services live there at run time.
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

    def __init__(self, open_database: Callable[[], Awaitable[Database]], update_interval: float = 1.0) -> None:
        super().__init__(store_data=_STORE, update_interval=update_interval)
        self._open_database = open_database

    async def _db(self) -> Database:
        return await self._open_database()

    # --------------------------------------------------------------- reads
    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        rows = await (await self._db()).fetchall("SELECT user_id, data FROM ptb_user_data")
        return {row["user_id"]: json.loads(row["data"]) for row in rows}

    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        rows = await (await self._db()).fetchall("SELECT chat_id, data FROM ptb_chat_data")
        return {row["chat_id"]: json.loads(row["data"]) for row in rows}

    async def get_bot_data(self) -> dict[str, Any]:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await (await self._db()).fetchall("SELECT key, state FROM ptb_conversations WHERE name = ?", (name,))
        return {tuple(json.loads(row["key"])): json.loads(row["state"]) for row in rows}

    # -------------------------------------------------------------- writes
    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        db = await self._db()
        encoded_key = json.dumps(list(key))
        if new_state is None:
            await db.execute("DELETE FROM ptb_conversations WHERE name = ? AND key = ?", (name, encoded_key))
        else:
            await db.execute(
                "INSERT INTO ptb_conversations (name, key, state) VALUES (?, ?, ?) "
                "ON CONFLICT (name, key) DO UPDATE SET state = excluded.state",
                (name, encoded_key, json.dumps(new_state)),
            )

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

    async def drop_user_data(self, user_id: int) -> None:
        await (await self._db()).execute("DELETE FROM ptb_user_data WHERE user_id = ?", (user_id,))

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None  # every update is already committed

    async def _upsert(self, table: str, column: str, key: int, data: dict[str, Any]) -> None:
        db = await self._db()
        if not data:
            await db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
            return
        await db.execute(
            f"INSERT INTO {table} ({column}, data) VALUES (?, ?) "
            f"ON CONFLICT ({column}) DO UPDATE SET data = excluded.data",
            (key, json.dumps(data, ensure_ascii=False, default=str)),
        )
