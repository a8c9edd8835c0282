"""Vending spots and no-vending zones: opening hours, open-now, nearest spots, zones, subscriptions, staff actions.

Opening hours are weekly windows in the city's time zone, stored as minutes of the week (Monday 00:00 = 0). A
window may cross midnight (22:00-04:00); it belongs to the day it opens on, so a date exception ("closed on
1 May") cancels the windows that open on that date. A spot may be closed temporarily (until a time, or until
reopened) or relocated to another spot; neither has any opening then.

Spatial lookups go through SQLite's R*Tree (``spots_rtree``, ``zones_rtree``): an expanding box around the
point, rows ordered in SQL by a flat-earth distance, then the exact haversine distance in Python.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import partial
from typing import Any, NamedTuple

import aiosqlite

from bot.platform.clock import from_db, to_db
from bot.platform.db import Database
from bot.platform.geo import (
    EARTH_RADIUS_M,
    bounding_box,
    haversine_m,
    point_in_polygon,
    rings_from_geojson,
    walking_minutes,
    walking_time,
)
from bot.platform.i18n import N_, Lang, get_lang
from bot.platform.outbox import enqueue_text
from bot.platform.text import ADDRESS_SHOWN, NOTE_SHOWN, TITLE_SHOWN, escape

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
DAY_CODES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")

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

# Kinds of no-vending zone, with the label and the reason a vendor is told.
ZONE_KINDS = {
    "main_road": (N_("main road"), N_("Stalls here would block traffic and the pavement.")),
    "fire_lane": (N_("fire lane"), N_("Fire engines must be able to pass here at any moment.")),
    "school_gate": (N_("school gate"), N_("Children crowd the gate at school times; the way must stay clear.")),
    "hospital_entrance": (
        N_("hospital entrance"),
        N_("Ambulances and patients need the entrance clear at all times."),
    ),
    "transit_station": (N_("station square"), N_("Crowds of travellers need free passage here.")),
    "other": (N_("no-vending area"), N_("Vending here is not allowed by the city's rules.")),
}

INITIAL_RADIUS_M = 150.0
MIN_RADIUS_M = 30.0
MAX_RADIUS_M = 50_000.0
FLAT_EARTH_TOLERANCE = 0.05  # the flat-earth SQL ordering is within 5 % of haversine inside MAX_RADIUS_M
SOONEST_CANDIDATES = 10  # ranking by when a vendor could sell there starts from this many nearest spots
SOONEST_ROUNDS = 4  # at most this many more searches for a farther spot where selling could start sooner
OPENING_HORIZON = timedelta(days=62)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


class SpotError(Exception):
    """A spot operation cannot be done as asked."""


class SpotNotFound(SpotError):
    """No spot with that id."""


class HoursError(ValueError):
    """An opening-hours text cannot be read."""


# ------------------------------------------------------------------ values
class Window(NamedTuple):
    """One weekly window, in minutes of the week; ``end_m`` may pass the day (and the week) it starts in."""

    start_m: int
    end_m: int

    @property
    def weekday(self) -> int:
        return self.start_m // MINUTES_PER_DAY

    @property
    def opens(self) -> time:
        minute = self.start_m % MINUTES_PER_DAY
        return time(minute // 60, minute % 60)

    @property
    def closes(self) -> time:
        minute = self.end_m % MINUTES_PER_DAY
        return time(minute // 60, minute % 60)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_m > (self.weekday + 1) * MINUTES_PER_DAY


@dataclass(frozen=True)
class ClosedDates:
    """Closed on these local dates (inclusive), with the reason told to vendors."""

    first_day: date
    last_day: date
    reason: str = ""

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class Opening:
    """One concrete opening, in UTC."""

    opens_at: datetime
    closes_at: datetime

    def contains(self, moment: datetime) -> bool:
        return self.opens_at <= moment < self.closes_at


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


@dataclass(frozen=True)
class Zone:
    id: int
    external_id: str
    name: str
    kind: str
    geometry: dict[str, Any]
    name_en: str | None = None
    note: str = ""
    hours: tuple[Window, ...] = ()  # empty: in force at all times

    def title(self, language: str) -> str:
        return self.name_en if self.name_en and not language.startswith("zh") else self.name

    def contains(self, lat: float, lon: float) -> bool:
        return any(point_in_polygon(lat, lon, polygon) for polygon in rings_from_geojson(self.geometry))


@dataclass(frozen=True)
class ZoneHit:
    """A zone the point lies in, and whether its ban is in force at the moment asked about."""

    zone: Zone
    active: bool
    until: datetime | None  # when an active ban with hours ends


@dataclass(frozen=True)
class Period:
    """The time a vendor asks about: ``now`` (an instant), ``tonight`` or ``morning`` (tomorrow morning)."""

    choice: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Nearby:
    """A spot near the vendor: how far, and its opening that matters (the current one, or the next)."""

    spot: Spot
    distance_m: float
    opening: Opening | None
    open_now: bool
    selling_from: datetime | None = None  # the later of walking there and the opening: when selling could start


@dataclass(frozen=True)
class NearbyResult:
    spots: list[Nearby]
    soonest: bool  # nothing is open in the period: these are where the vendor could be selling soonest
    more: bool  # a further page exists


@dataclass(frozen=True)
class SpotDetail:
    spot: Spot
    open_now: bool
    current: Opening | None
    next: Opening | None
    relocated_to: Spot | None
    subscribed: bool


@dataclass(frozen=True)
class Subscriber:
    user_id: int
    language: str


@dataclass(frozen=True)
class SpotChange:
    """What a staff action did: the spot as it is now and how many subscribers were told."""

    spot: Spot
    notified: int


# ----------------------------------------------------------- opening hours
def parse_clock(text: str) -> int:
    """``HH:MM`` as minutes of the day; ``24:00`` is allowed as an end."""
    match = _TIME.match(text.strip())
    if not match or int(match.group(2)) > 59 or int(match.group(1)) * 60 + int(match.group(2)) > MINUTES_PER_DAY:
        raise HoursError(f"{text.strip()!r} is not a time (HH:MM)")
    return int(match.group(1)) * 60 + int(match.group(2))


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        ends = part.strip().split("-")
        try:
            numbers = [DAY_CODES.index(end.strip().capitalize()) for end in ends]
        except ValueError:
            raise HoursError(f"{part.strip()!r} is not a day or day range (Mo, Tu, We, Th, Fr, Sa, Su)") from None
        if len(numbers) == 1:
            days.append(numbers[0])
        elif len(numbers) == 2:
            span = (numbers[1] - numbers[0]) % 7
            days.extend((numbers[0] + i) % 7 for i in range(span + 1))
        else:
            raise HoursError(f"{part.strip()!r} is not a day range")
    return days


def parse_hours(text: str) -> tuple[Window, ...]:
    """Opening hours in the OpenStreetMap style: ``Mo-Fr 06:00-08:30,17:00-19:00; Sa,Su 22:00-04:00``.

    A rule without days means every day; ``24/7`` means always. An end at or before the start is on the next
    day. Windows of one spot may not overlap.
    """
    text = text.strip()
    if not text:
        return ()
    if text == "24/7":
        return tuple(Window(d * MINUTES_PER_DAY, (d + 1) * MINUTES_PER_DAY) for d in range(7))
    windows: list[Window] = []
    for rule in text.split(";"):
        rule = rule.strip()
        if not rule:
            continue
        head, _, tail = rule.partition(" ")
        if re.match(r"^[A-Za-z]", head):
            days, times = _parse_days(head), tail.strip()
        else:
            days, times = list(range(7)), rule
        if not times:
            raise HoursError(f"{rule!r} has days but no times")
        for span in times.split(","):
            start_text, dash, end_text = span.strip().partition("-")
            if not dash:
                raise HoursError(f"{span.strip()!r} is not a time range (HH:MM-HH:MM)")
            start, end = parse_clock(start_text), parse_clock(end_text)
            if start == MINUTES_PER_DAY:
                raise HoursError(f"{span.strip()!r} starts at 24:00; write 00:00 of the next day")
            length = end - start if end > start else end + MINUTES_PER_DAY - start
            for day in days:
                windows.append(Window(day * MINUTES_PER_DAY + start, day * MINUTES_PER_DAY + start + length))
    return normalise_windows(windows)


def normalise_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    """Sorted windows; raises HoursError when two overlap (also across the week's end)."""
    ordered = sorted(set(windows))
    for window in ordered:
        if not 0 <= window.start_m < MINUTES_PER_WEEK or not 0 < window.end_m - window.start_m <= MINUTES_PER_DAY:
            raise HoursError(f"window {window} is out of range")
    for earlier, later in itertools.pairwise(ordered):
        if later.start_m < earlier.end_m:
            raise HoursError(f"{format_window(earlier)} and {format_window(later)} overlap")
    if len(ordered) > 1 and ordered[-1].end_m > MINUTES_PER_WEEK + ordered[0].start_m:
        raise HoursError(f"{format_window(ordered[-1])} and {format_window(ordered[0])} overlap")
    return tuple(ordered)


def format_window(window: Window) -> str:
    return f"{DAY_CODES[window.weekday]} {window.opens:%H:%M}-{window.closes:%H:%M}"


def format_hours(windows: Sequence[Window]) -> str:
    """The inverse of parse_hours: days with the same times grouped (``Mo-Fr 06:00-08:30; Sa,Su …``)."""
    if not windows:
        return ""
    by_day: dict[int, list[str]] = {}
    for window in windows:
        by_day.setdefault(window.weekday, []).append(f"{window.opens:%H:%M}-{window.closes:%H:%M}")
    groups: dict[str, list[int]] = {}
    for day in range(7):
        if day in by_day:
            groups.setdefault(",".join(by_day[day]), []).append(day)
    rules = []
    for times, days in groups.items():
        if len(days) == 7:
            rules.append(times)
            continue
        runs: list[list[int]] = []
        for day in days:
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        names = [DAY_CODES[r[0]] if len(r) == 1 else f"{DAY_CODES[r[0]]}-{DAY_CODES[r[-1]]}" for r in runs]
        rules.append(f"{','.join(names)} {times}")
    return "; ".join(rules)


HOURS_PER_WEEK = 7 * 24
_MASK_BITS = 56  # three words of 56 bits cover the 168 hours of the week


def hour_masks(spans: Iterable[tuple[int, int]]) -> tuple[int, int, int]:
    """The hours of the week touched by minute spans [start, end), as three 56-bit words (wrapping the week)."""
    bits = 0
    for start, end in spans:
        for hour in range(start // 60, -(-end // 60)):
            bits |= 1 << (hour % HOURS_PER_WEEK)
    mask = (1 << _MASK_BITS) - 1
    return bits & mask, (bits >> _MASK_BITS) & mask, bits >> (2 * _MASK_BITS)


async def store_hours(conn: aiosqlite.Connection, spot_id: int, windows: Sequence[Window]) -> None:
    """Replaces a spot's opening hours: the spot_hours rows and their copies in the spot's row."""
    ordered = normalise_windows(windows)
    await conn.execute("DELETE FROM spot_hours WHERE spot_id = ?", (spot_id,))
    await conn.executemany(
        "INSERT INTO spot_hours (spot_id, start_m, end_m) VALUES (?, ?, ?)",
        [(spot_id, w.start_m, w.end_m) for w in ordered],
    )
    await conn.execute(
        "UPDATE spots SET week = ?, week_mask0 = ?, week_mask1 = ?, week_mask2 = ? WHERE id = ?",
        (week_text(ordered), *hour_masks(ordered), spot_id),
    )


def week_text(windows: Sequence[Window]) -> str:
    return ",".join(f"{w.start_m}-{w.end_m}" for w in windows)


def minute_of_week(moment: datetime, tz: tzinfo) -> int:
    local = moment.astimezone(tz)
    return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute


def _weekly_openings(
    windows: Sequence[Window], start: datetime, end: datetime, tz: tzinfo, skip_day: Callable[[date], bool]
) -> list[Opening]:
    """The concrete openings of weekly windows that overlap [start, end), oldest first."""
    if not windows:
        return []
    result = []
    day = start.astimezone(tz).date() - timedelta(days=1)  # yesterday's window may still be open
    last_day = end.astimezone(tz).date()
    while day <= last_day:
        if not skip_day(day):
            midnight = day.weekday() * MINUTES_PER_DAY
            for window in windows:
                if window.weekday != day.weekday():
                    continue
                local_open = datetime.combine(day, time(0), tzinfo=tz) + timedelta(minutes=window.start_m - midnight)
                opens = local_open.astimezone(UTC)
                closes = (local_open + timedelta(minutes=window.end_m - window.start_m)).astimezone(UTC)
                if opens < end and closes > start:
                    result.append(Opening(opens, closes))
        day += timedelta(days=1)
    return result


def openings(spot: Spot, start: datetime, end: datetime, tz: tzinfo) -> list[Opening]:
    """The spot's openings overlapping [start, end), after its date exceptions and status."""
    if spot.status == STATUS_RELOCATED or (spot.status == STATUS_CLOSED and spot.closed_until is None):
        return []

    def closed_on(day: date) -> bool:
        return any(exception.covers(day) for exception in spot.exceptions)

    found = _weekly_openings(spot.hours, start, end, tz, closed_on)
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


def windows_on(windows: Sequence[Window], weekday: int) -> list[Window]:
    """The weekly windows that open on a weekday (Monday = 0)."""
    return [w for w in windows if w.weekday == weekday]


def openings_on_day(spot: Spot, day: date, tz: tzinfo) -> list[Opening]:
    """The openings that start on a local date (after exceptions and status)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    found = openings(spot, start, start + timedelta(days=1), tz)
    return [o for o in found if o.opens_at.astimezone(tz).date() == day]


def period_for(choice: str, now: datetime, tz: tzinfo) -> Period:
    """``now``; ``tonight`` (now or 18:00, whichever is later, until 04:00); ``morning`` (tomorrow 05:00-11:00).

    Before 04:00 the night is still "tonight" and the coming morning is "tomorrow morning".
    """
    local = now.astimezone(tz)
    today = local.date()
    if local.hour < 4:
        today -= timedelta(days=1)

    def at(day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)

    if choice == "now":
        return Period("now", now, now + timedelta(seconds=1))
    if choice == "tonight":
        return Period("tonight", max(now, at(today, 18)), at(today + timedelta(days=1), 4))
    if choice == "morning":
        return Period("morning", at(today + timedelta(days=1), 5), at(today + timedelta(days=1), 11))
    raise ValueError(f"unknown period {choice!r}")


PERIODS = ("now", "tonight", "morning")


def zone_active(zone: Zone, moment: datetime, tz: tzinfo) -> Opening | None:
    """The current span of a zone's ban: the whole time for a zone without hours, else its window now."""
    if not zone.hours:
        return Opening(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    spans = _weekly_openings(zone.hours, moment, moment + timedelta(seconds=1), tz, lambda _day: False)
    return next((span for span in spans if span.contains(moment)), None)


# ---------------------------------------------------------------- reading
Reader = Database | aiosqlite.Connection


async def _rows(source: Reader, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
    """Reads through the Database, or through a connection inside a caller's transaction."""
    if isinstance(source, Database):
        return await source.fetchall(sql, params)
    async with source.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


_ROW_COLUMNS = """s.id AS id, s.external_id, s.name, s.name_en, s.district, s.lat, s.lon, s.address, s.address_en,
    s.goods, s.fee_cents, s.capacity, s.free_stalls, s.status, s.closed_until, s.relocated_to, s.status_reason,
    s.note, s.week"""
_EXCEPTIONS_COLUMN = """(SELECT json_group_array(json_array(x.first_day, x.last_day, x.reason)) FROM spot_exceptions x
      WHERE x.spot_id = s.id AND x.last_day >= :since)"""
# Every spot query selects these, so each row carries its hours and the exceptions still to come.
_SPOT_COLUMNS = f"{_ROW_COLUMNS}, {_EXCEPTIONS_COLUMN} AS closed_days"


def _spot_from_row(row: sqlite3.Row) -> Spot:
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


def _since(now: datetime, tz: tzinfo) -> str:
    """Exceptions from yesterday on matter: a window opened yesterday may still be open."""
    return (now.astimezone(tz).date() - timedelta(days=1)).isoformat()


async def get_spot(source: Reader, spot_id: int, now: datetime, tz: tzinfo, *, all_exceptions: bool = False) -> Spot:
    since = "0000-00-00" if all_exceptions else _since(now, tz)
    rows = await _rows(source, f"SELECT {_SPOT_COLUMNS} FROM spots s WHERE s.id = :id", {"id": spot_id, "since": since})
    if not rows:
        raise SpotNotFound(spot_id)
    return _spot_from_row(rows[0])


async def find_spot(source: Reader, ref: str, now: datetime, tz: tzinfo) -> Spot:
    """A spot by its number or by its import id (what staff type in commands)."""
    rows = await _rows(
        source,
        f"SELECT {_SPOT_COLUMNS} FROM spots s WHERE s.external_id = :ref OR CAST(s.id AS TEXT) = :ref "
        "ORDER BY s.external_id = :ref DESC LIMIT 1",
        {"ref": ref.strip(), "since": _since(now, tz)},
    )
    if not rows:
        raise SpotNotFound(ref)
    return _spot_from_row(rows[0])


async def count_spots(db: Database) -> int:
    row = await db.fetchone("SELECT count(*) FROM spots")
    return int(row[0]) if row else 0


async def _nearest(
    source: Reader,
    lat: float,
    lon: float,
    now: datetime,
    tz: tzinfo,
    *,
    wanted: int,
    accept: Callable[[Spot], bool],
    prefilter: str,
    params: dict[str, Any],
    exclude: int | None = None,
    max_radius_m: float = MAX_RADIUS_M,
) -> list[tuple[float, Spot]]:
    """Up to ``wanted`` spots nearest the point that pass the SQL ``prefilter`` and ``accept``, nearest first.

    One statement per step: the R*Tree alone yields the first ``batch`` entries of a box around the point,
    ordered by a flat-earth distance (no other table is touched for the rest of the box); only those are
    looked up and prefiltered, and a summary row tells how full the box was. A spot is certain once it lies
    within both the box's inscribed circle and the flat distance of the last entry read (less the tolerance);
    otherwise more of the box is read, or a bigger box is tried, sized from how crowded the last one was.
    """
    cos_lat = math.cos(math.radians(lat))
    meters_per_degree = math.radians(1) * EARTH_RADIUS_M
    batch = 3 * wanted + 8
    target_rows = 2 * batch  # entries a box should hold: enough to finish, few enough to sort at once
    radius = min(_first_radius(source, target_rows), max_radius_m)
    base = {**params, "lat": lat, "lon": lon, "k": cos_lat, "since": _since(now, tz)}
    base["exclude"] = -1 if exclude is None else exclude
    while True:
        min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius)
        rows = await _rows(
            source,
            f"""WITH near AS MATERIALIZED (
                    SELECT r.id,
                           ((r.min_lat + r.max_lat) / 2 - :lat) * ((r.min_lat + r.max_lat) / 2 - :lat)
                           + ((r.min_lon + r.max_lon) / 2 - :lon) * :k * ((r.min_lon + r.max_lon) / 2 - :lon) * :k
                           AS flat2,
                           count(*) OVER () AS in_box
                    FROM spots_rtree r
                    WHERE r.max_lat >= :min_lat AND r.min_lat <= :max_lat
                      AND r.max_lon >= :min_lon AND r.min_lon <= :max_lon AND r.id <> :exclude
                    ORDER BY flat2 LIMIT :batch
                )
                SELECT near.flat2, near.in_box, ({prefilter}) AS passes, {_ROW_COLUMNS},
                       CASE WHEN ({prefilter}) THEN {_EXCEPTIONS_COLUMN} END AS closed_days
                FROM near JOIN spots s ON s.id = near.id ORDER BY near.flat2""",
            {**base, "min_lat": min_lat, "max_lat": max_lat, "min_lon": min_lon, "max_lon": max_lon, "batch": batch},
        )
        read, in_box = len(rows), rows[0]["in_box"] if rows else 0
        truncated = in_box > read
        # Nearer than this, no spot can be missing. The index keeps 32-bit coordinates: allow a few metres.
        certain = radius * (1 - FLAT_EARTH_TOLERANCE) - 5 if radius < max_radius_m else max_radius_m
        if truncated:
            last_flat = math.sqrt(rows[-1]["flat2"]) * meters_per_degree
            certain = min(certain, last_flat * (1 - FLAT_EARTH_TOLERANCE) - 5)
        found = sorted(
            ((haversine_m(lat, lon, row["lat"], row["lon"]), row) for row in rows if row["passes"]),
            key=lambda pair: pair[0],
        )
        accepted: list[tuple[float, Spot]] = []
        for distance, row in found:
            if distance > certain:
                break
            spot = _spot_from_row(row)
            if accept(spot):
                accepted.append((distance, spot))
                if len(accepted) == wanted:
                    return accepted
        # The share of entries that pass says how many more to read for the rest.
        taken = max(len(accepted), sum(1 for row in rows if row["passes"]), 1) / max(read, 1)
        if in_box:
            _remember_density(source, in_box / (2 * radius) ** 2)
        if truncated:
            batch = max(2 * batch, math.ceil(1.5 * wanted / taken))  # read more of this box first
        elif radius >= max_radius_m:
            return accepted
        elif in_box == 0:
            radius = min(max_radius_m, 4 * radius)
        else:
            # A box holding enough entries at the density seen here (1.5 to 16 times wider).
            density = in_box / (2 * radius) ** 2
            wider = math.sqrt(max(target_rows, 2 * wanted / taken) / density) / 2
            radius = min(max_radius_m, max(1.5 * radius, min(16 * radius, wider)))


# The densest crowd of spots a search met lately, per database: the first box is sized for it, so a search in
# the city centre takes one step and one in the outskirts two. A hint only: any first box gives the same answer.
_density_hints: dict[int, float] = {}


def _first_radius(source: Reader, target_rows: int) -> float:
    density = _density_hints.get(id(source))
    return INITIAL_RADIUS_M if density is None else max(MIN_RADIUS_M, math.sqrt(target_rows / density) / 2)


def _remember_density(source: Reader, density: float) -> None:
    _density_hints[id(source)] = max(density, 0.9 * _density_hints.get(id(source), 0.0))


def _open_window(spot: Spot, now: datetime, week_minute: int, today: date) -> tuple[Window, date] | None:
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


def _opening_of(window: Window, opened_on: date, tz: tzinfo) -> Opening:
    local_open = datetime.combine(opened_on, time(0), tzinfo=tz) + timedelta(minutes=window.start_m % MINUTES_PER_DAY)
    closes = local_open + timedelta(minutes=window.end_m - window.start_m)
    return Opening(local_open.astimezone(UTC), closes.astimezone(UTC))


def _prefilter(period: Period | None, goods: str | None, tz: tzinfo) -> tuple[str, dict[str, Any]]:
    """SQL keeping the spots that may give an opening in the period (all operating ones for None).

    A superset of the exact rule (date exceptions are left to Python), applied only to the entries read.
    """
    params: dict[str, Any] = {"goods": f"%,{goods},%" if goods else "%"}
    sql = "(',' || s.goods || ',') LIKE :goods AND "
    if period is None:
        return sql + "(s.status = 'open' OR (s.status = 'closed_temporarily' AND s.closed_until IS NOT NULL))", params
    start_m = minute_of_week(period.start, tz)
    length = 1 if period.choice == "now" else max(1, math.ceil((period.end - period.start).total_seconds() / 60))
    masks = hour_masks([(start_m, start_m + length)])
    sql += """(s.status = 'open' OR (s.status = 'closed_temporarily' AND s.closed_until < :period_end))
        AND ((s.week_mask0 & :m0) OR (s.week_mask1 & :m1) OR (s.week_mask2 & :m2))"""
    return sql, {**params, "m0": masks[0], "m1": masks[1], "m2": masks[2], "period_end": to_db(period.end)}


async def nearest_open_spots(
    source: Reader,
    lat: float,
    lon: float,
    now: datetime,
    tz: tzinfo,
    *,
    limit: int = 3,
    offset: int = 0,
    goods: str | None = None,
    when: str = "now",
    exclude: int | None = None,
    max_radius_m: float = MAX_RADIUS_M,
) -> NearbyResult:
    """The nearest spots open in the period (``now``, ``tonight``, ``morning``), nearest first.

    When none is open in the period within ``max_radius_m``, the spots where the vendor could be selling
    soonest after the period starts, walking time included, instead (``soonest=True``; see soonest_selling).
    """
    period = period_for(when, now, tz)
    week_minute, today = minute_of_week(now, tz), now.astimezone(tz).date()

    def wanted_goods(spot: Spot) -> bool:
        return goods is None or goods in spot.goods

    def open_in_period(spot: Spot) -> bool:
        if not wanted_goods(spot):
            return False
        if period.choice == "now":
            return _open_window(spot, now, week_minute, today) is not None
        return bool(openings_in(spot, period, tz))

    def nearby(spot: Spot, distance: float) -> Nearby:
        current = _open_window(spot, now, week_minute, today)
        arrival = now + walking_time(distance)
        if period.choice == "now" and current is not None:
            return Nearby(spot, distance, _opening_of(*current, tz), True, arrival)
        opening = openings_in(spot, period, tz)[0]
        return Nearby(spot, distance, opening, current is not None, max(arrival, opening.opens_at))

    wanted = offset + limit + 1  # one more tells whether another page exists
    prefilter, params = _prefilter(period, goods, tz)
    found = await _nearest(
        source,
        lat,
        lon,
        now,
        tz,
        wanted=wanted,
        accept=open_in_period,
        prefilter=prefilter,
        params=params,
        exclude=exclude,
        max_radius_m=max_radius_m,
    )
    if found:
        page = [nearby(spot, distance) for distance, spot in found[offset : offset + limit]]
        return NearbyResult(page, soonest=False, more=len(found) > offset + limit)
    return await _soonest_open(source, lat, lon, now, tz, period, limit, offset, goods, exclude, max_radius_m)


async def _soonest_open(
    source: Reader,
    lat: float,
    lon: float,
    now: datetime,
    tz: tzinfo,
    period: Period,
    limit: int,
    offset: int,
    goods: str | None,
    exclude: int | None,
    max_radius_m: float,
) -> NearbyResult:
    """Nothing is open in the period: the spots where the vendor could be selling soonest after it starts."""
    ranked = await soonest_selling(
        source,
        lat,
        lon,
        now,
        tz,
        start=period.start,
        wanted=offset + limit + 1,
        goods=goods,
        exclude=exclude,
        max_radius_m=max_radius_m,
    )
    return NearbyResult(ranked[offset : offset + limit], soonest=True, more=len(ranked) > offset + limit)


async def soonest_selling(
    source: Reader,
    lat: float,
    lon: float,
    now: datetime,
    tz: tzinfo,
    *,
    start: datetime,
    wanted: int,
    goods: str | None = None,
    exclude: int | None = None,
    max_radius_m: float = MAX_RADIUS_M,
) -> list[Nearby]:
    """Spots by the moment a vendor at the point could be selling there, then by distance (the first ``wanted``
    exact; a few more may follow).

    That moment is the later of walking there (from ``now``) and the spot's first opening from ``start`` on that
    is still open on arrival. A spot d metres away cannot be reached before now + walk(d), so once the nearest
    few are ranked, only spots within walking reach of the ``wanted``-th best moment can still come first: they
    are looked for among the spots with an opening before that moment (the hour masks), nearest first, and the
    search repeats with the better moment until nothing nearer is left (at most SOONEST_ROUNDS times).
    """
    chances: dict[int, Nearby] = {}

    def chance(spot: Spot, before: datetime | None) -> bool:
        distance = haversine_m(lat, lon, spot.lat, spot.lon)
        arrival = now + walking_time(distance)
        opening = selling_opening(spot, start, arrival, tz)
        if opening is None:
            return False
        near = Nearby(spot, distance, opening, opening.contains(now), max(arrival, opening.opens_at, start))
        if before is not None and near.selling_from is not None and near.selling_from >= before:
            return False
        chances[spot.id] = near
        return True

    def ranked() -> list[Nearby]:
        return sorted(chances.values(), key=lambda near: (near.selling_from, near.distance_m, near.spot.id))

    batch = max(SOONEST_CANDIDATES, wanted)
    prefilter, params = _prefilter(None, goods, tz)
    found = await _nearest(
        source,
        lat,
        lon,
        now,
        tz,
        wanted=batch,
        accept=partial(chance, before=None),
        prefilter=prefilter,
        params=params,
        exclude=exclude,
        max_radius_m=max_radius_m,
    )
    for _ in range(SOONEST_ROUNDS):
        if len(found) < batch:
            break  # every spot that could come sooner has been read
        best = ranked()[wanted - 1].selling_from
        assert best is not None
        reach = (best - now) / walking_time(1.0)  # metres walked by then
        if found[-1][0] >= reach:
            break  # the spots not read yet are too far to be reached before it
        prefilter, params = _prefilter(Period("soonest", start, best), goods, tz)
        batch *= 2
        found = await _nearest(
            source,
            lat,
            lon,
            now,
            tz,
            wanted=batch,
            accept=partial(chance, before=best),
            prefilter=prefilter,
            params=params,
            exclude=exclude,
            max_radius_m=min(max_radius_m, reach),
        )
    return ranked()


async def zones_at(source: Reader, lat: float, lon: float, moment: datetime, tz: tzinfo) -> list[ZoneHit]:
    """The no-vending zones containing the point, the ones in force at ``moment`` first."""
    rows = await _rows(
        source,
        """SELECT z.id, z.external_id, z.name, z.name_en, z.kind, z.geometry, z.note,
                  (SELECT group_concat(h.start_m || '-' || h.end_m) FROM zone_hours h WHERE h.zone_id = z.id) AS week
           FROM zones_rtree r JOIN zones z ON z.id = r.id
           WHERE r.min_lat <= :lat AND r.max_lat >= :lat AND r.min_lon <= :lon AND r.max_lon >= :lon""",
        {"lat": lat, "lon": lon},
    )
    hits = []
    for row in rows:
        hours: tuple[Window, ...] = ()
        if row["week"]:
            hours = tuple(sorted(Window(*map(int, part.split("-"))) for part in row["week"].split(",")))
        zone = Zone(
            id=row["id"],
            external_id=row["external_id"],
            name=row["name"],
            name_en=row["name_en"],
            kind=row["kind"],
            geometry=json.loads(row["geometry"]),
            note=row["note"],
            hours=hours,
        )
        if not zone.contains(lat, lon):
            continue
        span = zone_active(zone, moment, tz)
        until = span.closes_at if span is not None and zone.hours else None
        hits.append(ZoneHit(zone, span is not None, until))
    return sorted(hits, key=lambda hit: (not hit.active, hit.zone.name))


async def spots_in_district(
    source: Reader, district: str, now: datetime, tz: tzinfo, *, limit: int = 8, offset: int = 0
) -> tuple[list[Spot], bool]:
    """A district's spots: open now first, then by name; and whether more follow."""
    rows = await _rows(
        source,
        f"SELECT {_SPOT_COLUMNS} FROM spots s WHERE s.district = :district ORDER BY s.name",
        {"district": district, "since": _since(now, tz)},
    )
    spots = sorted((_spot_from_row(row) for row in rows), key=lambda s: (not is_open(s, now, tz), s.status != "open"))
    return spots[offset : offset + limit], len(spots) > offset + limit


def _like_escape(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


async def search_spots(source: Reader, text: str, now: datetime, tz: tzinfo, *, limit: int = 8) -> list[Spot]:
    """Spots whose name or address contains the text (either language), by name."""
    pattern = f"%{_like_escape(text.strip())}%"
    rows = await _rows(
        source,
        f"""SELECT {_SPOT_COLUMNS} FROM spots s
            WHERE s.name LIKE :p ESCAPE '\\' OR s.address LIKE :p ESCAPE '\\'
               OR s.name_en LIKE :p ESCAPE '\\' OR s.address_en LIKE :p ESCAPE '\\'
            ORDER BY s.status <> 'open', s.name LIMIT :limit""",
        {"p": pattern, "limit": limit, "since": _since(now, tz)},
    )
    return [_spot_from_row(row) for row in rows]


async def spot_detail(db: Reader, spot_id: int, user_id: int | None, now: datetime, tz: tzinfo) -> SpotDetail:
    """Everything the spot's page shows: status, current and next opening, the new place if it moved."""
    spot = await get_spot(db, spot_id, now, tz)
    relocated = await get_spot(db, spot.relocated_to, now, tz) if spot.relocated_to else None
    subscribed = user_id is not None and await is_subscribed(db, user_id, spot_id)
    current = current_opening(spot, now, tz)
    return SpotDetail(spot, current is not None, current, next_opening(spot, now, tz), relocated, subscribed)


# ----------------------------------------------------------- subscriptions
async def is_subscribed(source: Reader, user_id: int, spot_id: int) -> bool:
    rows = await _rows(source, "SELECT 1 FROM subscriptions WHERE user_id = ? AND spot_id = ?", (user_id, spot_id))
    return bool(rows)


async def subscribers_of(source: Reader, spot_id: int) -> list[Subscriber]:
    """Who to tell about the spot, each in their chosen language (or the one they subscribed in)."""
    rows = await _rows(
        source,
        """SELECT s.user_id, COALESCE(u.language, s.language) AS language FROM subscriptions s
           LEFT JOIN users u ON u.telegram_id = s.user_id
           WHERE s.spot_id = ? AND COALESCE(u.blocked_bot, 0) = 0 ORDER BY s.user_id""",
        (spot_id,),
    )
    return [Subscriber(row["user_id"], row["language"]) for row in rows]


# ------------------------------------------------------------ rendering
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


def _spot_name(t: Lang, spot: Spot) -> str:
    return escape(spot.title(t.code), TITLE_SHOWN)


async def _queue_news(
    conn: aiosqlite.Connection, spot: Spot, kind: str, render: Callable[[Lang], str], now: datetime, tz: tzinfo
) -> int:
    """Queues one message per subscriber, in their language, in the caller's transaction."""
    count = 0
    for subscriber in await subscribers_of(conn, spot.id):
        t = get_lang(subscriber.language, tz)
        queued = await enqueue_text(
            conn,
            subscriber.user_id,
            render(t),
            now,
            dedupe_key=f"spot-news:{spot.id}:{kind}:{to_db(now)}:{subscriber.user_id}",
            ref=f"spot:{spot.id}",
        )
        count += 1 if queued else 0
    return count


async def alternative_for(source: Reader, spot: Spot, now: datetime, tz: tzinfo) -> Callable[[Lang], str]:
    """A sentence naming the other spot where a vendor here could be selling soonest (walk included), for bad news."""
    ranked = await soonest_selling(source, spot.lat, spot.lon, now, tz, start=now, wanted=1, exclude=spot.id)
    if not ranked or ranked[0].opening is None:
        return lambda t: ""
    near, opening = ranked[0], ranked[0].opening
    minutes = walking_minutes(near.distance_m)

    def render(t: Lang) -> str:
        if near.open_now:
            return t.n_(
                "The soonest you could be selling nearby: {name}, {distance} away (about {count} minute on foot), "
                "open now until {time}.",
                "The soonest you could be selling nearby: {name}, {distance} away (about {count} minutes on foot), "
                "open now until {time}.",
                minutes,
                name=_spot_name(t, near.spot),
                distance=t.distance(near.distance_m),
                time=t.time(opening.closes_at),
            )
        return t.n_(
            "The soonest you could be selling nearby: {name}, {distance} away (about {count} minute on foot), "
            "opens {relative} ({time}).",
            "The soonest you could be selling nearby: {name}, {distance} away (about {count} minutes on foot), "
            "opens {relative} ({time}).",
            minutes,
            name=_spot_name(t, near.spot),
            distance=t.distance(near.distance_m),
            relative=t.relative(opening.opens_at, now),
            time=t.date_time(opening.opens_at),
        )

    return render


def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


# ----------------------------------------------------------- staff actions
async def close_spot(
    conn: aiosqlite.Connection,
    spot_id: int,
    until: datetime | None,
    reason: str,
    now: datetime,
    *,
    tz: tzinfo,
) -> SpotChange:
    """Closes the spot for now (until a time, or until reopened) and tells its subscribers, with an alternative."""
    spot = await get_spot(conn, spot_id, now, tz)
    if spot.status == STATUS_RELOCATED:
        raise SpotError(f"spot {spot_id} has moved; close the spot it moved to instead")
    if until is not None and until <= now:
        raise SpotError("the closure must end in the future")
    await conn.execute(
        "UPDATE spots SET status = ?, closed_until = ?, status_reason = ?, updated_at = ? WHERE id = ?",
        (STATUS_CLOSED, to_db(until) if until else None, reason.strip() or None, to_db(now), spot_id),
    )
    closed = replace(spot, status=STATUS_CLOSED, closed_until=until, status_reason=reason.strip() or None)
    alternative = await alternative_for(conn, closed, now, tz)

    def render(t: Lang) -> str:
        if until is not None:
            headline = t._(
                "📢 {name} is closed for now, until {until}.", name=_spot_name(t, spot), until=t.date_time(until)
            )
        else:
            headline = t._("📢 {name} is closed for now, until further notice.", name=_spot_name(t, spot))
        because = t._("Reason: {reason}", reason=escape(reason.strip(), NOTE_SHOWN)) if reason.strip() else ""
        return _lines(
            headline, because, alternative(t), t._("Sorry for the trouble; we will tell you when it reopens.")
        )

    notified = await _queue_news(conn, spot, "closed", render, now, tz)
    return SpotChange(closed, notified)


async def reopen_spot(conn: aiosqlite.Connection, spot_id: int, now: datetime, *, tz: tzinfo) -> SpotChange:
    """Opens a temporarily closed spot again and tells its subscribers when they can come."""
    spot = await get_spot(conn, spot_id, now, tz)
    if spot.status == STATUS_RELOCATED:
        raise SpotError(f"spot {spot_id} has moved; it cannot be reopened")
    await conn.execute(
        "UPDATE spots SET status = ?, closed_until = NULL, status_reason = NULL, updated_at = ? WHERE id = ?",
        (STATUS_OPEN, to_db(now), spot_id),
    )
    reopened = replace(spot, status=STATUS_OPEN, closed_until=None, status_reason=None)
    current, upcoming = current_opening(reopened, now, tz), next_opening(reopened, now, tz)

    def render(t: Lang) -> str:
        if current is not None:
            when = t._("You can sell there now, until {time}.", time=t.time(current.closes_at))
        elif upcoming is not None:
            when = t._(
                "It opens {relative}, at {time}.",
                relative=t.relative(upcoming.opens_at, now),
                time=t.date_time(upcoming.opens_at),
            )
        else:
            when = ""
        return _lines(t._("✅ {name} is open again.", name=_spot_name(t, spot)), when)

    notified = await _queue_news(conn, spot, "reopened", render, now, tz)
    return SpotChange(reopened, notified)


async def relocate_spot(
    conn: aiosqlite.Connection, spot_id: int, other_id: int, now: datetime, *, tz: tzinfo, reason: str = ""
) -> SpotChange:
    """Marks the spot as moved to another; subscribers are told and their subscriptions follow the new spot."""
    if spot_id == other_id:
        raise SpotError("a spot cannot move to itself")
    spot = await get_spot(conn, spot_id, now, tz)
    other = await get_spot(conn, other_id, now, tz)
    if other.status == STATUS_RELOCATED:
        raise SpotError(f"spot {other_id} has itself moved; move to the spot it moved to")
    await conn.execute(
        "UPDATE spots SET status = ?, relocated_to = ?, closed_until = NULL, status_reason = ?, updated_at = ? "
        "WHERE id = ?",
        (STATUS_RELOCATED, other_id, reason.strip() or None, to_db(now), spot_id),
    )
    moved = replace(spot, status=STATUS_RELOCATED, relocated_to=other_id, status_reason=reason.strip() or None)
    distance = haversine_m(spot.lat, spot.lon, other.lat, other.lon)
    upcoming = current_opening(other, now, tz) or next_opening(other, now, tz)

    def render(t: Lang) -> str:
        headline = t._(
            "📢 {name} has moved to {new_name} ({address}), {distance} from the old place.",
            name=_spot_name(t, spot),
            new_name=_spot_name(t, other),
            address=escape(other.place(t.code), ADDRESS_SHOWN),
            distance=t.distance(distance),
        )
        because = t._("Reason: {reason}", reason=escape(reason.strip(), NOTE_SHOWN)) if reason.strip() else ""
        hours = ""
        if upcoming is not None:
            hours = t._(
                "Next opening there: {day}, {hours}.",
                day=t.date(upcoming.opens_at.astimezone(tz).date()),
                hours=opening_text(t, upcoming),
            )
        return _lines(headline, because, hours, t._("Your reminders now follow the new spot."))

    notified = await _queue_news(conn, spot, "relocated", render, now, tz)
    await conn.execute(
        """INSERT INTO subscriptions (user_id, spot_id, language, created_at)
           SELECT user_id, ?, language, ? FROM subscriptions WHERE spot_id = ?
           ON CONFLICT (user_id, spot_id) DO NOTHING""",
        (other_id, to_db(now), spot_id),
    )
    await conn.execute("DELETE FROM subscriptions WHERE spot_id = ?", (spot_id,))
    return SpotChange(moved, notified)
