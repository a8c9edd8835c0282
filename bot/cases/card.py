"""A case's card: what it shows (view), its text in HTML, and its buttons as Bot API data made with bot.wire.

The card is shown in the staff group and, once dispatched, as the officer's copy; bot/cases/card_posts.py queues
and refreshes those copies through the outbox. Button data is ``case:<action>:<report id>:<state it was made
for>`` (its format is written and read in bot/wire.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import aiosqlite

from bot import wire
from bot.cases import grids, origins
from bot.cases.config import Desk
from bot.cases.drafts import Draft
from bot.cases.states import STATE_NAMES, Report, ReportState, category_of, get_report
from bot.people import staff
from bot.people.staff import Action
from bot.platform.clock import from_db
from bot.platform.db import read_rows
from bot.platform.geo import ServiceArea
from bot.platform.i18n import N_, Lang
from bot.platform.text import (
    ADDRESS_SHOWN,
    DESCRIPTION_SHOWN,
    NAME_SHOWN,
    TEXT_LIMIT,
    TITLE_SHOWN,
    escape,
    fit,
    take_fitting,
    visible_len,
)
from bot.vending import hours, search, spots

HISTORY_SHOWN = 10
HISTORY_NOTE_MAX = 200  # UTF-16 units of a step's note on the card
_LEFT_OUT_ROOM = 100  # kept free for the line saying how many steps were left out
SPOTS_SHOWN = 3

S = ReportState
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
# The desk row under the moves, in every state: a note, a public reply and (group card) the moderation menu.
NOTE_LABELS = {"note": N_("📝 Internal note"), "reply": N_("💬 Public reply")}
MODERATE_LABEL = N_("🛡 Moderate")


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    to_state: ReportState | None  # None for a note, a public reply or a moderation
    actor_role: str  # resident / system / a staff role
    actor_name: str | None  # staff only: residents stay nameless on the card
    note: str
    kind: str = "transition"  # or note (staff only) / reply (told to the followers) / moderation


@dataclass(frozen=True)
class SpotOffer:
    """A legal vending spot to offer the vendor of a 占道经营 case."""

    spot: spots.Spot
    distance_m: float | None
    opening: hours.Opening | None
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
    grid_name: str | None = None  # the grid (单元网格) it was filed in
    description_hidden: bool = False  # hidden from the public by a moderator (staff still see it)
    hidden_photos: int = 0


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
    desk_row = [
        {"text": t._(label), "callback_data": wire.make(wire.NOTES, kind, report.id)}
        for kind, label in NOTE_LABELS.items()
    ]
    if layout is GROUP_BUTTONS:
        desk_row.append({"text": t._(MODERATE_LABEL), "callback_data": wire.make(wire.MODERATION, "menu", report.id)})
    return {"inline_keyboard": [*rows, desk_row]}


# ------------------------------------------------------------------ reading
async def first_name(conn: aiosqlite.Connection, telegram_id: int | None) -> str | None:
    if telegram_id is None:
        return None
    rows = await read_rows(conn, "SELECT first_name FROM users WHERE telegram_id = ?", (telegram_id,))
    return rows[0]["first_name"] or None if rows else None


async def _spot_offers(conn: aiosqlite.Connection, report: Report, now: datetime, tz: tzinfo) -> tuple[SpotOffer, ...]:
    if report.lat is not None and report.lon is not None:
        found = await search.nearest_open_spots(conn, report.lat, report.lon, now, tz, limit=SPOTS_SHOWN)
        return tuple(SpotOffer(n.spot, n.distance_m, n.opening, n.open_now) for n in found.spots)
    if report.district:
        in_district, _ = await search.spots_in_district(conn, report.district, now, tz, limit=SPOTS_SHOWN)
        return tuple(
            SpotOffer(
                s, None, spots.current_opening(s, now, tz) or spots.next_opening(s, now, tz), spots.is_open(s, now, tz)
            )
            for s in in_district
        )
    return ()


async def load_view(
    conn: aiosqlite.Connection, report_id: int, now: datetime, desk: Desk, report: Report | None = None
) -> CaseView:
    """Everything the card shows; ``report`` when the caller has just read or moved it (not read again)."""
    if report is None or report.id != report_id:
        report = await get_report(conn, report_id)
    photos = await read_rows(
        conn,
        """SELECT COUNT(*) AS n, COALESCE(SUM(hidden), 0) AS hidden,
                  (SELECT description_hidden FROM reports WHERE id = ?) AS description_hidden
           FROM report_photos WHERE report_id = ? AND kind = 'report'""",
        (report_id, report_id),
    )
    events = await read_rows(
        conn,
        """SELECT e.at, e.kind, e.to_state, e.actor_role, e.note, u.first_name FROM report_events e
           LEFT JOIN users u ON u.telegram_id = e.actor_id
           WHERE e.report_id = ? AND e.kind IN ('transition', 'note', 'reply', 'moderation')
           ORDER BY e.id DESC LIMIT ?""",
        (report_id, HISTORY_SHOWN),
    )
    history = tuple(
        HistoryLine(
            from_db(row["at"]),
            ReportState(row["to_state"]) if row["to_state"] else None,
            row["actor_role"],
            row["first_name"] if row["actor_role"] in {r.value for r in staff.Role} else None,
            row["note"],
            row["kind"],
        )
        for row in reversed(events)
    )
    original = await get_report(conn, report.duplicate_of) if report.duplicate_of else None
    offers = await _spot_offers(conn, report, now, desk.timezone) if report.category == "stall" else None
    return CaseView(
        report=report,
        photo_count=int(photos[0]["n"]),
        reporter_name=None if report.anonymous else await _reporter_name(conn, report),
        assignee_name=await first_name(conn, report.assignee),
        original_no=original.public_no if original else None,
        history=history,
        spot_offers=offers,
        area=desk.area,
        grid_name=await grids.grid_name_of_case(conn, report_id),
        description_hidden=bool(photos[0]["description_hidden"]),
        hidden_photos=int(photos[0]["hidden"]),
    )


async def _reporter_name(conn: aiosqlite.Connection, report: Report) -> str | None:
    """The name a reporter chose to show: their Telegram first name, or the one an Open311 sender gave."""
    if report.reporter_id == origins.NO_TELEGRAM_REPORTER:
        return await origins.given_name(conn, report.id)
    return await first_name(conn, report.reporter_id)


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
    elif line.actor_role == origins.OPEN311:
        who = t._("an Open311 client")
    else:
        who = t._("the system")
    note = escape(line.note, HISTORY_NOTE_MAX)
    if line.kind == "note":
        return t._("• {time} 🔒 internal note — {who}: {note}", time=t.date_time(line.at), who=who, note=note)
    if line.kind == "reply":
        return t._("• {time} 💬 public reply — {who}: {note}", time=t.date_time(line.at), who=who, note=note)
    if line.kind == "moderation" or line.to_state is None:
        return t._("• {time} 🛡 {who}: {note}", time=t.date_time(line.at), who=who, note=note)
    values = {"time": t.date_time(line.at), "state": t._(STATE_NAMES[line.to_state]), "who": who}
    if line.note:
        return t._("• {time} {state} — {who}: {note}", note=escape(line.note, HISTORY_NOTE_MAX), **values)
    return t._("• {time} {state} — {who}", **values)


def _description_line(t: Lang, view: CaseView) -> str:
    description = description_text(t, view.report.description, view.report.voice_file_id)
    if view.description_hidden:
        return t._("Description (hidden from the public): {description}", description=description)
    return t._("Description: {description}", description=description)


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
        *place_lines(t, report, view.area),
        *([t._("Grid: {grid}", grid=escape(view.grid_name, TITLE_SHOWN))] if view.grid_name else []),
        _description_line(t, view),
        t.n_("Photos: {count}", "Photos: {count}", view.photo_count)
        if not view.hidden_photos
        else t.n_(
            "Photos: {count}, {hidden} of them hidden from the public",
            "Photos: {count}, {hidden} of them hidden from the public",
            view.photo_count,
            hidden=view.hidden_photos,
        ),
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
    lines += ["", t._("State: <b>{state}</b>", state=t._(STATE_NAMES[report.state]))]
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


# ------------------------------------------------------------------ lines shared with the resident's screens
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
