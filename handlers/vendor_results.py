"""The vendor's result pages and spot pages: nearby spots page by page, a district's or one's own spots, a spot's
page and its reminder button. Every button works on any old page: it carries what it needs.
"""

from __future__ import annotations

from dataclasses import replace

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)

from bot import wire
from bot.edge import calls as edge
from bot.platform.geo import valid_coordinates
from bot.platform.i18n import Lang
from bot.platform.text import (
    NAME_SHOWN,
    clip,
    escape,
)
from bot.vending import reminders, search, spot_index, spots, staff_actions, subscriptions
from handlers.common import (
    BotContext,
    lang_of,
    stale_button,
)
from handlers.vendor_views import (
    LIST_SIZE,
    MAX_PAGE,
    PAGE_SIZE,
    choices_keyboard,
    coordinate_text,
    districts_keyboard,
    goods_keyboard,
    nearby_keyboard,
    nearby_text,
    send,
    spot_buttons,
    spot_list_text,
    spot_page_keyboard,
    spot_page_text,
)


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


def density_hint(context: BotContext) -> search.DensityHint:
    """The search's density hint, one per running bot (kept with the application, not in the module)."""
    hint = context.bot_data.get("spot_density_hint")
    if not isinstance(hint, search.DensityHint):
        hint = context.bot_data["spot_density_hint"] = search.DensityHint()
    return hint


def nearest_index(context: BotContext) -> spot_index.SpotIndex | None:
    """The in-process spot index, one per running bot (kept with the application; on SQLite it reads the file
    itself)."""
    index = context.bot_data.get("spot_index")
    if not isinstance(index, spot_index.SpotIndex):
        index = spot_index.SpotIndex.for_database(context.services.db)
        if index is None:
            return None
        context.bot_data["spot_index"] = index
    return index


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
        hint=density_hint(context),
        index=nearest_index(context),
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
    keyboard = nearby_keyboard(t, result, lat, lon, goods, period, page, context.services.settings.webapp_url)
    await send(update, context, text, keyboard)


async def send_nothing_near(
    update: Update, context: BotContext, t: Lang, lat: float, lon: float, goods: str | None, period: str, page: int
) -> None:
    """No (more) spot at all: says so, and offers a wider choice."""
    at = (coordinate_text(lat), coordinate_text(lon))
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
    await _show_buttons(
        update, goods_keyboard(t, coordinate_text(place.lat), coordinate_text(place.lon), pressed.period)
    )


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
