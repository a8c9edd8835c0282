"""Moderation: hiding a report's description or a photo from public outputs, and blocking a person.

Only supervisors and admins moderate (``Action.MODERATE``, checked at the moment of the action). Hiding keeps the
text or photo for staff (the card still shows it) and leaves it out of what the public sees: Open311, the CSV's
description column, and what followers other than the reporter see in "my reports". Every hide, show, block and
unblock done on a case is an event of the case (``kind = 'moderation'``) with its reason: the audit trail.

Blocking keeps a row in ``blocked_people`` (who, why, until when, by whom); bot/cases/blocks.py holds the check
every resident entry passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.cases import card_posts
from bot.cases.blocks import BLOCK_SELECT, Block, active_block, block_of
from bot.cases.config import Desk
from bot.cases.moves import clean_note
from bot.cases.service import NOTHING, AfterCommit
from bot.cases.states import Report, add_event, get_report
from bot.people import staff
from bot.people.staff import Action
from bot.platform import dates
from bot.platform.clock import to_db
from bot.platform.db import Database, Reader, read_rows
from bot.platform.i18n import Lang
from bot.vending.staff_actions import parse_until

DESCRIPTION = "description"
REPORTER = "reporter"
PHOTO = "photo:"  # + the photo's id


# ------------------------------------------------------------------ errors and records
class ModerationError(Exception):
    """A moderation cannot be done as asked; ``kind`` says why (no_photo, nobody, staff, self, past, not_blocked)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Photo:
    id: int
    number: int  # 1, 2, 3 in the order the resident sent them
    hidden: bool


def target_of_photo(photo_id: int) -> str:
    return f"{PHOTO}{photo_id}"


def photo_of_target(target: str) -> int | None:
    rest = target.removeprefix(PHOTO)
    return int(rest) if target.startswith(PHOTO) and rest.isascii() and rest.isdigit() else None


# ------------------------------------------------------------------ hiding and showing
async def photos_of(source: Reader, report_id: int) -> list[Photo]:
    """The resident's photos of the case, numbered as sent."""
    rows = await read_rows(
        source, "SELECT id, hidden FROM report_photos WHERE report_id = ? AND kind = 'report' ORDER BY id", (report_id,)
    )
    return [Photo(row["id"], number, bool(row["hidden"])) for number, row in enumerate(rows, start=1)]


async def set_hidden(
    db: Database,
    actor_id: int,
    report_id: int,
    target: str,
    hidden: bool,
    reason: str,
    now: datetime,
    desk: Desk,
    *,
    prompt: tuple[int, int] | None = None,
    after: AfterCommit = NOTHING,
) -> bool:
    """Hides (with a reason) or shows again the description or a photo (``target``); False when it already was.
    Raises staff.NotAllowed, ReportNotFound, NoteInvalid (the reason) or ModerationError('no_photo')."""
    reason = clean_note(reason) if hidden else ""
    t = desk.staff_lang
    async with db.transaction() as conn:
        report = await get_report(conn, report_id)
        role = await staff.authorize(conn, actor_id, Action.MODERATE, desk.admin_ids)
        photo_id = photo_of_target(target)
        if photo_id is not None:
            photo = next((p for p in await photos_of(conn, report_id) if p.id == photo_id), None)
            if photo is None:
                raise ModerationError("no_photo")
            cursor = await conn.execute(
                "UPDATE report_photos SET hidden = ? WHERE id = ? AND hidden != ?", (int(hidden), photo_id, int(hidden))
            )
            what = t._("Photo {number}", number=photo.number)
        elif target == DESCRIPTION:
            cursor = await conn.execute(
                "UPDATE reports SET description_hidden = ? WHERE id = ? AND description_hidden != ?",
                (int(hidden), report_id, int(hidden)),
            )
            what = t._("The description")
        else:
            raise ValueError(f"nothing to hide: {target!r}")
        if prompt is not None:
            await conn.execute("DELETE FROM staff_prompts WHERE chat_id = ? AND message_id = ?", prompt)
        changed = cursor.rowcount > 0
        if changed:
            note = (
                t._("{what} is hidden from the public: {reason}", what=what, reason=reason)
                if hidden
                else t._("{what} is public again.", what=what)
            )
            await add_event(conn, report_id, "moderation", actor_id, role.value, None, None, note, False, now)
            await card_posts.refresh_cards(conn, report_id, now, desk, report)
    after.wake_courier()
    return changed


# ------------------------------------------------------------------ blocking
def parse_block(text: str, now: datetime, desk: Desk) -> tuple[datetime | None, str]:
    """``[until] reason`` as staff type it (``30d``, ``2026-12-31``…): the end (None: no end) and the reason.
    Raises ModerationError('past') for an end already gone, ('far') for a date beyond the calendar."""
    first, _, rest = text.strip().partition(" ")
    try:
        until = parse_until(first, now, desk.timezone) if first else None
    except dates.DateOutOfRange:
        raise ModerationError("far") from None
    if until is None:
        return None, text.strip()
    if until <= now:
        raise ModerationError("past")
    return until, rest.strip()


async def block(
    db: Database,
    actor_id: int,
    reason: str,
    until: datetime | None,
    now: datetime,
    desk: Desk,
    *,
    report_id: int | None = None,
    telegram_id: int | None = None,
    prompt: tuple[int, int] | None = None,
    after: AfterCommit = NOTHING,
) -> Block:
    """Blocks the reporter of a case (or a person by id): a new block, or a block renewed with this reason and end.
    Staff cannot be blocked, nor can one block oneself."""
    reason = clean_note(reason)
    async with db.transaction() as conn:
        role = await staff.authorize(conn, actor_id, Action.MODERATE, desk.admin_ids)
        report = await get_report(conn, report_id) if report_id is not None else None
        person = report.reporter_id if report is not None else telegram_id
        if person is None:
            raise ValueError("block whom?")
        if person == 0:  # filed over Open311, or its reporter asked to be forgotten: nobody in Telegram to block
            raise ModerationError("nobody")
        if person == actor_id:
            raise ModerationError("self")
        if await staff.role_of(conn, person, desk.admin_ids) is not None:
            raise ModerationError("staff")
        if prompt is not None:
            await conn.execute("DELETE FROM staff_prompts WHERE chat_id = ? AND message_id = ?", prompt)
        await conn.execute(
            """INSERT INTO blocked_people (telegram_id, report_id, reason, until, blocked_by, blocked_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (telegram_id) DO UPDATE SET report_id = excluded.report_id, reason = excluded.reason,
               until = excluded.until, blocked_by = excluded.blocked_by, blocked_at = excluded.blocked_at""",
            (person, report_id, reason, to_db(until) if until else None, actor_id, to_db(now)),
        )
        if report is not None:
            note = _block_note(desk.staff_lang, reason, until)
            await add_event(conn, report.id, "moderation", actor_id, role.value, None, None, note, False, now)
            await card_posts.refresh_cards(conn, report.id, now, desk, report)
        found = await active_block(conn, person, now)
    after.wake_courier()
    assert found is not None
    return found


def _block_note(t: Lang, reason: str, until: datetime | None) -> str:
    if until is None:
        return t._("The reporter is blocked: {reason}", reason=reason)
    return t._("The reporter is blocked until {until}: {reason}", until=t.date_time(until), reason=reason)


async def unblock(
    db: Database,
    actor_id: int,
    now: datetime,
    desk: Desk,
    *,
    block_id: int | None = None,
    report_id: int | None = None,
    after: AfterCommit = NOTHING,
) -> Block:
    """Lifts a block, by its number (/blocked) or as the reporter of a case; ModerationError('not_blocked')."""
    async with db.transaction() as conn:
        role = await staff.authorize(conn, actor_id, Action.MODERATE, desk.admin_ids)
        report: Report | None = await get_report(conn, report_id) if report_id is not None else None
        where, value = ("b.id = ?", block_id) if report is None else ("b.telegram_id = ?", report.reporter_id)
        rows = await read_rows(
            conn, f"{BLOCK_SELECT} WHERE {where} AND (b.until IS NULL OR b.until > ?)", (value, to_db(now))
        )
        if not rows:
            raise ModerationError("not_blocked")
        found = block_of(rows[0])
        await conn.execute("DELETE FROM blocked_people WHERE id = ?", (found.id,))
        case_id = report.id if report is not None else rows[0]["report_id"]
        if case_id is not None:
            note = desk.staff_lang._("The reporter is unblocked.")
            await add_event(conn, case_id, "moderation", actor_id, role.value, None, None, note, False, now)
            await card_posts.refresh_cards(conn, case_id, now, desk)
    after.wake_courier()
    return found
