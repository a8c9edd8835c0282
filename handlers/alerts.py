"""/alerts: a resident or staff member subscribes to new public reports near a place, in a district or in a grid
(单元网格, once grids are imported), lists and removes their subscriptions. The place is asked for in a short
conversation (share a location); everything else is a button whose data carries what it is about (bot.wire
``alrt:``), so old buttons keep working after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import wire
from bot.cases import area_alerts, grids
from bot.cases.area_alerts import AlertRefused, Subscription
from bot.edge import calls as edge
from bot.platform.config import Settings
from bot.platform.i18n import N_, Lang
from bot.platform.text import escape
from handlers.common import MENU_LABELS, BotContext, lang_of, main_menu, stale_button, translations_of

PLACE = 0  # waiting for the shared location
PLACE_GROUP = -3  # the place conversation's handler group: after the guards, before the answers and journeys
PLACE_TIMEOUT = 900.0  # seconds: a forgotten request for a place ends quietly
SEND_PLACE = N_("📍 Share this place")
CANCEL = N_("✖️ Cancel")
GRIDS_SHOWN = 60  # grid buttons under one message (Telegram allows 100)
CADENCE_LABELS = {"instant": N_("each report, right away"), "daily": N_("a daily digest")}


# ------------------------------------------------------------------ texts and buttons
def _button(label: str, *parts: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=wire.make(wire.ALERTS, *parts))


def describe(t: Lang, context: BotContext, sub: Subscription, grid_names: Mapping[str, str]) -> str:
    """Where a subscription listens, in words."""
    if sub.kind == "near":
        return t._(
            "within {radius} of the place you shared ({lat}, {lon})",
            radius=t.distance(sub.radius_m or 0),
            lat=format(sub.lat or 0.0, ".5f"),
            lon=format(sub.lon or 0.0, ".5f"),
        )
    if sub.kind == "grid":
        return t._("in grid {grid}", grid=escape(grid_names.get(sub.area_code or "", sub.area_code or "")))
    district = context.services.service_area.by_code(sub.area_code or "")
    return t._("in {district}", district=escape(district.name(t.code) if district else sub.area_code or ""))


async def list_view(t: Lang, context: BotContext, telegram_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """The person's subscriptions with a remove button each, and the ways to add one (a grid, once grids exist)."""
    db = context.services.db
    subs = await area_alerts.subscriptions_of(db, telegram_id)
    names = await area_alerts.grid_names(db) if any(sub.kind == "grid" for sub in subs) else {}
    if subs:
        lines = [t._("🔔 <b>Your area alerts</b> (at most one message a minute, or a daily digest):")]
        for number, sub in enumerate(subs, start=1):
            lines.append(
                t._(
                    "{number}. {where} — {cadence}",
                    number=number,
                    where=describe(t, context, sub, names),
                    cadence=t._(CADENCE_LABELS[sub.cadence]),
                )
            )
    else:
        lines = [t._("🔔 You have no area alerts yet. Choose an area to hear of each new report there.")]
    rows = [[_button(t._("❌ Remove {number}", number=n), "rm", sub.id)] for n, sub in enumerate(subs, start=1)]
    rows.append([_button(t._("📍 Near a place"), "near"), _button(t._("🏙 A district"), "dists")])
    if await area_alerts.districts_with_grids(db):
        rows.append([_button(t._("🗺 A grid"), "grids")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def cadence_buttons(t: Lang, *parts: object) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(t._("🔔 Each report, right away"), *parts, "instant")],
            [_button(t._("🗓 A daily digest"), *parts, "daily")],
        ]
    )


# ------------------------------------------------------------------ /alerts and its buttons
async def show_alerts(update: Update, context: BotContext) -> None:
    """/alerts: lists the person's subscriptions with buttons to remove them or add one."""
    assert update.effective_user is not None and update.effective_chat is not None
    t = await lang_of(update, context)
    text, markup = await list_view(t, context, update.effective_user.id)
    await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)


async def press(update: Update, context: BotContext) -> None:
    """Any /alerts button but "near a place": list, districts, radius, cadence, remove."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    pressed = wire.alert_button(query.data)
    if pressed is None or pressed.action == "near":
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    match pressed.action:
        case "list":
            await edge.answer(query)
            await _edit_list(update, context, t)
        case "dists":
            await edge.answer(query)
            rows = [[_button(d.name(t.code), "dist", d.code)] for d in context.services.service_area.districts]
            await edge.edit_text(query, t._("🏙 Which district?"), InlineKeyboardMarkup(rows))
        case "rad":
            assert pressed.place is not None and pressed.radius_m is not None
            await edge.answer(query)
            place = pressed.place
            text = t._(
                "How would you like to hear of new reports within {radius}?", radius=t.distance(pressed.radius_m)
            )
            await edge.edit_text(query, text, cadence_buttons(t, "addn", place.lat, place.lon, pressed.radius_m))
        case "dist":
            district = context.services.service_area.by_code(pressed.district or "")
            if district is None:
                await stale_button(update, context)
                return
            await edge.answer(query)
            text = t._(
                "How would you like to hear of new reports in {district}?", district=escape(district.name(t.code))
            )
            await edge.edit_text(query, text, cadence_buttons(t, "addd", district.code))
        case "grids" | "gd" | "grid":
            await choose_grid(update, context, t, pressed)
        case "addn" | "addd" | "addg":
            await add_subscription(update, context, t, pressed)
        case "rm":
            await remove_subscription(update, context, t, pressed.item_id or 0)


async def choose_grid(update: Update, context: BotContext, t: Lang, pressed: wire.AlertButton) -> None:
    """A grid step by step: the districts that have grids, the grids of one, then how often to hear."""
    query = update.callback_query
    assert query is not None
    area, db = context.services.service_area, context.services.db
    if pressed.action == "grids":
        rows = [
            [_button(district.name(t.code), "gd", district.code)]
            for code in await area_alerts.districts_with_grids(db)
            if (district := area.by_code(code)) is not None
        ]
        await edge.answer(query)
        await edge.edit_text(query, t._("🗺 The grids of which district?"), InlineKeyboardMarkup(rows))
    elif pressed.action == "gd":
        found = await grids.grids_of_district(db, pressed.district or "")
        if not found:
            await stale_button(update, context)
            return
        buttons = [_button(grid.name, "grid", grid.id) for grid in found[:GRIDS_SHOWN]]
        await edge.answer(query)
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        await edge.edit_text(query, t._("🗺 Which grid?"), InlineKeyboardMarkup(rows))
    else:
        grid = await area_alerts.grid_by_id(db, pressed.item_id or 0)
        if grid is None:
            await stale_button(update, context)
            return
        await edge.answer(query)
        text = t._("How would you like to hear of new reports in grid {grid}?", grid=escape(grid[1]))
        await edge.edit_text(query, text, cadence_buttons(t, "addg", pressed.item_id))


async def _edit_list(update: Update, context: BotContext, t: Lang) -> None:
    assert update.callback_query is not None and update.effective_user is not None
    text, markup = await list_view(t, context, update.effective_user.id)
    await edge.edit_text(update.callback_query, text, markup)


async def add_subscription(update: Update, context: BotContext, t: Lang, pressed: wire.AlertButton) -> None:
    """Stores the subscription the buttons chose and says what the person will hear."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None and pressed.cadence is not None
    services = context.services
    place = pressed.place
    kind, code = {"addn": ("near", None), "addd": ("district", pressed.district)}.get(pressed.action, ("grid", None))
    if kind == "grid":
        grid = await area_alerts.grid_by_id(services.db, pressed.item_id or 0)
        code = grid[0] if grid else ""
    try:
        sub = await area_alerts.subscribe(
            services.db,
            update.effective_user.id,
            kind,
            pressed.cadence,
            services.clock.now(),
            context.desk,
            lat=place.lat if place else None,
            lon=place.lon if place else None,
            radius_m=pressed.radius_m,
            area_code=code,
        )
    except AlertRefused as refused:
        if refused.reason == "too_many":
            message = t._(
                "You already have {count} area alerts. Remove one with /alerts first.",
                count=area_alerts.MAX_SUBSCRIPTIONS,
            )
            await edge.answer(query, message, alert=True)
            return
        await stale_button(update, context)
        return
    context.after_commit.rearm_timer()  # a daily digest may have been planned
    await edge.answer(query)
    text = t._(
        "✅ Done. You will hear of new reports {where}: {cadence}. Never who reported them.",
        where=describe(t, context, sub, await area_alerts.grid_names(services.db) if kind == "grid" else {}),
        cadence=t._(CADENCE_LABELS[sub.cadence]),
    )
    await edge.edit_text(query, text, InlineKeyboardMarkup([[_button(t._("🔔 My area alerts"), "list")]]))


async def remove_subscription(update: Update, context: BotContext, t: Lang, subscription_id: int) -> None:
    """Removes one of the person's subscriptions and shows the list again."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    services = context.services
    removed = await area_alerts.unsubscribe(
        services.db, update.effective_user.id, subscription_id, services.clock.now(), context.desk
    )
    if not removed:
        await stale_button(update, context)
        return
    await edge.answer(query, t._("Removed."))
    await _edit_list(update, context, t)


# ------------------------------------------------------------------ the place conversation
async def ask_place(update: Update, context: BotContext) -> int:
    """Asks for the place to listen around; waits for a shared location."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    t = await lang_of(update, context)
    await edge.answer(query)
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton(t._(SEND_PLACE), request_location=True)], [KeyboardButton(t._(CANCEL))]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    text = t._("📍 Share the place you want to hear about (your home, your shop…) with the button below.")
    await context.bot.send_message(update.effective_chat.id, text, reply_markup=keyboard)
    raise ApplicationHandlerStop(PLACE)  # the press is this button's alone


async def receive_place(update: Update, context: BotContext) -> int:
    """Checks the place is in the service area and offers the radii; ends the conversation."""
    message = update.effective_message
    assert message is not None and message.location is not None and update.effective_chat is not None
    t = await lang_of(update, context)
    lat, lon = round(message.location.latitude, 5), round(message.location.longitude, 5)
    if not context.services.service_area.contains(lat, lon):
        await message.reply_text(
            t._("This place is outside the area the city bureau serves. Please share a place inside it, or cancel.")
        )
        raise ApplicationHandlerStop(PLACE)
    await message.reply_text(t._("📍 Place received."), reply_markup=main_menu(t))
    rows = [[_button(t.distance(radius), "rad", lat, lon, radius) for radius in area_alerts.RADII_M]]
    await context.bot.send_message(
        update.effective_chat.id, t._("How far around this place?"), reply_markup=InlineKeyboardMarkup(rows)
    )
    raise ApplicationHandlerStop(ConversationHandler.END)  # the vendor journey does not see this location


async def hint_place(update: Update, context: BotContext) -> int:
    """Anything but a location while waiting for one: says what is wanted."""
    message = update.effective_message
    assert message is not None
    t = await lang_of(update, context)
    await message.reply_text(t._("Please share a location with the button below, or cancel."))
    raise ApplicationHandlerStop(PLACE)


async def cancel_place(update: Update, context: BotContext) -> int:
    """Stops asking for a place; the menu comes back."""
    message = update.effective_message
    assert message is not None
    t = await lang_of(update, context)
    await message.reply_text(t._("All right, no new alert. /alerts shows yours."), reply_markup=main_menu(t))
    raise ApplicationHandlerStop(ConversationHandler.END)


async def leave_place(update: Update, context: BotContext) -> int:
    """A command or a menu button instead of a place: stops waiting, and the update goes on to its journey."""
    return ConversationHandler.END


def build_place_handlers(settings: Settings) -> list[BaseHandler[Any, Any, Any]]:
    """The place conversation, entered by the "near a place" button. It runs in PLACE_GROUP, ahead of the journeys:
    what it answers stops there; a command or a menu button ends it and goes on to the journey it is for."""
    cancel = filters.ChatType.PRIVATE & filters.Text(translations_of(CANCEL))
    elsewhere = filters.COMMAND | filters.Text([label for menu in MENU_LABELS for label in translations_of(menu)])
    return [
        ConversationHandler(
            entry_points=[CallbackQueryHandler(ask_place, pattern=rf"^{wire.ALERTS}:near$")],
            states={
                PLACE: [
                    MessageHandler(filters.ChatType.PRIVATE & filters.LOCATION, receive_place),
                    MessageHandler(cancel, cancel_place),
                    CommandHandler("cancel", cancel_place),
                    MessageHandler(filters.ChatType.PRIVATE & elsewhere, leave_place),
                    MessageHandler(filters.ChatType.PRIVATE & ~filters.REPLY & ~filters.StatusUpdate.ALL, hint_place),
                ],
            },
            fallbacks=[],
            allow_reentry=True,
            name="alerts_place",
            persistent=True,
            # Several instances: a timer on one instance would end a question answered at another (as in report.py).
            conversation_timeout=None if settings.shares_instances else PLACE_TIMEOUT,
        )
    ]


def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """/alerts and its buttons (all but "near a place", which enters the place conversation)."""
    return [
        CommandHandler("alerts", show_alerts, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(press, pattern=wire.pattern(wire.ALERTS)),
    ]
