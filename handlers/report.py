"""The report wizard: category → place → possible duplicates → description → photos → review → submit.

Entry points: /report, the menu button, and the ``rpt:resume`` / ``rpt:discard`` buttons (which the draft nudge
may offer). The prompts and the draft's storage are handlers/report_steps.py; the review card's buttons, submitting
and the ways out are handlers/report_review.py.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
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
from bot.cases import drafts, service, states
from bot.cases.drafts import Draft
from bot.platform.config import Settings
from bot.platform.text import ADDRESS_SHOWN, escape
from handlers.common import (
    MENU_REPORT,
    BotContext,
    lang_of,
    main_menu,
    menu_button,
    stale_button,
    translations_of,
)
from handlers.report_review import (
    cancel_report,
    draft_gone,
    edit_field,
    hint_for,
    nothing_to_resume,
    pause_for_menu,
    pause_idle,
    repeat_step,
    stale_step,
    submit,
    submit_at_any_step,
    toggle_name,
)
from handlers.report_steps import (
    ALBUM_WAIT,
    ANYTHING_ELSE,
    CANCEL,
    CATEGORY,
    DESCRIPTION,
    DISTRICT,
    DUPLICATES,
    HINTS,
    LOCATION,
    NOT_MENU,
    PHOTOS,
    PLAIN_TEXT,
    RESUME,
    REVIEW,
    STATE_OF_STEP,
    after_step,
    ask,
    button,
    cancel_row,
    choice,
    limit_reached,
    load,
    outside_area,
    photos_prompt,
    pressed,
    send,
    settle,
    store,
)
from handlers.webapp import MAP_REPORT, report_from_map

log = logging.getLogger(__name__)


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
    if draft is None:
        return await draft_gone(update, context)
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
    if draft is None:
        return await draft_gone(update, context)
    draft.lat, draft.lon, draft.district, draft.address_text = lat, lon, district.code, None
    await message.reply_text(
        t._("📍 Location received: {district}.", district=escape(district.name(t.code))),
        reply_markup=ReplyKeyboardRemove(),
    )
    return await after_step(update, context, draft, DUPLICATES)


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
    if draft is None:
        return await draft_gone(update, context)
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
    if draft is None:
        return await draft_gone(update, context)
    draft.district = district.code
    return await after_step(update, context, draft, DESCRIPTION)


async def same_as_nearby(update: Update, context: BotContext) -> int | None:
    """ "This is mine too": follows the existing report instead of filing a new one, and ends the wizard."""
    assert update.effective_user is not None
    button = pressed(update, "same")
    report_id = button.report_id if button is not None else None
    draft = await load(update, context)
    if draft is None:
        return await draft_gone(update, context, answered=False)
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
    if draft is None:
        return await draft_gone(update, context)
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
    if draft is None:
        return await draft_gone(update, context)
    draft.description, draft.voice_file_id, draft.voice_seconds = text, None, None
    return await after_step(update, context, draft, PHOTOS)


async def receive_voice(update: Update, context: BotContext) -> int:
    """Keeps the voice message as the description and asks for photos."""
    message = update.effective_message
    assert message is not None and message.voice is not None
    draft = await load(update, context)
    if draft is None:
        return await draft_gone(update, context)
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
    if draft is None:
        return await draft_gone(update, context)
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
    if draft is None:
        return await draft_gone(update, context)
    draft.editing = False
    return await ask(update, context, REVIEW, draft)


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
            MessageHandler(MAP_REPORT, report_from_map),  # "report here" on the map Mini App
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
            MessageHandler(MAP_REPORT, report_from_map),
            MessageHandler(filters.ChatType.PRIVATE & ~NOT_MENU, pause_for_menu),
            # The draft reminder's buttons work at any step (it may arrive while the wizard still waits).
            CallbackQueryHandler(resume_draft, pattern=rpt + "resume$"),
            CallbackQueryHandler(discard_from_reminder, pattern=rpt + "discard$"),
            # A Submit the step refuses may be one the draft accepts (the step lags it after a crash); refusing a
            # filed report's Submit would lead the person to start again and file it twice.
            CallbackQueryHandler(submit_at_any_step, pattern=rpt + "submit$"),
            CallbackQueryHandler(stale_step, pattern=rpt),
        ],
        name="report",
        persistent=True,
        # Several instances: an idle timer runs on the instance whose step set it and would pause a wizard going on
        # at another; the draft's nudge (a durable reminder, fired once) speaks for an unfinished report instead.
        conversation_timeout=None if settings.shares_instances else settings.report_idle_timeout,
    )


def build_handlers(settings: Settings) -> list[BaseHandler[Any, Any, Any]]:
    return [build_handler(settings)]
