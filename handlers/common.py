"""What every journey shares: the context type, the user's language, the main menu."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from telegram import InlineKeyboardButton, KeyboardButton, ReplyKeyboardMarkup, Update, WebAppInfo
from telegram.ext import CallbackContext, ExtBot, filters

from bot.cases.config import Desk, ReportPolicy
from bot.cases.service import AfterCommit
from bot.platform.config import SUPPORTED_LANGUAGES
from bot.platform.i18n import N_, Lang, get_lang
from bot.platform.services import Services

MENU_REPORT = N_("📝 Report a problem")
MENU_SELL = N_("🛒 Where can I sell?")
MENU_MY_REPORTS = N_("📋 My reports")
MENU_LANGUAGE = N_("🌐 Language")
MENU_HELP = N_("❓ Help")
MENU_LABELS = (MENU_REPORT, MENU_SELL, MENU_MY_REPORTS, MENU_LANGUAGE, MENU_HELP)
MAP_OPEN = N_("🗺 Open the map")
MAP_CHOOSE = N_("🗺 Choose on the map")
STALE_BUTTON = N_("This button is no longer active. Please start again from the menu.")

log = logging.getLogger(__name__)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context, with the bot's shared services at hand."""

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    @property
    def policy(self) -> ReportPolicy:
        """What filing a report needs, projected from the settings once at start."""
        return self.application.bot_data["policy"]

    @property
    def desk(self) -> Desk:
        """What the staff side needs, projected from the settings once at start."""
        return self.application.bot_data["desk"]

    @property
    def after_commit(self) -> AfterCommit:
        """Wakes the courier and re-arms the reminder timer after a case operation committed."""
        return self.application.bot_data["after_commit"]


async def lang_of(update: object, context: BotContext) -> Lang:
    """The language to answer this update in."""
    user = update.effective_user if isinstance(update, Update) else None
    if user is None:
        return get_lang(context.services.settings.default_language, context.services.timezone)
    return await context.services.lang_for(user.id, user.language_code)


def translations_of(label: str) -> list[str]:
    """A label in every supported language, for matching what a reply keyboard sends back."""
    return sorted({get_lang(code, UTC)._(label) for code in SUPPORTED_LANGUAGES})


def menu_button(label: str) -> filters.BaseFilter:
    """Matches the text of a main-menu button in any language, in a private chat."""
    return filters.ChatType.PRIVATE & filters.Text(translations_of(label))


def first_of_album(update: Update, context: BotContext) -> bool:
    """False for the later items of an album the bot has already answered: Telegram delivers an album as one
    update per photo (up to 100 from some clients), and a hint or "did not understand" is due once per album."""
    message = update.effective_message
    group = message.media_group_id if message is not None else None
    if group is None or context.user_data is None:
        return True
    if context.user_data.get("hinted_album") == group:
        return False
    context.user_data["hinted_album"] = group
    return True


def main_menu(t: Lang) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(t._(MENU_REPORT)), KeyboardButton(t._(MENU_SELL))],
            [KeyboardButton(t._(MENU_MY_REPORTS))],
            [KeyboardButton(t._(MENU_LANGUAGE)), KeyboardButton(t._(MENU_HELP))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def map_keyboard_rows(t: Lang, url: str | None) -> list[list[KeyboardButton]]:
    """A reply-keyboard row opening the map Mini App (its sendData reaches the chat only from such a button);
    none without WEBAPP_URL."""
    return [[KeyboardButton(t._(MAP_CHOOSE), web_app=WebAppInfo(url))]] if url else []


def map_inline_rows(t: Lang, url: str | None) -> list[list[InlineKeyboardButton]]:
    """An inline row opening the map Mini App; none without WEBAPP_URL."""
    return [[InlineKeyboardButton(t._(MAP_OPEN), web_app=WebAppInfo(url))]] if url else []


async def stale_button(update: Update, context: BotContext) -> None:
    """A button from an old message, or data the bot never made (bot.wire said no): says so, changes nothing."""
    query = update.callback_query
    assert query is not None
    # A WARNING, not an ERROR: a forged press is the presser's mistake, not the bot's, and alerts nobody.
    log.warning("update %s: button data %.80r refused as stale or forged", update.update_id, query.data)
    t = await lang_of(update, context)
    await query.answer(t._(STALE_BUTTON), show_alert=True)
