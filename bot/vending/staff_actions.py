"""Staff close, reopen and move spots: the change, the news told to each subscriber, and the reminders re-planned.

The ``*_by_staff`` entry points authorise the actor (bot.people.staff) and find the spot by number or import id, in
one transaction with the change and the queued news.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import aiosqlite

from bot.people import staff
from bot.people.staff import Action
from bot.platform import dates
from bot.platform.clock import to_db
from bot.platform.db import Database, Reader
from bot.platform.geo import (
    haversine_m,
    walking_minutes,
)
from bot.platform.i18n import Lang, get_lang
from bot.platform.outbox import enqueue_texts
from bot.platform.text import ADDRESS_SHOWN, NOTE_SHOWN, TITLE_SHOWN, escape
from bot.vending import reminders
from bot.vending.reminders import Timing
from bot.vending.search import soonest_selling
from bot.vending.spots import (
    STATUS_CLOSED,
    STATUS_OPEN,
    STATUS_RELOCATED,
    Spot,
    SpotError,
    current_opening,
    find_spot,
    get_spot,
    next_opening,
    opening_text,
)
from bot.vending.subscriptions import subscribers_of


@dataclass(frozen=True)
class SpotChange:
    """What a staff action did: the spot as it is now and how many subscribers were told."""

    spot: Spot
    notified: int


def _spot_name(t: Lang, spot: Spot) -> str:
    return escape(spot.title(t.code), TITLE_SHOWN)


async def _queue_news(
    conn: aiosqlite.Connection, spot: Spot, kind: str, render: Callable[[Lang], str], now: datetime, tz: tzinfo
) -> int:
    """Queues one message per subscriber, in their language, in the caller's transaction: each language's text
    rendered once and every row in one statement, so a spot with a thousand followers holds the write lock briefly."""
    texts: dict[str, str] = {}
    messages = []
    for subscriber in await subscribers_of(conn, spot.id):
        if subscriber.language not in texts:
            texts[subscriber.language] = render(get_lang(subscriber.language, tz))
        key = f"spot-news:{spot.id}:{kind}:{to_db(now)}:{subscriber.user_id}"
        messages.append((subscriber.user_id, texts[subscriber.language], key, f"spot:{spot.id}"))
    await enqueue_texts(conn, messages, now)
    return len(messages)


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


async def close_spot(
    conn: aiosqlite.Connection,
    spot_id: int,
    until: datetime | None,
    reason: str,
    now: datetime,
    *,
    timing: Timing,
) -> SpotChange:
    """Closes the spot for now (until a time, or until reopened) and tells its subscribers, with an alternative.

    The reminders stay: one due during the closure finds the spot shut, says nothing and plans the next opening.
    """
    tz = timing.tz
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


async def reopen_spot(conn: aiosqlite.Connection, spot_id: int, now: datetime, *, timing: Timing) -> SpotChange:
    """Opens a temporarily closed spot again, tells its subscribers when they can come, and plans their reminders."""
    tz = timing.tz
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
    await reminders.reschedule_spot_reminders(conn, spot_id, timing, now)
    return SpotChange(reopened, notified)


async def relocate_spot(
    conn: aiosqlite.Connection, spot_id: int, other_id: int, now: datetime, *, timing: Timing, reason: str = ""
) -> SpotChange:
    """Marks the spot as moved to another; subscribers are told, and their subscriptions and reminders follow."""
    tz = timing.tz
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
    await reminders.reschedule_spot_reminders(conn, spot_id, timing, now)  # a moved spot has none: cancelled
    await conn.execute("DELETE FROM subscriptions WHERE spot_id = ?", (spot_id,))
    await reminders.reschedule_spot_reminders(conn, other_id, timing, now)
    return SpotChange(moved, notified)


# ------------------------------------------------------------------ by staff, by reference
class SpotRefused(SpotError):
    """The spot cannot change as asked (``kind``): relocated, past, self, other_relocated."""

    def __init__(self, kind: str, spot: Spot | None = None) -> None:
        super().__init__(kind)
        self.kind, self.spot = kind, spot


_DURATION = re.compile(r"([0-9]{1,4})([mhd])")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{1,2}:[0-9]{2}")
_CLOCK = re.compile(r"[0-9]{1,2}:[0-9]{2}")


def parse_until(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    """When a closure ends, as staff type it: ``3h``/``2d``/``90m``, ``18:00`` (next), ``2026-12-01`` (through
    that day), ``2026-12-01T08:00``; None when the text is none of these (it is then the reason).

    A real date outside the range the bot computes with raises dates.DateOutOfRange (checked before any
    arithmetic, which would overflow near year 9999)."""
    word = text.strip()
    if match := _DURATION.fullmatch(word):
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return now + timedelta(**{unit: int(match.group(1))})
    local = now.astimezone(tz)
    try:
        if _DAY_TIME.fullmatch(word):
            moment = datetime.strptime(word, "%Y-%m-%dT%H:%M")
            dates.check_day(moment.date())
            return moment.replace(tzinfo=tz).astimezone(UTC)
        if _DAY.fullmatch(word):
            day = dates.check_day(date.fromisoformat(word)) + timedelta(days=1)
            return datetime.combine(day, time(0), tz).astimezone(UTC)
        if _CLOCK.fullmatch(word):
            hour, minute = (int(part) for part in word.split(":"))
            moment = datetime.combine(local.date(), time(hour, minute), tz)
            if moment <= local:
                moment += timedelta(days=1)
            return moment.astimezone(UTC)
    except dates.DateOutOfRange:
        raise  # a real date, just too far: said as such, not taken as the reason
    except ValueError:
        return None
    return None


async def close_by_staff(
    db: Database,
    actor_id: int,
    ref: str,
    until: datetime | None,
    reason: str,
    now: datetime,
    timing: Timing,
    admin_ids: frozenset[int],
) -> SpotChange:
    """A staff member closes a vending spot for now; its subscribers are told (through the outbox)."""
    tz = timing.tz
    async with db.transaction() as conn:
        await staff.authorize(conn, actor_id, Action.MANAGE_SPOTS, admin_ids)
        spot = await find_spot(conn, ref, now, tz)
        if spot.status == STATUS_RELOCATED:
            raise SpotRefused("relocated", spot)
        if until is not None and until <= now:
            raise SpotRefused("past", spot)
        return await close_spot(conn, spot.id, until, reason, now, timing=timing)


async def reopen_by_staff(
    db: Database, actor_id: int, ref: str, now: datetime, timing: Timing, admin_ids: frozenset[int]
) -> SpotChange:
    """A staff member opens a closed spot again; its subscribers are told."""
    tz = timing.tz
    async with db.transaction() as conn:
        await staff.authorize(conn, actor_id, Action.MANAGE_SPOTS, admin_ids)
        spot = await find_spot(conn, ref, now, tz)
        if spot.status == STATUS_RELOCATED:
            raise SpotRefused("relocated", spot)
        return await reopen_spot(conn, spot.id, now, timing=timing)


async def relocate_by_staff(
    db: Database,
    actor_id: int,
    ref: str,
    other_ref: str,
    reason: str,
    now: datetime,
    timing: Timing,
    admin_ids: frozenset[int],
) -> tuple[SpotChange, Spot]:
    """A staff member moves a spot to another; subscribers are told and follow the new spot."""
    tz = timing.tz
    async with db.transaction() as conn:
        await staff.authorize(conn, actor_id, Action.MANAGE_SPOTS, admin_ids)
        spot = await find_spot(conn, ref, now, tz)
        other = await find_spot(conn, other_ref, now, tz)
        if spot.id == other.id:
            raise SpotRefused("self", spot)
        if other.status == STATUS_RELOCATED:
            raise SpotRefused("other_relocated", other)
        return await relocate_spot(conn, spot.id, other.id, now, timing=timing, reason=reason), other
