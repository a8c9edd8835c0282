"""Residents' control over their data: /forget, and the retention job that unlinks old cases from people.

What the bot keeps about a person: their Telegram id, first name, @username and language (``users``), an
unfinished report (``report_drafts``), spot subscriptions, conversation state (``ptb_*``), the messages queued for them
(``outbox``), and the links between them and cases (``reports.reporter_id``, ``report_followers``,
``report_events.actor_id``, ``followup_answers``), and a moderator's block (``blocked_people``: kept through
/forget, so forgetting is no way round it, but unlinked from the case it was made on). Photos are kept as Telegram
file ids only: the bot downloads no media, so no EXIF location is ever stored.

Forgetting deletes the person's own rows (reminders about them too, settled ones included: their target names
the person) and unlinks the cases, which stay for the statistics: the reporter becomes
:data:`ANONYMOUS_REPORTER`, follows are removed, notes and ratings stay but point at nobody, and the staff cards
that showed their name are edited to "anonymous" through the outbox. The retention job does the same to cases
finished more than RETENTION_DAYS ago.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import aiosqlite

from bot.cases import area_alerts, origins
from bot.cases.card_posts import anonymise_cards
from bot.cases.config import Desk
from bot.cases.drafts import draft_target
from bot.cases.states import FINAL_STATES
from bot.people import staff
from bot.platform import reminders
from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.reminders import Reminder
from bot.platform.services import Services
from bot.vending.reminders import spot_targets_of

log = logging.getLogger(__name__)

ANONYMOUS_REPORTER = 0  # the reporter_id of a case whose reporter was forgotten
RETENTION = "retention"
RETENTION_TARGET = "retention"
RETENTION_TIME = time(3, 30)  # local: a quiet hour


class StaffMustLeaveFirst(Exception):
    """A staff member's identity is part of the official record; an admin removes their role first."""


@dataclass(frozen=True)
class Forgotten:
    """What /forget removed or unlinked."""

    reports_unlinked: int
    follows_removed: int
    ratings_unlinked: int
    drafts_deleted: int
    subscriptions_deleted: int
    messages_deleted: int


@dataclass(frozen=True)
class RetentionOutcome:
    cases_unlinked: int
    messages_deleted: int
    drafts_deleted: int


async def _count(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> int:
    cursor = await conn.execute(sql, params)
    return max(0, cursor.rowcount)


async def _unlink_ratings(conn: aiosqlite.Connection, where: str, params: tuple[Any, ...]) -> int:
    """Keeps the answers (for the satisfaction figures) under a random id that links to no one."""
    async with conn.execute(f"SELECT report_id, telegram_id FROM followup_answers WHERE {where}", params) as cursor:
        rows = list(await cursor.fetchall())
    for row in rows:
        await conn.execute(
            "UPDATE followup_answers SET telegram_id = ? WHERE report_id = ? AND telegram_id = ?",
            (-1 - secrets.randbelow(2**62), row["report_id"], row["telegram_id"]),
        )
    return len(rows)


async def _named_cases(conn: aiosqlite.Connection, where: str, params: tuple[Any, ...]) -> list[int]:
    """The cases whose cards show the reporter's name (they chose to show it)."""
    async with conn.execute(f"SELECT id FROM reports WHERE anonymous = 0 AND {where}", params) as cursor:
        return [int(row["id"]) for row in await cursor.fetchall()]


async def forget_user(db: Database, telegram_id: int, now: datetime, desk: Desk) -> Forgotten:
    """Deletes the person's data and unlinks their cases, in one transaction; StaffMustLeaveFirst for staff."""
    async with db.transaction() as conn:
        if await staff.role_of(conn, telegram_id, desk.admin_ids) is not None:
            raise StaffMustLeaveFirst(telegram_id)
        named = await _named_cases(conn, "reporter_id = ?", (telegram_id,))
        reports_unlinked = await _count(
            conn,
            "UPDATE reports SET reporter_id = ?, anonymous = 1 WHERE reporter_id = ?",
            (ANONYMOUS_REPORTER, telegram_id),
        )
        follows = await _count(conn, "DELETE FROM report_followers WHERE telegram_id = ?", (telegram_id,))
        await conn.execute(
            "UPDATE report_events SET actor_id = NULL WHERE actor_id = ? AND actor_role = 'resident'", (telegram_id,)
        )
        # A block stays (forgetting is no way round it), but no longer says which case the person filed.
        await conn.execute("UPDATE blocked_people SET report_id = NULL WHERE telegram_id = ?", (telegram_id,))
        ratings = await _unlink_ratings(conn, "telegram_id = ?", (telegram_id,))
        drafts = await _count(conn, "DELETE FROM report_drafts WHERE telegram_id = ?", (telegram_id,))
        subscriptions = await _count(conn, "DELETE FROM subscriptions WHERE user_id = ?", (telegram_id,))
        subscriptions += await area_alerts.forget(conn, telegram_id)
        # Settled reminders too: their target names the person.
        await reminders.purge(conn, (draft_target(telegram_id),), (spot_targets_of(telegram_id),))
        for report_id in named:  # the cards posted with their name are edited to "anonymous"
            await anonymise_cards(conn, report_id, now, desk)
        messages = await _count(conn, "DELETE FROM outbox WHERE chat_id = ?", (telegram_id,))
        await conn.execute("DELETE FROM ptb_user_data WHERE user_id = ?", (telegram_id,))
        await conn.execute("DELETE FROM ptb_chat_data WHERE chat_id = ?", (telegram_id,))
        await conn.execute(
            "DELETE FROM ptb_conversations WHERE EXISTS (SELECT 1 FROM json_each(ptb_conversations.key) "
            "WHERE json_each.value = ?)",
            (telegram_id,),
        )
        await conn.execute("DELETE FROM users WHERE telegram_id = ?", (telegram_id,))
    log.info("privacy: a user's data was deleted on their request (%s cases unlinked)", reports_unlinked)
    return Forgotten(reports_unlinked, follows, ratings, drafts, subscriptions, messages)


# ------------------------------------------------------------------ retention
async def apply_retention(conn: aiosqlite.Connection, now: datetime, days: int, desk: Desk) -> RetentionOutcome:
    """Unlinks cases finished more than ``days`` ago from people; deletes old sent messages, drafts and settled
    reminders."""
    cutoff = to_db(now - timedelta(days=days))
    finished = sorted(state.value for state in FINAL_STATES)
    marks = ", ".join("?" for _ in finished)
    async with conn.execute(
        f"""SELECT id, anonymous FROM reports r WHERE updated_at < ? AND state IN ({marks})
            AND (reporter_id != ? OR EXISTS (SELECT 1 FROM report_followers f WHERE f.report_id = r.id)
                 OR EXISTS (SELECT 1 FROM followup_answers a WHERE a.report_id = r.id AND a.telegram_id > 0)
                 OR EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id AND e.actor_role = 'resident'
                            AND e.actor_id IS NOT NULL))""",
        (cutoff, *finished, ANONYMOUS_REPORTER),
    ) as cursor:
        found = list(await cursor.fetchall())
    ids = [int(row["id"]) for row in found]
    named = {int(row["id"]) for row in found if not row["anonymous"]}
    for report_id in ids:
        await conn.execute(
            "UPDATE reports SET reporter_id = ?, anonymous = 1 WHERE id = ?", (ANONYMOUS_REPORTER, report_id)
        )
        await conn.execute("DELETE FROM report_followers WHERE report_id = ?", (report_id,))
        await conn.execute(
            "UPDATE report_events SET actor_id = NULL WHERE report_id = ? AND actor_role = 'resident'", (report_id,)
        )
        await _unlink_ratings(conn, "report_id = ? AND telegram_id > 0", (report_id,))
        await conn.execute("UPDATE blocked_people SET report_id = NULL WHERE report_id = ?", (report_id,))
        if report_id in named:  # before the old card rows go: the edit needs the posted card's message id
            await anonymise_cards(conn, report_id, now, desk)
    messages = await _count(conn, "DELETE FROM outbox WHERE state != 'pending' AND created_at < ?", (cutoff,))
    drafts = await _count(conn, "DELETE FROM report_drafts WHERE updated_at < ?", (cutoff,))
    await reminders.purge_settled(conn, now - timedelta(days=days))  # e.g. old nudges about a person's draft
    await origins.forget_contacts(conn, now - timedelta(days=days), tuple(finished))  # Open311 senders' contacts
    return RetentionOutcome(len(ids), messages, drafts)


def next_retention_at(services: Services, now: datetime) -> datetime:
    """The next RETENTION_TIME in the city's zone."""
    zone = services.timezone
    local = now.astimezone(zone)
    moment = datetime.combine(local.date(), RETENTION_TIME, zone)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), RETENTION_TIME, zone)
    return moment


async def ensure_retention(services: Services, now: datetime) -> None:
    """At start: makes sure the next daily retention run is scheduled (once)."""
    if await reminders.pending(services.db, RETENTION_TARGET):
        return
    async with services.db.transaction() as conn:
        await reminders.schedule(conn, RETENTION, RETENTION_TARGET, next_retention_at(services, now), now)


async def run_retention(
    conn: aiosqlite.Connection, reminder: Reminder, now: datetime, services: Services, desk: Desk
) -> None:
    """When due (bot/scheduled.py): the daily retention run; schedules tomorrow's."""
    await reminders.schedule(conn, RETENTION, RETENTION_TARGET, next_retention_at(services, now), now)
    outcome = await apply_retention(conn, now, services.settings.retention_days, desk)
    log.info(
        "privacy: retention run unlinked %s cases, deleted %s old messages and %s old drafts",
        outcome.cases_unlinked,
        outcome.messages_deleted,
        outcome.drafts_deleted,
    )
