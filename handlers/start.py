"""The first journey: greeting and main menu, help, language choice, cancel, and the catch-alls."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import wire
from bot.edge import calls as edge
from bot.people.staff import is_invite_code
from bot.platform.config import SUPPORTED_LANGUAGES
from bot.platform.i18n import Lang
from bot.platform.text import NAME_SHOWN, escape
from handlers.common import (
    MENU_HELP,
    MENU_LANGUAGE,
    BotContext,
    first_of_album,
    lang_of,
    main_menu,
    menu_button,
    stale_button,
)
from handlers.team import join_team

LANGUAGE_NAMES = {"zh_Hans": "中文", "en": "English"}


def greeting(t: Lang, first_name: str) -> str:
    return t._(
        "Hello, {name}! I am the city-service assistant of the city management bureau.\n\n"
        "• Residents: report a problem on the street (stalls blocking the road, garbage, broken lights, "
        "noise…) and follow it until it is fixed.\n"
        "• Street vendors: find the nearest free, legal vending spot that is open now.\n\n"
        "Choose from the menu below.",
        name=escape(first_name, NAME_SHOWN),
    )


def help_text(t: Lang) -> str:
    return t._(
        "What I can do:\n"
        "📝 Report a problem: choose a category, share the place, describe it, add photos. "
        "You get a case number and a deadline, and I tell you each step.\n"
        "🛒 Where can I sell: share your location and I show the nearest legal vending spots that are open, "
        "with distance and hours.\n"
        "📋 My reports: follow, add information or withdraw.\n"
        "🔔 /alerts: hear of new reports near a place you choose, in a district or a grid.\n\n"
        "Commands: /start menu · /help this text · /language change language · /cancel stop what you are doing"
    )


async def start(update: Update, context: BotContext) -> None:
    """Greets the user in their language and shows the main menu."""
    if context.args and is_invite_code(context.args[0]):  # the deep link of a staff invite
        await join_team(update, context, context.args[0])
        return
    t = await lang_of(update, context)
    user = update.effective_user
    assert update.effective_message is not None and user is not None
    await update.effective_message.reply_text(greeting(t, user.first_name), reply_markup=main_menu(t))


async def show_help(update: Update, context: BotContext) -> None:
    """Explains what the bot does and lists the commands."""
    t = await lang_of(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(help_text(t), reply_markup=main_menu(t))


async def ask_language(update: Update, context: BotContext) -> None:
    """Offers the languages as inline buttons."""
    t = await lang_of(update, context)
    assert update.effective_message is not None
    buttons = [
        InlineKeyboardButton(LANGUAGE_NAMES[code], callback_data=wire.make(wire.LANGUAGE, code))
        for code in SUPPORTED_LANGUAGES
    ]
    await update.effective_message.reply_text(
        t._("Choose your language:"), reply_markup=InlineKeyboardMarkup([buttons])
    )


async def set_language(update: Update, context: BotContext) -> None:
    """Stores the chosen language and shows the menu in it."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    code = wire.language(query.data)
    if code is None:
        await stale_button(update, context)
        return
    services = context.services
    await services.users.set_language(update.effective_user.id, code, services.clock.now())
    t = await lang_of(update, context)  # the choice just stored
    await edge.answer(query)
    if not await edge.edit_text(query, t._("Language set: {language}.", language=LANGUAGE_NAMES[code])):
        return  # pressed again (a double tap): it already says so, and the menu is already there
    if query.message is not None:
        await context.bot.send_message(query.message.chat.id, t._("Here is the menu."), reply_markup=main_menu(t))


async def cancel_nothing(update: Update, context: BotContext) -> None:
    """/cancel outside any journey: nothing to stop; shows the menu."""
    t = await lang_of(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        t._("There is nothing to cancel. Here is the menu."), reply_markup=main_menu(t)
    )


async def unexpected_message(update: Update, context: BotContext) -> None:
    """Anything the bot did not expect in a private chat: a short hint and the menu, never silence (once per album)."""
    if not first_of_album(update, context):
        return
    t = await lang_of(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        t._("Sorry, I did not understand that. Please choose from the menu, or send /help."),
        reply_markup=main_menu(t),
    )


async def track_membership(update: Update, context: BotContext) -> None:
    """Marks a user who blocked the bot (no pushes until they come back) and clears it when they do."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    services = context.services
    if change.new_chat_member.status in ("kicked", "left"):
        await services.users.mark_blocked(change.chat.id, services.clock.now())


def build_handlers() -> list[BaseHandler]:
    """Entry commands and menu buttons of this journey."""
    return [
        CommandHandler("start", start),
        CommandHandler("help", show_help),
        MessageHandler(menu_button(MENU_HELP), show_help),
        CommandHandler("language", ask_language),
        MessageHandler(menu_button(MENU_LANGUAGE), ask_language),
        CallbackQueryHandler(set_language, pattern=wire.pattern(wire.LANGUAGE)),
        ChatMemberHandler(track_membership, ChatMemberHandler.MY_CHAT_MEMBER),
    ]


def build_catch_alls() -> list[BaseHandler]:
    """Registered last: whatever no journey claimed."""
    return [
        CommandHandler("cancel", cancel_nothing, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL, unexpected_message),
        CallbackQueryHandler(stale_button),
    ]
