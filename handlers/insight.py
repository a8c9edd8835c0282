"""Staff insight: /stats [period] sends a chart and a summary; /export csv [period] sends the cases as a CSV file.

Both are staff-only, decided by the person's role at the moment they ask (whatever chat they ask in). They take
one command and answer at once, so there is no conversation to keep: plain command handlers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler

from bot.cases import insight, insight_chart, insight_csv, insight_grids
from bot.people import staff
from bot.platform import dates
from bot.platform.i18n import N_, Lang
from bot.platform.text import CAPTION_LIMIT, fit, visible_len
from handlers.common import BotContext, lang_of

log = logging.getLogger(__name__)

STATS_USAGE = N_(
    "How to use /stats:\n"
    "/stats today · /stats week (since Monday) · /stats month (since the 1st)\n"
    "/stats 2026-11-01..2026-11-30 (at most 366 days)\n"
    "/stats week wuhan-edz: one district (its code or name), grid by grid"
)
EXPORT_USAGE = N_(
    "How to use /export:\n"
    "/export csv · /export csv today · /export csv month\n"
    "/export csv 2026-11-01..2026-11-30 (at most 366 days)"
)
PERIOD_PROBLEMS = {
    "format": N_("I did not understand that period."),
    "date": N_("One of those dates does not exist."),
    "order": N_("The first date must not be after the last one."),
    "too_long": N_("That period is too long."),
}


async def staff_only(update: Update, context: BotContext, t: Lang) -> bool:
    """True for staff; anyone else is told politely (and the attempt is logged by id only)."""
    assert update.effective_user is not None and update.effective_message is not None
    services = context.services
    user_id = update.effective_user.id
    if await staff.role_of(services.db, user_id, services.settings.admin_ids) is not None:
        return True
    log.warning("refused: user %s (not staff) asked for statistics", user_id)
    await update.effective_message.reply_text(t._("Sorry, only city staff can do this."))
    return False


async def read_period(update: Update, context: BotContext, t: Lang, words: list[str], usage: str) -> Any:
    """The period the words name, or None after explaining what is wrong."""
    assert update.effective_message is not None
    services = context.services
    try:
        return insight.parse_period(" ".join(words) or None, services.clock.now(), services.timezone)
    except insight.BadPeriod as error:
        problem = dates.out_of_range_text(t) if error.reason == "out_of_range" else t._(PERIOD_PROBLEMS[error.reason])
        await update.effective_message.reply_text(f"{problem}\n\n{t._(usage)}")
        return None


async def show_stats(update: Update, context: BotContext) -> None:
    """Sends the period's chart as a photo, with the summary as its caption (or after it when too long)."""
    t = await lang_of(update, context)
    message = update.effective_message
    assert message is not None
    if not await staff_only(update, context, t):
        return
    services = context.services
    words, district = insight_grids.split_district(list(context.args or []), services.service_area)
    period = await read_period(update, context, t, words, STATS_USAGE)
    if period is None:
        return
    now, code = services.clock.now(), district.code if district else None
    stats = await insight.gather_stats(services.db, period, now, context.policy.calendar, code)
    png = await asyncio.to_thread(insight_chart.render_chart, t, stats)  # a few hundred ms: not on the event loop
    lines = insight.summary_lines(t, stats)
    if district is not None:
        breakdown = await insight_grids.grid_breakdown(services.db, period, district.code, now)
        lines += ["", *insight_grids.grid_lines(t, district, breakdown)]
    summary = "\n".join(lines)
    filename = f"stats-{period.first_day.isoformat()}-{period.last_day.isoformat()}.png"
    if visible_len(summary) <= CAPTION_LIMIT:
        await message.reply_photo(InputFile(png, filename=filename), caption=summary)
    else:
        await message.reply_photo(InputFile(png, filename=filename))
        await message.reply_text(fit(summary))  # a district of many grids: the lines that fit


async def export_cases(update: Update, context: BotContext) -> None:
    """Sends the period's cases as a CSV document (no personal data of anonymous reporters)."""
    t = await lang_of(update, context)
    message = update.effective_message
    assert message is not None
    if not await staff_only(update, context, t):
        return
    words = list(context.args or [])
    if not words or words[0].lower() != "csv":
        await message.reply_text(t._(EXPORT_USAGE))
        return
    period = await read_period(update, context, t, words[1:], EXPORT_USAGE)
    if period is None:
        return
    services = context.services
    data, count = await insight_csv.cases_csv(services.db, period, services.clock.now(), t, services.service_area)
    filename = f"cases-{period.first_day.isoformat()}-{period.last_day.isoformat()}.csv"
    caption = t.n_(
        "{count} case filed {period}.", "{count} cases filed {period}.", count, period=insight.period_text(t, period)
    )
    await message.reply_document(InputFile(data, filename=filename), caption=caption)


def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [CommandHandler("stats", show_stats), CommandHandler("export", export_cases)]
