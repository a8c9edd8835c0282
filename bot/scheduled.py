"""What each kind of reminder does when it is due: one explicit dispatcher, handed to the timer by bot/app.py.

The timer (bot/platform/reminders.py) calls :func:`fire` inside the transaction that marks the reminder done, so
whatever the reminder queues is sent exactly when it is settled. Scheduling is done by the domains, in the
transactions that change what the reminder is about; they re-arm the timer after their commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from bot import privacy
from bot.cases import (
    area_alerts,
    digest,
    drafts,
    service,
    timers,
)
from bot.cases.config import Desk
from bot.platform.reminders import Reminder, ReminderKinds
from bot.platform.services import Services
from bot.vending import reminders as spot_reminders

log = logging.getLogger(__name__)

# How late each kind may still fire (None: whenever it comes); a kind not named here is not fired.
STALE_AFTER: dict[str, timedelta | None] = {
    **timers.STALE_AFTER,
    drafts.DRAFT_NUDGE: timedelta(days=2),
    digest.DIGEST: digest.STALE_AFTER,
    privacy.RETENTION: None,
    spot_reminders.SPOT_OPENS: None,
    **area_alerts.STALE_AFTER,
}


class UnknownReminderKind(Exception):
    """A reminder of a kind nothing fires (the timer marks it failed)."""


@dataclass(frozen=True)
class Dispatcher:
    """What firing needs from the running bot: its services and the staff side's settings."""

    services: Services
    desk: Desk

    async def fire(self, conn: aiosqlite.Connection, reminder: Reminder, now: datetime) -> None:
        await fire(conn, reminder, now, self.services, self.desk)

    def kinds(self) -> ReminderKinds:
        return ReminderKinds(STALE_AFTER, self.fire)


async def fire(conn: aiosqlite.Connection, reminder: Reminder, now: datetime, services: Services, desk: Desk) -> None:
    """Does what a due reminder is for, inside the transaction that marks it done."""
    match reminder.kind:
        case timers.ACK_ESCALATE:
            await timers.escalate_unaccepted(conn, reminder, now, desk)
        case timers.SLA_HALF:
            await timers.supervise(conn, reminder, now, desk, overdue=False)
        case timers.SLA_DUE:
            await timers.supervise(conn, reminder, now, desk, overdue=True)
        case timers.VERIFY_ASK:
            await timers.ask_fixed(conn, reminder, now, desk, again=False)
        case timers.VERIFY_AGAIN:
            await timers.ask_fixed(conn, reminder, now, desk, again=True)
        case timers.VERIFY_CLOSE:
            await service.close_unconfirmed(conn, reminder, now, desk)
        case drafts.DRAFT_NUDGE:
            await drafts.nudge(conn, reminder, now, desk)
        case digest.DIGEST:
            await digest.send_digest(conn, reminder, services.db, now, desk)
        case privacy.RETENTION:
            await privacy.run_retention(conn, reminder, now, services, desk)
        case spot_reminders.SPOT_OPENS:
            await spot_reminders.fire_spot_reminder(conn, reminder, services, now)
        case area_alerts.FOLD:
            await area_alerts.send_folded(conn, reminder, now, desk)
        case area_alerts.DIGEST:
            await area_alerts.send_digest(conn, reminder, now, desk)
        case _:
            raise UnknownReminderKind(reminder.kind)
