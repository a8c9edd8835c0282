"""Vending spots: the Spot row, reading spots, and when a spot is open (after its exceptions and status).

A spot may be closed temporarily (until a time, or until reopened) or relocated to another spot; neither has any
opening then. The other parts of bot/vending: hours (weekly windows), search (nearest open), zones (no-vending
areas), subscriptions, reminders, staff_actions, spot_import / spot_export.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.platform.clock import from_db
from bot.platform.db import Database, Reader, read_rows
from bot.platform.i18n import N_, Lang
from bot.vending.hours import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    OPENING_HORIZON,
    ClosedDates,
    Opening,
    Period,
    Window,
    weekly_openings,
)

STATUS_OPEN = "open"
STATUS_CLOSED = "closed_temporarily"
STATUS_RELOCATED = "relocated"
STATUSES = (STATUS_OPEN, STATUS_CLOSED, STATUS_RELOCATED)

# Goods a spot may allow, with the label shown to vendors.
GOODS = {
    "fruit": N_("fruit"),
    "vegetables": N_("vegetables"),
    "own_produce": N_("farmers' own produce"),
    "cooked_food": N_("cooked food and snacks"),
    "small_goods": N_("small goods"),
    "flowers": N_("flowers and plants"),
}


class SpotError(Exception):
    """A spot operation cannot be done as asked."""


class SpotNotFound(SpotError):
    """No spot with that id."""


@dataclass(frozen=True)
class Spot:
    id: int
    external_id: str
    name: str
    district: str
    lat: float
    lon: float
    address: str = ""
    name_en: str | None = None
    address_en: str | None = None
    goods: tuple[str, ...] = ()
    fee_cents: int = 0
    capacity: int | None = None
    free_stalls: int | None = None
    status: str = STATUS_OPEN
    closed_until: datetime | None = None
    relocated_to: int | None = None
    status_reason: str | None = None
    note: str = ""
    hours: tuple[Window, ...] = ()
    exceptions: tuple[ClosedDates, ...] = ()  # those still to come (or all, when read for export)

    def title(self, language: str) -> str:
        return self.name_en if self.name_en and not language.startswith("zh") else self.name

    def place(self, language: str) -> str:
        return self.address_en if self.address_en and not language.startswith("zh") else self.address


def openings(spot: Spot, start: datetime, end: datetime, tz: tzinfo) -> list[Opening]:
    """The spot's openings overlapping [start, end), after its date exceptions and status."""
    if spot.status == STATUS_RELOCATED or (spot.status == STATUS_CLOSED and spot.closed_until is None):
        return []

    def closed_on(day: date) -> bool:
        return any(exception.covers(day) for exception in spot.exceptions)

    found = weekly_openings(spot.hours, start, end, tz, closed_on)
    if spot.status == STATUS_CLOSED and spot.closed_until is not None:
        until = spot.closed_until
        found = [Opening(max(o.opens_at, until), o.closes_at) for o in found if o.closes_at > until]
        found = [o for o in found if o.opens_at < end]
    return found


def current_opening(spot: Spot, moment: datetime, tz: tzinfo) -> Opening | None:
    return next((o for o in openings(spot, moment, moment + timedelta(seconds=1), tz) if o.contains(moment)), None)


def is_open(spot: Spot, moment: datetime, tz: tzinfo) -> bool:
    """Whether a vendor may sell at the spot at this moment."""
    return current_opening(spot, moment, tz) is not None


def next_opening(spot: Spot, moment: datetime, tz: tzinfo, horizon: timedelta = OPENING_HORIZON) -> Opening | None:
    """The first opening that starts after ``moment`` (within ``horizon``), or None."""
    start = moment
    if spot.status == STATUS_CLOSED and spot.closed_until is not None and spot.closed_until > start:
        start = spot.closed_until - timedelta(seconds=1)  # a closure may end in the middle of a window
    step = timedelta(days=8)
    while start < moment + horizon:
        for opening in openings(spot, start, start + step, tz):
            if opening.opens_at > moment:
                return opening
        start += step
    return None


def selling_opening(spot: Spot, start: datetime, arrival: datetime, tz: tzinfo) -> Opening | None:
    """The first opening running at ``start`` or later that is still open when a vendor gets there at ``arrival``."""
    opening = current_opening(spot, start, tz) or next_opening(spot, start, tz)
    while opening is not None and opening.closes_at <= arrival:
        opening = next_opening(spot, opening.opens_at, tz)
    return opening


def openings_in(spot: Spot, period: Period, tz: tzinfo) -> list[Opening]:
    if period.choice == "now":
        found = current_opening(spot, period.start, tz)
        return [found] if found else []
    return openings(spot, period.start, period.end, tz)


def openings_on_day(spot: Spot, day: date, tz: tzinfo) -> list[Opening]:
    """The openings that start on a local date (after exceptions and status)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    found = openings(spot, start, start + timedelta(days=1), tz)
    return [o for o in found if o.opens_at.astimezone(tz).date() == day]


ROW_COLUMNS = """s.id AS id, s.external_id, s.name, s.name_en, s.district, s.lat, s.lon, s.address, s.address_en,
    s.goods, s.fee_cents, s.capacity, s.free_stalls, s.status, s.closed_until, s.relocated_to, s.status_reason,
    s.note, s.week"""
EXCEPTIONS_COLUMN = """(SELECT json_group_array(json_array(x.first_day, x.last_day, x.reason)) FROM spot_exceptions x
      WHERE x.spot_id = s.id AND x.last_day >= :since)"""
# Every spot query selects these, so each row carries its hours and the exceptions still to come.
SPOT_COLUMNS = f"{ROW_COLUMNS}, {EXCEPTIONS_COLUMN} AS closed_days"


def spot_from_row(row: sqlite3.Row) -> Spot:
    hours: tuple[Window, ...] = ()
    if row["week"]:
        hours = tuple(Window(*map(int, part.split("-"))) for part in row["week"].split(","))
    exceptions: tuple[ClosedDates, ...] = ()
    if row["closed_days"] and row["closed_days"] != "[]":
        exceptions = tuple(
            sorted(
                (
                    ClosedDates(date.fromisoformat(first), date.fromisoformat(last), reason)
                    for first, last, reason in json.loads(row["closed_days"])
                ),
                key=lambda e: e.first_day,
            )
        )
    return Spot(
        id=row["id"],
        external_id=row["external_id"],
        name=row["name"],
        name_en=row["name_en"],
        district=row["district"],
        lat=row["lat"],
        lon=row["lon"],
        address=row["address"],
        address_en=row["address_en"],
        goods=tuple(g for g in row["goods"].split(",") if g),
        fee_cents=row["fee_cents"],
        capacity=row["capacity"],
        free_stalls=row["free_stalls"],
        status=row["status"],
        closed_until=from_db(row["closed_until"]) if row["closed_until"] else None,
        relocated_to=row["relocated_to"],
        status_reason=row["status_reason"],
        note=row["note"],
        hours=hours,
        exceptions=exceptions,
    )


def exceptions_since(now: datetime, tz: tzinfo) -> str:
    """Exceptions from yesterday on matter: a window opened yesterday may still be open."""
    return (now.astimezone(tz).date() - timedelta(days=1)).isoformat()


async def get_spot(source: Reader, spot_id: int, now: datetime, tz: tzinfo, *, all_exceptions: bool = False) -> Spot:
    since = "0000-00-00" if all_exceptions else exceptions_since(now, tz)
    rows = await read_rows(
        source, f"SELECT {SPOT_COLUMNS} FROM spots s WHERE s.id = :id", {"id": spot_id, "since": since}
    )
    if not rows:
        raise SpotNotFound(spot_id)
    return spot_from_row(rows[0])


async def find_spot(source: Reader, ref: str, now: datetime, tz: tzinfo) -> Spot:
    """A spot by its number or by its import id (what staff type in commands)."""
    rows = await read_rows(
        source,
        f"SELECT {SPOT_COLUMNS} FROM spots s WHERE s.external_id = :ref OR CAST(s.id AS TEXT) = :ref "
        "ORDER BY s.external_id = :ref DESC LIMIT 1",
        {"ref": ref.strip(), "since": exceptions_since(now, tz)},
    )
    if not rows:
        raise SpotNotFound(ref)
    return spot_from_row(rows[0])


async def count_spots(db: Database) -> int:
    row = await db.fetchone("SELECT count(*) FROM spots")
    return int(row[0]) if row else 0


def open_window(spot: Spot, now: datetime, week_minute: int, today: date) -> tuple[Window, date] | None:
    """The window open now and the date it opened, by minute-of-week arithmetic (no datetimes: the hot path)."""
    if spot.status == STATUS_RELOCATED:
        return None
    if spot.status == STATUS_CLOSED and (spot.closed_until is None or spot.closed_until > now):
        return None
    for window in spot.hours:
        for minute in (week_minute, week_minute + MINUTES_PER_WEEK):
            if window.start_m <= minute < window.end_m:
                opened_on = today - timedelta(days=minute // MINUTES_PER_DAY - window.weekday)
                if not any(exception.covers(opened_on) for exception in spot.exceptions):
                    return window, opened_on
    return None


def opening_of(window: Window, opened_on: date, tz: tzinfo) -> Opening:
    local_open = datetime.combine(opened_on, time(0), tzinfo=tz) + timedelta(minutes=window.start_m % MINUTES_PER_DAY)
    closes = local_open + timedelta(minutes=window.end_m - window.start_m)
    return Opening(local_open.astimezone(UTC), closes.astimezone(UTC))


def goods_text(t: Lang, goods: Sequence[str]) -> str:
    labels = [t._(GOODS[code]) for code in goods if code in GOODS]
    return t.list_text(labels) if labels else t._("any goods")


def fee_text(t: Lang, fee_cents: int) -> str:
    from babel.numbers import format_currency

    if fee_cents <= 0:
        return t._("free of charge")
    return t._("{amount} a day", amount=format_currency(fee_cents / 100, "CNY", locale=t.code))


def opening_text(t: Lang, opening: Opening) -> str:
    """``22:00–04:00 (next day)`` in the city's zone."""
    opens_local = opening.opens_at.astimezone(t.timezone)
    closes_local = opening.closes_at.astimezone(t.timezone)
    if closes_local.date() != opens_local.date() and closes_local.time() != time(0):
        return t._("{start}–{end} (next day)", start=t.time(opening.opens_at), end=t.time(opening.closes_at))
    if closes_local.time() == time(0):
        return t._("{start}–midnight", start=t.time(opening.opens_at))
    return t._("{start}–{end}", start=t.time(opening.opens_at), end=t.time(opening.closes_at))


def day_hours_text(t: Lang, spot: Spot, day: date) -> str:
    """The openings that start on a local date, or "closed"."""
    found = openings_on_day(spot, day, t.timezone)
    if not found:
        return t._("not open")
    from babel.lists import format_list

    return format_list([opening_text(t, o) for o in found], locale=t.code)
