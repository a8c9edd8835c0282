"""The street vendor's journey: where and when may I sell? Nearest open spots, "can I sell here?", spot pages.

A vendor is never just told "no": every refusal names the nearest legal spot, how far it is and its hours.
Result pages carry the shared location in their buttons, so "more" and the filters work on any old page.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
    Update,
)
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot import wire
from bot.platform.text import (
    escape,
)
from bot.vending import search, zones
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
from handlers.vendor_results import (
    check_in_area,
    choose_goods,
    list_district,
    page_results,
    show_my_spots,
    show_nearby,
    show_spot,
    subscribe_spot,
    unsubscribe_spot,
)
from handlers.vendor_views import (
    BACK,
    LIST_SIZE,
    choices_keyboard,
    districts_keyboard,
    location_keyboard,
    send,
    spot_buttons,
    spot_list_text,
    zone_text,
)

log = logging.getLogger(__name__)

CHOICE, LOCATION, SEARCH_TEXT = range(3)
MAX_SEARCH_TEXT = 50

NOT_MENU = ~filters.Text([label for menu in (*MENU_LABELS, BACK) for label in translations_of(menu)])
PLAIN_TEXT = filters.TEXT & ~filters.COMMAND & NOT_MENU
OTHER_MESSAGE = filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL & NOT_MENU


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
        choices_keyboard(t, context.services.settings.webapp_url),
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
        await send(update, context, text, location_keyboard(t, context.services.settings.webapp_url))
        return LOCATION
    if mode == "here":
        text = t._(
            "Please share your location with the button below. I will tell you whether vending is allowed there "
            "and show the legal spots near you."
        )
        await send(update, context, text, location_keyboard(t, context.services.settings.webapp_url))
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
