"""The staff journey: case cards and their buttons, questions asked with ForceReply, officers' copies, and the
commands /invite, /join (and /start <code>), /staff and /spot.

Who may do what is decided by the core (bot.people.staff, bot.cases.casework) from the person's role at that moment;
these handlers only parse, call and answer. A question (a reason, a note, a case number) is kept in the database keyed
by the chat and the question's message, so a staff member may have several open at once, a restart forgets none,
and only the reply of the person who pressed the button, to that very question, answers it. That is why this
journey is a set of handlers around a table rather than a ConversationHandler, whose one state per person could
hold only one question.
"""

from __future__ import annotations

import logging
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
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import telegram_edge as edge
from bot import wire
from bot.cases import casework
from bot.cases.casework import ButtonPress, CaseworkError, Desk
from bot.cases.reports import STATE_NAMES, InvalidTransition, Report, ReportNotFound, ReportState, StateChanged
from bot.people import staff
from bot.people.staff import Action, NotAllowed, Role
from bot.platform import dates
from bot.platform.i18n import N_, Lang
from bot.platform.outbox import enqueue_text
from bot.platform.text import NAME_SHOWN, TEXT_LIMIT, TITLE_SHOWN, clip, escape, take_fitting, visible_len
from bot.vending import spots
from handlers.common import BotContext, lang_of, stale_button

log = logging.getLogger(__name__)

ANSWER_GROUP = -1  # answers to our questions are claimed before any journey (a colleague may be mid-wizard)

MEMBERS_SHOWN = 100  # Telegram takes at most 100 buttons under a message
LEFT_OUT_ROOM = 60  # kept free in the /staff list for the line saying how many more there are
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
SPOT_USAGE = N_(
    "How to use /spot:\n"
    "/spot close &lt;spot&gt; [until] [reason] — until: 3h, 2d, 18:00, 2026-12-01 or 2026-12-01T08:00\n"
    "/spot open &lt;spot&gt;\n"
    "/spot move &lt;spot&gt; &lt;other spot&gt; [reason]\n"
    "A spot is its number or its import id."
)


def desk_of(context: BotContext) -> Desk:
    services = context.services
    return casework.desk_from(services.settings, services.service_area)


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
    press = casework.parse_button(query.data)
    if press is None:
        await stale_button(update, context)
        return
    t = await lang_of(update, context)
    services = context.services
    desk = desk_of(context)
    number = str(press.report_id)
    await keep_pressed_copy(update, context, press, desk)
    try:
        number = (await casework.load_number(services.db, press.report_id)) or number
        await handle_press(update, context, t, press, desk)
    except NotAllowed as error:
        await query.answer(refusal(t, error), show_alert=True)
    except StateChanged as error:
        await casework.refresh(services.db, press.report_id, services.clock.now(), desk)
        await query.answer(moved_on_text(t, error, number), show_alert=True)
    except InvalidTransition as error:
        await query.answer(
            t._(
                "This cannot be done while case {number} is “{state}”.",
                number=number,
                state=state_name(t, error.from_state),
            ),
            show_alert=True,
        )
    except ReportNotFound:
        await query.answer(t._(STALE), show_alert=True)
    except casework.NotAnOfficer as error:
        await query.answer(
            t._("{name} is no longer a field officer. Please choose someone else.", name=clip(error.name, NAME_SHOWN)),
            show_alert=True,
        )
    services.wake_outbox()


async def keep_pressed_copy(update: Update, context: BotContext, press: ButtonPress, desk: Desk) -> None:
    """Remembers the pressed card if it is a copy the bot did not know it had sent, so every move edits it too."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    # The message's own buttons (as Telegram shows them; a client can forge the press's data) must name the case.
    shown = [
        casework.parse_button(button.callback_data)
        for row in message.reply_markup.inline_keyboard
        for button in row
        if isinstance(button.callback_data, str)
    ]
    if press.report_id not in {found.report_id for found in shown if found is not None}:
        return
    services = context.services
    chat, copy, user = message.chat.id, message.message_id, update.effective_user.id
    if await casework.keep_copy(services.db, press.report_id, chat, copy, user, services.clock.now(), desk):
        log.info("case %s: its card's copy %s in chat %s is kept in step", press.report_id, copy, chat)


async def handle_press(update: Update, context: BotContext, t: Lang, press: ButtonPress, desk: Desk) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    services = context.services
    user_id = update.effective_user.id
    now = services.clock.now()
    if press.action == "back":
        report = await casework.check(services.db, user_id, Action.DISPATCH, press.report_id, press.expected, desk)
        await edge.edit_buttons(query, markup_of(casework.keyboard(t, report, casework.GROUP_BUTTONS)))
        await query.answer()
        return
    if press.action == "to":
        outcome = await casework.perform(
            services.db,
            user_id,
            Action.DISPATCH,
            press.report_id,
            press.expected,
            now,
            desk,
            officer_id=press.officer_id,
        )
        await query.answer(done_text(t, outcome.report))
        return
    action = Action(press.action)
    if action == Action.DISPATCH:
        report = await casework.check(services.db, user_id, action, press.report_id, press.expected, desk)
        await offer_officers(update, context, t, report, desk)
    elif action in casework.ASKING:
        report = await casework.check(services.db, user_id, action, press.report_id, press.expected, desk)
        await ask_question(update, context, t, report, action)
        await query.answer(t._("Please reply to my question below."))
    else:
        outcome = await casework.perform(services.db, user_id, action, press.report_id, press.expected, now, desk)
        await query.answer(done_text(t, outcome.report))


async def offer_officers(update: Update, context: BotContext, t: Lang, report: Report, desk: Desk) -> None:
    """Swaps the card's buttons for the officers (the case's district first) and a way back."""
    query = update.callback_query
    assert query is not None
    officers = await casework.dispatch_choices(context.services.db, report)
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
        data = casework.button_data("to", report.id, report.state, officer.telegram_id)
        rows.append([InlineKeyboardButton(label, callback_data=data)])
    rows.append(
        [InlineKeyboardButton(t._("◀️ Back"), callback_data=casework.button_data("back", report.id, report.state))]
    )
    await edge.edit_buttons(query, InlineKeyboardMarkup(rows))
    await query.answer(t._("Choose the officer."))


async def ask_question(update: Update, context: BotContext, t: Lang, report: Report, action: Action) -> None:
    """Asks the presser, in the chat of the card, for the reason / body / number / note, and remembers it."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None and query.message is not None
    chat_id = query.message.chat.id
    question = t._(
        QUESTIONS[action], name=mention(user.id, user.first_name), number=report.public_no, example="R20261123-0007"
    )
    asked = await context.bot.send_message(
        chat_id,
        question,
        reply_parameters=ReplyParameters(query.message.message_id, allow_sending_without_reply=True),
        reply_markup=ForceReply(selective=True),
    )
    services = context.services
    await casework.open_prompt(
        services.db, chat_id, asked.message_id, user.id, report.id, action, report.state, services.clock.now()
    )


# ------------------------------------------------------------------ answers to questions
async def answer_question(update: Update, context: BotContext) -> None:
    """Takes a reply to one of our questions (from the person asked) and makes the move; other replies pass on."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and user is not None
    asked = message.reply_to_message
    if asked is None or asked.from_user is None or asked.from_user.id != context.bot.id:
        return
    services = context.services
    prompt = await casework.find_prompt(services.db, message.chat.id, asked.message_id)
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


async def settle_answer(message: Message, context: BotContext, t: Lang, prompt: casework.Prompt) -> None:
    services = context.services
    now = services.clock.now()
    if prompt.expired(now):
        await casework.drop_prompt(services.db, prompt.chat_id, prompt.message_id)
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
        outcome = await casework.perform(
            services.db,
            message.from_user.id if message.from_user else 0,
            prompt.action,
            prompt.report_id,
            prompt.expected,
            now,
            desk_of(context),
            note=text,
            original_no=text,
            photo_file_id=photo,
            prompt=(prompt.chat_id, prompt.message_id),
        )
    except CaseworkError as error:
        await message.reply_text(input_problem(t, error))  # the question stays open: they may reply again
        return
    except (NotAllowed, StateChanged, InvalidTransition, ReportNotFound) as error:
        await casework.drop_prompt(services.db, prompt.chat_id, prompt.message_id)
        number = await casework.load_number(services.db, prompt.report_id) or ""
        if isinstance(error, NotAllowed):
            reply = refusal(t, error)
        elif isinstance(error, StateChanged):
            await casework.refresh(services.db, prompt.report_id, now, desk_of(context))
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
    if isinstance(error, casework.UnknownCase):
        return t._(
            "I cannot find case {number}. Please reply to my question again with a number like {example}.",
            number=escape(error.number, 40),
            example="R20261123-0007",
        )
    if isinstance(error, casework.SameCase):
        return t._("A case cannot be a duplicate of itself. Please reply again with the number of the other case.")
    if isinstance(error, casework.OriginalClosed):
        return t._(
            "Case {number} is already finished (“{state}”). Please reply again with the number of an open case.",
            number=error.number,
            state=state_name(t, error.state),
        )
    return t._(
        "Please write between {min} and {max} characters, replying to my question again.",
        min=casework.NOTE_MIN,
        max=casework.NOTE_MAX,
    )


# ------------------------------------------------------------------ joining and managing the staff
def parse_role(word: str) -> Role | None:
    """A role by its code or its name in either language (officer, 执法队员, …)."""
    from handlers.common import translations_of

    wanted = word.strip().lower()
    for role in Role:
        if wanted == role.value or wanted in (name.lower() for name in translations_of(staff.ROLE_NAMES[role])):
            return role
    return None


def district_named(context: BotContext, words: list[str]) -> str | None:
    """The district code for what was typed (its code or name); "" when nothing was typed, None when unknown."""
    text = " ".join(words).strip()
    if not text:
        return ""
    for district in context.services.service_area.districts:
        if text.lower() in {district.code.lower(), district.name("zh_Hans").lower(), district.name("en").lower()}:
            return district.code
    return None


def district_label(context: BotContext, t: Lang, code: str) -> str:
    district = context.services.service_area.by_code(code)
    return escape(district.name(t.code) if district else code)


async def create_invite(update: Update, context: BotContext) -> None:
    """/invite <role> [district]: an admin gets a one-time code and deep link for a new colleague."""
    t = await lang_of(update, context)
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    args = context.args or []
    role = parse_role(args[0]) if args else None
    district = district_named(context, args[1:])
    if role is None or district is None:
        names = t.list_text((d.code for d in context.services.service_area.districts), style="or")
        await message.reply_text(
            t._(
                "How to use /invite: /invite &lt;role&gt; [district]\n"
                "Roles: officer, dispatcher, supervisor, admin. Districts: {districts}.",
                districts=escape(names),
            )
        )
        return
    services = context.services
    try:
        invite = await staff.create_invite(
            services.db, user.id, role, district or None, services.clock.now(), services.settings.admin_ids
        )
    except NotAllowed as error:
        await message.reply_text(refusal(t, error))
        return
    link = f"https://t.me/{context.bot.username}?start={invite.code}"
    role_name = t._(staff.ROLE_NAMES[role])
    if invite.district:
        headline = t._(
            "🎟 Invite for a new {role} in {district}:",
            role=role_name,
            district=district_label(context, t, invite.district),
        )
    else:
        headline = t._("🎟 Invite for a new {role}:", role=role_name)
    await message.reply_text(
        "\n".join(
            [
                headline,
                t._("Code: <code>{code}</code>", code=invite.code),
                t._("Link: {link}", link=escape(link)),
                t._(
                    "It works once, until {time}. "
                    "Send the link to your colleague, or have them send /join with the code.",
                    time=t.date_time(invite.expires_at),
                ),
            ]
        ),
        disable_web_page_preview=True,
    )


async def join_with_code(update: Update, context: BotContext) -> None:
    """/join <code>: joins the staff with an invite code."""
    t = await lang_of(update, context)
    assert update.effective_message is not None
    args = context.args or []
    if not args:
        await update.effective_message.reply_text(t._("Please send /join followed by the invite code you were given."))
        return
    await join_team(update, context, args[0])


async def join_team(update: Update, context: BotContext, code: str) -> None:
    """Redeems an invite (from /join or a /start deep link) and welcomes the new colleague."""
    t = await lang_of(update, context)
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    services = context.services
    now = services.clock.now()
    try:
        member, invite = await staff.redeem_invite(
            services.db, code, user.id, user.first_name, now, services.settings.admin_ids
        )
    except staff.InviteInvalid as error:
        log.warning("refused: user %s tried an invite code that is %s", user.id, error.kind)
        await message.reply_text(invite_problem(t, error))
        return
    services.users.forget_cached(user.id)
    lines = [
        t._(
            "Welcome to the team, {name}! Your role: {role}.",
            name=escape(user.first_name, NAME_SHOWN),
            role=t._(staff.ROLE_NAMES[member.role]),
        )
    ]
    if invite.district:
        lines.append(t._("Your district: {district}.", district=district_label(context, t, invite.district)))
    lines.append(
        t._(
            "New cases appear as cards in the staff group; cases sent to you arrive here. "
            "Staff commands: /spot to close, open or move a vending spot."
        )
    )
    await message.reply_text("\n".join(lines))
    async with services.db.transaction() as conn:
        inviter_t = await casework.lang_of_user(conn, invite.created_by, desk_of(context))
        await enqueue_text(
            conn,
            invite.created_by,
            inviter_t._(
                "🎟 {name} has joined the staff as {role}.",
                name=escape(user.first_name, NAME_SHOWN),
                role=inviter_t._(staff.ROLE_NAMES[member.role]),
            ),
            now,
            dedupe_key=f"staff_joined:{invite.code}",
            ref="staff_joined",
        )
    services.wake_outbox()


def invite_problem(t: Lang, error: staff.InviteInvalid) -> str:
    if error.kind == "expired" and error.at is not None:
        return t._(
            "This invite code expired on {time}. Please ask an administrator for a new one.",
            time=t.date_time(error.at),
        )
    if error.kind == "used":
        return t._("This invite code has already been used; each code works only once. Please ask for a new one.")
    return t._("This invite code is not valid. Please check it, or ask an administrator for a new one.")


def staff_button(label: str, *parts: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=wire.make(wire.STAFF, *parts))


def member_line(t: Lang, context: BotContext, member: staff.StaffMember) -> str:
    districts = t.list_text(district_label(context, t, code) for code in member.districts)
    values = {"name": escape(member.name, NAME_SHOWN), "role": t._(staff.ROLE_NAMES[member.role])}
    if districts:
        return t._("• {name} — {role} ({districts})", districts=districts, **values)
    return t._("• {name} — {role}", **values)


async def staff_list_view(context: BotContext, t: Lang) -> tuple[str, InlineKeyboardMarkup]:
    services = context.services
    members = await staff.list_staff(services.db, services.settings.admin_ids)
    head = t.n_("👥 The staff ({count}):", "👥 The staff ({count}):", len(members))
    tail = t._("Choose someone to change their role or remove them. New colleagues: /invite.")
    # The people who fit in one message (and Telegram's 100 buttons), in the order of rank; the rest are counted.
    room = TEXT_LIMIT - visible_len(head) - visible_len(tail) - LEFT_OUT_ROOM
    lines, _ = take_fitting([member_line(t, context, member) for member in members[:MEMBERS_SHOWN]], room)
    shown = members[: len(lines)]
    left_out = len(members) - len(shown)
    if left_out:
        lines.append(t.n_("… and {count} more.", "… and {count} more.", left_out))
    rows = [[staff_button(clip(m.name, NAME_SHOWN), "show", m.telegram_id)] for m in shown if not m.configured]
    return "\n".join([head, *lines, tail]), InlineKeyboardMarkup(rows)


async def list_staff(update: Update, context: BotContext) -> None:
    """/staff: an admin sees the staff, with a button for each person."""
    t = await lang_of(update, context)
    assert update.effective_message is not None and update.effective_user is not None
    services = context.services
    try:
        await staff.authorize(services.db, update.effective_user.id, Action.MANAGE_STAFF, services.settings.admin_ids)
    except NotAllowed as error:
        await update.effective_message.reply_text(refusal(t, error))
        return
    text, markup = await staff_list_view(context, t)
    await update.effective_message.reply_text(text, reply_markup=markup)


def member_view(t: Lang, context: BotContext, member: staff.StaffMember) -> tuple[str, InlineKeyboardMarkup]:
    text = member_line(t, context, member)
    roles = [
        staff_button(t._(staff.ROLE_NAMES[role]), "role", member.telegram_id, role.value)
        for role in Role
        if role is not member.role
    ]
    rows = [roles[:2], roles[2:], [staff_button(t._("🗑 Remove from the staff"), "remove", member.telegram_id)]]
    rows.append([staff_button(t._("◀️ Back"), "list")])
    return t._("{member}\nGive them another role, or remove them:", member=text), InlineKeyboardMarkup(rows)


async def press_staff_button(update: Update, context: BotContext) -> None:
    """Shows a staff member, changes their role or removes them (admins only, checked now)."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    t = await lang_of(update, context)
    services = context.services
    admin_ids = services.settings.admin_ids
    pressed = wire.staff_button(query.data)
    if pressed is None:
        await stale_button(update, context)
        return
    action, target = pressed.action, pressed.user_id or 0  # no user id: staff:list
    now = services.clock.now()
    try:
        await staff.authorize(services.db, user.id, Action.MANAGE_STAFF, admin_ids)
        if action == "role":
            role = Role(pressed.role)
            member = await staff.set_role(services.db, user.id, target, role, now, admin_ids)
            services.users.forget_cached(member.telegram_id)
            name, role_name = clip(member.name, NAME_SHOWN), t._(staff.ROLE_NAMES[role])
            await query.answer(t._("{name} is now {role}.", name=name, role=role_name))
        elif action == "remove":
            leaving = await staff.get_member(services.db, target, admin_ids)
            if leaving is None:
                raise staff.UnknownMember(target)
            confirm = InlineKeyboardMarkup(
                [
                    [staff_button(t._("Yes, remove {name}", name=leaving.name), "removed", leaving.telegram_id)],
                    [staff_button(t._("◀️ Back"), "show", leaving.telegram_id)],
                ]
            )
            await edge.edit_text(
                query,
                t._(
                    "Remove {name} from the staff? They keep using the bot as a resident.",
                    name=escape(leaving.name, NAME_SHOWN),
                ),
                confirm,
            )
            await edge.answer(query)
            return
        elif action == "removed":
            await staff.remove_member(services.db, user.id, target, now, admin_ids)
            services.users.forget_cached(target)
            await query.answer(t._("Removed from the staff."))
        if action in {"list", "removed"}:
            text, markup = await staff_list_view(context, t)
        else:
            shown = await staff.get_member(services.db, target, admin_ids)
            if shown is None:
                raise staff.UnknownMember(target)
            text, markup = member_view(t, context, shown)
        await edge.edit_text(query, text, markup)
        if action in {"list", "show"}:
            await edge.answer(query)
    except NotAllowed as error:
        await query.answer(refusal(t, error), show_alert=True)
    except staff.CannotChange as error:
        if error.reason == "configured":
            reply = t._("This administrator is set in the bot's settings (ADMIN_IDS) and cannot be changed here.")
        else:
            reply = t._("You cannot change your own role; ask another administrator.")
        await query.answer(reply, show_alert=True)
    except staff.UnknownMember:
        await query.answer(t._("This person is no longer on the staff."), show_alert=True)


# ------------------------------------------------------------------ /spot
async def manage_spot(update: Update, context: BotContext) -> None:
    """/spot close|open|move: staff close, reopen or move a vending spot; subscribers are told at once."""
    t = await lang_of(update, context)
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    args = context.args or []
    verb = args[0].lower() if args else ""
    if verb not in {"close", "open", "move"} or len(args) < 2 or (verb == "move" and len(args) < 3):
        await message.reply_text(t._(SPOT_USAGE))
        return
    services = context.services
    now, tz, admin_ids = services.clock.now(), services.timezone, services.settings.admin_ids
    try:
        if verb == "close":
            until = staff.parse_until(args[2], now, tz) if len(args) > 2 else None
            reason = " ".join(args[3:] if until is not None else args[2:])[:300]
            change = await staff.close_spot(services.db, user.id, args[1], until, reason, now, tz, admin_ids)
            name = escape(change.spot.title(t.code), TITLE_SHOWN)
            if until is not None:
                headline = t._("🚫 Spot {name} is closed until {until}.", name=name, until=t.date_time(until))
            else:
                headline = t._("🚫 Spot {name} is closed until further notice.", name=name)
        elif verb == "open":
            change = await staff.reopen_spot(services.db, user.id, args[1], now, tz, admin_ids)
            headline = t._("✅ Spot {name} is open again.", name=escape(change.spot.title(t.code), TITLE_SHOWN))
        else:
            change, other = await staff.relocate_spot(
                services.db, user.id, args[1], args[2], " ".join(args[3:])[:300], now, tz, admin_ids
            )
            headline = t._(
                "📍 Spot {name} has moved to {other}.",
                name=escape(change.spot.title(t.code), TITLE_SHOWN),
                other=escape(other.title(t.code), TITLE_SHOWN),
            )
    except NotAllowed as error:
        await message.reply_text(refusal(t, error))
        return
    except dates.DateOutOfRange:
        await message.reply_text(dates.out_of_range_text(t))
        return
    except spots.SpotNotFound:
        await message.reply_text(t._("There is no vending spot with that number or id."))
        return
    except staff.SpotRefused as error:
        await message.reply_text(spot_problem(t, error))
        return
    except spots.SpotError:
        await message.reply_text(t._("The spot cannot be changed like that in its present state."))
        return
    told = t.n_(
        "{count} subscribed vendor has been told.", "{count} subscribed vendors have been told.", change.notified
    )
    await message.reply_text(f"{headline}\n{told}")
    services.wake_outbox()


def spot_problem(t: Lang, error: staff.SpotRefused) -> str:
    if error.kind == "relocated":
        return t._("This spot has moved to another place; change the spot it moved to instead.")
    if error.kind == "past":
        return t._("The closure must end in the future.")
    if error.kind == "self":
        return t._("A spot cannot move to itself.")
    return t._("That spot has itself moved; move to the spot it moved to.")


# ------------------------------------------------------------------ wiring
def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The card buttons, the staff commands and the /staff buttons (group 0, before the catch-alls)."""
    private = filters.ChatType.PRIVATE
    return [
        CallbackQueryHandler(press_case_button, pattern=wire.pattern(wire.CASE)),
        CallbackQueryHandler(press_staff_button, pattern=wire.pattern(wire.STAFF)),
        CommandHandler("invite", create_invite, filters=private),
        CommandHandler("join", join_with_code, filters=private),
        CommandHandler("staff", list_staff, filters=private),
        CommandHandler("spot", manage_spot),
    ]


def build_answer_handler() -> BaseHandler[Any, Any, Any]:
    """Replies to the bot's questions; registered in ANSWER_GROUP, ahead of every journey."""
    return MessageHandler(filters.REPLY & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND, answer_question)
