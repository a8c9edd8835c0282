"""The report wizard's review card (edit a field, show my name, submit) and its ways out (cancel, pause, hints)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, timedelta
from typing import Any

from telegram import (
    Message,
    Update,
)
from telegram.ext import (
    ConversationHandler,
)

from bot import wire
from bot.cases import drafts, intake, service, states
from bot.cases.drafts import Draft
from bot.edge import calls as edge
from handlers.common import (
    MENU_MY_REPORTS,
    BotContext,
    first_of_album,
    lang_of,
    main_menu,
    stale_button,
    translations_of,
)
from handlers.report_steps import (
    CATEGORY,
    DESCRIPTION,
    HINTS,
    LOCATION,
    PHOTOS,
    REVIEW,
    STATE_OF_STEP,
    STEP_NAMES,
    ask,
    choice,
    limit_reached,
    load,
    review_card,
    send,
    settle,
    store,
)

log = logging.getLogger(__name__)


async def edit_field(update: Update, context: BotContext) -> int | None:
    """Goes back to one step from the review card; after it, the card comes back."""
    field = choice(update, "edit")
    steps = {"category": CATEGORY, "place": LOCATION, "description": DESCRIPTION, "photos": PHOTOS}
    if field not in steps:
        return await stale_step(update, context)
    await settle(update)
    draft = await load(update, context)
    if draft is None:
        return await draft_gone(update, context)
    draft.editing = field != "photos"  # photos always end on the review card
    if field == "photos":
        draft.photos = []
    return await ask(update, context, steps[field], draft)


async def toggle_name(update: Update, context: BotContext) -> int:
    """Switches "show my name to staff" and redraws the review card in place."""
    query = update.callback_query
    assert query is not None
    draft = await load(update, context)
    if draft is None:
        return await draft_gone(update, context, answered=False)
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


async def submit_at_any_step(update: Update, context: BotContext) -> int | None:
    """A review card's Submit while the wizard's step says otherwise (the step lags the draft after a crash): the
    stored draft decides. Filed already: its number; waiting at review: filed; at another step: refused."""
    assert update.effective_user is not None
    record = await drafts.load_draft_record(context.services.db, update.effective_user.id)
    if record is None:
        return await already_submitted(update, context)
    if STATE_OF_STEP.get(record.step) == REVIEW:
        return await submit(update, context)
    return await stale_step(update, context)


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


async def draft_gone(update: Update, context: BotContext, *, answered: bool = True) -> int:
    """A step whose draft is gone (filed or cancelled meanwhile): says so with the latest report, ends the wizard.
    ``answered``: the step already answered the button press."""
    if not answered and update.callback_query is not None:
        await settle(update)
    return await nothing_to_resume(update, context)


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
