"""The vendor's pages as text and buttons: nearby results, spot pages, zone answers and spot lists."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import get_day_names
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)

from bot import wire
from bot.platform.geo import haversine_m, walking_minutes
from bot.platform.i18n import N_, Lang
from bot.platform.text import (
    ADDRESS_SHOWN,
    NOTE_SHOWN,
    TEXT_LIMIT,
    TITLE_SHOWN,
    escape,
    fit,
    take_fitting,
    visible_len,
)
from bot.vending import hours, search, spots, zones
from bot.vending.hours import Window
from bot.vending.search import Nearby, NearbyResult
from bot.vending.spots import Spot
from bot.vending.zones import ZoneHit
from handlers.common import (
    BotContext,
    map_inline_rows,
    map_keyboard_rows,
)

SEND_LOCATION = N_("📍 Share my location")
BACK = N_("⬅️ Back to menu")
PERIOD_LABELS = {"now": N_("Now"), "tonight": N_("Tonight"), "morning": N_("Tomorrow morning")}
PAGE_SIZE = 3
LIST_SIZE = 8
MAX_PAGE = 30
LEFT_OUT_ROOM = 60  # kept free on a spot's page for the line saying how many closed dates were left out


async def send(update: Update, context: BotContext, text: str, markup: object = None) -> Message:
    """Sends a message into the update's chat (works for button presses too)."""
    assert update.effective_chat is not None
    return await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)  # type: ignore[arg-type]


def location_keyboard(t: Lang, map_url: str | None = None) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(t._(SEND_LOCATION), request_location=True)],
            *map_keyboard_rows(t, map_url),
            [KeyboardButton(t._(BACK))],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def choices_keyboard(t: Lang, map_url: str | None = None) -> InlineKeyboardMarkup:
    def button(label: str, mode: str) -> list[InlineKeyboardButton]:
        return [InlineKeyboardButton(label, callback_data=wire.make(wire.VENDOR_MODE, mode))]

    return InlineKeyboardMarkup(
        [
            button(t._("📍 Where can I sell now?"), "nearest"),
            button(t._("🚫 Can I sell here?"), "here"),
            button(t._("🏘 Spots by district"), "district"),
            button(t._("🔎 Find a spot by name or street"), "name"),
            button(t._("⭐ My spots"), "mine"),
            *map_inline_rows(t, map_url),
        ]
    )


def districts_keyboard(t: Lang, context: BotContext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    district.name(t.code), callback_data=wire.make(wire.VENDOR_DISTRICT, district.code, 0)
                )
            ]
            for district in context.services.service_area.districts
        ]
    )


def spot_buttons(t: Lang, found: list[Spot], first_number: int) -> list[list[InlineKeyboardButton]]:
    """One "details" button per listed spot, numbered as in the text."""
    return [
        [
            InlineKeyboardButton(
                t._("ℹ️ {number}. {name}", number=number, name=_short(spot.title(t.code))),
                callback_data=wire.make(wire.VENDOR_SPOT, spot.id),
            )
        ]
        for number, spot in enumerate(found, start=first_number)
    ]


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def coordinate_text(value: float) -> str:
    return f"{value:.5f}"


def walk_text(t: Lang, meters: float) -> str:
    minutes = walking_minutes(meters)
    return t.n_(
        "{distance}, about {count} minute on foot",
        "{distance}, about {count} minutes on foot",
        minutes,
        distance=t.distance(meters),
    )


def when_text(t: Lang, moment: datetime, now: datetime) -> str:
    """A time today (``22:00``), or with its date when it is another day."""
    if moment.astimezone(t.timezone).date() == now.astimezone(t.timezone).date():
        return t.time(moment)
    return t.date_time(moment)


def status_line(t: Lang, near: Nearby, now: datetime, soonest: bool) -> str:
    """Open now until when; or when it opens (soonest); or its opening in the period asked about."""
    opening = near.opening
    if opening is None:
        return ""
    if near.open_now:
        return t._("✅ Open now, until {time}", time=t.time(opening.closes_at))
    if soonest:
        return t._(
            "⏳ Opens {relative}, at {time}",
            relative=t.relative(opening.opens_at, now),
            time=when_text(t, opening.opens_at, now),
        )
    return t._("🕒 Open {hours}", hours=spots.opening_text(t, opening))


def stalls_text(t: Lang, spot: Spot) -> str:
    if spot.free_stalls is not None:
        return t.n_("about {count} stall free", "about {count} stalls free", spot.free_stalls)
    if spot.capacity is not None:
        return t.n_("{count} stall", "{count} stalls", spot.capacity)
    return ""


def facts_line(t: Lang, spot: Spot) -> str:
    """Goods, fee and free stalls: ``fruit and cooked food · free of charge · about 12 stalls free``."""
    parts = [spots.goods_text(t, spot.goods), spots.fee_text(t, spot.fee_cents), stalls_text(t, spot)]
    return " · ".join(escape(part, NOTE_SHOWN) for part in parts if part)


def today_line(t: Lang, spot: Spot, now: datetime) -> str:
    return t._("Today: {hours}", hours=spots.day_hours_text(t, spot, now.astimezone(t.timezone).date()))


def nearby_text(t: Lang, result: NearbyResult, now: datetime, period: str, goods: str | None, first: int) -> str:
    """The one summary message under the venue pins."""
    headers = {
        (False, "now"): N_("✅ Open now near you:"),
        (False, "tonight"): N_("🌙 Open tonight near you:"),
        (False, "morning"): N_("🌅 Open tomorrow morning near you:"),
        (True, "now"): N_("No spot near you is open right now. Where you could be selling soonest, walk included:"),
        (True, "tonight"): N_(
            "No spot near you is open tonight. Where you could be selling soonest after that, walk included:"
        ),
        (True, "morning"): N_(
            "No spot near you is open tomorrow morning. Where you could be selling soonest after that, walk included:"
        ),
    }
    lines = [t._(headers[(result.soonest, period)])]
    if goods:
        lines.append(t._("Goods: {goods}", goods=spots.goods_text(t, [goods])))
    for number, near in enumerate(result.spots, start=first):
        lines.append("")
        lines.append(
            t._(
                "{number}. <b>{name}</b> — {walk}",
                number=number,
                name=escape(near.spot.title(t.code), TITLE_SHOWN),
                walk=walk_text(t, near.distance_m),
            )
        )
        lines.append(status_line(t, near, now, result.soonest))
        lines.append(today_line(t, near.spot, now))
        lines.append(facts_line(t, near.spot))
    return fit("\n".join(lines))


def nearby_keyboard(
    t: Lang,
    result: NearbyResult,
    lat: float,
    lon: float,
    goods: str | None,
    period: str,
    page: int,
    map_url: str | None = None,
) -> InlineKeyboardMarkup:
    at = (coordinate_text(lat), coordinate_text(lon))
    rows = spot_buttons(t, [near.spot for near in result.spots], page * PAGE_SIZE + 1)
    if result.more and page < MAX_PAGE:
        data = wire.make(wire.VENDOR_RESULTS, *at, goods or "-", period, page + 1)
        rows.append([InlineKeyboardButton(t._("▶️ More spots"), callback_data=data)])
    rows.append(
        [
            InlineKeyboardButton(
                ("✓ " if choice == period else "") + t._(label),
                callback_data=wire.make(wire.VENDOR_RESULTS, *at, goods or "-", choice, 0),
            )
            for choice, label in PERIOD_LABELS.items()
        ]
    )
    label = spots.goods_text(t, [goods]) if goods else t._("all goods")
    rows.append(
        [
            InlineKeyboardButton(
                t._("🧺 Goods: {goods}", goods=label),
                callback_data=wire.make(wire.VENDOR_GOODS, *at, period),
            )
        ]
    )
    # The map opens at the vendor's place (WGS-84 in the address; the page shows it and the walking distances).
    place = f"{'&' if map_url and '?' in map_url else '?'}lat={at[0]}&lon={at[1]}"
    rows += map_inline_rows(t, map_url + place if map_url else None)
    return InlineKeyboardMarkup(rows)


def goods_keyboard(t: Lang, lat: str, lon: str, period: str) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(t._(label), callback_data=wire.make(wire.VENDOR_RESULTS, lat, lon, code, period, 0))]
        for code, label in spots.GOODS.items()
    ]
    rows.append(
        [InlineKeyboardButton(t._("All goods"), callback_data=wire.make(wire.VENDOR_RESULTS, lat, lon, "-", period, 0))]
    )
    return InlineKeyboardMarkup(rows)


def week_hours_lines(t: Lang, windows: tuple[Window, ...]) -> list[str]:
    """One line per weekday: ``Monday: 22:00–04:00 (next day)``."""
    names = get_day_names("wide", locale=t.code)
    monday = datetime(2024, 1, 1, tzinfo=t.timezone)  # a Monday
    lines = []
    for day in range(7):
        found = hours.windows_on(windows, day)
        if found:
            spans = []
            for window in found:
                opens = monday + timedelta(minutes=window.start_m)
                spans.append(
                    spots.opening_text(
                        t, hours.Opening(opens, opens + timedelta(minutes=window.end_m - window.start_m))
                    )
                )
            day_hours = t.list_text(spans)
        else:
            day_hours = t._("not open")
        lines.append(t._("{day}: {hours}", day=names[day], hours=day_hours))
    return lines


def zone_hours_text(t: Lang, windows: tuple[Window, ...]) -> str:
    """A zone's ban hours in short: ``Mon–Fri 07:00–17:00``."""
    names = get_day_names("abbreviated", locale=t.code)
    monday = datetime(2024, 1, 1, tzinfo=t.timezone)
    groups: dict[str, list[int]] = {}
    for window in windows:
        opens = monday + timedelta(minutes=window.start_m)
        span = spots.opening_text(t, hours.Opening(opens, opens + timedelta(minutes=window.end_m - window.start_m)))
        groups.setdefault(span, []).append(window.weekday)
    parts = []
    for span, days in groups.items():
        if len(days) == 7:
            parts.append(t._("daily {hours}", hours=span))
            continue
        runs: list[list[int]] = []
        for day in sorted(days):
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        label = t.list_text(names[r[0]] if len(r) == 1 else f"{names[r[0]]}–{names[r[-1]]}" for r in runs)
        parts.append(t._("{days} {hours}", days=label, hours=span))
    return "; ".join(parts)


def zone_text(t: Lang, hits: list[ZoneHit]) -> str:
    """What the law says at this place, kindly and plainly."""
    active = [hit for hit in hits if hit.active]
    if active:
        lines = []
        for hit in active:
            label, why = zones.ZONE_KINDS.get(hit.zone.kind, zones.ZONE_KINDS["other"])
            lines.append(
                t._(
                    "🚫 Sorry, this place is in a no-vending zone: <b>{zone}</b> ({kind}).",
                    zone=escape(hit.zone.title(t.code), TITLE_SHOWN),
                    kind=t._(label),
                )
            )
            lines.append(t._(why))
            if hit.zone.hours and hit.until is not None:
                lines.append(
                    t._(
                        "The ban applies {hours}; right now it lasts until {time}.",
                        hours=zone_hours_text(t, hit.zone.hours),
                        time=t.time(hit.until),
                    )
                )
            if hit.zone.note:
                lines.append(escape(hit.zone.note, NOTE_SHOWN))
        lines.append(t._("Please come to one of the legal spots below instead; you are welcome there."))
        return fit("\n".join(lines))
    if hits:
        hit = hits[0]
        label, _why = zones.ZONE_KINDS.get(hit.zone.kind, zones.ZONE_KINDS["other"])
        return t._(
            "ℹ️ This place is in <b>{zone}</b> ({kind}), where vending is banned {hours}. The ban is not in force "
            "right now, but street vending is allowed only at the designated spots. Here are those near you:",
            zone=escape(hit.zone.title(t.code), TITLE_SHOWN),
            kind=t._(label),
            hours=zone_hours_text(t, hit.zone.hours),
        )
    return t._(
        "There is no special ban at this place, but to be honest: street vending is allowed only at the "
        "designated spots, which keeps pavements clear and is fair to every vendor. Here are those near you:"
    )


def spot_page_text(t: Lang, detail: search.SpotDetail, now: datetime, alternative: str = "") -> str:
    """A spot's page; ``alternative`` names another spot when this one is closed."""
    spot = detail.spot
    lines = [t._("<b>{name}</b> (No. {number})", name=escape(spot.title(t.code), TITLE_SHOWN), number=spot.id)]
    if spot.place(t.code):
        lines.append(t._("📍 {address}", address=escape(spot.place(t.code), ADDRESS_SHOWN)))
    if spot.status == spots.STATUS_RELOCATED and detail.relocated_to is not None:
        moved_to = detail.relocated_to
        lines.append(
            t._(
                "➡️ This spot has moved to <b>{name}</b>, {distance} away. Today there: {hours}.",
                name=escape(moved_to.title(t.code), TITLE_SHOWN),
                distance=t.distance(haversine_m(spot.lat, spot.lon, moved_to.lat, moved_to.lon)),
                hours=spots.day_hours_text(t, moved_to, now.astimezone(t.timezone).date()),
            )
        )
    elif spot.status == spots.STATUS_CLOSED and (spot.closed_until is None or spot.closed_until > now):
        if spot.closed_until is not None:
            lines.append(t._("⛔ Closed for now, until {until}.", until=t.date_time(spot.closed_until)))
        else:
            lines.append(t._("⛔ Closed for now, until further notice."))
        if spot.status_reason:
            lines.append(t._("Reason: {reason}", reason=escape(spot.status_reason, NOTE_SHOWN)))
        if alternative:
            lines.append(alternative)
    elif detail.current is not None:
        lines.append(t._("✅ Open now, until {time}", time=t.time(detail.current.closes_at)))
    elif detail.next is not None:
        lines.append(
            t._(
                "⏳ Opens {relative}, at {time}",
                relative=t.relative(detail.next.opens_at, now),
                time=when_text(t, detail.next.opens_at, now),
            )
        )
    closed_dates: list[str] = []
    after: list[str] = []
    if spot.status != spots.STATUS_RELOCATED:
        lines.append("")
        lines.append(t._("🕒 Opening hours:"))
        lines.extend(week_hours_lines(t, spot.hours))
        today = now.astimezone(t.timezone).date()
        coming = [e for e in spot.exceptions if e.last_day >= today and e.first_day <= today + timedelta(days=60)]
        for exception in coming:
            span = (
                t.date(exception.first_day)
                if exception.first_day == exception.last_day
                else t._("{first} to {last}", first=t.date(exception.first_day), last=t.date(exception.last_day))
            )
            if exception.reason:
                reason = escape(exception.reason, NOTE_SHOWN)
                closed_dates.append(t._("{dates}: {reason}", dates=span, reason=reason))
            else:
                closed_dates.append(span)
        after.append("")
        after.append(t._("🧺 Goods: {goods}", goods=escape(spots.goods_text(t, spot.goods), NOTE_SHOWN)))
        after.append(t._("💰 Fee: {fee}", fee=escape(spots.fee_text(t, spot.fee_cents))))
        if stalls_text(t, spot):
            after.append(t._("🪑 Stalls: {stalls}", stalls=escape(stalls_text(t, spot))))
    if spot.note:
        after.append(t._("📝 {note}", note=escape(spot.note, NOTE_SHOWN)))
    if closed_dates:
        # The soonest closed dates that fit: each field is bounded, the number of dates is not.
        lines += ["", t._("📅 Closed on coming dates:")]
        room = TEXT_LIMIT - visible_len("\n".join(lines + after)) - LEFT_OUT_ROOM
        shown, left_out = take_fitting(closed_dates, room)
        lines += shown
        if left_out:
            lines.append(t.n_("… and {count} more closed date.", "… and {count} more closed dates.", left_out))
    return fit("\n".join(lines + after))


def spot_page_keyboard(t: Lang, detail: search.SpotDetail) -> InlineKeyboardMarkup:
    spot = detail.spot
    if spot.status == spots.STATUS_RELOCATED and detail.relocated_to is not None:
        data = wire.make(wire.VENDOR_SPOT, detail.relocated_to.id)
        return InlineKeyboardMarkup([[InlineKeyboardButton(t._("➡️ Show the new spot"), callback_data=data)]])
    if detail.subscribed:
        button = InlineKeyboardButton(
            t._("🔕 Stop reminders for this spot"), callback_data=wire.make(wire.VENDOR_UNSUBSCRIBE, spot.id)
        )
    else:
        button = InlineKeyboardButton(
            t._("🔔 Remind me before it opens"), callback_data=wire.make(wire.VENDOR_SUBSCRIBE, spot.id)
        )
    return InlineKeyboardMarkup([[button]])


def spot_list_text(t: Lang, header: str, found: list[Spot], now: datetime, first: int) -> str:
    lines = [header]
    tz = t.timezone
    for number, spot in enumerate(found, start=first):
        lines.append("")
        lines.append(t._("{number}. <b>{name}</b>", number=number, name=escape(spot.title(t.code), TITLE_SHOWN)))
        current = spots.current_opening(spot, now, tz)
        if spot.status == spots.STATUS_RELOCATED:
            lines.append(t._("➡️ Moved to another spot; tap for details."))
            continue
        if current is not None:
            lines.append(t._("✅ Open now, until {time}", time=t.time(current.closes_at)))
        elif spot.status == spots.STATUS_CLOSED and (spot.closed_until is None or spot.closed_until > now):
            lines.append(t._("⛔ Closed for now"))
        else:
            upcoming = spots.next_opening(spot, now, tz)
            if upcoming is not None:
                lines.append(
                    t._(
                        "⏳ Opens {relative}, at {time}",
                        relative=t.relative(upcoming.opens_at, now),
                        time=when_text(t, upcoming.opens_at, now),
                    )
                )
        lines.append(today_line(t, spot, now))
        lines.append(facts_line(t, spot))
    return fit("\n".join(lines))
