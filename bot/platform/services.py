"""The shared services one running bot holds: settings, the database, the clock and the user directory."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo

from bot.platform.clock import Clock
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.platform.geo import SAMPLE_CITY, ServiceArea, load_service_area
from bot.platform.i18n import Lang, get_lang
from bot.platform.users import UserDirectory, answer_lang

# Called, in order, after the clock jumps (the playground's time control); e.g. to send reminders now due.
TimeListener = Callable[[], Awaitable[None]]


def instance_name() -> str:
    """This running bot's name in the rows it claims (bot/platform/claims.py) when INSTANCE_NAME is not set: host,
    process, and a random part, so a restarted process never takes the claims of the one before it for its own
    (they wait out their lease)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Services:
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    _db: Database | None = None
    _users: UserDirectory | None = None
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock)
    _service_area: ServiceArea | None = None
    time_listeners: list[TimeListener] = field(default_factory=list)
    # Set by the composition root: nudge the outbox courier / re-arm the reminder timer after a commit.
    outbox_listeners: list[Callable[[], None]] = field(default_factory=list)
    reminder_listeners: list[Callable[[], None]] = field(default_factory=list)
    instance: str = field(default_factory=instance_name)

    def __post_init__(self) -> None:
        if self.settings.instance_name is not None:  # INSTANCE_NAME: the same name after a restart
            self.instance = self.settings.instance_name

    def wake_outbox(self) -> None:
        """Call after committing outbox rows, so they go out now rather than at the next poll."""
        for listener in self.outbox_listeners:
            listener()

    def reminders_changed(self) -> None:
        """Call after committing scheduled or cancelled reminders, so the timer is re-armed."""
        for listener in self.reminder_listeners:
            listener()

    async def open(self) -> Database:
        """Opens the database once; persistence and post_init may both ask first."""
        async with self._opening:
            if self._db is None:
                self._db = await Database.open(self.settings.database_target)
                self._users = UserDirectory(self._db)
            return self._db

    async def advance_clock(self, delta: timedelta) -> None:
        """Moves the clock forward, then lets every time listener catch up with the new "now"."""
        self.clock.advance(delta)
        for listener in list(self.time_listeners):
            await listener()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
            self._users = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the database is not open yet")
        return self._db

    @property
    def users(self) -> UserDirectory:
        if self._users is None:
            raise RuntimeError("the database is not open yet")
        return self._users

    @property
    def service_area(self) -> ServiceArea:
        """The districts served (read once from SERVICE_AREA_FILE, or the sample city)."""
        if self._service_area is None:
            self._service_area = load_service_area(self.settings.service_area_file or SAMPLE_CITY)
        return self._service_area

    @property
    def timezone(self) -> tzinfo:
        return self.settings.timezone

    async def lang_for(self, telegram_id: int | None, telegram_code: str | None = None) -> Lang:
        """The language to answer this person in (see users.answer_lang), from the cached users row."""
        record = await self.users.get(telegram_id) if telegram_id is not None else None
        return answer_lang(record, telegram_code, self.settings.default_language, self.settings.timezone)

    def lang(self, code: str) -> Lang:
        return get_lang(code, self.settings.timezone)
