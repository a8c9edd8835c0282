"""After a case is resolved: "is it fixed?", satisfaction and a comment; muting reminders (/settings)."""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import wire
from bot.cases import news, service, timers
from bot.cases.service import FollowupRefused
from bot.cases.states import ReportNotFound
from bot.edge import calls as edge
from bot.platform.i18n import Lang
from bot.platform.text import escape
from handlers.common import BotContext, lang_of, main_menu, stale_button
from handlers.start import unexpected_message

COMMENT_MAX = 1000
PROMPTS_KEY = "comment_prompts"  # user_data: {prompt message id: report id}


async def answer_fixed(update: Update, context: BotContext) -> None:
    """Records "fixed / partly / not fixed" and asks for satisfaction (or says the case is reopened)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    pressed = wire.followup_answer(query.data)
    if pressed is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    services = context.services
    try:
        outcome = await service.answer_fixed(
            services.db,
            pressed.report_id,
            update.effective_user.id,
            pressed.answer,
            services.clock.now(),
            context.desk,
            context.after_commit,
        )
    except (FollowupRefused, ReportNotFound):
        await query.answer(t._("This question is no longer open. Thank you all the same."), show_alert=True)
        return
    await edge.answer(query)
    number = escape(outcome.report.public_no)
    if outcome.reopened:
        text = t._(
            "Thank you for telling us. Report <b>{number}</b> is reopened and staff have been told; "
            "we will keep you informed.",
            number=number,
        )
        await edge.edit_text(query, text)
        return
    if outcome.closed:
        text = t._(
            "Glad to hear it is fixed! Report <b>{number}</b> is now closed. How satisfied are you with "
            "how it was handled?",
            number=number,
        )
    else:
        text = t._(
            "Thank you: we told staff it is only partly fixed. How satisfied are you with how report "
            "<b>{number}</b> was handled so far?",
            number=number,
        )
    stars = InlineKeyboardMarkup.de_json(timers.satisfaction_keyboard(outcome.report.id), context.bot)
    await edge.edit_text(query, text, stars)


async def answer_satisfaction(update: Update, context: BotContext) -> None:
    """Records 1–5 stars and invites an optional comment."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None and query.message is not None
    pressed = wire.satisfaction(query.data)
    if pressed is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    services = context.services
    report_id, score = pressed.report_id, pressed.score
    try:
        await service.rate(services.db, report_id, update.effective_user.id, score, services.clock.now())
    except (FollowupRefused, ReportNotFound):
        await query.answer(t._("This question is no longer open. Thank you all the same."), show_alert=True)
        return
    await edge.answer(query)
    if not await edge.edit_text(query, t._("Thank you for rating: {stars}", stars="⭐" * score)):
        return  # pressed again (a double tap): the comment was already invited
    prompt = await context.bot.send_message(
        query.message.chat.id,
        t._("Anything you would like to add? Reply to this message with a comment, or just carry on."),
        reply_markup=ForceReply(input_field_placeholder=t._("Your comment (optional)")),
    )
    assert context.user_data is not None
    context.user_data.setdefault(PROMPTS_KEY, {})[str(prompt.message_id)] = report_id


async def receive_comment(update: Update, context: BotContext) -> None:
    """Stores a comment written in reply to the comment prompt; anything else gets the usual hint."""
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    prompts = (context.user_data or {}).get(PROMPTS_KEY, {})
    replied = message.reply_to_message
    report_id = prompts.get(str(replied.message_id)) if replied is not None else None
    if report_id is None:
        await unexpected_message(update, context)
        return
    t = await lang_of(update, context)
    text = (message.text or "").strip()
    if len(text) > COMMENT_MAX:
        await message.reply_text(
            t._("That comment is too long: please keep it under {limit} characters.", limit=COMMENT_MAX)
        )
        return
    services = context.services
    try:
        await service.comment(
            services.db,
            report_id,
            update.effective_user.id,
            text,
            services.clock.now(),
            context.desk,
            context.after_commit,
        )
    except (FollowupRefused, ReportNotFound):
        await message.reply_text(t._("This question is no longer open. Thank you all the same."))
        return
    prompts.pop(str(replied.message_id), None)  # type: ignore[union-attr]
    await message.reply_text(t._("Thank you, your comment has been passed to staff."), reply_markup=main_menu(t))


async def show_settings(update: Update, context: BotContext) -> None:
    """Shows whether reminders are on, with a button to switch."""
    assert update.effective_message is not None and update.effective_user is not None
    t = await lang_of(update, context)
    muted = await news.is_muted(context.services.db, update.effective_user.id)
    await update.effective_message.reply_text(settings_text(t, muted), reply_markup=settings_keyboard(t, muted))


def settings_text(t: Lang, muted: bool) -> str:
    if muted:
        return t._(
            "🔕 Reminders are off: no nudges about unfinished reports, no “is it fixed?” questions and no "
            "spot-opening reminders. News about your cases still reaches you."
        )
    return t._(
        "🔔 Reminders are on: nudges about unfinished reports, “is it fixed?” questions and spot-opening "
        "reminders for the spots you follow."
    )


def settings_keyboard(t: Lang, muted: bool) -> InlineKeyboardMarkup:
    if muted:
        label, action = t._("🔔 Turn reminders on"), "unmute"
    else:
        label, action = t._("🔕 Turn reminders off"), "mute"
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=wire.make(wire.SETTINGS, action))]])


async def toggle_reminders(update: Update, context: BotContext) -> None:
    """Mutes or unmutes reminders and shows the new setting."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    muted = wire.mute(query.data)
    if muted is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    services = context.services
    await news.set_muted(services.db, update.effective_user.id, muted, services.clock.now())
    await edge.answer(query)
    await edge.edit_text(query, settings_text(t, muted), settings_keyboard(t, muted))


def build_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [
        CallbackQueryHandler(answer_fixed, pattern=wire.pattern(wire.FOLLOWUP_ANSWER)),
        CallbackQueryHandler(answer_satisfaction, pattern=wire.pattern(wire.FOLLOWUP_SATISFACTION)),
        CommandHandler("settings", show_settings, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(toggle_reminders, pattern=wire.pattern(wire.SETTINGS)),
        MessageHandler(filters.ChatType.PRIVATE & filters.REPLY & filters.TEXT & ~filters.COMMAND, receive_comment),
    ]
