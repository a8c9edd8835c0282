"""The card's desk row: internal notes, public replies and the moderation menu, and the answers to their questions.

A note or a reply, a reason to hide something and a reason to block are typed text, asked with ForceReply exactly as
the card's moves ask theirs (handlers/case_cards.py): the question is a ``staff_prompts`` row keyed by the chat and
the question's message, answered only by the person who pressed, and its ``target`` says what a moderation is about.
Who may do what is decided by the core at the moment of the press and again at the answer (bot.people.staff):
notes and replies for desk staff and the case's officer, moderation for supervisors and admins.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot import wire
from bot.cases import card, moderation, moves, notes
from bot.cases.moderation import ModerationError
from bot.cases.moves import NoteInvalid
from bot.cases.states import Report, ReportNotFound, get_report
from bot.edge import calls as edge
from bot.people import staff
from bot.people.staff import Action, NotAllowed
from bot.platform.i18n import N_, Lang
from handlers.case_cards import STALE, answered_prompt, markup_of, mention, post_question, refusal
from handlers.common import BotContext, lang_of, stale_button

log = logging.getLogger(__name__)

DESK_ANSWER_GROUP = -2  # ahead of case_cards.ANSWER_GROUP: a reply to a desk question is claimed here
DESK_ACTIONS = frozenset({Action.NOTE, Action.REPLY, Action.MODERATE})

QUESTIONS = {
    "note": N_(
        "{name}, write your internal note on case {number} in reply to this message. Only staff will see it, "
        "on the card's history."
    ),
    "reply": N_(
        "{name}, write your public reply on case {number} in reply to this message. Every resident who follows "
        "the case will read it, in “My reports” too."
    ),
    moderation.DESCRIPTION: N_(
        "{name}, why should the description of case {number} be hidden from the public? Reply to this message "
        "with the reason (kept in the case's history)."
    ),
    moderation.PHOTO: N_(
        "{name}, why should photo {photo} of case {number} be hidden from the public? Reply to this message "
        "with the reason (kept in the case's history)."
    ),
    moderation.REPORTER: N_(
        "{name}, why should the reporter of case {number} be blocked? Reply to this message with the reason; "
        "they will read it. To block for a while, start with the end, e.g. “30d spam” or “2026-12-31 abuse”."
    ),
}


# ------------------------------------------------------------------ presses
async def press_notes(update: Update, context: BotContext) -> None:
    """📝 / 💬: asks for the note or the reply, once the presser may write one on this case."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    pressed = wire.notes_button(query.data)
    if pressed is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    action = Action.NOTE if pressed.action == "note" else Action.REPLY
    try:
        report = await get_report(context.services.db, pressed.report_id)
        await staff.authorize(context.services.db, user.id, action, context.desk.admin_ids, assignee=report.assignee)
    except NotAllowed as error:
        await edge.answer(query, refusal(t, error), alert=True)
        return
    except ReportNotFound:
        await edge.answer(query, t._(STALE), alert=True)
        return
    await ask(update, context, t, report, action, pressed.action, pressed.action)


async def press_moderation(update: Update, context: BotContext) -> None:
    """🛡 and its menu: hide or show, block or unblock at once, or ask for the reason first."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    pressed = wire.moderation_button(query.data)
    if pressed is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    services, desk = context.services, context.desk
    now = services.clock.now()
    try:
        report = await get_report(services.db, pressed.report_id)
        await staff.authorize(services.db, user.id, Action.MODERATE, desk.admin_ids)
        photo_target = moderation.target_of_photo(pressed.photo_id or 0)
        match pressed.action:
            case "menu":
                await edge.edit_buttons(query, await moderation_menu(context, t, report))
                await edge.answer(query, t._("Choose what to moderate."))
            case "back":
                await edge.edit_buttons(query, markup_of(card.keyboard(t, report, card.GROUP_BUTTONS)))
                await edge.answer(query)
            case "hide":
                await ask(update, context, t, report, Action.MODERATE, moderation.DESCRIPTION, moderation.DESCRIPTION)
            case "hidep":
                number = await photo_number(context, report, pressed.photo_id or 0)
                await ask(update, context, t, report, Action.MODERATE, moderation.PHOTO, photo_target, photo=number)
            case "block":
                await ask(update, context, t, report, Action.MODERATE, moderation.REPORTER, moderation.REPORTER)
            case "show" | "showp":
                target = moderation.DESCRIPTION if pressed.action == "show" else photo_target
                await moderation.set_hidden(
                    services.db, user.id, report.id, target, False, "", now, desk, after=context.after_commit
                )
                await edge.answer(query, t._("Done: it is public again."))
            case "unblock":
                await moderation.unblock(
                    services.db, user.id, now, desk, report_id=report.id, after=context.after_commit
                )
                await edge.answer(query, t._("Done: the reporter may write again."))
    except NotAllowed as error:
        await edge.answer(query, refusal(t, error), alert=True)
    except ReportNotFound:
        await edge.answer(query, t._(STALE), alert=True)
    except ModerationError as error:
        await edge.answer(query, moderation_problem(t, error), alert=True)


async def photo_number(context: BotContext, report: Report, photo_id: int) -> int:
    for photo in await moderation.photos_of(context.services.db, report.id):
        if photo.id == photo_id:
            return photo.number
    raise ModerationError("no_photo")


async def moderation_menu(context: BotContext, t: Lang, report: Report) -> InlineKeyboardMarkup:
    """The moderation buttons in place of the card's: the description, each photo, the reporter, and back."""
    db, now = context.services.db, context.services.clock.now()
    hidden = await db.fetchone("SELECT description_hidden FROM reports WHERE id = ?", (report.id,))

    def button(label: str, action: str, *extra: object) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=wire.make(wire.MODERATION, action, report.id, *extra))

    rows = [
        [button(t._("👁 Show the description"), "show")]
        if hidden and hidden[0]
        else [button(t._("🙈 Hide the description"), "hide")]
    ]
    for photo in await moderation.photos_of(db, report.id):
        if photo.hidden:
            rows.append([button(t._("👁 Show photo {number}", number=photo.number), "showp", photo.id)])
        else:
            rows.append([button(t._("🙈 Hide photo {number}", number=photo.number), "hidep", photo.id)])
    if await moderation.active_block(db, report.reporter_id, now):
        rows.append([button(t._("✅ Unblock the reporter"), "unblock")])
    else:
        rows.append([button(t._("🚫 Block the reporter"), "block")])
    rows.append([button(t._("◀️ Back"), "back")])
    return InlineKeyboardMarkup(rows)


async def ask(
    update: Update,
    context: BotContext,
    t: Lang,
    report: Report,
    action: Action,
    question: str,
    target: str,
    **extra: Any,
) -> None:
    """Asks the presser, in the chat of the card, for the text, and remembers the question."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    text = t._(QUESTIONS[question], name=mention(user.id, user.first_name), number=report.public_no, **extra)
    await post_question(update, context, report, action, text, target)
    await edge.answer(query, t._("Please reply to my question below."))


# ------------------------------------------------------------------ answers
async def answer_desk_question(update: Update, context: BotContext) -> None:
    """Takes a reply to a note, reply or moderation question (from the person asked); other replies pass on."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    services = context.services
    prompt = await answered_prompt(message, context)
    if prompt is None or prompt.action not in DESK_ACTIONS:
        return
    t = await lang_of(update, context)
    if prompt.user_id != user.id:
        log.warning("refused: user %s answered a question meant for user %s", user.id, prompt.user_id)
        await message.reply_text(
            t._("This question is for the colleague who pressed the button. To write yourself, press the button.")
        )
        raise ApplicationHandlerStop
    if prompt.expired(services.clock.now()):
        await moves.drop_prompt(services.db, prompt.chat_id, prompt.message_id)
        await message.reply_text(t._("This question has expired. Please press the button on the card again."))
        raise ApplicationHandlerStop
    if message.text is None:
        await message.reply_text(t._("Please answer in words, replying to my question."))
        raise ApplicationHandlerStop
    await settle(message, context, t, prompt, user.id)
    services.wake_outbox()
    raise ApplicationHandlerStop


async def settle(message: Message, context: BotContext, t: Lang, prompt: moves.Prompt, user_id: int) -> None:
    """Writes the note or reply, or makes the moderation; a bad text leaves the question open for another try."""
    services, desk = context.services, context.desk
    now, text, asked = services.clock.now(), message.text or "", (prompt.chat_id, prompt.message_id)
    try:
        if prompt.action in notes.NOTE_ACTIONS:
            written = await notes.write(
                services.db, user_id, prompt.action, prompt.report_id, text, now, desk, prompt=asked
            )
            if prompt.action is Action.NOTE:
                done = t._("Done: the internal note is on case {number}.", number=written.report.public_no)
            else:
                done = t.n_(
                    "Done: the reply on case {number} goes to {count} resident.",
                    "Done: the reply on case {number} goes to {count} residents.",
                    written.residents_told,
                    number=written.report.public_no,
                )
        elif prompt.target == moderation.REPORTER:
            until, reason = moderation.parse_block(text, now, desk)
            await moderation.block(
                services.db, user_id, reason, until, now, desk, report_id=prompt.report_id, prompt=asked
            )
            done = t._("Done: the reporter is blocked. /blocked lists everyone blocked.")
        else:
            await moderation.set_hidden(
                services.db, user_id, prompt.report_id, prompt.target, True, text, now, desk, prompt=asked
            )
            done = t._("Done: it is hidden from the public.")
    except NoteInvalid:
        await message.reply_text(
            t._(
                "Please write between {min} and {max} characters, replying to my question again.",
                min=moves.NOTE_MIN,
                max=moves.NOTE_MAX,
            )
        )
        return
    except ModerationError as error:
        await message.reply_text(moderation_problem(t, error))
        if error.kind in {"past", "far"}:
            return  # a typing slip: the question stays open
        await moves.drop_prompt(services.db, prompt.chat_id, prompt.message_id)
        return
    except (NotAllowed, ReportNotFound) as error:
        await moves.drop_prompt(services.db, prompt.chat_id, prompt.message_id)
        await message.reply_text(refusal(t, error) if isinstance(error, NotAllowed) else t._(STALE))
        return
    await message.reply_text(done)


def moderation_problem(t: Lang, error: ModerationError) -> str:
    if error.kind == "staff":
        return t._("Staff members cannot be blocked. An administrator can change their role with /staff.")
    if error.kind == "self":
        return t._("You cannot block yourself.")
    if error.kind == "nobody":
        return t._("This case has no reporter in Telegram (it came from another channel, or they were forgotten).")
    if error.kind == "past":
        return t._("That end is already past. Please reply again with a later end, or none.")
    if error.kind == "far":
        return t._("That date is too far away. Please reply again with an earlier end, or none.")
    if error.kind == "not_blocked":
        return t._("This person is not blocked.")
    return t._("That photo is not on this case any more.")


# ------------------------------------------------------------------ wiring
def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The desk row's buttons (group 0)."""
    return [
        CallbackQueryHandler(press_notes, pattern=wire.pattern(wire.NOTES)),
        CallbackQueryHandler(press_moderation, pattern=wire.pattern(wire.MODERATION)),
    ]


def build_answer_handler() -> BaseHandler[Any, Any, Any]:
    """Replies to the desk's questions; registered in DESK_ANSWER_GROUP, ahead of the moves' questions."""
    return MessageHandler(filters.REPLY & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND, answer_desk_question)
