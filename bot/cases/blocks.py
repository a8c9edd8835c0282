"""Who is blocked: the one check every resident entry passes (bot.cases.moderation blocks and unblocks).

A blocked person keeps their existing cases (news about them still reaches them) but may not file new reports or
send messages to staff until the block ends or is lifted. :func:`refuse_blocked` is made by the service operations
that take something from a resident (submit, follow, add information, comment) and, before any of that, by the
resident entry guard (handlers/moderation.py), which answers with the reason and how to appeal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.cases.states import ReportError
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database, Reader, read_rows


@dataclass(frozen=True)
class Block:
    id: int
    telegram_id: int
    report_no: str | None  # the case they were blocked from
    reason: str
    until: datetime | None  # None: until unblocked
    blocked_by: str  # the staff member's first name
    blocked_at: datetime


class PersonBlocked(ReportError):
    """The person is blocked: nothing they send is taken."""

    def __init__(self, block: Block) -> None:
        super().__init__(f"user {block.telegram_id} is blocked")
        self.block = block


# ------------------------------------------------------------------ the check every resident entry passes
BLOCK_SELECT = """SELECT b.*, r.public_no, u.first_name FROM blocked_people b
                   LEFT JOIN reports r ON r.id = b.report_id LEFT JOIN users u ON u.telegram_id = b.blocked_by"""


def block_of(row: Any) -> Block:
    return Block(
        row["id"],
        row["telegram_id"],
        row["public_no"],
        row["reason"],
        from_db(row["until"]) if row["until"] else None,
        row["first_name"] or str(row["blocked_by"]),
        from_db(row["blocked_at"]),
    )


async def active_block(source: Reader, telegram_id: int, now: datetime) -> Block | None:
    """The person's block if it holds now (one indexed read)."""
    rows = await read_rows(
        source,
        f"{BLOCK_SELECT} WHERE b.telegram_id = ? AND (b.until IS NULL OR b.until > ?)",
        (telegram_id, to_db(now)),
    )
    return block_of(rows[0]) if rows else None


async def refuse_blocked(source: Reader, telegram_id: int, now: datetime) -> None:
    """Raises PersonBlocked when the person is blocked now."""
    block = await active_block(source, telegram_id, now)
    if block is not None:
        raise PersonBlocked(block)


async def list_blocked(db: Database, now: datetime) -> list[Block]:
    """Everyone blocked now, the latest first."""
    rows = await db.fetchall(
        f"{BLOCK_SELECT} WHERE b.until IS NULL OR b.until > ? ORDER BY b.blocked_at DESC, b.id DESC",
        (to_db(now),),
    )
    return [block_of(row) for row in rows]
