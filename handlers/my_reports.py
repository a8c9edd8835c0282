"""My reports: a paged list, each report's history and deadline, adding information, withdrawing.

Every report id in a button is checked against the person pressing it (bot.cases.mine.detail_for_user), so a
guessed number or forged callback data shows nothing and changes nothing.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import wire
from bot.cases import mine, service, states
from bot.cases.blocks import PersonBlocked
from bot.cases.card import description_text, place_lines
from bot.cases.mine import ReportDetail, ReportPage
from bot.cases.states import ReportEvent
from bot.edge import calls as edge
from bot.platform.i18n import Lang
from bot.platform.text import NOTE_SHOWN, TEXT_LIMIT, escape, fit, take_fitting, visible_len
from handlers.common import (
    MENU_LABELS,
    MENU_MY_REPORTS,
    BotContext,
    lang_of,
    main_menu,
    menu_button,
    stale_button,
    translations_of,
)
from handlers.moderation import blocked_text

ADD_INFO = 0
PAGE_SIZE = 5
LEFT_OUT_ROOM = 100  # kept free in a report's view for the line saying how many entries were left out
_INFO_REPORT = "info_report"  # user_data key: the report the next message is added to

NOT_MENU = ~filters.Text([label for menu in MENU_LABELS for label in translations_of(menu)])


def button(label: str, *parts: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=wire.make(wire.MY_REPORTS, *parts))


def parse(update: Update, action: str) -> wire.MineButton | None:
    """A ``mine:<action>:…`` button as bot.wire reads it, or None for anything else (stale or forged)."""
    assert update.callback_query is not None
    pressed = wire.my_reports(update.callback_query.data)
    return pressed if pressed is not None and pressed.action == action else None


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
            state=t._(states.STATE_NAMES[item.state]),
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
        return t._("• {time}: you added information. {note}", time=when, note=escape(event.note, NOTE_SHOWN))
    if event.kind == "reply":
        return t._("• {time}: 💬 city staff wrote: {note}", time=when, note=escape(event.note, NOTE_SHOWN))
    state = t._(states.STATE_NAMES[event.to_state]) if event.to_state else ""
    if event.public and event.note:
        return t._("• {time}: {state}. {note}", time=when, state=state, note=escape(event.note, NOTE_SHOWN))
    return t._("• {time}: {state}", time=when, state=state)


def detail_view(t: Lang, detail: ReportDetail, offset: int, context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    report = detail.report
    lines = [
        t._(
            "<b>{number}</b> · {category}",
            number=report.public_no,
            category=t._(states.category_of(report.category).name),
        ),
        t._("Status: {state}", state=t._(states.STATE_NAMES[report.state])),
    ]
    if report.is_open:
        lines.append(t._("To be handled by: {deadline}", deadline=t.date_time(report.due_at)))
    lines += place_lines(t, report, context.services.service_area)
    lines.append(
        t._(
            "Description: {description}",
            description=t._("(hidden by a moderator)")
            if detail.description_hidden
            else description_text(t, report.description, report.voice_file_id),
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
    lines += ["", t._("History:")]
    # The latest entries that fit: a report's fields are bounded, what was added to it over time is not.
    room = TEXT_LIMIT - visible_len("\n".join(lines)) - LEFT_OUT_ROOM
    shown, left_out = take_fitting([event_line(t, event) for event in detail.events], room, latest=True)
    if left_out:
        lines.append(
            t.n_(
                "({count} earlier entry is not shown here.)", "({count} earlier entries are not shown here.)", left_out
            )
        )
    lines += shown
    rows = []
    if report.is_open:
        rows.append([button(t._("➕ Add information"), "info", report.id)])
    if detail.can_withdraw:
        rows.append([button(t._("↩️ Withdraw"), "withdraw", report.id, offset)])
    rows.append([button(t._("◀️ Back to the list"), "page", offset)])
    return fit("\n".join(lines)), InlineKeyboardMarkup(rows)


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Redraws the message the button was under (a list or a detail)."""
    query = update.callback_query
    assert query is not None
    await edge.answer(query)
    await edge.edit_text(query, text, markup)  # a double tap finds it drawn already: nothing to do


async def not_yours(update: Update, context: BotContext) -> None:
    """Forged data, a guessed number or a report gone: one answer for all, revealing nothing."""
    t = await lang_of(update, context)
    assert update.callback_query is not None
    await update.callback_query.answer(
        t._("I cannot find that report among yours. Please open 📋 My reports again."), show_alert=True
    )


async def unclaimed(update: Update, context: BotContext) -> None:
    """A ``mine:`` button no handler above took: forged data is stale; a real one (an "add" while another waits)
    finds nothing to act on."""
    assert update.callback_query is not None
    if wire.my_reports(update.callback_query.data) is None:
        await stale_button(update, context)
    else:
        await not_yours(update, context)


# ------------------------------------------------------------------ the list and the detail
async def show_list(update: Update, context: BotContext) -> None:
    """Lists the person's reports, newest first."""
    assert update.effective_user is not None and update.effective_message is not None
    t = await lang_of(update, context)
    page = await mine.list_for_user(context.services.db, update.effective_user.id, 0, PAGE_SIZE)
    text, markup = list_view(t, page)
    await update.effective_message.reply_text(text, reply_markup=markup or main_menu(t))


async def turn_page(update: Update, context: BotContext) -> None:
    """Shows another page of the list in place."""
    pressed = parse(update, "page")
    if pressed is None:
        await stale_button(update, context)
        return
    assert update.effective_user is not None
    t = await lang_of(update, context)
    page = await mine.list_for_user(context.services.db, update.effective_user.id, pressed.offset, PAGE_SIZE)
    await show(update, *list_view(t, page))


async def own_detail(update: Update, context: BotContext, action: str) -> tuple[ReportDetail, wire.MineButton] | None:
    """The report a button names, if the presser may see it; otherwise says so and returns None."""
    pressed = parse(update, action)
    assert update.effective_user is not None
    if pressed is None or pressed.report_id is None:
        await stale_button(update, context)
        return None
    try:
        detail = await mine.detail_for_user(context.services.db, pressed.report_id, update.effective_user.id)
    except states.ReportNotFound:
        await not_yours(update, context)
        return None
    return detail, pressed


async def show_detail(update: Update, context: BotContext) -> None:
    """Shows one report's status, deadline and history in place of the list."""
    found = await own_detail(update, context, "show")
    if found is None:
        return
    detail, pressed = found
    t = await lang_of(update, context)
    await show(update, *detail_view(t, detail, pressed.offset, context))


async def confirm_withdraw(update: Update, context: BotContext) -> None:
    """Asks whether to really withdraw the report."""
    found = await own_detail(update, context, "withdraw")
    if found is None:
        return
    detail, pressed = found
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
            [button(t._("↩️ Yes, withdraw it"), "withdrawn", detail.report.id, pressed.offset)],
            [button(t._("No, keep it"), "show", detail.report.id, pressed.offset)],
        ]
    )
    await show(update, text, markup)


async def withdraw(update: Update, context: BotContext) -> None:
    """Withdraws the report (until it is dispatched) and shows it again."""
    pressed = parse(update, "withdrawn")
    assert update.effective_user is not None
    if pressed is None or pressed.report_id is None:
        await stale_button(update, context)
        return
    services = context.services
    t = await lang_of(update, context)
    try:
        await service.withdraw(
            services.db,
            pressed.report_id,
            update.effective_user.id,
            services.clock.now(),
            context.policy,
            context.after_commit,
        )
    except (states.ReportNotFound, states.NotReporter):
        await not_yours(update, context)
        return
    except states.InvalidTransition:
        await cannot_withdraw(update, t)
        return
    detail = await mine.detail_for_user(services.db, pressed.report_id, update.effective_user.id)
    await show(update, *detail_view(t, detail, pressed.offset, context))


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
    found = await own_detail(update, context, "info")
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
    if text is not None and len(text) > states.INFO_MAX:
        await message.reply_text(
            t._("Please keep it to {most} characters (you wrote {count}).", most=states.INFO_MAX, count=len(text))
        )
        return ADD_INFO
    services = context.services
    report_id = context.user_data.pop(_INFO_REPORT, None)
    try:
        if not isinstance(report_id, int):
            raise states.ReportNotFound(report_id)
        await service.add_info(
            services.db,
            report_id,
            update.effective_user.id,
            services.clock.now(),
            context.policy,
            text=text,
            photo_file_id=photo,
            after=context.after_commit,
        )
        report = await states.get_report(services.db, report_id)
    except PersonBlocked as error:  # blocked after pressing "Add information": nothing is added
        await message.reply_text(blocked_text(t, error.block))
        return ConversationHandler.END
    except states.ReportNotFound:
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
        await edge.answer(update.callback_query)
        await edge.edit_buttons(update.callback_query, None)
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id, t._("Nothing was added. Here is the menu."), reply_markup=main_menu(t)
    )
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The list and detail buttons, and the small conversation that adds information."""
    mine = wire.pattern(wire.MY_REPORTS)
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
        CallbackQueryHandler(unclaimed, pattern=mine),
    ]
