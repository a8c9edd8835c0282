"""The staff team: /invite, /join (and /start <code>), and /staff with its buttons (admins only)."""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    filters,
)

from bot import wire
from bot.edge import calls as edge
from bot.people import staff
from bot.people.staff import Action, NotAllowed, Role
from bot.platform.i18n import Lang
from bot.platform.outbox import enqueue_text
from bot.platform.text import NAME_SHOWN, TEXT_LIMIT, clip, escape, take_fitting, visible_len
from handlers.case_cards import refusal
from handlers.common import BotContext, lang_of, stale_button

log = logging.getLogger(__name__)

MEMBERS_SHOWN = 100  # Telegram takes at most 100 buttons under a message
LEFT_OUT_ROOM = 60  # kept free in the /staff list for the line saying how many more there are


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
            services.db, code, user.id, user.first_name, now, services.settings.admin_ids, user.username
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
    inviter_t = await services.lang_for(invite.created_by)
    async with services.db.transaction() as conn:
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
    """Reads a /staff button, checks the presser is an admin now, and does what the button names."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    t = await lang_of(update, context)
    services = context.services
    pressed = wire.staff_button(query.data)
    if pressed is None:
        await stale_button(update, context)
        return
    target = pressed.user_id or 0  # no user id: staff:list
    try:
        await staff.authorize(services.db, user.id, Action.MANAGE_STAFF, services.settings.admin_ids)
        match pressed.action:
            case "list":
                await show_staff_list(query, context, t)
            case "show":
                await show_member(query, context, t, target)
            case "role":
                await change_role(query, context, t, user.id, target, Role(pressed.role))
            case "remove":
                await ask_removal(query, context, t, target)
            case "removed":
                await remove_member(query, context, t, user.id, target)
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


async def show_staff_list(query: CallbackQuery, context: BotContext, t: Lang) -> None:
    """Shows the staff list again."""
    text, markup = await staff_list_view(context, t)
    await edge.edit_text(query, text, markup)
    await edge.answer(query)


async def show_member(query: CallbackQuery, context: BotContext, t: Lang, target: int) -> None:
    """Shows one staff member with their role buttons."""
    shown = await staff.get_member(context.services.db, target, context.services.settings.admin_ids)
    if shown is None:
        raise staff.UnknownMember(target)
    text, markup = member_view(t, context, shown)
    await edge.edit_text(query, text, markup)
    await edge.answer(query)


async def change_role(
    query: CallbackQuery, context: BotContext, t: Lang, admin_id: int, target: int, role: Role
) -> None:
    """Gives a staff member another role, says so, and shows them again."""
    services = context.services
    now = services.clock.now()
    member = await staff.set_role(services.db, admin_id, target, role, now, services.settings.admin_ids)
    services.users.forget_cached(member.telegram_id)
    name, role_name = clip(member.name, NAME_SHOWN), t._(staff.ROLE_NAMES[role])
    await query.answer(t._("{name} is now {role}.", name=name, role=role_name))
    shown = await staff.get_member(services.db, target, services.settings.admin_ids)
    if shown is None:
        raise staff.UnknownMember(target)
    await edge.edit_text(query, *member_view(t, context, shown))


async def ask_removal(query: CallbackQuery, context: BotContext, t: Lang, target: int) -> None:
    """Asks the admin to confirm taking someone off the staff."""
    leaving = await staff.get_member(context.services.db, target, context.services.settings.admin_ids)
    if leaving is None:
        raise staff.UnknownMember(target)
    confirm = InlineKeyboardMarkup(
        [
            [staff_button(t._("Yes, remove {name}", name=leaving.name), "removed", leaving.telegram_id)],
            [staff_button(t._("◀️ Back"), "show", leaving.telegram_id)],
        ]
    )
    text = t._(
        "Remove {name} from the staff? They keep using the bot as a resident.", name=escape(leaving.name, NAME_SHOWN)
    )
    await edge.edit_text(query, text, confirm)
    await edge.answer(query)


async def remove_member(query: CallbackQuery, context: BotContext, t: Lang, admin_id: int, target: int) -> None:
    """Takes someone off the staff (they stay a resident) and shows the list again."""
    services = context.services
    await staff.remove_member(services.db, admin_id, target, services.clock.now(), services.settings.admin_ids)
    services.users.forget_cached(target)
    await query.answer(t._("Removed from the staff."))
    text, markup = await staff_list_view(context, t)
    await edge.edit_text(query, text, markup)


# ------------------------------------------------------------------ wiring
def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """/invite, /join, /staff and the /staff buttons, in private chats (group 0, before the catch-alls)."""
    private = filters.ChatType.PRIVATE
    return [
        CallbackQueryHandler(press_staff_button, pattern=wire.pattern(wire.STAFF)),
        CommandHandler("invite", create_invite, filters=private),
        CommandHandler("join", join_with_code, filters=private),
        CommandHandler("staff", list_staff, filters=private),
    ]
