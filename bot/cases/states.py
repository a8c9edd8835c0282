"""A case's rows and its state machine: categories and time limits, states and moves, the audit trail.

This is the bottom of bot/cases: plain Python over the database, no outbox and no side effects beyond the rows.
:func:`transition` is the only way a case changes state; what else a move brings (news, timers, cards) is written
in bot/cases/service.py, which calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import aiosqlite

from bot.platform.clock import from_db, to_db
from bot.platform.db import Database, read_rows, returned_id
from bot.platform.i18n import N_
from bot.platform.worktime import WorkCalendar

DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 1000
ADDRESS_MIN = 4
ADDRESS_MAX = 200
INFO_MAX = 1000
MAX_PHOTOS = 3
NEARBY_SHOWN = 3


# ------------------------------------------------------------------ categories
@dataclass(frozen=True)
class Category:
    """One kind of problem, with its handling time limit."""

    code: str
    name: str  # N_() marked; translate with t._(category.name)
    limit_hours: float  # office hours, or clock hours when `emergency`
    emergency: bool = False  # counted in calendar hours: the danger does not wait for Monday


# The city's own list. A working day is about 7 office hours (09:00-12:00, 13:30-17:30).
CATEGORIES: tuple[Category, ...] = (
    Category("stall", N_("🛒 Road-occupying stall"), 4),
    Category("garbage", N_("🗑 Exposed garbage, sanitation"), 4),
    Category("facility", N_("💡 Street light, road, public facility"), 14),  # 2 working days
    Category("manhole", N_("⚠️ Open or broken manhole cover"), 2, emergency=True),
    Category("construction", N_("🏗 Illegal construction"), 105),  # 15 working days
    Category("signboard", N_("🪧 Illegal advertisement or signboard"), 35),  # 5 working days
    Category("noise", N_("🔊 Noise or cooking fumes"), 7),  # 1 working day
    Category("parking", N_("🚲 Parking on the pavement, shared bikes"), 4),
    Category("other", N_("❓ Other problem"), 21),  # 3 working days
)
CATEGORY_BY_CODE = {category.code: category for category in CATEGORIES}


def category_of(code: str) -> Category:
    try:
        return CATEGORY_BY_CODE[code]
    except KeyError:
        raise UnknownCategory(code) from None


# ------------------------------------------------------------------ states
class ReportState(StrEnum):
    SUBMITTED = "submitted"  # 采集: waiting for staff
    ACCEPTED = "accepted"  # 立案
    DISPATCHED = "dispatched"  # 派遣: to an officer
    IN_PROGRESS = "in_progress"  # 处置
    RESOLVED = "resolved"  # 处置完毕, waiting for 核查
    CLOSED = "closed"  # 结案
    REJECTED = "rejected"  # not a case (with reason)
    RETURNED = "returned"  # 退回: another body is responsible
    DUPLICATE = "duplicate"  # 并单 into another case
    WITHDRAWN = "withdrawn"  # by the resident
    REOPENED = "reopened"  # the resident says it is not fixed


S = ReportState
# Every allowed move; anything else is refused by transition().
TRANSITIONS: dict[ReportState, frozenset[ReportState]] = {
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.RETURNED, S.DUPLICATE, S.WITHDRAWN}),
    S.ACCEPTED: frozenset({S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED, S.RETURNED, S.DUPLICATE, S.WITHDRAWN}),
    S.DISPATCHED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.RETURNED, S.ACCEPTED}),  # accepted: officer hands back
    S.IN_PROGRESS: frozenset({S.RESOLVED, S.RETURNED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.REOPENED: frozenset({S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED, S.RETURNED, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.RETURNED: frozenset(),
    S.DUPLICATE: frozenset(),
    S.WITHDRAWN: frozenset(),
}
OPEN_STATES = frozenset({S.SUBMITTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.REOPENED})
FINAL_STATES = frozenset(state for state, moves in TRANSITIONS.items() if not moves)
WITHDRAWABLE = frozenset(state for state, moves in TRANSITIONS.items() if S.WITHDRAWN in moves)

STATE_NAMES: dict[ReportState, str] = {
    S.SUBMITTED: N_("submitted, waiting for staff"),
    S.ACCEPTED: N_("accepted"),
    S.DISPATCHED: N_("sent to an officer"),
    S.IN_PROGRESS: N_("being handled"),
    S.RESOLVED: N_("resolved"),
    S.CLOSED: N_("closed"),
    S.REJECTED: N_("not accepted"),
    S.RETURNED: N_("passed to the responsible department"),
    S.DUPLICATE: N_("merged with another report"),
    S.WITHDRAWN: N_("withdrawn"),
    S.REOPENED: N_("reopened"),
}


def can_move(from_state: ReportState, to_state: ReportState) -> bool:
    return to_state in TRANSITIONS[from_state]


# ------------------------------------------------------------------ errors
class ReportError(Exception):
    """Something about a report cannot be done; subclasses say what."""


class UnknownCategory(ReportError, ValueError):
    """The code is not one of CATEGORIES."""


class ReportNotFound(ReportError):
    """No such report — or not one this person may see (the two are indistinguishable on purpose)."""


class InvalidTransition(ReportError):
    """The move is not in TRANSITIONS from the report's current state."""

    def __init__(self, report_id: int, from_state: ReportState, to_state: ReportState) -> None:
        super().__init__(f"report {report_id}: {from_state} → {to_state} is not allowed")
        self.report_id, self.from_state, self.to_state = report_id, from_state, to_state


class StateChanged(InvalidTransition):
    """The report moved on since the button was made (someone else acted first)."""

    def __init__(self, report_id: int, expected: ReportState, actual: ReportState, to_state: ReportState) -> None:
        super().__init__(report_id, actual, to_state)
        self.args = (f"report {report_id} is {actual}, not {expected}",)
        self.expected = expected


class NotReporter(ReportError):
    """Only the reporter may do this (e.g. withdraw)."""


class ReportLimitReached(ReportError):
    """Too many reports in the last hour or day."""

    def __init__(self, window: str, limit: int, retry_at: datetime) -> None:
        super().__init__(f"{limit} reports per {window} reached")
        self.window, self.limit, self.retry_at = window, limit, retry_at


class IncompleteDraft(ReportError):
    """The draft lacks a field submission needs."""


# ------------------------------------------------------------------ records
@dataclass(frozen=True)
class Report:
    id: int
    public_no: str
    category: str
    lat: float | None
    lon: float | None
    address_text: str | None
    district: str | None
    description: str
    voice_file_id: str | None
    anonymous: bool
    reporter_id: int
    state: ReportState
    assignee: int | None
    due_at: datetime
    duplicate_of: int | None
    follower_count: int
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class ReportEvent:
    id: int
    kind: str  # transition / info / follow
    actor_id: int | None
    actor_role: str
    from_state: ReportState | None
    to_state: ReportState | None
    note: str
    public: bool
    at: datetime


@dataclass(frozen=True)
class Transition:
    """What transition() did."""

    report_id: int
    from_state: ReportState
    to_state: ReportState
    event_id: int
    at: datetime
    report: Report  # as it is after the move


def deadline_for(category: Category, start: datetime, calendar: WorkCalendar) -> datetime:
    """When a case of this category must be handled by."""
    return calendar.deadline(start, category.limit_hours, calendar_hours=category.emergency)


# ------------------------------------------------------------------ state machine
async def transition(
    conn: aiosqlite.Connection,
    report_id: int,
    actor_id: int | None,
    to_state: ReportState,
    note: str,
    now: datetime,
    *,
    actor_role: str = "system",
    public: bool = True,
    expected_from: ReportState | None = None,
    assignee: int | None = None,
    duplicate_of: int | None = None,
    current: Report | None = None,
) -> Transition:
    """Moves a report to ``to_state`` and writes the audit event; call inside ``db.transaction()``.

    Refuses moves not in TRANSITIONS (InvalidTransition) and, when ``expected_from`` is given (the state a button
    was made for), a report that has moved on meanwhile (StateChanged). ``assignee`` is stored on dispatch;
    ``duplicate_of`` (required for DUPLICATE) merges the followers into the other open case.
    Authorisation (who may make the move) is the caller's check. ``current`` is the report as the caller just
    read it in this transaction (so it is not read again).
    """
    to_state = ReportState(to_state)
    report = current if current is not None and current.id == report_id else await _get(conn, report_id)
    if expected_from is not None and report.state != expected_from:
        raise StateChanged(report_id, ReportState(expected_from), report.state, to_state)
    if not can_move(report.state, to_state):
        raise InvalidTransition(report_id, report.state, to_state)
    updates: dict[str, Any] = {"state": to_state.value, "updated_at": to_db(now)}
    if to_state == S.DISPATCHED:
        if assignee is None:
            raise ReportError("dispatching needs an assignee")
        updates["assignee"] = assignee
    if to_state == S.DUPLICATE:
        if duplicate_of is None or duplicate_of == report_id:
            raise ReportError("a duplicate needs another report to merge into")
        original = await _get(conn, duplicate_of)
        if not original.is_open:
            raise InvalidTransition(duplicate_of, original.state, original.state)
        updates["duplicate_of"] = duplicate_of
        await _merge_followers(conn, report_id, duplicate_of, now)
    assignments = ", ".join(f"{column} = ?" for column in updates)
    await conn.execute(f"UPDATE reports SET {assignments} WHERE id = ?", (*updates.values(), report_id))
    event_id = await add_event(
        conn, report_id, "transition", actor_id, actor_role, report.state, to_state, note, public, now
    )
    after = replace(
        report,
        state=to_state,
        updated_at=now,
        assignee=updates.get("assignee", report.assignee),
        duplicate_of=updates.get("duplicate_of", report.duplicate_of),
    )
    return Transition(report_id, report.state, to_state, event_id, now, after)


async def _merge_followers(conn: aiosqlite.Connection, from_id: int, into_id: int, now: datetime) -> None:
    await conn.execute(
        """INSERT INTO report_followers (report_id, telegram_id, created_at)
           SELECT ?, telegram_id, ? FROM report_followers WHERE report_id = ? ON CONFLICT DO NOTHING""",
        (into_id, to_db(now), from_id),
    )
    await conn.execute(
        """UPDATE reports SET follower_count = (SELECT COUNT(*) FROM report_followers WHERE report_id = ?),
           updated_at = ? WHERE id = ?""",
        (into_id, to_db(now), into_id),
    )


# ------------------------------------------------------------------ the resident's view
async def get_report(db: Database | aiosqlite.Connection, report_id: int) -> Report:
    return await _get(db, report_id)


async def get_report_by_no(db: Database, public_no: str) -> Report:
    row = await db.fetchone("SELECT * FROM reports WHERE public_no = ?", (public_no.strip().upper(),))
    if row is None:
        raise ReportNotFound(public_no)
    return report_of(row)


async def followers_of(db: Database | aiosqlite.Connection, report_id: int) -> list[int]:
    """Telegram ids to tell about the report's public steps (the reporter first)."""
    rows = await read_rows(
        db,
        """SELECT f.telegram_id FROM report_followers f JOIN reports r ON r.id = f.report_id
           WHERE f.report_id = ? ORDER BY f.telegram_id != r.reporter_id, f.created_at""",
        (report_id,),
    )
    return [row["telegram_id"] for row in rows]


# ------------------------------------------------------------------ rows
async def _get(db: Database | aiosqlite.Connection, report_id: int) -> Report:
    rows = await read_rows(db, "SELECT * FROM reports WHERE id = ?", (report_id,))
    if not rows:
        raise ReportNotFound(report_id)
    return report_of(rows[0])


async def visible_report(db: Database | aiosqlite.Connection, report_id: int, telegram_id: int) -> Report:
    rows = await read_rows(
        db,
        """SELECT r.* FROM reports r JOIN report_followers f ON f.report_id = r.id
           WHERE r.id = ? AND f.telegram_id = ?""",
        (report_id, telegram_id),
    )
    if not rows:
        raise ReportNotFound(report_id)
    return report_of(rows[0])


async def add_event(
    conn: aiosqlite.Connection,
    report_id: int,
    kind: str,
    actor_id: int | None,
    actor_role: str,
    from_state: ReportState | None,
    to_state: ReportState | None,
    note: str,
    public: bool,
    now: datetime,
) -> int:
    cursor = await conn.execute(
        """INSERT INTO report_events (report_id, kind, actor_id, actor_role, from_state, to_state, note, public, at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
        (
            report_id,
            kind,
            actor_id,
            actor_role,
            from_state.value if from_state else None,
            to_state.value if to_state else None,
            note,
            int(public),
            to_db(now),
        ),
    )
    return await returned_id(cursor) or 0


def report_of(row: Any) -> Report:
    return Report(
        id=row["id"],
        public_no=row["public_no"],
        category=row["category"],
        lat=row["lat"],
        lon=row["lon"],
        address_text=row["address_text"],
        district=row["district"],
        description=row["description"],
        voice_file_id=row["voice_file_id"],
        anonymous=bool(row["anonymous"]),
        reporter_id=row["reporter_id"],
        state=ReportState(row["state"]),
        assignee=row["assignee"],
        due_at=from_db(row["due_at"]),
        duplicate_of=row["duplicate_of"],
        follower_count=row["follower_count"],
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
    )


def event_of(row: Any) -> ReportEvent:
    return ReportEvent(
        id=row["id"],
        kind=row["kind"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        from_state=ReportState(row["from_state"]) if row["from_state"] else None,
        to_state=ReportState(row["to_state"]) if row["to_state"] else None,
        note=row["note"],
        public=bool(row["public"]),
        at=from_db(row["at"]),
    )
