"""What staff may do with a case: the moves behind a card's buttons, their checks, and the questions they ask.

The moves themselves are made by bot/cases/service.py (:func:`~bot.cases.service.move`); this module holds what
they need to decide and the questions (a reason, a body, a case number, a note) kept open in ``staff_prompts``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from bot.cases import grids
from bot.cases.config import Desk
from bot.cases.states import (
    InvalidTransition,
    Report,
    ReportState,
    StateChanged,
    Transition,
    can_move,
    get_report,
)
from bot.people import staff
from bot.people.staff import Action, StaffMember
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database, read_rows

NOTE_MIN = 2
NOTE_MAX = 500
OFFICERS_SHOWN = 8
PROMPT_VALID_FOR = timedelta(hours=12)
_PUBLIC_NO = re.compile(r"^R\d{8}-\d{4,}$")

S = ReportState
TARGET: dict[Action, ReportState] = {
    Action.ACCEPT: S.ACCEPTED,
    Action.REJECT: S.REJECTED,
    Action.DUPLICATE: S.DUPLICATE,
    Action.RETURN: S.RETURNED,
    Action.DISPATCH: S.DISPATCHED,
    Action.START: S.IN_PROGRESS,
    Action.RESOLVE: S.RESOLVED,
    Action.CLOSE: S.CLOSED,
}
CASE_ACTIONS = frozenset(TARGET)
# These ask a question first (a reason, a responsible body, a case number, a note) and act on the reply.
ASKING = frozenset({Action.REJECT, Action.RETURN, Action.DUPLICATE, Action.RESOLVE})


# ------------------------------------------------------------------ errors
class CaseworkError(Exception):
    """A staff move cannot be made as asked; subclasses say why."""


class NoteInvalid(CaseworkError):
    """The reason or note is empty or longer than NOTE_MAX."""


class UnknownCase(CaseworkError):
    """No case with the number given as the original of a duplicate."""

    def __init__(self, number: str) -> None:
        super().__init__(number)
        self.number = number


class SameCase(CaseworkError):
    """A case cannot be a duplicate of itself."""


class OriginalClosed(CaseworkError):
    """The case to merge into is finished."""

    def __init__(self, number: str, state: ReportState) -> None:
        super().__init__(number)
        self.number, self.state = number, state


class NotAnOfficer(CaseworkError):
    """The person chosen for dispatch is not (or no longer) a field officer."""

    def __init__(self, telegram_id: int, name: str) -> None:
        super().__init__(telegram_id)
        self.telegram_id, self.name = telegram_id, name


@dataclass(frozen=True)
class Outcome:
    report: Report  # as it is after the move
    moved: Transition
    residents_told: int


@dataclass(frozen=True)
class Prompt:
    chat_id: int
    message_id: int
    user_id: int
    report_id: int
    action: Action
    expected: ReportState
    created_at: datetime
    target: str = ""  # beyond the case: 'description', 'photo:<id>' or 'reporter' (bot.cases.moderation)

    def expired(self, now: datetime) -> bool:
        return now - self.created_at > PROMPT_VALID_FOR


# ------------------------------------------------------------------ checks and prompts
def clean_note(note: str) -> str:
    cleaned = note.strip()
    if not NOTE_MIN <= len(cleaned) <= NOTE_MAX:
        raise NoteInvalid(len(cleaned))
    return cleaned


async def check(
    source: Database | aiosqlite.Connection,
    actor_id: int,
    action: Action,
    report_id: int,
    expected: ReportState,
    desk: Desk,
) -> Report:
    """Whether the actor may make the move now (before asking them a question); raises as the move would."""
    report = await get_report(source, report_id)
    await staff.authorize(source, actor_id, action, desk.admin_ids, assignee=report.assignee)
    if report.state != expected:
        raise StateChanged(report_id, expected, report.state, TARGET[action])
    if not can_move(report.state, TARGET[action]):
        raise InvalidTransition(report_id, report.state, TARGET[action])
    return report


async def open_prompt(
    db: Database,
    chat_id: int,
    message_id: int,
    user_id: int,
    report_id: int,
    action: Action,
    expected: ReportState,
    now: datetime,
    target: str = "",
) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO staff_prompts (chat_id, message_id, user_id, report_id, action, expected_state, created_at, "
            "target) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
            "user_id = excluded.user_id, report_id = excluded.report_id, action = excluded.action, "
            "expected_state = excluded.expected_state, created_at = excluded.created_at, target = excluded.target",
            (chat_id, message_id, user_id, report_id, action.value, expected.value, to_db(now), target),
        )


async def find_prompt(db: Database, chat_id: int, message_id: int) -> Prompt | None:
    row = await db.fetchone("SELECT * FROM staff_prompts WHERE chat_id = ? AND message_id = ?", (chat_id, message_id))
    if row is None:
        return None
    return Prompt(
        row["chat_id"],
        row["message_id"],
        row["user_id"],
        row["report_id"],
        Action(row["action"]),
        ReportState(row["expected_state"]),
        from_db(row["created_at"]),
        row["target"],
    )


async def drop_prompt(db: Database, chat_id: int, message_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM staff_prompts WHERE chat_id = ? AND message_id = ?", (chat_id, message_id))


async def load_number(db: Database, report_id: int) -> str | None:
    """The case's public number, for messages about it (None when there is no such case)."""
    row = await db.fetchone("SELECT public_no FROM reports WHERE id = ?", (report_id,))
    return str(row["public_no"]) if row else None


async def dispatch_choices(db: Database, report: Report, suggested: Sequence[int] = ()) -> list[StaffMember]:
    """The officers to offer: the ``suggested`` ones (the grid's) first, then those of the case's district."""
    found = await staff.officers(db, report.district)
    found.sort(key=lambda member: suggested.index(member.telegram_id) if member.telegram_id in suggested else 999)
    return found[:OFFICERS_SHOWN]


async def grid_suggestions(db: Database, report: Report, desk: Desk) -> list[int]:
    """The field officers of the case's grid, proposed first when dispatching (unless AUTO_DISPATCH is off)."""
    return [] if desk.auto_dispatch == "off" else await grids.grid_officers(db, report.id)


# ------------------------------------------------------------------ the move
async def find_original(conn: aiosqlite.Connection, number: str, report: Report) -> Report:
    wanted = number.strip().upper()
    if not _PUBLIC_NO.match(wanted):
        raise UnknownCase(number.strip())
    rows = await read_rows(conn, "SELECT id FROM reports WHERE public_no = ?", (wanted,))
    if not rows:
        raise UnknownCase(wanted)
    if rows[0]["id"] == report.id:
        raise SameCase(wanted)
    original = await get_report(conn, rows[0]["id"])
    if not original.is_open:
        raise OriginalClosed(original.public_no, original.state)
    return original
