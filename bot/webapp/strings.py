"""The page's words and choices, from the bot's gettext catalogs, in the person's language (served as JSON).

The page holds no text of its own: what it shows is either here or in the API's features, so both languages
come from the same catalogs as the chat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.cases.insight import category_label
from bot.cases.states import CATEGORIES
from bot.platform.config import Settings
from bot.platform.i18n import N_, Lang
from bot.vending.hours import PERIODS, period_for
from bot.vending.spots import GOODS
from handlers.vendor_views import PERIOD_LABELS

PAGE_STRINGS = {
    "title": N_("City map"),
    "open": N_("Open now"),
    "opens_soon": N_("Opens within 2 hours"),
    "closed_today": N_("Closed today"),
    "closed_temporarily": N_("Closed temporarily"),
    "zone": N_("No-vending zone"),
    "case": N_("Open case"),
    "all_goods": N_("All goods"),
    "subscribe": N_("🔔 Remind me when it opens"),
    "subscribed": N_("Sent to the chat: the bot will confirm your reminder there."),
    "report_here": N_("📝 Report a problem here"),
    "report_hint": N_("Drag the pin to the exact place, choose the category, then send."),
    "send_report": N_("Send to the chat"),
    "report_sent": N_("Sent to the chat: the report continues there."),
    "cancel": N_("Cancel"),
    "choose_category": N_("Choose a category"),
    "you_are_here": N_("The place you chose"),
    "load_failed": N_("The map could not load its data. Please try again in a moment."),
    "no_tiles": N_("The background map is not reachable; spots, zones and cases are drawn without it."),
}

# Shown before the person's language is known (the page has not been signed in yet): both languages at once.
BOOT_STRINGS = {
    "unsigned": N_("Please open this map from the bot in Telegram."),
    "load_failed": PAGE_STRINGS["load_failed"],
}


def boot_strings(langs: list[Lang]) -> dict[str, dict[str, str]]:
    return {t.code: {name: t._(message) for name, message in BOOT_STRINGS.items()} for t in langs}


def page_config(t: Lang, settings: Settings, now: datetime) -> dict[str, Any]:
    """Everything the page needs once it knows who opened it: words, choices, tiles and the period switch."""
    return {
        "language": t.code,
        "strings": {name: t._(message) for name, message in PAGE_STRINGS.items()},
        "periods": [
            {"code": code, "label": t._(PERIOD_LABELS[code]), "at": period_for(code, now, t.timezone).start.isoformat()}
            for code in PERIODS
        ],
        "goods": [{"code": code, "label": t._(label)} for code, label in GOODS.items()],
        "categories": [{"code": category.code, "label": category_label(t, category.code)} for category in CATEGORIES],
        "tiles": {
            "url": settings.map_tile_url,
            "attribution": settings.map_tile_attribution,
            "crs": settings.map_tile_crs,
        },
    }
