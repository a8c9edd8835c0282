"""What the map Mini App sends into the chat (``web_app_data``): "remind me about this spot" and "report here".

The page sends JSON through ``Telegram.WebApp.sendData``: ``{"action": "subscribe", "spot": 12}`` or
``{"action": "report", "category": "garbage", "lat": 30.5, "lon": 114.2}`` (the position in the map's coordinates,
MAP_TILE_CRS). Subscribing calls the same subscription service as the spot page's button; "report here" continues
the report wizard with that category and place (it is an entry point of the wizard, see handlers/report.py).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from telegram import Message, ReplyKeyboardRemove, Update
from telegram.ext import BaseHandler, ConversationHandler, MessageHandler, filters

from bot.cases import states
from bot.cases.drafts import Draft
from bot.platform.gcj02 import from_map_crs
from bot.platform.geo import valid_coordinates
from bot.platform.text import NAME_SHOWN, clip, escape
from bot.vending import reminders, search, spots, subscriptions
from handlers.common import BotContext, lang_of, main_menu
from handlers.report_steps import DUPLICATES, LOCATION, after_step, limit_reached, load, outside_area, store

log = logging.getLogger(__name__)

MAX_DATA = 4096  # Telegram's own limit on sendData


@dataclass(frozen=True)
class MapSubscribe:
    spot_id: int


@dataclass(frozen=True)
class MapReport:
    category: str
    lat: float  # in the map's coordinates, as the page sent it
    lon: float


def _degrees(value: object) -> float | None:
    """A finite JSON number (true and false are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def parse_map_data(text: str | None) -> MapSubscribe | MapReport | None:
    """The page's message, checked strictly; None when it is not one the page sends."""
    if not text or len(text) > MAX_DATA:
        return None
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("action") == "subscribe" and type(data.get("spot")) is int and data["spot"] > 0:
        return MapSubscribe(data["spot"])
    if data.get("action") == "report" and data.get("category") in states.CATEGORY_BY_CODE:
        lat, lon = _degrees(data.get("lat")), _degrees(data.get("lon"))
        if lat is not None and lon is not None:
            return MapReport(data["category"], lat, lon)
    return None


class _MapAction(filters.MessageFilter):
    """A web_app_data message carrying one kind of the page's messages."""

    def __init__(self, kind: type) -> None:
        super().__init__(name=f"map:{kind.__name__}")
        self.kind = kind

    def filter(self, message: Message) -> bool:
        data = message.web_app_data
        return data is not None and isinstance(parse_map_data(data.data), self.kind)


MAP_REPORT = filters.ChatType.PRIVATE & _MapAction(MapReport)
MAP_SUBSCRIBE = filters.ChatType.PRIVATE & _MapAction(MapSubscribe)


# ------------------------------------------------------------------ what the page sends
async def report_from_map(update: Update, context: BotContext) -> int:
    """ "Report here": takes the category and the pin's place, then goes on as after a shared location."""
    message = update.effective_message
    assert message is not None and message.web_app_data is not None
    found = parse_map_data(message.web_app_data.data)
    assert isinstance(found, MapReport)
    if await limit_reached(update, context):
        return ConversationHandler.END
    t = await lang_of(update, context)
    lat, lon = from_map_crs(context.services.settings.map_tile_crs, found.lat, found.lon)
    draft = await load(update, context) or Draft()  # from the map: a new report, or the one under way
    draft.category, draft.offered, draft.editing = found.category, [], False
    district = context.services.service_area.district_at(lat, lon) if valid_coordinates(lat, lon) else None
    if district is None:
        await store(update, context, draft, LOCATION)
        await message.reply_text(outside_area(t, context))
        return LOCATION
    draft.lat, draft.lon, draft.district, draft.address_text = lat, lon, district.code, None
    category = t._(states.CATEGORY_BY_CODE[found.category].name)
    await message.reply_text(
        t._(
            "🗺 From the map: {category} at {district}.",
            category=category,
            district=escape(district.name(t.code)),
        ),
        reply_markup=ReplyKeyboardRemove(),
    )
    return await after_step(update, context, draft, DUPLICATES)


async def subscribe_from_map(update: Update, context: BotContext) -> None:
    """ "Remind me" in a spot's popup: subscribes as the spot page's button does, and says so in the chat."""
    message = update.effective_message
    assert message is not None and message.web_app_data is not None and update.effective_user is not None
    found = parse_map_data(message.web_app_data.data)
    assert isinstance(found, MapSubscribe)
    t = await lang_of(update, context)
    services = context.services
    now = services.clock.now()
    try:
        detail = await search.spot_detail(services.db, found.spot_id, update.effective_user.id, now, services.timezone)
    except spots.SpotNotFound:
        await message.reply_text(
            t._("That spot no longer exists. Please open the map again."), reply_markup=main_menu(t)
        )
        return
    name = clip(detail.spot.title(t.code), NAME_SHOWN)
    if detail.spot.status == spots.STATUS_RELOCATED and detail.relocated_to is not None:
        text = t._(
            "This spot has moved to {name}. Please subscribe there instead.",
            name=clip(detail.relocated_to.title(t.code), NAME_SHOWN),
        )
        await message.reply_text(escape(text), reply_markup=main_menu(t))
        return
    timing = reminders.Timing.of(services.settings)
    await subscriptions.subscribe(services.db, update.effective_user.id, detail.spot.id, t.code, now, timing)
    text = t._("🔔 Done. I will remind you before {name} opens and tell you at once if it closes or moves.", name=name)
    await message.reply_text(escape(text), reply_markup=main_menu(t))


async def unreadable_map_data(update: Update, context: BotContext) -> None:
    """web_app_data that is not one of the page's messages (an old page, or forged): says so, changes nothing."""
    message = update.effective_message
    assert message is not None
    log.info("mini app: unreadable web_app_data from %s", update.effective_user.id if update.effective_user else None)
    t = await lang_of(update, context)
    await message.reply_text(t._("I could not read what the map sent. Please open the map again."))


def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Subscribing from the map, then anything else the page could not have sent ("report here" is the wizard's)."""
    return [
        MessageHandler(MAP_SUBSCRIBE, subscribe_from_map),
        MessageHandler(filters.ChatType.PRIVATE & filters.StatusUpdate.WEB_APP_DATA, unreadable_map_data),
    ]
