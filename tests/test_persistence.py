"""Conversations, user data and chat data survive a restart in the same SQLite file."""

from __future__ import annotations

from pathlib import Path

from bot.edge.persistence import SQLitePersistence
from bot.platform.db import Database


async def test_round_trip_through_a_new_persistence(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    db = await Database.open(path)

    async def opener() -> Database:
        return db

    persistence = SQLitePersistence(opener)
    await persistence.update_conversation("report", (42, 42), 3)
    await persistence.update_conversation("report", (7, 7), 1)
    await persistence.update_conversation("report", (7, 7), None)  # ended
    await persistence.update_user_data(42, {"draft": {"category": "garbage", "note": "井盖"}})
    await persistence.update_chat_data(-100, {"card": 5})
    await db.close()

    reopened = await Database.open(path)

    async def reopener() -> Database:
        return reopened

    again = SQLitePersistence(reopener)
    assert await again.get_conversations("report") == {(42, 42): 3}
    assert await again.get_conversations("other") == {}
    assert await again.get_user_data() == {42: {"draft": {"category": "garbage", "note": "井盖"}}}
    assert await again.get_chat_data() == {-100: {"card": 5}}
    await again.update_user_data(42, {})
    assert await again.get_user_data() == {}
    await reopened.close()
