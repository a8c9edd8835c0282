"""Telegram's per-chat limits kept across several instances (PostgreSQL): one token bucket per chat in the database.

Each instance's pacer (bot/edge/pacing.py) keeps the limits of what it sends itself; when instances share the
database, the replies of one and the pushes of another may go into the same chat. So before a new message leaves,
the instance takes the chat's next slot from the ``chat_pace`` row (migration 0013) in one statement, whose row
lock makes the instances take turns: the bucket refills at the chat's rate up to its burst, a taker below zero
holds a slot ahead and waits for it (without holding the instance's overall budget meanwhile). A private chat: a
burst of 3, then about one a second, as the pacer's bucket; a group: a burst of 10, then about one every 6 s, so no
rolling minute holds more than Telegram's 20. The rates are a little under Telegram's (below).
"""

from __future__ import annotations

import logging

from bot.platform.db import Database

log = logging.getLogger(__name__)

# (burst, messages a second), a little under Telegram's: a slot is taken a moment before its message is sent, and
# the moments differ by instance (a reply waits for its HTTP call, a taker on another machine does not).
PRIVATE = (3.0, 0.9)
GROUP = (10.0, 9 / 60)

_TAKE = """
INSERT INTO chat_pace (chat_id, tokens, at) VALUES (?, ? - 1, clock_timestamp())
ON CONFLICT (chat_id) DO UPDATE SET
    tokens = LEAST(?, chat_pace.tokens + EXTRACT(EPOCH FROM clock_timestamp() - chat_pace.at) * ?) - 1,
    at = clock_timestamp()
RETURNING tokens"""


class ChatPace:
    """The shared per-chat buckets of the instances on one PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def take_slot(self, chat_id: int) -> float:
        """Takes the chat's next slot and says in how many seconds it comes (0: now); if the database does not
        answer, the own pacer's limits are what is left (a missed slot costs at most a RetryAfter, never a message)."""
        burst, rate = GROUP if chat_id < 0 else PRIVATE
        try:
            row = await self.db.fetchone(_TAKE, (chat_id, burst, burst, rate))
        except Exception:
            log.warning("the shared pace of chat %s could not be read; sending on the instance's own pace", chat_id)
            return 0.0
        tokens = float(row[0]) if row is not None else 0.0
        return -tokens / rate if tokens < 0 else 0.0
