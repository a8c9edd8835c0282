"""Privacy: /privacy says what the bot keeps and for how long; /forget deletes the person's data after a yes.

/forget is one question with two buttons, and its answer must not leave a conversation state behind about the
very person being forgotten, so it is a command and a button handler rather than a ConversationHandler. The
button carries the minute it was offered: an old one (or one pressed by someone else) does nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot import privacy, wire
from bot.edge import calls as edge
from bot.platform.i18n import N_, Lang
from handlers.common import BotContext, lang_of
from handlers.start import stale_button

log = logging.getLogger(__name__)

CONFIRM_WITHIN_MINUTES = 10

PRIVACY_TEXT = N_(
    "🔒 <b>Your data and privacy</b>\n\n"
    "What we keep:\n"
    "• your Telegram id, first name and language, so we can answer you and send you news of your reports;\n"
    "• your reports: category, place, description, photos and voice notes as Telegram file ids (we never "
    "download them, so no location hidden in a photo is kept), and the cases you follow;\n"
    "• an unfinished report, your vending-spot subscriptions, the places and districts of your area alerts "
    "(/alerts) and where you are in a conversation with the bot;\n"
    "• your answers to “is it fixed?” and your ratings.\n\n"
    "Staff see your name on a report only when you chose to show it.\n\n"
    "How long: {days} days after a case is finished we remove every link between it and you; the case itself "
    "stays, without your name, for the city's statistics.\n\n"
    "Send /forget to delete your data now."
)


def confirm_keyboard(t: Lang, offered_minute: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t._("🗑 Yes, delete my data"), callback_data=wire.make(wire.PRIVACY, "yes", offered_minute)
                ),
                InlineKeyboardButton(t._("Keep it"), callback_data=wire.make(wire.PRIVACY, "no", offered_minute)),
            ]
        ]
    )


async def explain_privacy(update: Update, context: BotContext) -> None:
    """Explains what is stored and for how long."""
    t = await lang_of(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        t._(PRIVACY_TEXT, days=t.number(context.services.settings.retention_days))
    )


async def ask_forget(update: Update, context: BotContext) -> None:
    """Asks for confirmation before deleting anything."""
    t = await lang_of(update, context)
    assert update.effective_message is not None
    minute = int(context.services.clock.now().timestamp() // 60)
    await update.effective_message.reply_text(
        t._(
            "Do you want us to delete your data? Your name, language, unfinished report, subscriptions and the "
            "links between you and your reports will be deleted. The cases stay, anonymous, for the city's "
            "statistics, and you will no longer hear about them. This cannot be undone."
        ),
        reply_markup=confirm_keyboard(t, minute),
    )


async def confirm_forget(update: Update, context: BotContext) -> None:
    """Deletes the person's data on "yes", keeps it on "no"; an old or forged button changes nothing."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    pressed = wire.forget(query.data)
    now = context.services.clock.now()
    if pressed is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    # A minute in the future was never offered: forged data must not outlive the ten minutes either.
    if not 0 <= now.timestamp() // 60 - pressed.offered_minute <= CONFIRM_WITHIN_MINUTES:
        await query.answer(t._("This question has expired. Send /forget again if you still want it."), show_alert=True)
        return
    if not pressed.confirmed:
        await edge.answer(query)
        await edge.edit_text(query, t._("Nothing was deleted. Your data stays as it was."))
        return
    services = context.services
    user_id = update.effective_user.id
    try:
        await privacy.forget_user(services.db, user_id, now, context.desk)
    except privacy.StaffMustLeaveFirst:
        await query.answer(
            t._("You are on the city staff: please ask an administrator to remove your role first."), show_alert=True
        )
        return
    services.users.forget_cached(user_id)
    forget_conversations(context, user_id)
    await edge.answer(query)
    await edge.edit_text(
        query,
        t._(
            "Done: your data has been deleted and your reports are no longer linked to you. "
            "If you write to the bot again, we start afresh. Thank you for helping your city."
        ),
    )


def forget_conversations(context: BotContext, user_id: int) -> None:
    """Drops what the running bot holds in memory about the person (the database rows are already gone)."""
    application = context.application
    application.drop_user_data(user_id)
    if user_id in application.chat_data:
        application.drop_chat_data(user_id)  # the private chat's id is the person's id
    # A journey the person was in the middle of must not come back: its state is forgotten too (popping marks
    # the key as written, so the next persistence run deletes it, as the transaction above already did).
    for conversations in application._conversation_handler_conversations.values():
        for key in [key for key in conversations if user_id in key]:
            conversations.pop(key)


def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("privacy", explain_privacy, filters=filters.ChatType.PRIVATE),
        CommandHandler("forget", ask_forget, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(confirm_forget, pattern=wire.pattern(wire.PRIVACY)),
    ]
