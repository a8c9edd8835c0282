"""Where a case came from when not from Telegram (an Open311 client), and the contact its sender gave.

Such a case has no Telegram person behind it: its ``reporter_id`` is :data:`NO_TELEGRAM_REPORTER` (0, which no
Telegram user has), it has no followers (so nobody is told of its steps), and the per-person limits do not apply
(the API key is the client's pass). The contact is for staff only: never in Open311 answers or residents' messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.platform.clock import to_db
from bot.platform.db import Database, read_rows

NO_TELEGRAM_REPORTER = 0  # the reporter_id of a case filed by another channel (and of a forgotten reporter)
OPEN311 = "open311"


@dataclass(frozen=True)
class Origin:
    """The channel a case was filed through and what its sender told about themselves (all optional)."""

    channel: str
    client: str  # a fingerprint of the API key, so two clients can be told apart without keeping the key
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    media_url: str | None = None

    @property
    def name(self) -> str | None:
        """The sender's name as given, or None: the case is then anonymous."""
        return " ".join(part for part in (self.first_name, self.last_name) if part) or None


def client_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


async def record(conn: aiosqlite.Connection, report_id: int, origin: Origin, now: datetime) -> None:
    """Stores the origin of a case being filed, inside the filing transaction."""
    await conn.execute(
        """INSERT INTO report_origins (report_id, channel, client, first_name, last_name, email, phone, media_url,
               created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            report_id,
            origin.channel,
            origin.client,
            origin.first_name,
            origin.last_name,
            origin.email,
            origin.phone,
            origin.media_url,
            to_db(now),
        ),
    )


async def origin_of(db: Database | aiosqlite.Connection, report_id: int) -> Origin | None:
    rows = await read_rows(db, "SELECT * FROM report_origins WHERE report_id = ?", (report_id,))
    if not rows:
        return None
    row = rows[0]
    return Origin(
        row["channel"], row["client"], row["first_name"], row["last_name"], row["email"], row["phone"], row["media_url"]
    )


async def given_name(conn: aiosqlite.Connection, report_id: int) -> str | None:
    """The name an Open311 sender gave (the card shows it as the reporter's), or None."""
    origin = await origin_of(conn, report_id)
    return origin.name if origin is not None else None


async def forget_contacts(conn: aiosqlite.Connection, before: datetime, finished: tuple[str, ...]) -> int:
    """Retention: cases finished before ``before`` keep their channel but not the sender's name, e-mail or phone."""
    marks = ", ".join("?" for _ in finished)
    cursor = await conn.execute(
        f"""UPDATE report_origins SET first_name = NULL, last_name = NULL, email = NULL, phone = NULL
            WHERE (first_name IS NOT NULL OR last_name IS NOT NULL OR email IS NOT NULL OR phone IS NOT NULL)
              AND report_id IN (SELECT id FROM reports WHERE updated_at < ? AND state IN ({marks}))""",
        (to_db(before), *finished),
    )
    return cursor.rowcount
