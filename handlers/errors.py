"""The global error handler: log first, tell the user, notify the admins, keep running."""

from __future__ import annotations

import logging
import re

from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.platform.ratelimit import AlertThrottle
from bot.platform.text import escape
from handlers.common import BotContext, lang_of

log = logging.getLogger(__name__)

ALERT_WINDOW_MINUTES = 10  # the same kind of error reaches the admins at most once in this time
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_DIGITS = re.compile(r"\d+")


def describe_error(error: BaseException | None, token: str) -> str:
    """The error's type and message with the bot token scrubbed (httpx errors carry the URL)."""
    if error is None:
        return "unknown error"
    text = f"{type(error).__name__}: {error}"
    return text.replace(token, "<token>")[:500]


def error_kind(description: str) -> str:
    """The shape of an error, for throttling alerts: its type and message with numbers and quoted values
    blanked, so the same failure with another id or another person's input counts as the same kind."""
    return _DIGITS.sub("#", _QUOTED.sub("'…'", description))[:200]


def is_spent_button_press(error: BaseException | None) -> bool:
    """Telegram refused to answer a button press already answered or too old: it is a press Telegram delivered
    again after a restart (the first delivery was handled), or one that waited out an outage."""
    text = str(error).lower()
    return isinstance(error, BadRequest) and ("query is too old" in text or "query id is invalid" in text)


async def on_error(update: object, context: BotContext) -> None:
    """Logs the error with the update id, apologises to the user and tells the admins what broke."""
    token = context.bot.token
    update_id = update.update_id if isinstance(update, Update) else None
    if is_spent_button_press(context.error):
        # Nothing was done with it, and the person has moved on: no apology, no alarm.
        log.warning("update %s: a button press that can no longer be answered was left alone", update_id)
        return
    log.error(
        "error while handling update %s: %s",
        update_id,
        describe_error(context.error, token),
        exc_info=context.error,
    )
    if isinstance(update, Update) and update.effective_chat is not None and update.effective_chat.type == "private":
        t = await lang_of(update, context)
        try:
            await context.bot.send_message(
                update.effective_chat.id,
                t._("Sorry, something went wrong on our side. Please try again; your data is safe."),
            )
        except TelegramError:
            log.warning("could not tell the user about the error in update %s", update_id)
    await alert_admins(context, update_id, describe_error(context.error, token))


async def alert_admins(context: BotContext, update_id: int | None, description: str) -> None:
    """Tells every admin, unless the same kind of error was reported within ALERT_WINDOW_MINUTES (then it is
    counted, and the next alert of its kind says how many were held back)."""
    throttle: AlertThrottle = context.application.bot_data["alerts"]
    held = throttle.admit(error_kind(description), context.services.clock.now().timestamp())
    if held is None:
        log.info("update %s: the admins' alert was held back (the same kind was sent lately)", update_id)
        return
    for admin_id in context.services.settings.admin_ids:
        admin_t = await context.services.lang_for(admin_id)
        text = admin_t._(
            "⚠️ An error occurred while handling update {update_id}: {error}",
            update_id=update_id,
            error=escape(description),
        )
        if held:
            text += "\n" + admin_t.n_(
                "{count} more error like it since the last alert was held back.",
                "{count} more errors like it since the last alert were held back.",
                held,
            )
        try:
            await context.bot.send_message(admin_id, text)
        except Forbidden:
            log.warning("admin %s has blocked the bot", admin_id)
        except TelegramError:
            log.warning("could not notify admin %s", admin_id)
