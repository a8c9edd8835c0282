"""The street vendor's journey: where and when may I sell? Nearest open spots, "can I sell here?", spot pages.

A vendor is never just told "no": every refusal names the nearest legal spot, how far it is and its hours.
Result pages carry the shared location in their buttons, so "more" and the filters work on any old page.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from babel.dates import get_day_names
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot import wire
from bot.edge import calls as edge
from bot.platform.geo import haversine_m, valid_coordinates, walking_minutes
from bot.platform.i18n import N_, Lang
from bot.platform.text import (
    ADDRESS_SHOWN,
    NAME_SHOWN,
    NOTE_SHOWN,
    TEXT_LIMIT,
    TITLE_SHOWN,
    clip,
    escape,
    fit,
    take_fitting,
    visible_len,
)
from bot.vending import hours, reminders, search, spots, staff_actions, subscriptions, zones
from bot.vending.hours import Window
from bot.vending.search import Nearby, NearbyResult
from bot.vending.spots import Spot
from bot.vending.zones import ZoneHit
from handlers.common import (
    MENU_LABELS,
    MENU_SELL,
    BotContext,
    lang_of,
    main_menu,
    menu_button,
    stale_button,
    translations_of,
)

log = logging.getLogger(__name__)

CHOICE, LOCATION, SEARCH_TEXT = range(3)

SEND_LOCATION = N_("📍 Share my location")
BACK = N_("⬅️ Back to menu")
PERIOD_LABELS = {"now": N_("Now"), "tonight": N_("Tonight"), "morning": N_("Tomorrow morning")}
PAGE_SIZE = 3
LIST_SIZE = 8
MAX_SEARCH_TEXT = 50
MAX_PAGE = 30
LEFT_OUT_ROOM = 60  # kept free on a spot's page for the line saying how many closed dates were left out

NOT_MENU = ~filters.Text([label for menu in (*MENU_LABELS, BACK) for label in translations_of(menu)])
PLAIN_TEXT = filters.TEXT & ~filters.COMMAND & NOT_MENU
OTHER_MESSAGE = filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL & NOT_MENU


# ------------------------------------------------------------------ sending
async def send(update: Update, context: BotContext, text: str, markup: object = None) -> Message:
    """Sends a message into the update's chat (works for button presses too)."""
    assert update.effective_chat is not None
    return await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)  # type: ignore[arg-type]


def location_keyboard(t: Lang) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(t._(SEND_LOCATION), request_location=True)], [KeyboardButton(t._(BACK))]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def choices_keyboard(t: Lang) -> InlineKeyboardMarkup:
    def button(label: str, mode: str) -> list[InlineKeyboardButton]:
        return [InlineKeyboardButton(label, callback_data=wire.make(wire.VENDOR_MODE, mode))]

    return InlineKeyboardMarkup(
        [
            button(t._("📍 Where can I sell now?"), "nearest"),
            button(t._("🚫 Can I sell here?"), "here"),
            button(t._("🏘 Spots by district"), "district"),
            button(t._("🔎 Find a spot by name or street"), "name"),
            button(t._("⭐ My spots"), "mine"),
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


def _coordinate(value: float) -> str:
    return f"{value:.5f}"


# ---------------------------------------------------------------- rendering
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
    t: Lang, result: NearbyResult, lat: float, lon: float, goods: str | None, period: str, page: int
) -> InlineKeyboardMarkup:
    at = (_coordinate(lat), _coordinate(lon))
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


# ----------------------------------------------------------- the journey
async def show_choices(update: Update, context: BotContext) -> int:
    """Offers the ways to find a spot; a location or a typed name is also taken at once."""
    t = await lang_of(update, context)
    if context.user_data is not None:
        context.user_data.pop("vendor_mode", None)
    await send(
        update,
        context,
        t._(
            "🛒 Where and when may you sell? Choose below.\n"
            "You can also send your location right away, or type part of a spot's name or a street."
        ),
        choices_keyboard(t),
    )
    return CHOICE


async def choose_mode(update: Update, context: BotContext) -> int | None:
    """Starts the chosen way: asks for the location or the search text, or lists districts or own spots."""
    query = update.callback_query
    assert query is not None
    mode = wire.vendor_mode(query.data)
    if mode is None:
        await stale_button(update, context)
        return None  # no state change: a forged press neither starts the conversation nor moves it
    t = await lang_of(update, context)
    await query.answer()
    if mode in ("nearest", "here") and context.user_data is not None:
        context.user_data["vendor_mode"] = mode
    if mode == "nearest":
        text = t._(
            "Please share your location with the button below, and I will show the nearest spots open now.\n"
            "No GPS? Type a street or a spot's name instead."
        )
        await send(update, context, text, location_keyboard(t))
        return LOCATION
    if mode == "here":
        text = t._(
            "Please share your location with the button below. I will tell you whether vending is allowed there "
            "and show the legal spots near you."
        )
        await send(update, context, text, location_keyboard(t))
        return LOCATION
    if mode == "district":
        await send(update, context, t._("Which district?"), districts_keyboard(t, context))
        return ConversationHandler.END
    if mode == "mine":
        await show_my_spots(update, context)
        return ConversationHandler.END
    await send(update, context, t._("Type part of a spot's name or a street (at most 50 characters):"))
    return SEARCH_TEXT


async def receive_location(update: Update, context: BotContext) -> int:
    """Answers a shared location: the nearest open spots, or first what the rules say at that place."""
    message = update.effective_message
    assert message is not None and message.location is not None
    mode = (context.user_data or {}).get("vendor_mode", "nearest")
    lat, lon = message.location.latitude, message.location.longitude
    if not await check_in_area(update, context, lat, lon):
        return LOCATION
    t = await lang_of(update, context)
    if mode == "here":
        services = context.services
        hits = await zones.zones_at(services.db, lat, lon, services.clock.now(), services.timezone)
        await send(update, context, zone_text(t, hits), main_menu(t))
    else:
        await send(update, context, t._("Looking for spots near you…"), main_menu(t))
    await show_nearby(update, context, lat, lon, None, "now", 0)
    if context.user_data is not None:
        context.user_data.pop("vendor_mode", None)
    return ConversationHandler.END


async def check_in_area(update: Update, context: BotContext, lat: float, lon: float) -> bool:
    """A place outside the districts served gets a clear answer and the district list."""
    if valid_coordinates(lat, lon) and context.services.service_area.contains(lat, lon):
        return True
    t = await lang_of(update, context)
    names = t.list_text(d.name(t.code) for d in context.services.service_area.districts)
    await send(
        update,
        context,
        t._(
            "Sorry, this place is outside the area we serve ({districts}), so I know no spots there. "
            "Share a location inside it, or choose a district:",
            districts=escape(names),
        ),
        districts_keyboard(t, context),
    )
    return False


async def show_nearby(
    update: Update, context: BotContext, lat: float, lon: float, goods: str | None, period: str, page: int
) -> None:
    """Sends the venue pins of one page of nearby spots, then the one summary message with its buttons."""
    services = context.services
    now = services.clock.now()
    t = await lang_of(update, context)
    result = await search.nearest_open_spots(
        services.db,
        lat,
        lon,
        now,
        services.timezone,
        limit=PAGE_SIZE,
        offset=page * PAGE_SIZE,
        goods=goods,
        when=period,
    )
    if not result.spots:
        await send_nothing_near(update, context, t, lat, lon, goods, period, page)
        return
    assert update.effective_chat is not None
    for number, near in enumerate(result.spots, start=page * PAGE_SIZE + 1):
        await context.bot.send_venue(
            update.effective_chat.id,
            latitude=near.spot.lat,
            longitude=near.spot.lon,
            title=f"{number}. {near.spot.title(t.code)}",
            address=near.spot.place(t.code) or near.spot.title(t.code),
        )
    text = nearby_text(t, result, now, period, goods, page * PAGE_SIZE + 1)
    await send(update, context, text, nearby_keyboard(t, result, lat, lon, goods, period, page))


async def send_nothing_near(
    update: Update, context: BotContext, t: Lang, lat: float, lon: float, goods: str | None, period: str, page: int
) -> None:
    """No (more) spot at all: says so, and offers a wider choice."""
    at = (_coordinate(lat), _coordinate(lon))
    if page > 0:
        await send(update, context, t._("There are no more spots within reach. Try another time or all goods."))
        return
    rows = []
    if goods:
        text = t._(
            "I found no spot for {goods} within 50 km. Other spots may take your goods too:",
            goods=spots.goods_text(t, [goods]),
        )
        data = wire.make(wire.VENDOR_RESULTS, *at, "-", period, 0)
        rows.append([InlineKeyboardButton(t._("All goods"), callback_data=data)])
    else:
        text = t._("I found no vending spot within 50 km of this place. Please choose a district to see its spots:")
    keyboard = InlineKeyboardMarkup(rows + list(districts_keyboard(t, context).inline_keyboard))
    await send(update, context, text, keyboard)


async def search_by_name(update: Update, context: BotContext) -> int:
    """Lists the spots whose name or street contains the typed text; the step stays if the text is too long."""
    message = update.effective_message
    assert message is not None and message.text is not None
    t = await lang_of(update, context)
    text = message.text.strip()
    if len(text) > MAX_SEARCH_TEXT:
        await send(
            update,
            context,
            t._("That is too long. Please type at most 50 characters: part of a spot's name or a street."),
        )
        return SEARCH_TEXT
    services = context.services
    now = services.clock.now()
    found = await search.search_spots(services.db, text, now, services.timezone, limit=LIST_SIZE)
    if not found:
        await send(
            update,
            context,
            t._("I found no spot matching “{text}”. Try another word, or choose a district:", text=escape(text)),
            districts_keyboard(t, context),
        )
        return SEARCH_TEXT
    header = t._("Spots matching “{text}”:", text=escape(text))
    await send(update, context, t._("Here is what I found."), main_menu(t))
    await send(
        update, context, spot_list_text(t, header, found, now, 1), InlineKeyboardMarkup(spot_buttons(t, found, 1))
    )
    return ConversationHandler.END


async def hint_location(update: Update, context: BotContext) -> int:
    """Something other than a location while one is awaited: says how to send it; the step stays."""
    t = await lang_of(update, context)
    await send(
        update,
        context,
        t._(
            "Please tap “📍 Share my location” below (or attach a location), or type a street or a spot's name. "
            "Send /cancel to stop."
        ),
        location_keyboard(t),
    )
    return LOCATION


async def hint_text(update: Update, context: BotContext) -> int:
    """Something other than text while a name is awaited: says what to type; the step stays."""
    t = await lang_of(update, context)
    await send(update, context, t._("Please type part of a spot's name or a street, or send /cancel to stop."))
    return SEARCH_TEXT


async def hint_choice(update: Update, context: BotContext) -> int:
    """Something unexpected at the choice: shows the choices again."""
    return await show_choices(update, context)


async def cancel(update: Update, context: BotContext) -> int:
    """Stops the vendor journey and shows the menu."""
    t = await lang_of(update, context)
    if context.user_data is not None:
        context.user_data.pop("vendor_mode", None)
    await send(update, context, t._("All right. Here is the menu."), main_menu(t))
    return ConversationHandler.END


# ------------------------------------------------------------- buttons
async def page_results(update: Update, context: BotContext) -> None:
    """ "More", a time filter or a goods filter on a results page: sends that page for the same place."""
    query = update.callback_query
    assert query is not None
    pressed = wire.vendor_results(query.data)
    if pressed is None or pressed.page > MAX_PAGE:
        await stale_button(update, context)
        return
    await query.answer()
    lat, lon = pressed.place.lat, pressed.place.lon
    if not await check_in_area(update, context, lat, lon):
        return
    await show_nearby(update, context, lat, lon, pressed.goods, pressed.period, pressed.page)


async def choose_goods(update: Update, context: BotContext) -> None:
    """Turns the results' buttons into a goods chooser for the same place and time."""
    query = update.callback_query
    assert query is not None
    pressed = wire.vendor_goods(query.data)
    if pressed is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    await query.answer()
    place = pressed.place
    await _show_buttons(update, goods_keyboard(t, _coordinate(place.lat), _coordinate(place.lon), pressed.period))


async def list_district(update: Update, context: BotContext) -> None:
    """A district's spots, open ones first, a page at a time."""
    query = update.callback_query
    assert query is not None
    pressed = wire.vendor_district(query.data)
    district = context.services.service_area.by_code(pressed.district) if pressed else None
    if pressed is None or district is None or pressed.page > MAX_PAGE:
        await stale_button(update, context)
        return
    await query.answer()
    t = await lang_of(update, context)
    services = context.services
    now = services.clock.now()
    page = pressed.page
    found, more = await search.spots_in_district(
        services.db, district.code, now, services.timezone, limit=LIST_SIZE, offset=page * LIST_SIZE
    )
    if not found:
        await send(
            update, context, t._("There are no spots in {district} yet.", district=escape(district.name(t.code)))
        )
        return
    header = t._("Spots in {district}:", district=escape(district.name(t.code)))
    rows = spot_buttons(t, found, page * LIST_SIZE + 1)
    if more:
        data = wire.make(wire.VENDOR_DISTRICT, district.code, page + 1)
        rows.append([InlineKeyboardButton(t._("▶️ More spots"), callback_data=data)])
    await send(update, context, spot_list_text(t, header, found, now, page * LIST_SIZE + 1), InlineKeyboardMarkup(rows))


async def show_my_spots(update: Update, context: BotContext) -> None:
    """The spots the vendor subscribed to, each with its page."""
    assert update.effective_user is not None
    t = await lang_of(update, context)
    services = context.services
    now = services.clock.now()
    found = await subscriptions.subscriptions_of(services.db, update.effective_user.id, now, services.timezone)
    if not found:
        await send(
            update,
            context,
            t._("You have no reminders yet. Open a spot's page and tap “🔔 Remind me before it opens”."),
            choices_keyboard(t),
        )
        return
    header = t._("Your spots (you get reminders for these):")
    await send(
        update, context, spot_list_text(t, header, found, now, 1), InlineKeyboardMarkup(spot_buttons(t, found, 1))
    )


async def _detail_or_refuse(update: Update, context: BotContext, prefix: str) -> search.SpotDetail | None:
    """The spot a button names, or None after telling the user the button is stale or the spot is gone."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    spot_id = wire.spot(query.data, prefix)
    if spot_id is None:
        await stale_button(update, context)
        return None
    services = context.services
    try:
        return await search.spot_detail(
            services.db, spot_id, update.effective_user.id, services.clock.now(), services.timezone
        )
    except spots.SpotNotFound:
        t = await lang_of(update, context)
        await query.answer(t._("This spot no longer exists. Please search again with /sell."), show_alert=True)
        return None


async def show_spot(update: Update, context: BotContext) -> None:
    """A spot's page: its pin, hours for the week, closures coming up, and the reminder button."""
    detail = await _detail_or_refuse(update, context, wire.VENDOR_SPOT)
    if detail is None:
        return
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    t = await lang_of(update, context)
    spot = detail.spot
    await context.bot.send_venue(
        update.effective_chat.id,
        latitude=spot.lat,
        longitude=spot.lon,
        title=spot.title(t.code),
        address=spot.place(t.code) or spot.title(t.code),
    )
    services = context.services
    now = services.clock.now()
    alternative = ""
    if spot.status == spots.STATUS_CLOSED and (spot.closed_until is None or spot.closed_until > now):
        alternative = (await staff_actions.alternative_for(services.db, spot, now, services.timezone))(t)
    await send(update, context, spot_page_text(t, detail, now, alternative), spot_page_keyboard(t, detail))


async def subscribe_spot(update: Update, context: BotContext) -> None:
    """Subscribes the vendor to the spot's reminders and news; a moved spot points to its new place."""
    detail = await _detail_or_refuse(update, context, wire.VENDOR_SUBSCRIBE)
    if detail is None:
        return
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    t = await lang_of(update, context)
    name = clip(detail.spot.title(t.code), NAME_SHOWN)  # an answer to a press holds at most 200 characters
    if detail.spot.status == spots.STATUS_RELOCATED and detail.relocated_to is not None:
        await query.answer(
            t._(
                "This spot has moved to {name}. Please subscribe there instead.",
                name=clip(detail.relocated_to.title(t.code), NAME_SHOWN),
            ),
            show_alert=True,
        )
        return
    services = context.services
    timing = reminders.Timing.of(services.settings)
    await subscriptions.subscribe(
        services.db, update.effective_user.id, detail.spot.id, t.code, services.clock.now(), timing
    )
    await query.answer(
        t._("🔔 Done. I will remind you before {name} opens and tell you at once if it closes or moves.", name=name),
        show_alert=True,
    )
    await _show_buttons(update, spot_page_keyboard(t, _with_subscribed(detail, True)))


async def unsubscribe_spot(update: Update, context: BotContext) -> None:
    """Stops the reminders and news of a spot."""
    detail = await _detail_or_refuse(update, context, wire.VENDOR_UNSUBSCRIBE)
    if detail is None:
        return
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    t = await lang_of(update, context)
    await subscriptions.unsubscribe(context.services.db, update.effective_user.id, detail.spot.id)
    name = clip(detail.spot.title(t.code), NAME_SHOWN)
    await query.answer(t._("🔕 Reminders for {name} are off.", name=name), show_alert=True)
    await _show_buttons(update, spot_page_keyboard(t, _with_subscribed(detail, False)))


async def _show_buttons(update: Update, markup: InlineKeyboardMarkup) -> None:
    """Updates a page's buttons; a double tap asks for the same buttons again, which changes nothing."""
    assert update.callback_query is not None
    await edge.edit_buttons(update.callback_query, markup)


def _with_subscribed(detail: search.SpotDetail, subscribed: bool) -> search.SpotDetail:
    return replace(detail, subscribed=subscribed)


# ------------------------------------------------------------- wiring
def build_handler() -> ConversationHandler[Any]:
    """The vendor conversation: choose a way, then a location or a search text."""
    back = filters.ChatType.PRIVATE & filters.Text(translations_of(BACK))
    return ConversationHandler(
        entry_points=[
            CommandHandler("sell", show_choices, filters=filters.ChatType.PRIVATE),
            MessageHandler(menu_button(MENU_SELL), show_choices),
            CallbackQueryHandler(choose_mode, pattern=wire.pattern(wire.VENDOR_MODE)),
        ],
        states={
            CHOICE: [
                MessageHandler(filters.LOCATION, receive_location),
                MessageHandler(PLAIN_TEXT, search_by_name),
                MessageHandler(OTHER_MESSAGE & ~back, hint_choice),
            ],
            LOCATION: [
                MessageHandler(filters.LOCATION, receive_location),
                MessageHandler(PLAIN_TEXT, search_by_name),
                MessageHandler(OTHER_MESSAGE & ~back, hint_location),
            ],
            SEARCH_TEXT: [
                MessageHandler(PLAIN_TEXT, search_by_name),
                MessageHandler(filters.LOCATION, receive_location),
                MessageHandler(OTHER_MESSAGE & ~back, hint_text),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel), MessageHandler(back, cancel)],
        allow_reentry=True,
        name="vendor",
        persistent=True,
    )


def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The conversation, then the buttons of result lists and spot pages (valid in any state)."""
    return [
        build_handler(),
        CallbackQueryHandler(page_results, pattern=wire.pattern(wire.VENDOR_RESULTS)),
        CallbackQueryHandler(choose_goods, pattern=wire.pattern(wire.VENDOR_GOODS)),
        CallbackQueryHandler(list_district, pattern=wire.pattern(wire.VENDOR_DISTRICT)),
        CallbackQueryHandler(show_spot, pattern=wire.pattern(wire.VENDOR_SPOT)),
        CallbackQueryHandler(subscribe_spot, pattern=wire.pattern(wire.VENDOR_SUBSCRIBE)),
        CallbackQueryHandler(unsubscribe_spot, pattern=wire.pattern(wire.VENDOR_UNSUBSCRIBE)),
        CommandHandler("myspots", show_my_spots, filters=filters.ChatType.PRIVATE),
    ]
