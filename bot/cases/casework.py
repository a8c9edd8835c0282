"""The staff side of a case: the alert card, authorised moves through the 数字城管 workflow, and the residents' news.

A new report is announced to the staff group as a card (ref ``outbox.card_ref``) with the buttons that fit its
state, then its pin, photos and voice note. Every move goes through :func:`perform`: in one transaction it checks
the actor's role *now* (bot.people.staff), makes the move with the state the button was made for (so of two people
pressing at once, one wins), tells the followers in their own language, and queues what else the move needs (the
officer's copy of the card, the after-photo for the group). A transition hook re-renders the cards after *any*
move, whoever made it (a resident withdrawing, the follow-ups closing a case), so a card never shows a stale state.

Button data is ``case:<action>:<report id>:<state it was made for>`` (made here, because the core queues cards;
its format is written and read in bot/wire.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

import aiosqlite

from bot import wire
from bot.cases import followups, reports
from bot.cases.reports import Report, ReportPolicy, ReportState, StateChanged, Transition, category_of
from bot.people import staff
from bot.people.staff import Action, StaffMember
from bot.platform.clock import from_db, to_db
from bot.platform.config import Settings
from bot.platform.db import Database
from bot.platform.geo import ServiceArea
from bot.platform.i18n import N_, Lang, get_lang, resolve_language
from bot.platform.outbox import card_ref, copies, enqueue, enqueue_text, record_copy
from bot.platform.text import (
    ADDRESS_SHOWN,
    CAPTION_LIMIT,
    NAME_SHOWN,
    NOTE_SHOWN,
    TEXT_LIMIT,
    TITLE_SHOWN,
    escape,
    fit,
    take_fitting,
    visible_len,
)
from bot.vending import spots

NOTE_MIN = 2
NOTE_MAX = 500
HISTORY_SHOWN = 10
HISTORY_NOTE_MAX = 200  # UTF-16 units of a step's note on the card
_LEFT_OUT_ROOM = 100  # kept free for the line saying how many steps were left out
OFFICERS_SHOWN = 8
SPOTS_SHOWN = 3
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

BUTTON_LABELS: dict[Action, str] = {
    Action.ACCEPT: N_("✅ Accept"),
    Action.REJECT: N_("❌ Reject"),
    Action.DUPLICATE: N_("🔁 Duplicate of…"),
    Action.RETURN: N_("↪️ Return"),
    Action.DISPATCH: N_("👮 Dispatch"),
    Action.START: N_("▶️ Start"),
    Action.RESOLVE: N_("🛠 Resolve"),
    Action.CLOSE: N_("🏁 Close"),
}
# The buttons of the group's card and of the officer's copy, row by row, for each state; none once it is final.
GROUP_BUTTONS: dict[ReportState, tuple[tuple[Action, ...], ...]] = {
    S.SUBMITTED: ((Action.ACCEPT, Action.REJECT), (Action.DUPLICATE, Action.RETURN)),
    S.ACCEPTED: ((Action.DISPATCH, Action.RESOLVE), (Action.DUPLICATE, Action.RETURN)),
    S.DISPATCHED: ((Action.RESOLVE, Action.RETURN),),
    S.IN_PROGRESS: ((Action.RESOLVE, Action.RETURN),),
    S.RESOLVED: ((Action.CLOSE,),),
    S.REOPENED: ((Action.DISPATCH, Action.RESOLVE), (Action.RETURN, Action.CLOSE)),
}
OFFICER_BUTTONS: dict[ReportState, tuple[tuple[Action, ...], ...]] = {
    S.DISPATCHED: ((Action.START,), (Action.RESOLVE, Action.RETURN)),
    S.IN_PROGRESS: ((Action.RESOLVE, Action.RETURN),),
}


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


# ------------------------------------------------------------------ settings and records
@dataclass(frozen=True)
class Desk:
    """What the staff side needs from the settings."""

    staff_chat_id: int | None
    staff_lang: Lang  # the group's language: the bot's default
    area: ServiceArea | None
    admin_ids: frozenset[int]
    default_language: str

    @property
    def timezone(self) -> tzinfo:
        return self.staff_lang.timezone


def desk_from(settings: Settings, area: ServiceArea | None) -> Desk:
    return Desk(
        staff_chat_id=settings.staff_chat_id,
        staff_lang=get_lang(settings.default_language, settings.timezone),
        area=area,
        admin_ids=settings.admin_ids,
        default_language=settings.default_language,
    )


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    to_state: ReportState
    actor_role: str  # resident / system / a staff role
    actor_name: str | None  # staff only: residents stay nameless on the card
    note: str


@dataclass(frozen=True)
class SpotOffer:
    """A legal vending spot to offer the vendor of a 占道经营 case."""

    spot: spots.Spot
    distance_m: float | None
    opening: spots.Opening | None
    open_now: bool


@dataclass(frozen=True)
class CaseView:
    """Everything the card shows."""

    report: Report
    photo_count: int
    reporter_name: str | None  # None: anonymous (or unknown)
    assignee_name: str | None
    original_no: str | None  # the case it was merged into
    history: tuple[HistoryLine, ...]
    spot_offers: tuple[SpotOffer, ...] | None  # None: not a stall case
    area: ServiceArea | None


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

    def expired(self, now: datetime) -> bool:
        return now - self.created_at > PROMPT_VALID_FOR


@dataclass(frozen=True)
class ButtonPress:
    action: str  # an Action, or "to" (officer chosen) / "back" (leave the officer list)
    report_id: int
    expected: ReportState
    officer_id: int | None = None


# ------------------------------------------------------------------ button data
def button_data(action: str, report_id: int, state: ReportState, *extra: object) -> str:
    return wire.make(wire.CASE, action, report_id, state.value, *extra)


def parse_button(data: str | None) -> ButtonPress | None:
    """The press a ``case:`` button stands for, or None when the data is not one the bot makes (bot.wire)."""
    button = wire.case_button(data)
    if button is None:
        return None
    return ButtonPress(button.action, button.report_id, ReportState(button.state), button.officer_id)


def keyboard(t: Lang, report: Report, layout: dict[ReportState, tuple[tuple[Action, ...], ...]]) -> dict[str, Any]:
    """The inline keyboard for the report's state as Bot API JSON (empty once the case is final)."""
    rows = [
        [
            {"text": t._(BUTTON_LABELS[action]), "callback_data": button_data(action, report.id, report.state)}
            for action in row
        ]
        for row in layout.get(report.state, ())
    ]
    return {"inline_keyboard": rows}


# ------------------------------------------------------------------ reading
async def _rows(source: Database | aiosqlite.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    if isinstance(source, Database):
        return await source.fetchall(sql, params)
    async with source.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def _first_name(conn: aiosqlite.Connection, telegram_id: int | None) -> str | None:
    if telegram_id is None:
        return None
    rows = await _rows(conn, "SELECT first_name FROM users WHERE telegram_id = ?", (telegram_id,))
    return rows[0]["first_name"] or None if rows else None


async def lang_of_user(conn: aiosqlite.Connection, telegram_id: int, desk: Desk) -> Lang:
    """The person's language for a push: stored choice, then their Telegram language, then the default."""
    rows = await _rows(conn, "SELECT language, telegram_language FROM users WHERE telegram_id = ?", (telegram_id,))
    stored, telegram = (rows[0]["language"], rows[0]["telegram_language"]) if rows else (None, None)
    return get_lang(resolve_language(stored, telegram, desk.default_language), desk.timezone)


async def _spot_offers(conn: aiosqlite.Connection, report: Report, now: datetime, tz: tzinfo) -> tuple[SpotOffer, ...]:
    if report.lat is not None and report.lon is not None:
        found = await spots.nearest_open_spots(conn, report.lat, report.lon, now, tz, limit=SPOTS_SHOWN)
        return tuple(SpotOffer(n.spot, n.distance_m, n.opening, n.open_now) for n in found.spots)
    if report.district:
        in_district, _ = await spots.spots_in_district(conn, report.district, now, tz, limit=SPOTS_SHOWN)
        return tuple(
            SpotOffer(
                s, None, spots.current_opening(s, now, tz) or spots.next_opening(s, now, tz), spots.is_open(s, now, tz)
            )
            for s in in_district
        )
    return ()


async def load_view(conn: aiosqlite.Connection, report_id: int, now: datetime, desk: Desk) -> CaseView:
    report = await reports.get_report(conn, report_id)
    photos = await _rows(
        conn, "SELECT COUNT(*) AS n FROM report_photos WHERE report_id = ? AND kind = 'report'", (report_id,)
    )
    events = await _rows(
        conn,
        """SELECT e.at, e.to_state, e.actor_role, e.note, u.first_name FROM report_events e
           LEFT JOIN users u ON u.telegram_id = e.actor_id
           WHERE e.report_id = ? AND e.kind = 'transition' ORDER BY e.id DESC LIMIT ?""",
        (report_id, HISTORY_SHOWN),
    )
    history = tuple(
        HistoryLine(
            from_db(row["at"]),
            ReportState(row["to_state"]),
            row["actor_role"],
            row["first_name"] if row["actor_role"] in {r.value for r in staff.Role} else None,
            row["note"],
        )
        for row in reversed(events)
    )
    original = await reports.get_report(conn, report.duplicate_of) if report.duplicate_of else None
    offers = await _spot_offers(conn, report, now, desk.timezone) if report.category == "stall" else None
    return CaseView(
        report=report,
        photo_count=int(photos[0]["n"]),
        reporter_name=None if report.anonymous else await _first_name(conn, report.reporter_id),
        assignee_name=await _first_name(conn, report.assignee),
        original_no=original.public_no if original else None,
        history=history,
        spot_offers=offers,
        area=desk.area,
    )


# ------------------------------------------------------------------ rendering
def _spot_line(t: Lang, offer: SpotOffer, now: datetime) -> str:
    name = escape(offer.spot.title(t.code), TITLE_SHOWN)
    place = escape(offer.spot.place(t.code), ADDRESS_SHOWN)
    distance = t.distance(offer.distance_m) if offer.distance_m is not None else place
    if offer.open_now and offer.opening is not None:
        return t._(
            "• {name}, {distance}, open now until {time}",
            name=name,
            distance=distance,
            time=t.time(offer.opening.closes_at),
        )
    if offer.opening is not None:
        return t._(
            "• {name}, {distance}, opens {time}", name=name, distance=distance, time=t.date_time(offer.opening.opens_at)
        )
    return t._("• {name}, {distance}", name=name, distance=distance)


def _history_line(t: Lang, line: HistoryLine) -> str:
    if line.actor_name:
        who = escape(line.actor_name, NAME_SHOWN)
    elif line.actor_role == "resident":
        who = t._("the resident")
    else:
        who = t._("the system")
    values = {"time": t.date_time(line.at), "state": t._(reports.STATE_NAMES[line.to_state]), "who": who}
    if line.note:
        return t._("• {time} {state} — {who}: {note}", note=escape(line.note, HISTORY_NOTE_MAX), **values)
    return t._("• {time} {state} — {who}", **values)


def _reporter(t: Lang, view: CaseView) -> str:
    """Only a reporter who chose to show their name is named; their Telegram account never is."""
    if view.report.anonymous:
        return t._("anonymous")
    return escape(view.reporter_name, NAME_SHOWN) if view.reporter_name else t._("name not known")


def card_text(t: Lang, view: CaseView, now: datetime, *, for_officer: bool = False) -> str:
    """The card in HTML: the case, the legal spots for a stall, its state and who did what when."""
    report = view.report
    if for_officer:
        title = t._("👮 Case <b>{number}</b> has been sent to you.", number=report.public_no)
    elif report.state == S.SUBMITTED:
        title = t._("🆕 New report <b>{number}</b>", number=report.public_no)
    else:
        title = t._("📋 Case <b>{number}</b>", number=report.public_no)
    deadline = t.date_time(report.due_at)
    lines = [
        title,
        t._("Category: {category}", category=t._(category_of(report.category).name)),
        *reports.place_lines(t, report, view.area),
        t._(
            "Description: {description}",
            description=reports.description_text(t, report.description, report.voice_file_id),
        ),
        t.n_("Photos: {count}", "Photos: {count}", view.photo_count),
        t._("Deadline: {deadline} (overdue)", deadline=deadline)
        if report.is_open and report.due_at < now
        else t._("Deadline: {deadline}", deadline=deadline),
        t.n_("{count} resident follows it", "{count} residents follow it", report.follower_count),
        t._("Reporter: {reporter}", reporter=_reporter(t, view)),
    ]
    if view.spot_offers is not None:
        lines.append("")
        if view.spot_offers:
            lines.append(t._("🛒 Legal vending spots to offer the vendor:"))
            lines.extend(_spot_line(t, offer, now) for offer in view.spot_offers)
        else:
            lines.append(t._("🛒 No legal vending spot is known near this place."))
    lines += ["", t._("State: <b>{state}</b>", state=t._(reports.STATE_NAMES[report.state]))]
    if view.assignee_name and report.state in {S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED, S.CLOSED}:
        lines.append(t._("Officer: {name}", name=escape(view.assignee_name, NAME_SHOWN)))
    if view.original_no:
        lines.append(t._("Merged into case <b>{number}</b>.", number=view.original_no))
    if for_officer and report.state == S.DISPATCHED:
        lines.append(t._("Press “Start” when you set off, and “Resolve” when it is done."))
    if view.history:
        lines += ["", t._("History:")]
        # The latest steps that fit: the case's own fields are bounded, its history is not.
        room = TEXT_LIMIT - visible_len("\n".join(lines)) - _LEFT_OUT_ROOM
        shown, left_out = take_fitting([_history_line(t, line) for line in view.history], room, latest=True)
        if left_out:
            lines.append(t.n_("({count} older step left out)", "({count} older steps left out)", left_out))
        lines += shown
    return fit("\n".join(lines))


# ------------------------------------------------------------------ queuing cards
async def _report_photos(conn: aiosqlite.Connection, report_id: int) -> list[str]:
    rows = await _rows(
        conn, "SELECT file_id FROM report_photos WHERE report_id = ? AND kind = 'report' ORDER BY id", (report_id,)
    )
    return [row["file_id"] for row in rows]


async def _queue_case(
    conn: aiosqlite.Connection,
    chat_id: int,
    t: Lang,
    view: CaseView,
    now: datetime,
    *,
    markup: dict[str, Any],
    ref: str,
    key: str,
    for_officer: bool = False,
) -> int | None:
    """The card, then the place as a pin, the photos and the voice note (the courier keeps a chat's order)."""
    report = view.report
    card_id = await enqueue_text(
        conn,
        chat_id,
        card_text(t, view, now, for_officer=for_officer),
        now,
        reply_markup=markup,
        dedupe_key=f"{key}:card",
        ref=ref,
    )
    media_ref = f"report_media:{report.id}"
    if report.lat is not None and report.lon is not None:
        district = view.area.by_code(report.district) if view.area is not None and report.district else None
        # A venue is a pin with a title: the case number, so it cannot be taken for the next case's pin.
        await enqueue(
            conn,
            chat_id,
            "sendVenue",
            {
                "latitude": report.lat,
                "longitude": report.lon,
                "title": f"{report.public_no} · {t._(category_of(report.category).name)}",
                "address": report.address_text or (district.name(t.code) if district else report.public_no),
            },
            now,
            dedupe_key=f"{key}:pin",
            ref=media_ref,
        )
    photos = await _report_photos(conn, report.id)
    caption = t._("📷 Photos of case {number}", number=report.public_no)
    if len(photos) == 1:
        await enqueue(
            conn,
            chat_id,
            "sendPhoto",
            {"photo": photos[0], "caption": caption},
            now,
            dedupe_key=f"{key}:photos",
            ref=media_ref,
        )
    elif photos:
        media = [{"type": "photo", "media": file_id} for file_id in photos]
        media[0]["caption"] = caption
        await enqueue(conn, chat_id, "sendMediaGroup", {"media": media}, now, dedupe_key=f"{key}:photos", ref=media_ref)
    if report.voice_file_id:
        await enqueue(
            conn,
            chat_id,
            "sendVoice",
            {
                "voice": report.voice_file_id,
                "caption": t._("🎤 Voice description of case {number}", number=report.public_no),
            },
            now,
            dedupe_key=f"{key}:voice",
            ref=media_ref,
        )
    return card_id


async def queue_alert(conn: aiosqlite.Connection, report: Report, now: datetime, policy: ReportPolicy) -> int | None:
    """The new case for the staff group (called by the submitting transaction); returns the card's outbox id."""
    if policy.staff_chat_id is None or policy.staff_lang is None:
        return None
    t = policy.staff_lang
    desk = Desk(policy.staff_chat_id, t, policy.area, frozenset(), t.code)
    view = await load_view(conn, report.id, now, desk)
    return await _queue_case(
        conn,
        policy.staff_chat_id,
        t,
        view,
        now,
        markup=keyboard(t, report, GROUP_BUTTONS),
        ref=card_ref(report.id),
        key=f"report_alert:{report.id}",
    )


def officer_card_ref(report_id: int) -> str:
    return f"report_officer_card:{report_id}"


async def _card_row(conn: aiosqlite.Connection, ref: str, chat_id: int) -> Any | None:
    rows = await _rows(
        conn,
        "SELECT id, state, result_message_id, params FROM outbox WHERE ref = ? AND chat_id = ? "
        "AND state IN ('pending', 'sent') ORDER BY id DESC LIMIT 1",
        (ref, chat_id),
    )
    return rows[0] if rows else None


async def _refresh(
    conn: aiosqlite.Connection, ref: str, chat_id: int, text: str, markup: dict[str, Any], now: datetime
) -> bool:
    """Brings a card up to date: rewrites it while it waits to be sent, and edits every copy the chat is known to
    hold (one, or two when a slow send was tried again and someone pressed the copy whose answer was lost)."""
    waiting = await _rows(
        conn, "SELECT id, params FROM outbox WHERE ref = ? AND chat_id = ? AND state = 'pending'", (ref, chat_id)
    )
    for row in waiting:
        params = {**json.loads(row["params"]), "text": text, "reply_markup": markup}
        await conn.execute(
            "UPDATE outbox SET params = ? WHERE id = ?", (json.dumps(params, ensure_ascii=False), row["id"])
        )
    sent = await copies(conn, ref, chat_id)
    for message_id in sent:
        edit: dict[str, Any] = {"message_id": message_id, "text": text, "parse_mode": "HTML"}
        if markup["inline_keyboard"]:
            edit["reply_markup"] = markup  # without one, the edit takes the buttons away
        await enqueue(conn, chat_id, "editMessageText", edit, now, ref=f"{ref}:edit")
    return bool(waiting or sent)


async def refresh_cards(conn: aiosqlite.Connection, report_id: int, now: datetime, desk: Desk) -> int:
    """Re-renders the case's card in the staff group and the officer's copy; returns how many were refreshed."""
    view = await load_view(conn, report_id, now, desk)
    report = view.report
    refreshed = 0
    if desk.staff_chat_id is not None:
        t = desk.staff_lang
        refreshed += await _refresh(
            conn,
            card_ref(report_id),
            desk.staff_chat_id,
            card_text(t, view, now),
            keyboard(t, report, GROUP_BUTTONS),
            now,
        )
    if report.assignee is not None:
        t = await lang_of_user(conn, report.assignee, desk)
        refreshed += await _refresh(
            conn,
            officer_card_ref(report_id),
            report.assignee,
            card_text(t, view, now, for_officer=True),
            keyboard(t, report, OFFICER_BUTTONS),
            now,
        )
    return refreshed


async def refresh(db: Database, report_id: int, now: datetime, desk: Desk) -> int:
    """:func:`refresh_cards` in a transaction of its own (e.g. after a press on a card that had moved on)."""
    async with db.transaction() as conn:
        return await refresh_cards(conn, report_id, now, desk)


async def follow(db: Database, report_id: int, telegram_id: int, now: datetime, desk: Desk) -> reports.FollowResult:
    """并单 "this is mine too", and the staff cards show the new count (an edit through the outbox, as every move)."""
    async with db.transaction() as conn:
        followed = await reports.follow_in(conn, report_id, telegram_id, now)
        if not followed.already_following:
            await refresh_cards(conn, report_id, now, desk)
    return followed


async def keep_copy(
    db: Database, report_id: int, chat_id: int, message_id: int, presser_id: int, now: datetime, desk: Desk
) -> bool:
    """A press on a copy of the case's card the bot did not know of (a send whose answer was lost, then tried
    again): from now on that copy is edited with the others. Only the group's card or the assigned officer's own
    copy is kept; True when the copy was new."""
    async with db.transaction() as conn:
        rows = await _rows(conn, "SELECT assignee FROM reports WHERE id = ?", (report_id,))
        if not rows:
            return False
        if desk.staff_chat_id is not None and chat_id == desk.staff_chat_id:
            ref = card_ref(report_id)
        elif chat_id == presser_id and rows[0]["assignee"] == presser_id:
            ref = officer_card_ref(report_id)
        else:
            return False
        return await record_copy(conn, ref, chat_id, message_id, now)


async def anonymise_cards(conn: aiosqlite.Connection, report_id: int, now: datetime, desk: Desk) -> int:
    """After the reporter was unlinked (/forget, retention): every posted card is edited through the outbox, and
    every stored card text, queued or sent, is replaced by the current one, so no copy keeps their name."""
    refreshed = await refresh_cards(conn, report_id, now, desk)
    view = await load_view(conn, report_id, now, desk)
    for ref, for_officer in ((card_ref(report_id), False), (officer_card_ref(report_id), True)):
        refs = (ref, f"{ref}:edit")
        for row in await _rows(conn, "SELECT DISTINCT chat_id FROM outbox WHERE ref IN (?, ?)", refs):
            chat_id = int(row["chat_id"])
            t = await lang_of_user(conn, chat_id, desk) if for_officer else desk.staff_lang
            text = card_text(t, view, now, for_officer=for_officer)
            if for_officer and chat_id != view.report.assignee:  # an earlier officer's copy: its buttons go too
                refreshed += await _refresh(conn, ref, chat_id, text, {"inline_keyboard": []}, now)
            await conn.execute(
                "UPDATE outbox SET params = json_set(params, '$.text', ?) WHERE ref IN (?, ?) AND chat_id = ?",
                (text, *refs, chat_id),
            )
    return refreshed


_installed_refreshers: list[Any] = []


def install(desk: Desk) -> None:
    """Keeps cards current after every move, whoever makes it, and when the follow-ups mark a case overdue.

    Registered by name with the report core and the follow-ups, so a rebuilt application replaces its own.
    """

    async def after_move(conn: aiosqlite.Connection, report: Report, moved: Transition, now: datetime) -> None:
        await refresh_cards(conn, report.id, now, desk)

    async def when_overdue(conn: aiosqlite.Connection, services: Any, report_id: int, now: datetime) -> None:
        await refresh_cards(conn, report_id, now, desk)

    reports.TRANSITION_HOOKS["casework"] = after_move
    for previous in _installed_refreshers:
        if previous in followups.CARD_REFRESHERS:
            followups.CARD_REFRESHERS.remove(previous)
    _installed_refreshers[:] = [when_overdue]
    followups.CARD_REFRESHERS.append(when_overdue)


# ------------------------------------------------------------------ checks and prompts
def _clean_note(note: str) -> str:
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
    """Whether the actor may make the move now (before asking them a question); raises as :func:`perform` would."""
    report = await reports.get_report(source, report_id)
    await staff.authorize(source, actor_id, action, desk.admin_ids, assignee=report.assignee)
    if report.state != expected:
        raise StateChanged(report_id, expected, report.state, TARGET[action])
    if not reports.can_move(report.state, TARGET[action]):
        raise reports.InvalidTransition(report_id, report.state, TARGET[action])
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
) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT OR REPLACE INTO staff_prompts (chat_id, message_id, user_id, report_id, action, expected_state, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (chat_id, message_id, user_id, report_id, action.value, expected.value, to_db(now)),
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
    )


async def drop_prompt(db: Database, chat_id: int, message_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM staff_prompts WHERE chat_id = ? AND message_id = ?", (chat_id, message_id))


async def load_number(db: Database, report_id: int) -> str | None:
    """The case's public number, for messages about it (None when there is no such case)."""
    row = await db.fetchone("SELECT public_no FROM reports WHERE id = ?", (report_id,))
    return str(row["public_no"]) if row else None


async def dispatch_choices(db: Database, report: Report) -> list[StaffMember]:
    """The officers to offer, those of the case's district first."""
    return (await staff.officers(db, report.district))[:OFFICERS_SHOWN]


# ------------------------------------------------------------------ the move
async def _original(conn: aiosqlite.Connection, number: str, report: Report) -> Report:
    wanted = number.strip().upper()
    if not _PUBLIC_NO.match(wanted):
        raise UnknownCase(number.strip())
    rows = await _rows(conn, "SELECT id FROM reports WHERE public_no = ?", (wanted,))
    if not rows:
        raise UnknownCase(wanted)
    if rows[0]["id"] == report.id:
        raise SameCase(wanted)
    original = await reports.get_report(conn, rows[0]["id"])
    if not original.is_open:
        raise OriginalClosed(original.public_no, original.state)
    return original


async def perform(
    db: Database,
    actor_id: int,
    action: Action,
    report_id: int,
    expected: ReportState,
    now: datetime,
    desk: Desk,
    *,
    note: str = "",
    officer_id: int | None = None,
    original_no: str | None = None,
    photo_file_id: str | None = None,
    prompt: tuple[int, int] | None = None,
) -> Outcome:
    """Makes one staff move in one transaction, authorised by the actor's role now; tells whoever must know.

    Raises staff.NotAllowed, reports.StateChanged (someone moved the case first), reports.InvalidTransition,
    reports.ReportNotFound, or a CaseworkError about the input (nothing is written then). ``prompt`` (chat id,
    message id) is the question this answers; it is closed with the move.
    """
    if action not in CASE_ACTIONS:
        raise ValueError(f"{action} is not a move of a case")
    if action in {Action.REJECT, Action.RETURN, Action.RESOLVE}:
        note = _clean_note(note)
    async with db.transaction() as conn:
        report = await reports.get_report(conn, report_id)
        role = await staff.authorize(conn, actor_id, action, desk.admin_ids, assignee=report.assignee)
        if report.state != expected:
            raise StateChanged(report_id, expected, report.state, TARGET[action])
        original = None
        if action == Action.DUPLICATE:
            original = await _original(conn, original_no or "", report)
            note = original.public_no
        if action == Action.DISPATCH:
            if officer_id is None:
                raise ValueError("dispatching needs an officer")
            if await staff.role_of(conn, officer_id, frozenset()) is not staff.Role.OFFICER:
                raise NotAnOfficer(officer_id, await _first_name(conn, officer_id) or str(officer_id))
        moved = await reports.transition(
            conn,
            report_id,
            actor_id,
            TARGET[action],
            note,
            now,
            actor_role=role.value,
            public=True,
            expected_from=expected,
            assignee=officer_id if action == Action.DISPATCH else None,
            duplicate_of=original.id if original else None,
        )
        if photo_file_id:
            await conn.execute(
                "INSERT INTO report_photos (report_id, file_id, kind, event_id, created_at) "
                "VALUES (?, ?, 'after', ?, ?)",
                (report_id, photo_file_id, moved.event_id, to_db(now)),
            )
        if prompt is not None:
            await conn.execute("DELETE FROM staff_prompts WHERE chat_id = ? AND message_id = ?", prompt)
        after = await reports.get_report(conn, report_id)
        told = await _tell_followers(conn, after, moved, note, photo_file_id, original, now, desk)
        if action == Action.DISPATCH and officer_id is not None:
            await _send_to_officer(conn, after, officer_id, moved, now, desk)
        if photo_file_id and desk.staff_chat_id is not None:
            await _after_photo_to_group(conn, after, photo_file_id, moved, now, desk)
    return Outcome(after, moved, told)


async def _send_to_officer(
    conn: aiosqlite.Connection, report: Report, officer_id: int, moved: Transition, now: datetime, desk: Desk
) -> None:
    t = await lang_of_user(conn, officer_id, desk)
    view = await load_view(conn, report.id, now, desk)
    await _queue_case(
        conn,
        officer_id,
        t,
        view,
        now,
        markup=keyboard(t, report, OFFICER_BUTTONS),
        ref=officer_card_ref(report.id),
        key=f"dispatch:{moved.event_id}",
        for_officer=True,
    )


async def _after_photo_to_group(
    conn: aiosqlite.Connection, report: Report, file_id: str, moved: Transition, now: datetime, desk: Desk
) -> None:
    assert desk.staff_chat_id is not None
    params: dict[str, Any] = {
        "photo": file_id,
        "caption": desk.staff_lang._("📷 After-photo of case {number}", number=report.public_no),
    }
    card = await _card_row(conn, card_ref(report.id), desk.staff_chat_id)
    if card is not None and card["result_message_id"] is not None:
        params["reply_parameters"] = {"message_id": card["result_message_id"], "allow_sending_without_reply": True}
    await enqueue(
        conn,
        desk.staff_chat_id,
        "sendPhoto",
        params,
        now,
        dedupe_key=f"after_photo:{moved.event_id}",
        ref=f"report_media:{report.id}",
    )


# ------------------------------------------------------------------ the residents' news
def resident_news(t: Lang, report: Report, to_state: ReportState, note: str, original_no: str | None) -> str | None:
    """What followers are told about a public step, in their language; None for steps they need not hear of."""
    number = report.public_no
    if to_state == S.ACCEPTED:
        return t._(
            "✅ Your report <b>{number}</b> ({category}) has been accepted as a case. It should be handled by "
            "{deadline}; we will tell you about each step.",
            number=number,
            category=t._(category_of(report.category).name),
            deadline=t.date_time(report.due_at),
        )
    if to_state == S.DISPATCHED:
        return t._(
            "👮 Your report <b>{number}</b> has been passed to a field officer, who will go and handle it.",
            number=number,
        )
    if to_state == S.RESOLVED:
        return t._(
            "🎉 Your report <b>{number}</b> has been handled. What staff say: {note}\n"
            "Thank you for helping to keep our streets in good order!",
            number=number,
            note=escape(note, NOTE_SHOWN),
        )
    if to_state == S.CLOSED:
        return t._(
            "🏁 Your report <b>{number}</b> is now closed. Thank you for taking the trouble to report it.",
            number=number,
        )
    if to_state == S.REJECTED:
        return t._(
            "Your report <b>{number}</b> could not be taken on as a case. The reason staff give: {note}\n"
            "If you think this is a mistake, you are welcome to report it again with more details.",
            number=number,
            note=escape(note, NOTE_SHOWN),
        )
    if to_state == S.RETURNED:
        return t._(
            "Your report <b>{number}</b> is not one the city management bureau can handle; it has been passed to "
            "the body responsible: {note}\nThank you for reporting it.",
            number=number,
            note=escape(note, NOTE_SHOWN),
        )
    if to_state == S.DUPLICATE:
        return t._(
            "Your report <b>{number}</b> is about the same problem as case <b>{original}</b>, so we have merged "
            "them. From now on you will hear about the progress of {original}.",
            number=number,
            original=original_no or "",
        )
    return None


async def _tell_followers(
    conn: aiosqlite.Connection,
    report: Report,
    moved: Transition,
    note: str,
    photo_file_id: str | None,
    original: Report | None,
    now: datetime,
    desk: Desk,
) -> int:
    told = 0
    for follower in await reports.followers_of(conn, report.id):
        t = await lang_of_user(conn, follower, desk)
        text = resident_news(t, report, moved.to_state, note, original.public_no if original else None)
        if text is None:
            continue
        key, ref = f"case_news:{moved.event_id}:{follower}", f"case_news:{report.id}"
        if photo_file_id:
            await enqueue(
                conn,
                follower,
                "sendPhoto",
                {"photo": photo_file_id, "caption": fit(text, CAPTION_LIMIT), "parse_mode": "HTML"},
                now,
                dedupe_key=key,
                ref=ref,
            )
        else:
            await enqueue_text(conn, follower, text, now, dedupe_key=key, ref=ref)
        told += 1
    return told
