"""Moderation by command (/hide, /unhide, /block, /unblock, /blocked) and the resident entry guard for blocks.

The commands are for supervisors and admins (checked by the core at the moment of the command); the card's
🛡 menu does the same from a case (handlers/case_desk.py).

What "new reports and messages" means for a blocked person, decided here in one place (:data:`ENTRY_MESSAGES`,
:data:`ENTRY_BUTTONS`): whatever starts or continues something staff would read — the report wizard (/report, the
menu button, every wizard button but Cancel; "report here" on the map is stopped at its first button), "this is
mine too", "add information", and a reply in their chat (a comment on the work). They get the polite answer with
the reason and how to appeal, and nothing is filed; the case service refuses the same (bot.cases.blocks) should a
step slip past. Everything else stays open to them: their existing cases and their news, "my reports", the 核查
buttons, /settings, /privacy and /forget, and the vendor's questions (where and when to sell: no staff member reads
those, and a vendor who may no longer report should still be pointed to the legal spot).
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler
from telegram.ext import filters as f

from bot import wire
from bot.cases import moderation
from bot.cases.blocks import Block, active_block, list_blocked
from bot.cases.moderation import ModerationError
from bot.cases.moves import NoteInvalid
from bot.cases.states import Report, ReportNotFound, get_report_by_no
from bot.edge import calls as edge
from bot.people import staff
from bot.people.staff import Action, NotAllowed
from bot.platform.i18n import N_, Lang
from bot.platform.text import NOTE_SHOWN, escape
from handlers.case_cards import refusal
from handlers.case_desk import moderation_problem
from handlers.common import MENU_REPORT, BotContext, lang_of, menu_button

BLOCK_GROUP = -9  # after the guard (-10) has recorded the person, before the questions' answers and every journey

ENTRY_MESSAGES = f.ChatType.PRIVATE & (
    f.Regex(r"^/report(@\w+)?(\s|$)") | menu_button(MENU_REPORT) | (f.REPLY & ~f.COMMAND)
)
ENTRY_BUTTONS = rf"^{wire.REPORT}:(?!cancel$|discard$)|^{wire.MY_REPORTS}:info:"

USAGE = N_(
    "How to moderate (supervisors and administrators):\n"
    "/hide &lt;case&gt; &lt;reason&gt; — hide the description from the public\n"
    "/hide &lt;case&gt; photo &lt;n&gt; &lt;reason&gt; — hide a photo\n"
    "/unhide &lt;case&gt; [photo &lt;n&gt;]\n"
    "/block &lt;case or Telegram id&gt; [until] &lt;reason&gt; — until: 30d, 2026-12-31…\n"
    "/unblock &lt;number from /blocked, or case&gt;\n"
    "/blocked — everyone blocked now\n"
    "A case is its number, e.g. R20261123-0007."
)


# ------------------------------------------------------------------ the guard
def blocked_text(t: Lang, block: Block) -> str:
    """The polite answer a blocked person gets: the reason, how long, and how to appeal."""
    reason = escape(block.reason, NOTE_SHOWN)
    lines = [
        t._(
            "🙏 Sorry, you cannot send new reports or messages to the city management desk at the moment. "
            "The reason staff give: {reason}",
            reason=reason,
        ),
        t._("This lasts until {until}.", until=t.date_time(block.until))
        if block.until
        else t._("This lasts until staff lift it."),
        t._(
            "Your earlier reports stay open and you will still hear about them. If you think this is a mistake, "
            "you can appeal by calling the 12345 city service hotline and quoting this message."
        ),
    ]
    return "\n".join(lines)


async def refuse_blocked_person(update: Update, context: BotContext) -> None:
    """A resident entry point: a blocked person gets the answer and nothing goes on; anyone else passes."""
    user = update.effective_user
    if user is None:
        return
    block = await active_block(context.services.db, user.id, context.services.clock.now())
    if block is None:
        return
    t = await lang_of(update, context)
    if update.callback_query is not None:
        await edge.answer(update.callback_query)  # the answer comes as a message: an alert could not hold it
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, blocked_text(t, block))
    raise ApplicationHandlerStop


# ------------------------------------------------------------------ the commands
def command_problem(t: Lang, error: NotAllowed | NoteInvalid | ModerationError) -> str:
    """What a moderation command answers when it is refused or cannot be done as written."""
    if isinstance(error, NotAllowed):
        return refusal(t, error)
    if isinstance(error, NoteInvalid):
        return t._(USAGE)
    return moderation_problem(t, error)


async def find_case(context: BotContext, t: Lang, number: str) -> Report | str:
    try:
        return await get_report_by_no(context.services.db, number)
    except ReportNotFound:
        return t._("I cannot find case {number}.", number=escape(number, 40))


async def hide_or_show(update: Update, context: BotContext) -> None:
    """/hide and /unhide: the description, or a photo by its number."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None and message.text is not None
    t = await lang_of(update, context)
    hiding = message.text.lstrip("/").lower().startswith("hide")
    args = context.args or []
    photo = len(args) >= 3 and args[1].lower() == "photo"
    reason = " ".join(args[3:] if photo else args[1:])
    if not args or (photo and not args[2].isdigit()) or (hiding and not reason):
        await message.reply_text(t._(USAGE))
        return
    found = await find_case(context, t, args[0])
    if isinstance(found, str):
        await message.reply_text(found)
        return
    services = context.services
    target = moderation.DESCRIPTION
    try:
        if photo:
            photos = await moderation.photos_of(services.db, found.id)
            chosen = next((p for p in photos if p.number == int(args[2])), None)
            if chosen is None:
                raise ModerationError("no_photo")
            target = moderation.target_of_photo(chosen.id)
        changed = await moderation.set_hidden(
            services.db,
            user.id,
            found.id,
            target,
            hiding,
            reason,
            services.clock.now(),
            context.desk,
            after=context.after_commit,
        )
    except (NotAllowed, NoteInvalid, ModerationError) as error:
        await message.reply_text(command_problem(t, error))
        return
    if not changed:
        await message.reply_text(t._("Nothing to change: it already was so."))
    elif hiding:
        await message.reply_text(t._("Done: hidden from the public on case {number}.", number=found.public_no))
    else:
        await message.reply_text(t._("Done: public again on case {number}.", number=found.public_no))


async def block_person(update: Update, context: BotContext) -> None:
    """/block <case or Telegram id> [until] <reason>."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    t = await lang_of(update, context)
    args = context.args or []
    if len(args) < 2:
        await message.reply_text(t._(USAGE))
        return
    services, desk = context.services, context.desk
    now = services.clock.now()
    by_id = wire.number(args[0])
    found: Report | str | None = None if by_id is not None else await find_case(context, t, args[0])
    if isinstance(found, str):
        await message.reply_text(found)
        return
    try:
        until, reason = moderation.parse_block(" ".join(args[1:]), now, desk)
        block = await moderation.block(
            services.db,
            user.id,
            reason,
            until,
            now,
            desk,
            report_id=found.id if found else None,
            telegram_id=by_id,
            after=context.after_commit,
        )
    except (NotAllowed, NoteInvalid, ModerationError) as error:
        await message.reply_text(command_problem(t, error))
        return
    await message.reply_text(t._("Done: blocked as number {id}. /blocked lists everyone blocked.", id=block.id))


async def unblock_person(update: Update, context: BotContext) -> None:
    """/unblock <number from /blocked, or case>."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    t = await lang_of(update, context)
    args = context.args or []
    if len(args) != 1:
        await message.reply_text(t._(USAGE))
        return
    services = context.services
    block_id = wire.number(args[0])
    found: Report | str | None = None if block_id is not None else await find_case(context, t, args[0])
    if isinstance(found, str):
        await message.reply_text(found)
        return
    try:
        await moderation.unblock(
            services.db,
            user.id,
            services.clock.now(),
            context.desk,
            block_id=block_id,
            report_id=found.id if found else None,
            after=context.after_commit,
        )
    except (NotAllowed, ModerationError) as error:
        await message.reply_text(command_problem(t, error))
        return
    await message.reply_text(t._("Done: unblocked. They may write again."))


async def show_blocked(update: Update, context: BotContext) -> None:
    """/blocked: everyone blocked now, with the number /unblock takes."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    t = await lang_of(update, context)
    services = context.services
    try:
        await staff.authorize(services.db, user.id, Action.MODERATE, context.desk.admin_ids)
    except NotAllowed as error:
        await message.reply_text(refusal(t, error))
        return
    blocks = await list_blocked(services.db, services.clock.now())
    if not blocks:
        await message.reply_text(t._("Nobody is blocked."))
        return
    lines = [t.n_("🚫 {count} person is blocked:", "🚫 {count} people are blocked:", len(blocks))]
    lines += [blocked_line(t, block) for block in blocks]
    lines.append(t._("To lift a block: /unblock followed by its number."))
    await message.reply_text("\n".join(lines))


def blocked_line(t: Lang, block: Block) -> str:
    who = (
        t._("the reporter of {number}", number=block.report_no)
        if block.report_no
        else t._("Telegram id {id}", id=block.telegram_id)
    )
    until = t._("until {date}", date=t.date_time(block.until)) if block.until else t._("until lifted")
    return t._(
        "• No. {id}: {who} — {reason} — {until} (by {staff}, {when})",
        id=block.id,
        who=who,
        reason=escape(block.reason, NOTE_SHOWN),
        until=until,
        staff=escape(block.blocked_by, 40),
        when=t.date_time(block.blocked_at),
    )


# ------------------------------------------------------------------ wiring
def build_guard() -> list[BaseHandler[Any, Any, Any]]:
    """The block check at every resident entry point; registered in BLOCK_GROUP."""
    return [
        MessageHandler(ENTRY_MESSAGES, refuse_blocked_person),
        CallbackQueryHandler(refuse_blocked_person, pattern=ENTRY_BUTTONS),
    ]


def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler(["hide", "unhide"], hide_or_show),
        CommandHandler("block", block_person),
        CommandHandler("unblock", unblock_person),
        CommandHandler("blocked", show_blocked),
    ]
