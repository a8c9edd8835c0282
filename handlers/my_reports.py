"""My reports: a paged list, each report's history and deadline, adding information, withdrawing.

Every report id in a button is checked against the person pressing it (bot.reports.detail_for_user), so a
guessed number or forged callback data shows nothing and changes nothing.
"""

from __future__ import annotations

import html
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import reports
from bot.i18n import Lang
from bot.reports import ReportDetail, ReportEvent, ReportPage
from handlers import callbacks
from handlers.common import MENU_LABELS, MENU_MY_REPORTS, BotContext, lang_of, main_menu, menu_button, translations_of

ADD_INFO = 0
PAGE_SIZE = 5
_INFO_REPORT = "info_report"  # user_data key: the report the next message is added to

NOT_MENU = ~filters.Text([label for menu in MENU_LABELS for label in translations_of(menu)])


def button(label: str, *parts: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=callbacks.make(callbacks.MY_REPORTS, *parts))


def parse(update: Update, action: str, count: int) -> list[int] | None:
    """The numbers of a ``mine:<action>:<n>…`` button, or None for anything else (stale or forged)."""
    assert update.callback_query is not None
    parts = callbacks.parts(update.callback_query.data, callbacks.MY_REPORTS, count + 1)
    if parts is None or parts[0] != action or not all(p.isdigit() and len(p) < 12 for p in parts[1:]):
        return None
    return [int(p) for p in parts[1:]]


# ------------------------------------------------------------------ rendering
def list_view(t: Lang, page: ReportPage) -> tuple[str, InlineKeyboardMarkup | None]:
    if page.total == 0:
        return t._("You have not reported anything yet. Press 📝 Report a problem to start."), None
    text = t.n_(
        "📋 Your reports ({count}), newest first. Choose one to see its progress:",
        "📋 Your reports ({count}), newest first. Choose one to see its progress:",
        page.total,
    )
    rows = []
    for item in page.items:
        label = t._(
            "{number} · {state}",
            number=item.public_no,
            state=t._(reports.STATE_NAMES[item.state]),
        )
        rows.append([button(label if item.mine else "🙋 " + label, "show", item.id, page.offset)])
    pager = []
    if page.offset > 0:
        pager.append(button(t._("◀️ Newer"), "page", max(0, page.offset - PAGE_SIZE)))
    if page.offset + PAGE_SIZE < page.total:
        pager.append(button(t._("Older ▶️"), "page", page.offset + PAGE_SIZE))
    if pager:
        rows.append(pager)
    return text, InlineKeyboardMarkup(rows)


def event_line(t: Lang, event: ReportEvent) -> str:
    when = t.date_time(event.at)
    if event.kind == "info":
        return t._("• {time}: you added information. {note}", time=when, note=html.escape(event.note))
    state = t._(reports.STATE_NAMES[event.to_state]) if event.to_state else ""
    if event.public and event.note:
        return t._("• {time}: {state}. {note}", time=when, state=state, note=html.escape(event.note))
    return t._("• {time}: {state}", time=when, state=state)


def detail_view(t: Lang, detail: ReportDetail, offset: int, context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    report = detail.report
    lines = [
        t._(
            "<b>{number}</b> · {category}",
            number=report.public_no,
            category=t._(reports.category_of(report.category).name),
        ),
        t._("Status: {state}", state=t._(reports.STATE_NAMES[report.state])),
    ]
    if report.is_open:
        lines.append(t._("To be handled by: {deadline}", deadline=t.date_time(report.due_at)))
    lines += reports.place_lines(t, report, context.services.service_area)
    lines.append(
        t._(
            "Description: {description}",
            description=reports.description_text(t, report.description, report.voice_file_id),
        )
    )
    lines.append(t.n_("Photos: {count}", "Photos: {count}", detail.photo_count))
    if not detail.mine:
        lines.append(
            t.n_(
                "You follow it with {count} resident in all.",
                "You follow it with {count} residents in all.",
                report.follower_count,
            )
        )
    lines += ["", t._("History:"), *(event_line(t, event) for event in detail.events)]
    rows = []
    if report.is_open:
        rows.append([button(t._("➕ Add information"), "info", report.id)])
    if detail.can_withdraw:
        rows.append([button(t._("↩️ Withdraw"), "withdraw", report.id, offset)])
    rows.append([button(t._("◀️ Back to the list"), "page", offset)])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Redraws the message the button was under (a list or a detail)."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def not_yours(update: Update, context: BotContext) -> None:
    """Forged data, a guessed number or a report gone: one answer for all, revealing nothing."""
    t = await lang_of(update, context)
    assert update.callback_query is not None
    await update.callback_query.answer(
        t._("I cannot find that report among yours. Please open 📋 My reports again."), show_alert=True
    )


# ------------------------------------------------------------------ the list and the detail
async def show_list(update: Update, context: BotContext) -> None:
    """Lists the person's reports, newest first."""
    assert update.effective_user is not None and update.effective_message is not None
    t = await lang_of(update, context)
    page = await reports.list_for_user(context.services.db, update.effective_user.id, 0, PAGE_SIZE)
    text, markup = list_view(t, page)
    await update.effective_message.reply_text(text, reply_markup=markup or main_menu(t))


async def turn_page(update: Update, context: BotContext) -> None:
    """Shows another page of the list in place."""
    numbers = parse(update, "page", 1)
    if numbers is None:
        await not_yours(update, context)
        return
    assert update.effective_user is not None
    t = await lang_of(update, context)
    page = await reports.list_for_user(context.services.db, update.effective_user.id, numbers[0], PAGE_SIZE)
    await show(update, *list_view(t, page))


async def own_detail(
    update: Update, context: BotContext, action: str, count: int
) -> tuple[reports.ReportDetail, list[int]] | None:
    """The report a button names, if the presser may see it; otherwise says so and returns None."""
    numbers = parse(update, action, count)
    assert update.effective_user is not None
    if numbers is None:
        await not_yours(update, context)
        return None
    try:
        detail = await reports.detail_for_user(context.services.db, numbers[0], update.effective_user.id)
    except reports.ReportNotFound:
        await not_yours(update, context)
        return None
    return detail, numbers


async def show_detail(update: Update, context: BotContext) -> None:
    """Shows one report's status, deadline and history in place of the list."""
    found = await own_detail(update, context, "show", 2)
    if found is None:
        return
    detail, numbers = found
    t = await lang_of(update, context)
    await show(update, *detail_view(t, detail, numbers[1], context))


async def confirm_withdraw(update: Update, context: BotContext) -> None:
    """Asks whether to really withdraw the report."""
    found = await own_detail(update, context, "withdraw", 2)
    if found is None:
        return
    detail, numbers = found
    t = await lang_of(update, context)
    if not detail.can_withdraw:
        await cannot_withdraw(update, t)
        return
    text = t._(
        "Withdraw report <b>{number}</b>? Staff will stop working on it. This cannot be undone.",
        number=detail.report.public_no,
    )
    markup = InlineKeyboardMarkup(
        [
            [button(t._("↩️ Yes, withdraw it"), "withdrawn", numbers[0], numbers[1])],
            [button(t._("No, keep it"), "show", numbers[0], numbers[1])],
        ]
    )
    await show(update, text, markup)


async def withdraw(update: Update, context: BotContext) -> None:
    """Withdraws the report (until it is dispatched) and shows it again."""
    numbers = parse(update, "withdrawn", 2)
    assert update.effective_user is not None
    if numbers is None:
        await not_yours(update, context)
        return
    services = context.services
    t = await lang_of(update, context)
    policy = reports.policy_from(
        services.settings, services.lang(services.settings.default_language), services.service_area
    )
    try:
        await reports.withdraw_report(services.db, numbers[0], update.effective_user.id, services.clock.now(), policy)
    except (reports.ReportNotFound, reports.NotReporter):
        await not_yours(update, context)
        return
    except reports.InvalidTransition:
        await cannot_withdraw(update, t)
        return
    detail = await reports.detail_for_user(services.db, numbers[0], update.effective_user.id)
    await show(update, *detail_view(t, detail, numbers[1], context))


async def cannot_withdraw(update: Update, t: Lang) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer(
        t._(
            "This report is already with an officer, so it can no longer be withdrawn. "
            "You can add information to it instead."
        ),
        show_alert=True,
    )


# ------------------------------------------------------------------ adding information
async def ask_information(update: Update, context: BotContext) -> int | None:
    """Asks for the text or photo to add to the report."""
    found = await own_detail(update, context, "info", 1)
    if found is None:
        return ConversationHandler.END
    detail, _ = found
    assert update.effective_user is not None and update.callback_query is not None
    t = await lang_of(update, context)
    await update.callback_query.answer()
    assert context.user_data is not None
    context.user_data[_INFO_REPORT] = detail.report.id
    await context.bot.send_message(
        update.effective_user.id,
        t._(
            "What would you like to add to <b>{number}</b>? Send a text or a photo (with a caption if you like).",
            number=detail.report.public_no,
        ),
        reply_markup=InlineKeyboardMarkup([[button(t._("❌ Cancel"), "cancel")]]),
    )
    return ADD_INFO


async def receive_information(update: Update, context: BotContext) -> int:
    """Appends the text or photo to the report and tells staff."""
    message = update.effective_message
    assert message is not None and update.effective_user is not None and context.user_data is not None
    t = await lang_of(update, context)
    text = (message.text or message.caption or "").strip() or None
    photo = message.photo[-1].file_id if message.photo else None
    if text is not None and len(text) > reports.INFO_MAX:
        await message.reply_text(
            t._("Please keep it to {most} characters (you wrote {count}).", most=reports.INFO_MAX, count=len(text))
        )
        return ADD_INFO
    services = context.services
    report_id = context.user_data.pop(_INFO_REPORT, None)
    policy = reports.policy_from(
        services.settings, services.lang(services.settings.default_language), services.service_area
    )
    try:
        if not isinstance(report_id, int):
            raise reports.ReportNotFound(report_id)
        await reports.add_information(
            services.db,
            report_id,
            update.effective_user.id,
            services.clock.now(),
            policy,
            text=text,
            photo_file_id=photo,
        )
        report = await reports.get_report(services.db, report_id)
    except reports.ReportNotFound:
        await message.reply_text(t._("I cannot find that report among yours. Please open 📋 My reports again."))
        return ConversationHandler.END
    await message.reply_text(
        t._("Thank you! I added it to <b>{number}</b> and told the staff.", number=report.public_no),
        reply_markup=main_menu(t),
    )
    return ConversationHandler.END


async def hint_information(update: Update, context: BotContext) -> int:
    """Anything but text or a photo while adding information: says what fits."""
    t = await lang_of(update, context)
    assert update.effective_message is not None
    await update.effective_message.reply_text(t._("Please send a text or a photo, or press “Cancel”."))
    return ADD_INFO


async def cancel_information(update: Update, context: BotContext) -> int:
    """Stops adding information; nothing is changed."""
    t = await lang_of(update, context)
    if context.user_data is not None:
        context.user_data.pop(_INFO_REPORT, None)
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id, t._("Nothing was added. Here is the menu."), reply_markup=main_menu(t)
    )
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The list and detail buttons, and the small conversation that adds information."""
    mine = callbacks.pattern(callbacks.MY_REPORTS)
    adding = ConversationHandler(
        entry_points=[CallbackQueryHandler(ask_information, pattern=mine + "info:")],
        states={
            ADD_INFO: [
                MessageHandler((filters.TEXT & ~filters.COMMAND & NOT_MENU) | filters.PHOTO, receive_information),
                MessageHandler(~filters.COMMAND & NOT_MENU & ~filters.StatusUpdate.ALL, hint_information),
            ]
        },
        fallbacks=[
            CommandHandler("cancel", cancel_information),
            CallbackQueryHandler(cancel_information, pattern=mine + "cancel$"),
            MessageHandler(filters.ChatType.PRIVATE & ~NOT_MENU, cancel_information),
        ],
        name="my_reports",
        persistent=True,
    )
    return [
        CommandHandler("myreports", show_list, filters=filters.ChatType.PRIVATE),
        MessageHandler(menu_button(MENU_MY_REPORTS), show_list),
        adding,
        CallbackQueryHandler(turn_page, pattern=mine + "page:"),
        CallbackQueryHandler(show_detail, pattern=mine + "show:"),
        CallbackQueryHandler(confirm_withdraw, pattern=mine + "withdraw:"),
        CallbackQueryHandler(withdraw, pattern=mine + "withdrawn:"),
        CallbackQueryHandler(not_yours, pattern=mine),
    ]
