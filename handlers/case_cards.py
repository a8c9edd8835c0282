"""Case cards in the staff group and officers' chats: their buttons, and the questions asked with ForceReply.

Who may do what is decided by the core (bot.people.staff, bot.cases.moves, bot.cases.service) from the person's
role at that moment; these handlers only parse, call and answer: one small function per kind of press (PRESSES).
A question (a reason, a note, a case number) is kept in the database keyed by the chat and the question's message,
so a staff member may have several open at once, a restart forgets none,
and only the reply of the person who pressed the button, to that very question, answers it. That is why this
journey is a set of handlers around a table rather than a ConversationHandler, whose one state per person could
hold only one question.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from bot import wire
from bot.cases import card, card_posts, moves, service
from bot.cases.card import ButtonPress
from bot.cases.config import Desk
from bot.cases.moves import CaseworkError
from bot.cases.states import STATE_NAMES, InvalidTransition, Report, ReportNotFound, ReportState, StateChanged
from bot.edge import calls as edge
from bot.people import staff
from bot.people.staff import Action, NotAllowed
from bot.platform.i18n import N_, Lang
from bot.platform.text import NAME_SHOWN, clip, escape
from handlers.common import BotContext, lang_of, stale_button

log = logging.getLogger(__name__)

ANSWER_GROUP = -1  # answers to our questions are claimed before any journey (a colleague may be mid-wizard)

STALE = N_("This button is not valid. Please use the buttons on the latest card.")
QUESTIONS = {
    Action.REJECT: N_(
        "{name}, why is case {number} not accepted? Reply to this message with the reason; the resident will read it."
    ),
    Action.RETURN: N_(
        "{name}, which department or body is responsible for case {number}? Reply to this message with its name "
        "(and why); the resident will read it."
    ),
    Action.DUPLICATE: N_(
        "{name}, which case is {number} a duplicate of? Reply to this message with the other case's number, "
        "e.g. {example}."
    ),
    Action.RESOLVE: N_(
        "{name}, what was done about case {number}? Reply to this message with a short note for the resident. "
        "You may send an after-photo with the note as its caption."
    ),
}


def mention(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={int(user_id)}">{escape(name, NAME_SHOWN)}</a>'


def refusal(t: Lang, error: NotAllowed) -> str:
    if error.reason == "not_staff":
        return t._("Sorry, only city staff can do this.")
    if error.reason == "not_assignee":
        return t._("Sorry, only the officer this case was sent to can do this.")
    assert error.role is not None
    return t._("Sorry, your role ({role}) cannot do this.", role=t._(staff.ROLE_NAMES[error.role]))


def state_name(t: Lang, state: ReportState) -> str:
    return t._(STATE_NAMES[state])


def done_text(t: Lang, report: Report) -> str:
    return t._("Done: case {number} is now “{state}”.", number=report.public_no, state=state_name(t, report.state))


def moved_on_text(t: Lang, error: StateChanged, number: str) -> str:
    return t._(
        "Someone was quicker: case {number} is already “{state}”. The card has been updated.",
        number=number,
        state=state_name(t, error.from_state),
    )


def markup_of(data: dict[str, Any]) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
        for row in data["inline_keyboard"]
    ]
    return InlineKeyboardMarkup(rows)


# ------------------------------------------------------------------ case buttons
async def press_case_button(update: Update, context: BotContext) -> None:
    """Acts on a card's button: moves the case, asks the question the move needs, or lists the officers."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    press = card.parse_button(query.data)
    if press is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    services = context.services
    desk = context.desk
    await keep_pressed_copy(update, context, press, desk)
    try:
        await PRESSES.get(press.action, press_move)(update, context, t, press)
    except NotAllowed as error:
        await query.answer(refusal(t, error), show_alert=True)
    except StateChanged as error:
        await service.refresh(services.db, press.report_id, services.clock.now(), desk)
        await query.answer(moved_on_text(t, error, await case_number(context, press.report_id)), show_alert=True)
    except InvalidTransition as error:
        await query.answer(
            t._(
                "This cannot be done while case {number} is “{state}”.",
                number=await case_number(context, press.report_id),
                state=state_name(t, error.from_state),
            ),
            show_alert=True,
        )
    except ReportNotFound:
        await query.answer(t._(STALE), show_alert=True)
    except moves.NotAnOfficer as error:
        await query.answer(
            t._("{name} is no longer a field officer. Please choose someone else.", name=clip(error.name, NAME_SHOWN)),
            show_alert=True,
        )
    services.wake_outbox()


async def case_number(context: BotContext, report_id: int) -> str:
    """The case's public number, read only when a refusal names it (most presses need no extra read)."""
    return (await moves.load_number(context.services.db, report_id)) or str(report_id)


async def keep_pressed_copy(update: Update, context: BotContext, press: ButtonPress, desk: Desk) -> None:
    """Remembers the pressed card if it is a copy the bot did not know it had sent, so every move edits it too."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    # The message's own buttons (as Telegram shows them; a client can forge the press's data) must name the case.
    shown = [
        card.parse_button(button.callback_data)
        for row in message.reply_markup.inline_keyboard
        for button in row
        if isinstance(button.callback_data, str)
    ]
    if press.report_id not in {found.report_id for found in shown if found is not None}:
        return
    services = context.services
    chat, copy, user = message.chat.id, message.message_id, update.effective_user.id
    if await card_posts.keep_copy(services.db, press.report_id, chat, copy, user, services.clock.now(), desk):
        log.info("case %s: its card's copy %s in chat %s is kept in step", press.report_id, copy, chat)


# One function per kind of press; a move's name (accept, start, close…) goes to press_move.
Press = Callable[[Update, BotContext, Lang, ButtonPress], Awaitable[None]]


async def press_back(update: Update, context: BotContext, t: Lang, press: ButtonPress) -> None:
    """Leaves the officer list: the card's own buttons again."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    user_id = update.effective_user.id
    report = await moves.check(
        context.services.db, user_id, Action.DISPATCH, press.report_id, press.expected, context.desk
    )
    await edge.edit_buttons(query, markup_of(card.keyboard(t, report, card.GROUP_BUTTONS)))
    await query.answer()


async def press_officer(update: Update, context: BotContext, t: Lang, press: ButtonPress) -> None:
    """An officer was chosen: the case is dispatched to them."""
    await make_move(update, context, t, press, Action.DISPATCH, officer_id=press.officer_id)


async def press_dispatch(update: Update, context: BotContext, t: Lang, press: ButtonPress) -> None:
    """Dispatch: first the officers to choose from."""
    assert update.effective_user is not None
    db, user_id = context.services.db, update.effective_user.id
    report = await moves.check(db, user_id, Action.DISPATCH, press.report_id, press.expected, context.desk)
    await offer_officers(update, context, t, report, context.desk)


async def press_move(update: Update, context: BotContext, t: Lang, press: ButtonPress) -> None:
    """A move: asked about first (a reason, a body, a number, a note), or made at once."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    action = Action(press.action)
    if action in moves.ASKING:
        db, user_id = context.services.db, update.effective_user.id
        report = await moves.check(db, user_id, action, press.report_id, press.expected, context.desk)
        await ask_question(update, context, t, report, action)
        await query.answer(t._("Please reply to my question below."))
        return
    await make_move(update, context, t, press, action)


async def make_move(
    update: Update, context: BotContext, t: Lang, press: ButtonPress, action: Action, officer_id: int | None = None
) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    services = context.services
    outcome = await service.move(
        services.db,
        update.effective_user.id,
        action,
        press.report_id,
        press.expected,
        services.clock.now(),
        context.desk,
        officer_id=officer_id,
        after=context.after_commit,
    )
    await query.answer(done_text(t, outcome.report))


PRESSES: dict[str, Press] = {"back": press_back, "to": press_officer, Action.DISPATCH.value: press_dispatch}


async def offer_officers(update: Update, context: BotContext, t: Lang, report: Report, desk: Desk) -> None:
    """Swaps the card's buttons for the officers (the case's grid's, then its district's first) and a way back."""
    query = update.callback_query
    assert query is not None
    suggested = await moves.grid_suggestions(context.services.db, report, desk)
    officers = await moves.dispatch_choices(context.services.db, report, suggested)
    if not officers:
        await query.answer(
            t._("There are no field officers yet. An administrator can invite some with /invite officer."),
            show_alert=True,
        )
        return
    rows = []
    for officer in officers:
        places = [desk.area.by_code(code) for code in officer.districts] if desk.area else []
        names = t.list_text(place.name(t.code) for place in places if place is not None)
        label = t._("👮 {name} ({districts})", name=officer.name, districts=names) if names else f"👮 {officer.name}"
        if officer.telegram_id in suggested:
            label = t._("⭐ {name} (officer of this grid)", name=officer.name)
        data = card.button_data("to", report.id, report.state, officer.telegram_id)
        rows.append([InlineKeyboardButton(label, callback_data=data)])
    rows.append([InlineKeyboardButton(t._("◀️ Back"), callback_data=card.button_data("back", report.id, report.state))])
    await edge.edit_buttons(query, InlineKeyboardMarkup(rows))
    await query.answer(t._("Choose the officer."))


async def ask_question(update: Update, context: BotContext, t: Lang, report: Report, action: Action) -> None:
    """Asks the presser, in the chat of the card, for the reason / body / number / note, and remembers it."""
    user = update.effective_user
    assert user is not None
    question = t._(
        QUESTIONS[action], name=mention(user.id, user.first_name), number=report.public_no, example="R20261123-0007"
    )
    await post_question(update, context, report, action, question)


async def post_question(
    update: Update, context: BotContext, report: Report, action: Action, question: str, target: str = ""
) -> None:
    """Sends the question to the presser under the card, for a reply, and remembers it for their answer."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None and query.message is not None
    chat_id = query.message.chat.id
    asked = await context.bot.send_message(
        chat_id,
        question,
        reply_parameters=ReplyParameters(query.message.message_id, allow_sending_without_reply=True),
        reply_markup=ForceReply(selective=True),
    )
    services = context.services
    await moves.open_prompt(
        services.db, chat_id, asked.message_id, user.id, report.id, action, report.state, services.clock.now(), target
    )


# ------------------------------------------------------------------ answers to questions
async def answered_prompt(message: Message, context: BotContext) -> moves.Prompt | None:
    """The stored question of ours that this message replies to, or None when it answers none."""
    asked = message.reply_to_message
    if asked is None or asked.from_user is None or asked.from_user.id != context.bot.id:
        return None
    return await moves.find_prompt(context.services.db, message.chat.id, asked.message_id)


async def answer_question(update: Update, context: BotContext) -> None:
    """Takes a reply to one of our questions (from the person asked) and makes the move; other replies pass on."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    services = context.services
    prompt = await answered_prompt(message, context)
    if prompt is None:
        return
    t = await lang_of(update, context)
    if prompt.user_id != user.id:
        log.warning("refused: user %s answered a question meant for user %s", user.id, prompt.user_id)
        await message.reply_text(
            t._(
                "This question is for the colleague who pressed the button. "
                "To act on the case yourself, press its button."
            )
        )
        raise ApplicationHandlerStop
    await settle_answer(message, context, t, prompt)
    services.wake_outbox()
    raise ApplicationHandlerStop


async def settle_answer(message: Message, context: BotContext, t: Lang, prompt: moves.Prompt) -> None:
    services = context.services
    now = services.clock.now()
    if prompt.expired(now):
        await moves.drop_prompt(services.db, prompt.chat_id, prompt.message_id)
        await message.reply_text(t._("This question has expired. Please press the button on the card again."))
        return
    text = message.text or message.caption or ""
    photo = message.photo[-1].file_id if message.photo else None
    if photo and prompt.action != Action.RESOLVE:
        await message.reply_text(t._("Please answer in words, replying to my question."))
        return
    if photo and not text.strip():
        await message.reply_text(
            t._("Please send the photo again with the note as its caption, so the resident knows what was done.")
        )
        return
    try:
        outcome = await service.move(
            services.db,
            message.from_user.id if message.from_user else 0,
            prompt.action,
            prompt.report_id,
            prompt.expected,
            now,
            context.desk,
            note=text,
            original_no=text,
            photo_file_id=photo,
            prompt=(prompt.chat_id, prompt.message_id),
            after=context.after_commit,
        )
    except CaseworkError as error:
        await message.reply_text(input_problem(t, error))  # the question stays open: they may reply again
        return
    except (NotAllowed, StateChanged, InvalidTransition, ReportNotFound) as error:
        await moves.drop_prompt(services.db, prompt.chat_id, prompt.message_id)
        number = await moves.load_number(services.db, prompt.report_id) or ""
        if isinstance(error, NotAllowed):
            reply = refusal(t, error)
        elif isinstance(error, StateChanged):
            await service.refresh(services.db, prompt.report_id, now, context.desk)
            reply = moved_on_text(t, error, number)
        elif isinstance(error, InvalidTransition):
            reply = t._(
                "This cannot be done while case {number} is “{state}”.",
                number=number,
                state=state_name(t, error.from_state),
            )
        else:
            reply = t._(STALE)
        await message.reply_text(reply)
        return
    await message.reply_text(done_text(t, outcome.report))


def input_problem(t: Lang, error: CaseworkError) -> str:
    if isinstance(error, moves.UnknownCase):
        return t._(
            "I cannot find case {number}. Please reply to my question again with a number like {example}.",
            number=escape(error.number, 40),
            example="R20261123-0007",
        )
    if isinstance(error, moves.SameCase):
        return t._("A case cannot be a duplicate of itself. Please reply again with the number of the other case.")
    if isinstance(error, moves.OriginalClosed):
        return t._(
            "Case {number} is already finished (“{state}”). Please reply again with the number of an open case.",
            number=error.number,
            state=state_name(t, error.state),
        )
    return t._(
        "Please write between {min} and {max} characters, replying to my question again.",
        min=moves.NOTE_MIN,
        max=moves.NOTE_MAX,
    )


# ------------------------------------------------------------------ wiring
def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The card buttons (group 0, before the catch-alls)."""
    return [CallbackQueryHandler(press_case_button, pattern=wire.pattern(wire.CASE))]


def build_answer_handler() -> BaseHandler[Any, Any, Any]:
    """Replies to the bot's questions; registered in ANSWER_GROUP, ahead of every journey."""
    return MessageHandler(filters.REPLY & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND, answer_question)
