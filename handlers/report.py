"""The report wizard: category → place → possible duplicates → description → photos → review → submit.

The answers live in the ``report_drafts`` table (bot.cases.drafts), the step in the persistent conversation, so a
restart resumes where the resident was. Entry points: /report, the menu button, and the ``rpt:resume`` /
``rpt:discard`` buttons (which the draft reminder may offer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import wire
from bot.cases import drafts, duplicates, intake, service, states
from bot.cases.card import description_text, place_lines
from bot.cases.drafts import Draft
from bot.cases.duplicates import NearbyReport
from bot.edge import calls as edge
from bot.platform.config import Settings
from bot.platform.i18n import N_, Lang
from bot.platform.text import ADDRESS_SHOWN, escape, fit
from handlers.common import (
    MENU_LABELS,
    MENU_MY_REPORTS,
    MENU_REPORT,
    BotContext,
    first_of_album,
    lang_of,
    main_menu,
    menu_button,
    stale_button,
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
def category_prompt(t: Lang) -> tuple[str, InlineKeyboardMarkup]:
    rows = [[button(t._(category.name), "cat", category.code)] for category in states.CATEGORIES]
    text = t._("📝 What kind of problem is it? Choose a category:")
    return text, InlineKeyboardMarkup([*rows, cancel_row(t)])


def location_prompt(t: Lang) -> tuple[str, ReplyKeyboardMarkup]:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton(t._(SEND_LOCATION), request_location=True)], [KeyboardButton(t._(CANCEL))]],
        resize_keyboard=True,
    )
    text = t._(
        "📍 Where is it? Press “📍 Send my location” below if you are there, "
        "or type the address (street and number, or a landmark nearby)."
    )
    return text, keyboard


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


async def load(update: Update, context: BotContext) -> Draft:
    assert update.effective_user is not None
    return await drafts.load_draft(context.services.db, update.effective_user.id) or Draft()


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
        prompt = category_prompt(t)
    elif state == LOCATION:
        prompt = location_prompt(t)
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


# ------------------------------------------------------------------ entry
async def start_report(update: Update, context: BotContext) -> int:
    """Starts a report (or offers to continue the unfinished one) and asks for the category."""
    if update.callback_query is not None:
        await update.callback_query.answer()
    if await limit_reached(update, context):
        return ConversationHandler.END
    assert update.effective_user is not None
    record = await drafts.load_draft_record(context.services.db, update.effective_user.id)
    if record is not None and record.draft.category is not None:
        t = await lang_of(update, context)
        category = t._(states.category_of(record.draft.category).name)
        keyboard = InlineKeyboardMarkup(
            [[button(t._("▶️ Continue"), "resume"), button(t._("🔄 Start over"), "restart")], cancel_row(t)]
        )
        await send(
            update,
            context,
            t._("You have an unfinished report ({category}). Continue where you left off?", category=category),
            keyboard,
        )
        return RESUME
    return await ask(update, context, CATEGORY, Draft())


async def resume_draft(update: Update, context: BotContext) -> int:
    """Continues the unfinished report at the step it was left at."""
    assert update.effective_user is not None
    await settle(update)
    record = await drafts.load_draft_record(context.services.db, update.effective_user.id)
    if record is None:
        return await nothing_to_resume(update, context)
    return await ask(update, context, STATE_OF_STEP.get(record.step, CATEGORY), record.draft)


async def nothing_to_resume(update: Update, context: BotContext) -> int:
    """ "Continue" when the draft is gone (sent or discarded meanwhile; the reminder may arrive late): says so."""
    assert update.effective_user is not None
    services = context.services
    t = await lang_of(update, context)
    latest = await intake.latest_filed_by(services.db, update.effective_user.id)
    if latest is None:
        text = t._("There is no unfinished report any more. Here is the menu.")
    else:
        text = t._(
            "There is no unfinished report any more. Your latest report is <b>{number}</b>, sent {age}; "
            "you find it under 📋 My reports.",
            number=latest.public_no,
            age=t.relative(latest.created_at, services.clock.now()),
        )
    await send(update, context, text, main_menu(t))
    return ConversationHandler.END


async def restart_draft(update: Update, context: BotContext) -> int:
    """Drops the unfinished report and asks for the category of a new one."""
    await settle(update)
    return await ask(update, context, CATEGORY, Draft())


async def discard_from_reminder(update: Update, context: BotContext) -> int:
    """``rpt:discard`` outside the wizard (e.g. from the draft reminder): drops the draft, shows the menu."""
    return await cancel_report(update, context)


# ------------------------------------------------------------------ the steps
async def choose_category(update: Update, context: BotContext) -> int | None:
    """Stores the category and asks where the problem is."""
    code = choice(update, "cat")
    if code not in states.CATEGORY_BY_CODE:
        return await stale_step(update, context)
    t = await lang_of(update, context)
    await settle(update, t._("Category: {category}", category=t._(states.CATEGORY_BY_CODE[code].name)))
    draft = await load(update, context)
    draft.category = code
    return await after_step(update, context, draft, LOCATION)


async def receive_location(update: Update, context: BotContext) -> int:
    """Checks the shared location is in the service area, then looks for duplicates nearby."""
    message = update.effective_message
    assert message is not None and message.location is not None
    t = await lang_of(update, context)
    lat, lon = message.location.latitude, message.location.longitude
    district = context.services.service_area.district_at(lat, lon)
    if district is None:
        await message.reply_text(outside_area(t, context))
        return LOCATION
    draft = await load(update, context)
    draft.lat, draft.lon, draft.district, draft.address_text = lat, lon, district.code, None
    await message.reply_text(
        t._("📍 Location received: {district}.", district=escape(district.name(t.code))),
        reply_markup=ReplyKeyboardRemove(),
    )
    return await after_step(update, context, draft, DUPLICATES)


def outside_area(t: Lang, context: BotContext) -> str:
    names = t.list_text(d.name(t.code) for d in context.services.service_area.districts)
    return t._(
        "Sorry, this place is outside the area we serve ({districts}). "
        "Please share a place inside it, or type the address.",
        districts=escape(names),
    )


async def receive_address(update: Update, context: BotContext) -> int:
    """Stores a typed address and asks for its district."""
    message = update.effective_message
    assert message is not None and message.text is not None
    t = await lang_of(update, context)
    address = " ".join(message.text.split())
    if not states.ADDRESS_MIN <= len(address) <= states.ADDRESS_MAX:
        await message.reply_text(
            t._(
                "Please type the address in {least} to {most} characters (you wrote {count}), "
                "or press “📍 Send my location”.",
                least=states.ADDRESS_MIN,
                most=states.ADDRESS_MAX,
                count=len(address),
            )
        )
        return LOCATION
    draft = await load(update, context)
    draft.address_text, draft.lat, draft.lon, draft.district = address, None, None, None
    await message.reply_text(
        t._("✍️ Address noted: {address}", address=escape(address, ADDRESS_SHOWN)), reply_markup=ReplyKeyboardRemove()
    )
    return await ask(update, context, DISTRICT, draft)


async def choose_district(update: Update, context: BotContext) -> int | None:
    """Stores the district of a typed address and asks for the description."""
    code = choice(update, "dist")
    district = context.services.service_area.by_code(code or "")
    if district is None:  # not one of the districts served (the shape of the code was checked by bot.wire)
        await stale_button(update, context)
        return None
    t = await lang_of(update, context)
    await settle(update, t._("District: {district}", district=escape(district.name(t.code))))
    draft = await load(update, context)
    draft.district = district.code
    return await after_step(update, context, draft, DESCRIPTION)


async def same_as_nearby(update: Update, context: BotContext) -> int | None:
    """ "This is mine too": follows the existing report instead of filing a new one, and ends the wizard."""
    assert update.effective_user is not None
    button = pressed(update, "same")
    report_id = button.report_id if button is not None else None
    draft = await load(update, context)
    if report_id is None or report_id not in draft.offered:
        return await stale_step(update, context)
    t = await lang_of(update, context)
    services = context.services
    try:
        followed = await service.follow(
            services.db, report_id, update.effective_user.id, services.clock.now(), context.desk, context.after_commit
        )
    except (states.InvalidTransition, states.ReportNotFound):
        await settle(update)
        await send(update, context, t._("That report was closed in the meantime, so let us file yours."))
        return await ask(update, context, DESCRIPTION, draft)
    report = followed.report
    await settle(update, t._("🙋 You follow report {number}.", number=report.public_no))
    await send(
        update,
        context,
        t.n_(
            "Thank you! Report <b>{number}</b> ({state}) now counts {count} resident who reported it. "
            "I will tell you here about each step, and you find it under 📋 My reports.",
            "Thank you! Report <b>{number}</b> ({state}) now counts {count} residents who reported it. "
            "I will tell you here about each step, and you find it under 📋 My reports.",
            report.follower_count,
            number=report.public_no,
            state=t._(states.STATE_NAMES[report.state]),
        ),
        main_menu(t),
    )
    return ConversationHandler.END


async def not_a_duplicate(update: Update, context: BotContext) -> int:
    """The problem is a new one: asks for the description."""
    t = await lang_of(update, context)
    await settle(update, t._("➕ A new report, then."))
    draft = await load(update, context)
    draft.offered = []
    return await ask(update, context, DESCRIPTION, draft)


async def receive_description(update: Update, context: BotContext) -> int:
    """Checks the description's length, stores it and asks for photos."""
    message = update.effective_message
    assert message is not None and message.text is not None
    t = await lang_of(update, context)
    text = message.text.strip()
    if len(text) < states.DESCRIPTION_MIN:
        await message.reply_text(
            t._(
                "Please write a little more: at least {least} characters (you wrote {count}), "
                "so staff know what to look for.",
                least=states.DESCRIPTION_MIN,
                count=len(text),
            )
        )
        return DESCRIPTION
    if len(text) > states.DESCRIPTION_MAX:
        await message.reply_text(
            t._(
                "That is a bit long: please keep it to {most} characters (you wrote {count}).",
                most=states.DESCRIPTION_MAX,
                count=len(text),
            )
        )
        return DESCRIPTION
    draft = await load(update, context)
    draft.description, draft.voice_file_id, draft.voice_seconds = text, None, None
    return await after_step(update, context, draft, PHOTOS)


async def receive_voice(update: Update, context: BotContext) -> int:
    """Keeps the voice message as the description and asks for photos."""
    message = update.effective_message
    assert message is not None and message.voice is not None
    draft = await load(update, context)
    draft.description, draft.voice_file_id = None, message.voice.file_id
    duration = message.voice.duration
    draft.voice_seconds = int(duration.total_seconds()) if isinstance(duration, timedelta) else int(duration)
    t = await lang_of(update, context)
    await message.reply_text(t._("🎤 Voice message received; staff will listen to it."))
    return await after_step(update, context, draft, PHOTOS)


async def receive_photo(update: Update, context: BotContext) -> int:
    """Attaches the photo (at most 3); an album gets one answer once all its photos are in."""
    message = update.effective_message
    assert message is not None and message.photo and update.effective_user is not None
    draft = await load(update, context)
    _added, refused = draft.add_photos([message.photo[-1].file_id])
    await store(update, context, draft, PHOTOS)
    if message.media_group_id is None:
        t = await lang_of(update, context)
        text, keyboard = photos_prompt(t, draft, refused)
        await message.reply_text(text, reply_markup=keyboard)
        return PHOTOS
    assert context.job_queue is not None
    name = f"album:{message.chat_id}:{message.media_group_id}"
    pending = context.job_queue.get_jobs_by_name(name)
    if pending:
        pending[0].data["refused"] += refused  # type: ignore[index]
    else:
        context.job_queue.run_once(
            answer_album,  # type: ignore[arg-type]
            ALBUM_WAIT,
            data={"refused": refused},
            name=name,
            chat_id=message.chat_id,
            user_id=update.effective_user.id,
        )
    return PHOTOS


async def answer_album(context: BotContext) -> None:
    """Answers a whole album once, after its last photo arrived."""
    job = context.job
    assert job is not None and job.user_id is not None and job.chat_id is not None
    services = context.services
    t = await services.lang_for(job.user_id)
    draft = await drafts.load_draft(services.db, job.user_id) or Draft()
    text, keyboard = photos_prompt(t, draft, int(job.data["refused"]))  # type: ignore[index]
    await context.bot.send_message(job.chat_id, text, reply_markup=keyboard)


async def finish_photos(update: Update, context: BotContext) -> int:
    """ "Done" or "Skip": shows the review card."""
    await settle(update)
    draft = await load(update, context)
    draft.editing = False
    return await ask(update, context, REVIEW, draft)


async def edit_field(update: Update, context: BotContext) -> int | None:
    """Goes back to one step from the review card; after it, the card comes back."""
    field = choice(update, "edit")
    steps = {"category": CATEGORY, "place": LOCATION, "description": DESCRIPTION, "photos": PHOTOS}
    if field not in steps:
        return await stale_step(update, context)
    await settle(update)
    draft = await load(update, context)
    draft.editing = field != "photos"  # photos always end on the review card
    if field == "photos":
        draft.photos = []
    return await ask(update, context, steps[field], draft)


async def toggle_name(update: Update, context: BotContext) -> int:
    """Switches "show my name to staff" and redraws the review card in place."""
    query = update.callback_query
    assert query is not None
    draft = await load(update, context)
    draft.show_name = not draft.show_name
    await store(update, context, draft, REVIEW)
    t = await lang_of(update, context)
    text, keyboard = review_card(t, draft, context)
    await edge.answer(query)
    await edge.edit_text(query, text, keyboard)
    return REVIEW


async def submit(update: Update, context: BotContext) -> int:
    """Files the report and tells the resident its number, its deadline and what happens next."""
    assert update.effective_user is not None
    services = context.services
    t = await lang_of(update, context)
    draft = await drafts.load_draft(services.db, update.effective_user.id)
    if draft is None:
        return await already_submitted(update, context)
    try:
        report = await service.submit(
            services.db, update.effective_user.id, draft, services.clock.now(), context.policy, context.after_commit
        )
    except states.ReportLimitReached:
        await settle(update)
        await limit_reached(update, context)
        return ConversationHandler.END
    except states.IncompleteDraft:
        await settle(update)
        missing = CATEGORY if draft.category is None else LOCATION if not draft.has_place else DESCRIPTION
        return await ask(update, context, missing, draft)
    await settle(update)
    log.info("report %s filed", report.public_no)  # the case, never who filed it: a log must not undo anonymity
    await send(
        update,
        context,
        t._(
            "✅ Thank you! Your report number is <b>{number}</b>.\n"
            "It should be handled by {deadline}.\n"
            "I will write to you here when it is accepted, when an officer is on it and when it is resolved. "
            "You can follow it, add information or withdraw it under 📋 My reports.",
            number=report.public_no,
            deadline=t.date_time(report.due_at),
        ),
        main_menu(t),
    )
    return ConversationHandler.END


async def already_submitted(update: Update, context: BotContext) -> int:
    """ "Submit" again on a card already filed (a double tap, or a press re-delivered after a restart): the number."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    await settle(update)
    shown_at = query.message.date if isinstance(query.message, Message) else None  # None: too old to see
    filed = None
    if shown_at is not None:
        # Telegram's message dates have whole seconds: allow the second the card was sent in.
        since = shown_at.astimezone(UTC) - timedelta(seconds=1)
        filed = await intake.filed_since(context.services.db, update.effective_user.id, since)
    if filed is None:
        return await ask(update, context, CATEGORY, Draft())
    t = await lang_of(update, context)
    await send(
        update,
        context,
        t._(
            "✅ This report was already sent: its number is <b>{number}</b>. "
            "It should be handled by {deadline}. You find it under 📋 My reports.",
            number=filed.public_no,
            deadline=t.date_time(filed.due_at),
        ),
        main_menu(t),
    )
    return ConversationHandler.END


# ------------------------------------------------------------------ leaving, hints, stale buttons
async def cancel_report(update: Update, context: BotContext) -> int:
    """Discards the draft and shows the menu."""
    assert update.effective_user is not None
    if update.callback_query is not None:
        await settle(update)
    await drafts.discard_draft(context.services.db, update.effective_user.id)
    t = await lang_of(update, context)
    await send(update, context, t._("Report cancelled; nothing was sent. Here is the menu."), main_menu(t))
    return ConversationHandler.END


async def pause_idle(update: Update, context: BotContext) -> None:
    """After REPORT_IDLE_TIMEOUT of silence: ends the wizard politely, keeping the draft."""
    t = await lang_of(update, context)
    await send(
        update,
        context,
        t._(
            "⏸ I have paused your report because it was quiet for a while. Your answers are kept: "
            "press 📝 Report a problem to continue."
        ),
        main_menu(t),
    )


async def pause_for_menu(update: Update, context: BotContext) -> int:
    """A main-menu button during the wizard: keeps the draft, ends the wizard, and says how to go on."""
    t = await lang_of(update, context)
    assert update.effective_message is not None
    if update.effective_message.text in translations_of(MENU_MY_REPORTS):
        from handlers.my_reports import show_list  # the journey next door, asked for by its own button

        await show_list(update, context)
    else:
        await send(
            update,
            context,
            t._("⏸ Your report is kept as a draft. Please press the button again; 📝 Report a problem continues it."),
            main_menu(t),
        )
    return ConversationHandler.END


async def repeat_step(update: Update, context: BotContext) -> int | None:
    """/report (or the menu button) during the wizard: asks the current step's question again."""
    assert update.effective_user is not None
    record = await drafts.load_draft_record(context.services.db, update.effective_user.id)
    if record is None:
        return await ask(update, context, CATEGORY, Draft())
    return await ask(update, context, STATE_OF_STEP.get(record.step, CATEGORY), record.draft)


def hint_for(state: int) -> Callable[[Update, BotContext], Coroutine[Any, Any, int]]:
    """The callback for a wrong kind of message at ``state``: a hint, and the step stays."""

    async def hint(update: Update, context: BotContext) -> int:
        message = update.effective_message
        assert message is not None
        if not first_of_album(update, context):
            return state
        t = await lang_of(update, context)
        await message.reply_text(t._(HINTS[state]))
        return state

    hint.__doc__ = f"Hints what step {STEP_NAMES.get(state, 'resume')} expects."
    return hint


async def stale_step(update: Update, context: BotContext) -> int | None:
    """A wizard button from another step, or forged data: says so; the step stays."""
    assert update.callback_query is not None
    if wire.report_button(update.callback_query.data) is None:
        await stale_button(update, context)  # data no wizard button carries
        return None
    t = await lang_of(update, context)
    await update.callback_query.answer(
        t._("This button belongs to an earlier step. Please use the latest message."), show_alert=True
    )
    return None  # the step stays


def build_handler(settings: Settings) -> ConversationHandler[Any]:
    """The wizard as one table: entry points, a state per step, and the ways out."""
    rpt = wire.pattern(wire.REPORT)
    wrong: dict[int, BaseHandler[Any, Any, Any]] = {
        state: MessageHandler(ANYTHING_ELSE, hint_for(state)) for state in HINTS
    }
    return ConversationHandler(
        entry_points=[
            CommandHandler("report", start_report, filters=filters.ChatType.PRIVATE),
            MessageHandler(menu_button(MENU_REPORT), start_report),
            CallbackQueryHandler(resume_draft, pattern=rpt + "resume$"),
            CallbackQueryHandler(discard_from_reminder, pattern=rpt + "discard$"),
            # The card's Submit counts even when the wizard's step was lost in a crash: the draft is the truth.
            CallbackQueryHandler(submit, pattern=rpt + "submit$"),
        ],
        states={
            RESUME: [
                CallbackQueryHandler(resume_draft, pattern=rpt + "resume$"),
                CallbackQueryHandler(restart_draft, pattern=rpt + "restart$"),
                wrong[RESUME],
            ],
            CATEGORY: [CallbackQueryHandler(choose_category, pattern=rpt + "cat:"), wrong[CATEGORY]],
            LOCATION: [
                MessageHandler(filters.LOCATION, receive_location),
                MessageHandler(PLAIN_TEXT, receive_address),
                wrong[LOCATION],
            ],
            DISTRICT: [CallbackQueryHandler(choose_district, pattern=rpt + "dist:"), wrong[DISTRICT]],
            DUPLICATES: [
                CallbackQueryHandler(same_as_nearby, pattern=rpt + "same:"),
                CallbackQueryHandler(not_a_duplicate, pattern=rpt + "new$"),
                wrong[DUPLICATES],
            ],
            DESCRIPTION: [
                MessageHandler(PLAIN_TEXT, receive_description),
                MessageHandler(filters.VOICE, receive_voice),
                wrong[DESCRIPTION],
            ],
            PHOTOS: [
                MessageHandler(filters.PHOTO, receive_photo),
                CallbackQueryHandler(finish_photos, pattern=rpt + "(done|skip)$"),
                wrong[PHOTOS],
            ],
            REVIEW: [
                CallbackQueryHandler(edit_field, pattern=rpt + "edit:"),
                CallbackQueryHandler(toggle_name, pattern=rpt + "name$"),
                CallbackQueryHandler(submit, pattern=rpt + "submit$"),
                wrong[REVIEW],
            ],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, pause_idle)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel_report),
            CallbackQueryHandler(cancel_report, pattern=rpt + "cancel$"),
            MessageHandler(filters.ChatType.PRIVATE & filters.Text(translations_of(CANCEL)), cancel_report),
            CommandHandler("report", repeat_step),
            MessageHandler(menu_button(MENU_REPORT), repeat_step),
            MessageHandler(filters.ChatType.PRIVATE & ~NOT_MENU, pause_for_menu),
            # The draft reminder's buttons work at any step (it may arrive while the wizard still waits).
            CallbackQueryHandler(resume_draft, pattern=rpt + "resume$"),
            CallbackQueryHandler(discard_from_reminder, pattern=rpt + "discard$"),
            CallbackQueryHandler(stale_step, pattern=rpt),
        ],
        name="report",
        persistent=True,
        conversation_timeout=settings.report_idle_timeout,
    )


def build_handlers(settings: Settings) -> list[BaseHandler[Any, Any, Any]]:
    return [build_handler(settings)]
