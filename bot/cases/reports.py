"""The report lifecycle: categories and time limits, drafts, submission, duplicates, the state machine, audit trail.

Everything here is plain Python over the database: functions take the :class:`~bot.platform.db.Database` (or a
connection inside a transaction) and ``now`` (aware UTC), and return dataclasses. The staff side builds on
:func:`transition`, which is the only way a case changes state.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

import aiosqlite

from bot.platform.clock import from_db, to_db
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.platform.geo import ServiceArea, bounding_box, haversine_m
from bot.platform.i18n import N_, Lang
from bot.platform.outbox import enqueue_text
from bot.platform.text import ADDRESS_SHOWN, DESCRIPTION_SHOWN, escape
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


@dataclass(frozen=True)
class NearbyReport:
    report: Report
    distance_m: float


@dataclass(frozen=True)
class FollowResult:
    report: Report
    already_following: bool


@dataclass(frozen=True)
class ReportSummary:
    """One line of "my reports"."""

    id: int
    public_no: str
    category: str
    state: ReportState
    created_at: datetime
    mine: bool  # reported by this person (else followed: "mine too")


@dataclass(frozen=True)
class ReportPage:
    items: tuple[ReportSummary, ...]
    offset: int
    total: int


@dataclass(frozen=True)
class ReportDetail:
    report: Report
    events: tuple[ReportEvent, ...]  # what the viewer may see, oldest first
    photo_count: int
    mine: bool

    @property
    def can_withdraw(self) -> bool:
        return self.mine and self.report.state in WITHDRAWABLE


@dataclass
class Draft:
    """The wizard's answers so far; stored as JSON in report_drafts between steps."""

    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    address_text: str | None = None
    district: str | None = None
    description: str | None = None
    voice_file_id: str | None = None
    voice_seconds: int | None = None
    photos: list[str] = field(default_factory=list)
    show_name: bool = False
    editing: bool = False  # came from the review card: go back to it after this step
    offered: list[int] = field(default_factory=list)  # ids of the nearby reports shown as possible duplicates

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Draft:
        data = json.loads(text)
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    @property
    def has_place(self) -> bool:
        return self.district is not None and (self.lat is not None or bool(self.address_text))

    @property
    def has_description(self) -> bool:
        return bool(self.description) or self.voice_file_id is not None

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None

    def add_photos(self, file_ids: Iterable[str]) -> tuple[int, int]:
        """Keeps photos up to MAX_PHOTOS; returns (added, refused)."""
        added = refused = 0
        for file_id in file_ids:
            if len(self.photos) < MAX_PHOTOS:
                self.photos.append(file_id)
                added += 1
            else:
                refused += 1
        return added, refused


@dataclass(frozen=True)
class ReportPolicy:
    """The settings the report core needs, in one place."""

    calendar: WorkCalendar
    per_hour: int = 5
    per_day: int = 20
    duplicate_radius_m: float = 250.0
    staff_chat_id: int | None = None
    staff_lang: Lang | None = None  # the staff group's language (the bot's default)
    area: ServiceArea | None = None


@cache
def _calendar(settings: Settings) -> WorkCalendar:
    return WorkCalendar(settings.timezone, settings.work_hours)


def policy_from(settings: Settings, staff_lang: Lang, area: ServiceArea | None) -> ReportPolicy:
    return ReportPolicy(
        calendar=_calendar(settings),
        per_hour=settings.reports_per_hour,
        per_day=settings.reports_per_day,
        duplicate_radius_m=settings.duplicate_radius_m,
        staff_chat_id=settings.staff_chat_id,
        staff_lang=staff_lang,
        area=area,
    )


def deadline_for(category: Category, start: datetime, calendar: WorkCalendar) -> datetime:
    """When a case of this category must be handled by."""
    return calendar.deadline(start, category.limit_hours, calendar_hours=category.emergency)


# ------------------------------------------------------------------ drafts
async def load_draft(db: Database, telegram_id: int) -> Draft | None:
    row = await db.fetchone("SELECT data FROM report_drafts WHERE telegram_id = ?", (telegram_id,))
    return Draft.from_json(row["data"]) if row else None


@dataclass(frozen=True)
class DraftRecord:
    draft: Draft
    step: str  # the wizard step it waits at
    updated_at: datetime


async def load_draft_record(db: Database, telegram_id: int) -> DraftRecord | None:
    """The draft with its step and last change (the reminders nudge drafts left alone too long)."""
    row = await db.fetchone("SELECT data, step, updated_at FROM report_drafts WHERE telegram_id = ?", (telegram_id,))
    return DraftRecord(Draft.from_json(row["data"]), row["step"], from_db(row["updated_at"])) if row else None


async def save_draft(db: Database, telegram_id: int, draft: Draft, step: str, now: datetime) -> None:
    """Stores the draft and the step it waits at (one per user; a new one replaces the old)."""
    async with db.transaction() as conn:
        await conn.execute(
            """INSERT INTO report_drafts (telegram_id, step, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (telegram_id) DO UPDATE
               SET step = excluded.step, data = excluded.data, updated_at = excluded.updated_at""",
            (telegram_id, step, draft.to_json(), to_db(now), to_db(now)),
        )
        for after_save in DRAFT_HOOKS.values():
            await after_save(conn, telegram_id, now)


async def discard_draft(db: Database, telegram_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM report_drafts WHERE telegram_id = ?", (telegram_id,))


# ------------------------------------------------------------------ limits
async def check_limits(
    db: Database | aiosqlite.Connection, telegram_id: int, now: datetime, policy: ReportPolicy
) -> None:
    """Raises ReportLimitReached when the person already sent REPORTS_PER_HOUR/REPORTS_PER_DAY reports."""
    for window, span, limit in (
        ("hour", timedelta(hours=1), policy.per_hour),
        ("day", timedelta(days=1), policy.per_day),
    ):
        rows = await _fetchall(
            db,
            "SELECT created_at FROM reports WHERE reporter_id = ? AND created_at > ? ORDER BY created_at",
            (telegram_id, to_db(now - span)),
        )
        if len(rows) >= limit:
            oldest_counted = from_db(rows[len(rows) - limit]["created_at"])
            raise ReportLimitReached(window, limit, oldest_counted + span)


# ------------------------------------------------------------------ submission
async def next_public_no(conn: aiosqlite.Connection, now: datetime, calendar: WorkCalendar) -> str:
    """R + the city's local date + a daily sequence: R20261123-0007. Call inside the inserting transaction."""
    prefix = "R" + now.astimezone(calendar.timezone).strftime("%Y%m%d") + "-"
    # A range on the unique index ('.' sorts right after '-'), rather than LIKE, which cannot use it.
    async with conn.execute(
        "SELECT MAX(public_no) FROM reports WHERE public_no >= ? AND public_no < ?",
        (prefix, prefix[:-1] + "."),
    ) as cursor:
        row = await cursor.fetchone()
    last = int(row[0].rsplit("-", 1)[1]) if row and row[0] else 0
    return f"{prefix}{last + 1:04d}"


async def submit_report(db: Database, reporter_id: int, draft: Draft, now: datetime, policy: ReportPolicy) -> Report:
    """In one transaction: the report, its photos, the audit event, the reporter as follower, the staff alert."""
    if draft.category is None or not draft.has_place or not draft.has_description:
        raise IncompleteDraft("category, place and description are needed")
    category = category_of(draft.category)
    async with db.transaction() as conn:
        await check_limits(conn, reporter_id, now, policy)
        public_no = await next_public_no(conn, now, policy.calendar)
        cursor = await conn.execute(
            """INSERT INTO reports (public_no, category, lat, lon, address_text, district, description,
                   voice_file_id, anonymous, reporter_id, state, due_at, follower_count, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)""",
            (
                public_no,
                category.code,
                draft.lat,
                draft.lon,
                draft.address_text,
                draft.district,
                draft.description or "",
                draft.voice_file_id,
                0 if draft.show_name else 1,
                reporter_id,
                S.SUBMITTED.value,
                to_db(deadline_for(category, now, policy.calendar)),
                to_db(now),
                to_db(now),
            ),
        )
        report_id = int(cursor.lastrowid or 0)
        event_id = await _add_event(
            conn, report_id, "transition", reporter_id, "resident", None, S.SUBMITTED, "", True, now
        )
        for file_id in draft.photos[:MAX_PHOTOS]:
            await conn.execute(
                "INSERT INTO report_photos (report_id, file_id, kind, event_id, created_at) "
                "VALUES (?, ?, 'report', ?, ?)",
                (report_id, file_id, event_id, to_db(now)),
            )
        await conn.execute(
            "INSERT INTO report_followers (report_id, telegram_id, created_at) VALUES (?, ?, ?)",
            (report_id, reporter_id, to_db(now)),
        )
        await conn.execute("DELETE FROM report_drafts WHERE telegram_id = ?", (reporter_id,))
        report = await _get(conn, report_id)
        await queue_staff_alert(conn, report, len(draft.photos[:MAX_PHOTOS]), now, policy)
        for after_submit in SUBMIT_HOOKS.values():
            await after_submit(conn, report, now)
    return report


async def filed_since(db: Database, reporter_id: int, since: datetime) -> Report | None:
    """The first report the person filed at or after ``since``: what a review card shown then was submitted as."""
    row = await db.fetchone(
        "SELECT * FROM reports WHERE reporter_id = ? AND created_at >= ? ORDER BY created_at, id LIMIT 1",
        (reporter_id, to_db(since)),
    )
    return None if row is None else _report(row)


async def latest_filed_by(db: Database, reporter_id: int) -> Report | None:
    row = await db.fetchone(
        "SELECT * FROM reports WHERE reporter_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", (reporter_id,)
    )
    return None if row is None else _report(row)


async def queue_staff_alert(
    conn: aiosqlite.Connection, report: Report, photo_count: int, now: datetime, policy: ReportPolicy
) -> int | None:
    """Queues the new case for the staff group: its card (ref ``outbox.card_ref``), pin, photos and voice note."""
    from bot.cases import casework  # the staff side builds on this module, so it is imported when first needed

    return await casework.queue_alert(conn, report, now, policy)


def place_lines(t: Lang, report: Report | Draft, area: ServiceArea | None) -> list[str]:
    """District and address or coordinates, as lines of a card (user text escaped)."""
    lines = []
    district = area.by_code(report.district) if area is not None and report.district else None
    if district is not None:
        lines.append(t._("District: {district}", district=escape(district.name(t.code))))
    if report.address_text:
        lines.append(t._("Address: {address}", address=escape(report.address_text, ADDRESS_SHOWN)))
    if report.lat is not None and report.lon is not None:
        lines.append(t._("Location: {lat}, {lon}", lat=f"{report.lat:.5f}", lon=f"{report.lon:.5f}"))
    return lines


def description_text(
    t: Lang, description: str | None, voice_file_id: str | None, voice_seconds: int | None = None
) -> str:
    """The description (clipped and escaped) or a mention of the voice note."""
    if description:
        return escape(description, DESCRIPTION_SHOWN)
    if voice_file_id and voice_seconds:
        return t._("🎤 voice note ({seconds} s)", seconds=voice_seconds)
    if voice_file_id:
        return t._("🎤 voice note")
    return t._("none")


# ------------------------------------------------------------------ duplicates
async def find_nearby_open(
    db: Database, category: str, lat: float, lon: float, radius_m: float, limit: int = NEARBY_SHOWN
) -> list[NearbyReport]:
    """Open reports of the category within radius_m, nearest first: a bounding box on the index, then haversine."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_m)
    placeholders = ",".join("?" * len(OPEN_STATES))
    rows = await db.fetchall(
        f"""SELECT * FROM reports WHERE category = ? AND state IN ({placeholders})
            AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?""",
        (category, *sorted(OPEN_STATES), min_lat, max_lat, min_lon, max_lon),
    )
    nearby = []
    for row in rows:
        distance = haversine_m(lat, lon, row["lat"], row["lon"])
        if distance <= radius_m:
            nearby.append(NearbyReport(_report(row), distance))
    nearby.sort(key=lambda item: (item.distance_m, -item.report.id))
    return nearby[:limit]


async def follow_report(db: Database, report_id: int, telegram_id: int, now: datetime) -> FollowResult:
    """并单 "this is mine too": the person follows the open report (+1) instead of filing a new one."""
    async with db.transaction() as conn:
        return await follow_in(conn, report_id, telegram_id, now)


async def follow_in(conn: aiosqlite.Connection, report_id: int, telegram_id: int, now: datetime) -> FollowResult:
    """:func:`follow_report` inside the caller's transaction (which also brings the staff card up to date)."""
    report = await _get(conn, report_id)
    if not report.is_open:
        raise InvalidTransition(report_id, report.state, report.state)
    cursor = await conn.execute(
        "INSERT INTO report_followers (report_id, telegram_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (report_id, telegram_id, to_db(now)),
    )
    already = cursor.rowcount == 0
    if not already:
        await conn.execute(
            "UPDATE reports SET follower_count = follower_count + 1, updated_at = ? WHERE id = ?",
            (to_db(now), report_id),
        )
        await _add_event(conn, report_id, "follow", telegram_id, "resident", None, None, "", False, now)
    await conn.execute("DELETE FROM report_drafts WHERE telegram_id = ?", (telegram_id,))
    return FollowResult(await _get(conn, report_id), already)


# ------------------------------------------------------------------ state machine
# Parts of the core that follow a case's life (bot/followups.py) register here, by name, at start-up; they run
# inside the same transaction as the submission or the move, so a case and its reminders change together.
SubmitHook = Callable[[aiosqlite.Connection, Report, datetime], Awaitable[None]]
TransitionHook = Callable[[aiosqlite.Connection, Report, Transition, datetime], Awaitable[None]]
DraftHook = Callable[[aiosqlite.Connection, int, datetime], Awaitable[None]]
SUBMIT_HOOKS: dict[str, SubmitHook] = {}
DRAFT_HOOKS: dict[str, DraftHook] = {}
TRANSITION_HOOKS: dict[str, TransitionHook] = {}


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
) -> Transition:
    """Moves a report to ``to_state`` and writes the audit event; call inside ``db.transaction()``.

    Refuses moves not in TRANSITIONS (InvalidTransition) and, when ``expected_from`` is given (the state a button
    was made for), a report that has moved on meanwhile (StateChanged). ``assignee`` is stored on dispatch;
    ``duplicate_of`` (required for DUPLICATE) merges the followers into the other open case.
    Authorisation (who may make the move) is the caller's check.
    """
    to_state = ReportState(to_state)
    report = await _get(conn, report_id)
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
    event_id = await _add_event(
        conn, report_id, "transition", actor_id, actor_role, report.state, to_state, note, public, now
    )
    moved = Transition(report_id, report.state, to_state, event_id, now)
    for after_move in TRANSITION_HOOKS.values():
        await after_move(conn, report, moved, now)
    return moved


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
    return _report(row)


async def followers_of(db: Database | aiosqlite.Connection, report_id: int) -> list[int]:
    """Telegram ids to tell about the report's public steps (the reporter first)."""
    rows = await _fetchall(
        db,
        """SELECT f.telegram_id FROM report_followers f JOIN reports r ON r.id = f.report_id
           WHERE f.report_id = ? ORDER BY f.telegram_id != r.reporter_id, f.created_at""",
        (report_id,),
    )
    return [row["telegram_id"] for row in rows]


async def list_for_user(db: Database, telegram_id: int, offset: int = 0, limit: int = 5) -> ReportPage:
    """The reports a person filed or follows, newest first."""
    where = "FROM reports r JOIN report_followers f ON f.report_id = r.id WHERE f.telegram_id = ?"
    total_row = await db.fetchone(f"SELECT COUNT(*) {where}", (telegram_id,))
    rows = await db.fetchall(
        f"SELECT r.* {where} ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?",
        (telegram_id, limit, max(0, offset)),
    )
    items = tuple(
        ReportSummary(
            row["id"],
            row["public_no"],
            row["category"],
            ReportState(row["state"]),
            from_db(row["created_at"]),
            row["reporter_id"] == telegram_id,
        )
        for row in rows
    )
    return ReportPage(items, max(0, offset), int(total_row[0]) if total_row else 0)


async def detail_for_user(db: Database, report_id: int, telegram_id: int) -> ReportDetail:
    """The report as its reporter or a follower sees it; ReportNotFound for anyone else."""
    report = await _visible(db, report_id, telegram_id)
    rows = await db.fetchall(
        """SELECT * FROM report_events WHERE report_id = ?
           AND (kind = 'transition' OR (kind = 'info' AND actor_id = ?)) ORDER BY id""",
        (report_id, telegram_id),
    )
    events = tuple(_event(row) for row in rows)
    count = await db.fetchone(
        "SELECT COUNT(*) FROM report_photos WHERE report_id = ? AND kind = 'report'", (report_id,)
    )
    return ReportDetail(report, events, int(count[0]) if count else 0, report.reporter_id == telegram_id)


async def add_information(
    db: Database,
    report_id: int,
    telegram_id: int,
    now: datetime,
    policy: ReportPolicy,
    *,
    text: str | None = None,
    photo_file_id: str | None = None,
) -> ReportEvent:
    """The reporter or a follower adds text or a photo; staff are told through the outbox (ref report_info:<id>)."""
    if not text and not photo_file_id:
        raise ReportError("nothing to add")
    async with db.transaction() as conn:
        report = await _visible(conn, report_id, telegram_id)
        event_id = await _add_event(
            conn, report_id, "info", telegram_id, "resident", None, None, text or "", False, now
        )
        if photo_file_id:
            await conn.execute(
                "INSERT INTO report_photos (report_id, file_id, kind, event_id, created_at) "
                "VALUES (?, ?, 'info', ?, ?)",
                (report_id, photo_file_id, event_id, to_db(now)),
            )
        await conn.execute("UPDATE reports SET updated_at = ? WHERE id = ?", (to_db(now), report_id))
        if policy.staff_chat_id is not None and policy.staff_lang is not None:
            t = policy.staff_lang
            body = escape(text, DESCRIPTION_SHOWN) if text else t._("(a photo)")
            await enqueue_text(
                conn,
                policy.staff_chat_id,
                t._(
                    "ℹ️ More information on <b>{number}</b> from a resident:\n{text}", number=report.public_no, text=body
                ),
                now,
                ref=f"report_info:{report_id}:{event_id}",
            )
        async with conn.execute("SELECT * FROM report_events WHERE id = ?", (event_id,)) as cursor:
            row = await cursor.fetchone()
    assert row is not None
    return _event(row)


async def withdraw_report(
    db: Database, report_id: int, telegram_id: int, now: datetime, policy: ReportPolicy
) -> Transition:
    """The reporter takes the report back (until it is dispatched); staff are told."""
    async with db.transaction() as conn:
        report = await _visible(conn, report_id, telegram_id)
        if report.reporter_id != telegram_id:
            raise NotReporter(report.public_no)
        done = await transition(conn, report_id, telegram_id, S.WITHDRAWN, "", now, actor_role="resident")
        if policy.staff_chat_id is not None and policy.staff_lang is not None:
            t = policy.staff_lang
            await enqueue_text(
                conn,
                policy.staff_chat_id,
                t._("↩️ Report <b>{number}</b> was withdrawn by the resident.", number=report.public_no),
                now,
                dedupe_key=f"report_withdrawn:{report_id}",
                ref=f"report_withdrawn:{report_id}",
            )
    return done


# ------------------------------------------------------------------ rows
async def _fetchall(db: Database | aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    if isinstance(db, Database):
        return await db.fetchall(sql, params)
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def _get(db: Database | aiosqlite.Connection, report_id: int) -> Report:
    rows = await _fetchall(db, "SELECT * FROM reports WHERE id = ?", (report_id,))
    if not rows:
        raise ReportNotFound(report_id)
    return _report(rows[0])


async def _visible(db: Database | aiosqlite.Connection, report_id: int, telegram_id: int) -> Report:
    rows = await _fetchall(
        db,
        """SELECT r.* FROM reports r JOIN report_followers f ON f.report_id = r.id
           WHERE r.id = ? AND f.telegram_id = ?""",
        (report_id, telegram_id),
    )
    if not rows:
        raise ReportNotFound(report_id)
    return _report(rows[0])


async def _add_event(
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
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
    return int(cursor.lastrowid or 0)


def _report(row: Any) -> Report:
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


def _event(row: Any) -> ReportEvent:
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
