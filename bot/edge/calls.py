"""The one place that sends, edits and answers on Telegram.

Telegram answers 400 "message is not modified" when an edit would change nothing: a double tap, a press delivered
again after a restart, a card edit the courier sends again after a crash. The message already shows what was
wanted, so here that answer counts as done, for the handlers and for the outbox courier alike.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardMarkup,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
)
from telegram.error import BadRequest
from telegram.warnings import PTBUserWarning

# The outbox stores any Bot API method by name, so :func:`call` uses do_api_request on purpose.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

_INPUT_MEDIA = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "audio": InputMediaAudio,
    "document": InputMediaDocument,
}
# Methods that put a new message in the chat: sending them twice leaves two messages.
SENDING_PREFIXES = ("send", "copy", "forward")


def is_not_modified(error: BaseException | None) -> bool:
    """Telegram's refusal of an edit that changes nothing: the message already reads as wanted."""
    return isinstance(error, BadRequest) and "message is not modified" in str(error).lower()


# ------------------------------------------------------------------ handlers
async def answer(query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Answers a button press (a toast, or an alert to dismiss), so the client's spinner stops."""
    await query.answer(text, show_alert=alert)


async def edit_text(
    target: CallbackQuery | Message | Bot,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
    *,
    chat_id: int | None = None,
    message_id: int | None = None,
) -> bool:
    """Rewrites a message (the one a button was under, a Message, or chat_id/message_id through the bot); without
    ``reply_markup`` its buttons go. False when the message already read so (nothing to do, nothing shown)."""
    try:
        if isinstance(target, CallbackQuery):
            await target.edit_message_text(text, reply_markup=reply_markup)
        elif isinstance(target, Message):
            await target.edit_text(text, reply_markup=reply_markup)
        else:
            if chat_id is None or message_id is None:
                raise TypeError("editing through the bot needs chat_id and message_id")
            await target.edit_message_text(text, chat_id=chat_id, message_id=message_id, reply_markup=reply_markup)
    except BadRequest as error:
        if is_not_modified(error):
            return False
        raise
    return True


async def edit_buttons(target: CallbackQuery | Message, reply_markup: InlineKeyboardMarkup | None) -> bool:
    """Replaces a message's buttons (None takes them away); False when it already had exactly these."""
    try:
        if isinstance(target, CallbackQuery):
            await target.edit_message_reply_markup(reply_markup)
        else:
            await target.edit_reply_markup(reply_markup)
    except BadRequest as error:
        if is_not_modified(error):
            return False
        raise
    return True


# ------------------------------------------------------------------ the outbox courier
@dataclass(frozen=True)
class Delivery:
    """What one Bot API call left in the chat."""

    message_ids: tuple[int, ...]  # the messages it sent (all of a media group) or edited; none for other calls
    changed: bool = True  # False: an edit that found the message already so

    @property
    def message_id(self) -> int | None:
        return self.message_ids[0] if self.message_ids else None


def api_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
    """A stored call's parameters for the bot; a media group's items become PTB's objects (it sets their parse
    mode)."""
    media = params.get("media")
    if not isinstance(media, list):
        return dict(params)
    items = [_INPUT_MEDIA[item["type"]](**{k: v for k, v in item.items() if k != "type"}) for item in media]
    return {**params, "media": items}


def creates_message(method: str) -> bool:
    """Whether the method puts a new message in the chat (so sending it twice leaves a duplicate)."""
    return method.lower().startswith(SENDING_PREFIXES)


async def call(
    bot: Bot, method: str, params: Mapping[str, Any], *, read_timeout: float | None = None, pace: object = None
) -> Delivery:
    """Any Bot API method by name, with parameters as the outbox stores them (JSON); raises Telegram's errors
    except "not modified", which is a delivery that changed nothing. ``pace`` goes to the bot's rate limiter (its
    lane: see bot.edge.pacing)."""
    kwargs = api_kwargs(params)
    options: dict[str, Any] = {}
    if read_timeout is not None:
        options["read_timeout"] = read_timeout
    if pace is not None:
        options["rate_limit_args"] = pace  # an ExtBot's keyword: the courier's bot is the application's
    try:
        result = await bot.do_api_request(method, api_kwargs=kwargs, **options)
    except BadRequest as error:
        if not is_not_modified(error):
            raise
        edited = params.get("message_id")
        return Delivery((edited,) if isinstance(edited, int) else (), changed=False)
    return Delivery(_message_ids(result))


def _message_ids(result: Any) -> tuple[int, ...]:
    items = result if isinstance(result, list) else [result]
    return tuple(
        int(item["message_id"]) for item in items if isinstance(item, dict) and isinstance(item.get("message_id"), int)
    )
