"""Spot administration by staff: /spot close | open | move, told at once to every subscribed vendor."""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    Update,
)
from telegram.ext import (
    BaseHandler,
    CommandHandler,
)

from bot.people.staff import NotAllowed
from bot.platform import dates
from bot.platform.i18n import N_, Lang
from bot.platform.text import TITLE_SHOWN, escape
from bot.vending import spots, staff_actions
from bot.vending.reminders import Timing
from handlers.case_cards import refusal
from handlers.common import BotContext, lang_of

log = logging.getLogger(__name__)

SPOT_USAGE = N_(
    "How to use /spot:\n"
    "/spot close &lt;spot&gt; [until] [reason] — until: 3h, 2d, 18:00, 2026-12-01 or 2026-12-01T08:00\n"
    "/spot open &lt;spot&gt;\n"
    "/spot move &lt;spot&gt; &lt;other spot&gt; [reason]\n"
    "A spot is its number or its import id."
)


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
    timing = Timing.of(services.settings)
    try:
        if verb == "close":
            until = staff_actions.parse_until(args[2], now, tz) if len(args) > 2 else None
            reason = " ".join(args[3:] if until is not None else args[2:])[:300]
            change = await staff_actions.close_by_staff(
                services.db, user.id, args[1], until, reason, now, timing, admin_ids
            )
            name = escape(change.spot.title(t.code), TITLE_SHOWN)
            if until is not None:
                headline = t._("🚫 Spot {name} is closed until {until}.", name=name, until=t.date_time(until))
            else:
                headline = t._("🚫 Spot {name} is closed until further notice.", name=name)
        elif verb == "open":
            change = await staff_actions.reopen_by_staff(services.db, user.id, args[1], now, timing, admin_ids)
            headline = t._("✅ Spot {name} is open again.", name=escape(change.spot.title(t.code), TITLE_SHOWN))
        else:
            change, other = await staff_actions.relocate_by_staff(
                services.db, user.id, args[1], args[2], " ".join(args[3:])[:300], now, timing, admin_ids
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
    except staff_actions.SpotRefused as error:
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


def spot_problem(t: Lang, error: staff_actions.SpotRefused) -> str:
    if error.kind == "relocated":
        return t._("This spot has moved to another place; change the spot it moved to instead.")
    if error.kind == "past":
        return t._("The closure must end in the future.")
    if error.kind == "self":
        return t._("A spot cannot move to itself.")
    return t._("That spot has itself moved; move to the spot it moved to.")


# ------------------------------------------------------------------ wiring
def build_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """/spot, in private chats and the staff group (group 0, before the catch-alls)."""
    return [CommandHandler("spot", manage_spot)]
