"""What every journey shares: the context type, the user's language, the main menu."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from telegram import KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.ext import CallbackContext, ExtBot, filters

from bot.config import SUPPORTED_LANGUAGES
from bot.i18n import N_, Lang, get_lang
from bot.services import Services

MENU_REPORT = N_("📝 Report a problem")
MENU_SELL = N_("🛒 Where can I sell?")
MENU_MY_REPORTS = N_("📋 My reports")
MENU_LANGUAGE = N_("🌐 Language")
MENU_HELP = N_("❓ Help")
MENU_LABELS = (MENU_REPORT, MENU_SELL, MENU_MY_REPORTS, MENU_LANGUAGE, MENU_HELP)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context, with the bot's shared services at hand."""

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]


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
