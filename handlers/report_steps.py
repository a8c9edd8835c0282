"""The report wizard's vocabulary and plumbing: its steps, the prompt of each, and storing the draft between them.

The answers live in the ``report_drafts`` table (bot.cases.drafts), the step in the persistent conversation, so a
restart resumes where the resident was. The steps themselves are handlers/report.py, the review card's buttons and
the ways out handlers/report_review.py.
"""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.ext import (
    filters,
)

from bot import wire
from bot.cases import drafts, duplicates, intake, service, states
from bot.cases.card import description_text, place_lines
from bot.cases.drafts import Draft
from bot.cases.duplicates import NearbyReport
from bot.edge import calls as edge
from bot.platform.i18n import N_, Lang
from bot.platform.text import escape, fit
from handlers.common import (
    MENU_LABELS,
    BotContext,
    lang_of,
    main_menu,
    map_inline_rows,
    map_keyboard_rows,
    translations_of,
)

log = logging.getLogger(__name__)

CATEGORY, LOCATION, DISTRICT, DUPLICATES, DESCRIPTION, PHOTOS, REVIEW, RESUME = range(8)
STEP_NAMES = {
    CATEGORY: "category",
    LOCATION: "location",
    DISTRICT: "district",
    DUPLICATES: "duplicates",
    DESCRIPTION: "description",
    PHOTOS: "photos",
    REVIEW: "review",
}
STATE_OF_STEP = {name: state for state, name in STEP_NAMES.items()}
ALBUM_WAIT = 1.0  # seconds to let the rest of an album arrive before answering it once

CANCEL = N_("❌ Cancel")
SEND_LOCATION = N_("📍 Send my location")
HINTS = {
    CATEGORY: N_("Please choose a category with the buttons above."),
    LOCATION: N_(
        "Please press “📍 Send my location” below, or type the address (street and number, or a landmark nearby)."
    ),
    DISTRICT: N_("Please choose the district with the buttons above."),
    DUPLICATES: N_("Please tell me with the buttons above whether one of these is your problem."),
    DESCRIPTION: N_("Please describe the problem in words (10 to 1000 characters), or send a voice message."),
    PHOTOS: N_("Please send a photo, or press “Done” (or “Skip”) above."),
    REVIEW: N_("Please check the summary above and press “Submit”, or change a field."),
    RESUME: N_("Please choose “Continue” or “Start over” above."),
}

NOT_MENU = ~filters.Text([label for menu in MENU_LABELS for label in translations_of(menu)])
NOT_CANCEL = ~filters.Text(translations_of(CANCEL))
PLAIN_TEXT = filters.TEXT & ~filters.COMMAND & NOT_MENU & NOT_CANCEL
ANYTHING_ELSE = ~filters.COMMAND & NOT_MENU & NOT_CANCEL & ~filters.StatusUpdate.ALL


def button(label: str, *parts: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=wire.make(wire.REPORT, *parts))


def cancel_row(t: Lang) -> list[InlineKeyboardButton]:
    return [button(t._(CANCEL), "cancel")]


# ------------------------------------------------------------------ the prompts of each step
def category_prompt(t: Lang, map_url: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    rows = [[button(t._(category.name), "cat", category.code)] for category in states.CATEGORIES]
    text = t._("📝 What kind of problem is it? Choose a category:")
    return text, InlineKeyboardMarkup([*rows, *map_inline_rows(t, map_url), cancel_row(t)])


def location_prompt(t: Lang, map_url: str | None = None) -> tuple[str, ReplyKeyboardMarkup]:
    keyboard = ReplyKeyboardMarkup(
        [
            [KeyboardButton(t._(SEND_LOCATION), request_location=True)],
            *map_keyboard_rows(t, map_url),
            [KeyboardButton(t._(CANCEL))],
        ],
        resize_keyboard=True,
    )
    text = t._(
        "📍 Where is it? Press “📍 Send my location” below if you are there, "
        "or type the address (street and number, or a landmark nearby)."
    )
    return text, keyboard


def outside_area(t: Lang, context: BotContext) -> str:
    names = t.list_text(d.name(t.code) for d in context.services.service_area.districts)
    return t._(
        "Sorry, this place is outside the area we serve ({districts}). "
        "Please share a place inside it, or type the address.",
        districts=escape(names),
    )


def district_prompt(t: Lang, context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    rows = [[button(d.name(t.code), "dist", d.code)] for d in context.services.service_area.districts]
    return t._("Which district is it in?"), InlineKeyboardMarkup([*rows, cancel_row(t)])


def duplicates_prompt(t: Lang, nearby: list[NearbyReport], now: datetime) -> tuple[str, InlineKeyboardMarkup]:
    lines = [t._("👀 Residents have already reported this kind of problem nearby:")]
    rows = []
    for item in nearby:
        report = item.report
        lines.append(
            t._(
                "• <b>{number}</b>, {distance} away, reported {age}, {state}",
                number=report.public_no,
                distance=t.distance(item.distance_m),
                age=t.relative(report.created_at, now),
                state=t._(states.STATE_NAMES[report.state]),
            )
        )
        rows.append([button(t._("🙋 {number} is mine too", number=report.public_no), "same", report.id)])
    lines.append(t._("Is one of them your problem? Then you can follow it instead of waiting for a new case."))
    rows.append([button(t._("➕ No, mine is different"), "new")])
    return "\n".join(lines), InlineKeyboardMarkup([*rows, cancel_row(t)])


def description_prompt(t: Lang) -> tuple[str, InlineKeyboardMarkup]:
    text = t._(
        "✍️ Please describe the problem: what you see, since when, anything staff should know "
        "(10 to 1000 characters). You can also send a voice message."
    )
    return text, InlineKeyboardMarkup([cancel_row(t)])


def photos_prompt(t: Lang, draft: Draft, refused: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    if not draft.photos:
        text = t._("📷 A photo helps staff a lot. Send up to 3 photos, or press “Skip”.")
        return text, InlineKeyboardMarkup([[button(t._("⏭ Skip"), "skip")], cancel_row(t)])
    lines = [t._("📷 Photos attached: {count} of {most}.", count=len(draft.photos), most=states.MAX_PHOTOS)]
    if refused:
        lines.append(t._("I can attach at most 3 photos, so I kept the first 3."))
    if len(draft.photos) < states.MAX_PHOTOS:
        lines.append(t._("Send another one, or press “Done”."))
    else:
        lines.append(t._("Press “Done” to check your report."))
    return "\n".join(lines), InlineKeyboardMarkup([[button(t._("✅ Done"), "done")], cancel_row(t)])


def review_card(t: Lang, draft: Draft, context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    category = states.category_of(draft.category) if draft.category else None
    description = description_text(t, draft.description, draft.voice_file_id, draft.voice_seconds)
    lines = [
        t._("📝 <b>Please check your report</b>"),
        "",
        t._("Category: {category}", category=t._(category.name) if category else "—"),
        *place_lines(t, draft, context.services.service_area),
        t._("Description: {description}", description=description),
        t.n_("Photos: {count}", "Photos: {count}", len(draft.photos)),
        t._("Your name is shown to staff.") if draft.show_name else t._("Your name is hidden from staff."),
        "",
        t._("Press “Submit” to send it, or change a field first."),
    ]
    name_label = t._("👤 Show my name to staff: yes") if draft.show_name else t._("👤 Show my name to staff: no")
    keyboard = InlineKeyboardMarkup(
        [
            [button(t._("✏️ Category"), "edit", "category"), button(t._("✏️ Place"), "edit", "place")],
            [button(t._("✏️ Description"), "edit", "description"), button(t._("✏️ Photos"), "edit", "photos")],
            [button(name_label, "name")],
            [button(t._("✅ Submit"), "submit")],
            cancel_row(t),
        ]
    )
    return fit("\n".join(lines)), keyboard


# ------------------------------------------------------------------ plumbing
async def send(update: Update, context: BotContext, text: str, markup: object = None) -> Message:
    """Sends a message into the update's chat (works for callback queries too)."""
    assert update.effective_chat is not None
    return await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)  # type: ignore[arg-type]


async def load(update: Update, context: BotContext) -> Draft | None:
    """The draft a wizard step works on; None when it is gone (filed or cancelled meanwhile, e.g. by an update
    delivered again after a restart): the step must not begin a new report unasked."""
    assert update.effective_user is not None
    return await drafts.load_draft(context.services.db, update.effective_user.id)


async def store(update: Update, context: BotContext, draft: Draft, state: int) -> int:
    """Saves the draft at its step and returns the state, so a callback can end with ``return await store(…)``."""
    assert update.effective_user is not None
    await service.save_draft(
        context.services.db,
        update.effective_user.id,
        draft,
        STEP_NAMES[state],
        context.services.clock.now(),
        context.policy,
        context.after_commit,
    )
    return state


async def ask(update: Update, context: BotContext, state: int, draft: Draft) -> int:
    """Stores the draft at ``state``, then asks that step's question (stored first: a crash loses no answer)."""
    t = await lang_of(update, context)
    prompt: tuple[str, InlineKeyboardMarkup | ReplyKeyboardMarkup]
    if state == DUPLICATES:
        nearby = await nearby_reports(context, draft)
        if not nearby:
            return await ask(update, context, DESCRIPTION, draft)
        draft.offered = [item.report.id for item in nearby]
        prompt = duplicates_prompt(t, nearby, context.services.clock.now())
    elif state == CATEGORY:
        prompt = category_prompt(t, context.services.settings.webapp_url)
    elif state == LOCATION:
        prompt = location_prompt(t, context.services.settings.webapp_url)
    elif state == DISTRICT:
        prompt = district_prompt(t, context)
    elif state == DESCRIPTION:
        prompt = description_prompt(t)
    elif state == PHOTOS:
        prompt = photos_prompt(t, draft)
    else:
        state, prompt = REVIEW, review_card(t, draft, context)
    await store(update, context, draft, state)
    await send(update, context, *prompt)
    return state


async def after_step(update: Update, context: BotContext, draft: Draft, next_state: int) -> int:
    """Goes on to ``next_state``, or back to the review card when the step was an edit from it."""
    if draft.editing:
        draft.editing = False
        return await ask(update, context, REVIEW, draft)
    return await ask(update, context, next_state, draft)


async def nearby_reports(context: BotContext, draft: Draft) -> list[NearbyReport]:
    if draft.category is None or draft.lat is None or draft.lon is None:
        return []
    radius = context.services.settings.duplicate_radius_m
    return await duplicates.find_nearby_open(context.services.db, draft.category, draft.lat, draft.lon, radius)


async def settle(update: Update, text: str | None = None) -> None:
    """Answers the button press and takes the buttons off its message (with a new text, if given)."""
    query = update.callback_query
    assert query is not None
    # Answer first, or the client's spinner keeps turning.
    await edge.answer(query)
    # A second press of the same button (a double tap, or one re-delivered after a restart) finds the message
    # already settled; the step goes on all the same.
    if text is not None:
        await edge.edit_text(query, text)
    elif query.message is not None and getattr(query.message, "reply_markup", None):
        await edge.edit_buttons(query, None)


def pressed(update: Update, action: str) -> wire.ReportButton | None:
    """A ``rpt:<action>…`` button as bot.wire reads it (values checked), or None when the data is not that."""
    assert update.callback_query is not None
    button = wire.report_button(update.callback_query.data)
    return button if button is not None and button.action == action else None


def choice(update: Update, action: str) -> str | None:
    """The checked value of a ``rpt:<action>:<value>`` button, or None when the data is not of that shape."""
    button = pressed(update, action)
    return button.value if button is not None else None


async def limit_reached(update: Update, context: BotContext) -> bool:
    """Tells the person when they are over REPORTS_PER_HOUR / REPORTS_PER_DAY; nothing is stored then."""
    assert update.effective_user is not None
    services = context.services
    try:
        await intake.check_limits(services.db, update.effective_user.id, services.clock.now(), context.policy)
    except states.ReportLimitReached as limit:
        t = await lang_of(update, context)
        if limit.window == "hour":
            text = t.n_(
                "You have sent {count} report in the last hour, the most I can take. "
                "You can report again at {time}. Thank you for caring about our city!",
                "You have sent {count} reports in the last hour, the most I can take. "
                "You can report again at {time}. Thank you for caring about our city!",
                limit.limit,
                time=t.time(limit.retry_at),
            )
        else:
            text = t.n_(
                "You have sent {count} report today, the most I can take in one day. "
                "You can report again from {time}. For an emergency, please call 12345.",
                "You have sent {count} reports today, the most I can take in one day. "
                "You can report again from {time}. For an emergency, please call 12345.",
                limit.limit,
                time=t.date_time(limit.retry_at),
            )
        await send(update, context, text, main_menu(t))
        return True
    return False
