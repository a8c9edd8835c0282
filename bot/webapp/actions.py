"""What the page does itself when Telegram cannot carry its ``sendData``: a Mini App opened from an inline button or
the chat's menu button has no keyboard button to answer through, so the page posts to ``/app/api/send`` instead.

The same two actions as the chat's web_app_data handler (handlers/webapp.py), through the same services: subscribe
to a spot, or keep the report's category and place in the draft; the chat hears of each through the outbox, the
report with a "Continue" button that resumes the wizard at the next step.
"""

from __future__ import annotations

from bot import wire
from bot.cases import states
from bot.cases.config import timing_from
from bot.cases.drafts import Draft, load_draft, schedule_nudge, write_draft
from bot.platform import outbox
from bot.platform.gcj02 import from_map_crs
from bot.platform.geo import valid_coordinates
from bot.platform.i18n import Lang
from bot.platform.services import Services
from bot.platform.text import NAME_SHOWN, clip, escape
from bot.vending import reminders, spots, subscriptions
from bot.vending.search import spot_detail

STEP_AFTER_PLACE = "duplicates"  # the wizard's step after a shared location: possible duplicates, then description


class PageRefused(ValueError):
    """The page asked for something that cannot be done; the message (translated) says why."""


async def subscribe(services: Services, user_id: int, spot_id: int, t: Lang) -> str:
    """Subscribes as the spot page's button does; queues the same confirmation into the chat and returns it."""
    now = services.clock.now()
    try:
        detail = await spot_detail(services.db, spot_id, user_id, now, services.timezone)
    except spots.SpotNotFound:
        raise PageRefused(t._("That spot no longer exists. Please open the map again.")) from None
    if detail.spot.status == spots.STATUS_RELOCATED and detail.relocated_to is not None:
        raise PageRefused(
            t._(
                "This spot has moved to {name}. Please subscribe there instead.",
                name=clip(detail.relocated_to.title(t.code), NAME_SHOWN),
            )
        )
    timing = reminders.Timing.of(services.settings)
    await subscriptions.subscribe(services.db, user_id, spot_id, t.code, now, timing)
    text = t._(
        "🔔 Done. I will remind you before {name} opens and tell you at once if it closes or moves.",
        name=clip(detail.spot.title(t.code), NAME_SHOWN),
    )
    async with services.db.transaction() as conn:
        await outbox.enqueue_text(conn, user_id, escape(text), now)
    services.wake_outbox()
    return text


async def report_here(services: Services, user_id: int, category: str, lat: float, lon: float, t: Lang) -> str:
    """Keeps the category and the pin's place (map coordinates) in the person's draft, at the step after a shared
    location, and queues the chat's "Continue" button; one unit of work. Returns the chat's text."""
    now = services.clock.now()
    lat, lon = from_map_crs(services.settings.map_tile_crs, lat, lon)
    district = services.service_area.district_at(lat, lon) if valid_coordinates(lat, lon) else None
    if district is None:
        raise PageRefused(t._("Sorry, this place is outside the area we serve. Please move the pin into it."))
    text = t._(
        "🗺 From the map: {category} at {district}.",
        category=t._(states.CATEGORY_BY_CODE[category].name),
        district=escape(district.name(t.code)),
    )
    text += "\n" + t._("Press “Continue” to go on with your report here in the chat.")
    keyboard = {"inline_keyboard": [[{"text": t._("▶️ Continue"), "callback_data": wire.RESUME_DRAFT}]]}
    draft = await load_draft(services.db, user_id) or Draft()  # what was answered in the chat so far stays
    draft.category, draft.offered, draft.editing = category, [], False
    draft.lat, draft.lon, draft.district, draft.address_text = lat, lon, district.code, None
    async with services.db.transaction() as conn:
        await write_draft(conn, user_id, draft, STEP_AFTER_PLACE, now)
        await schedule_nudge(conn, user_id, timing_from(services.settings).draft_reminder_after, now)
        await outbox.enqueue_text(conn, user_id, text, now, reply_markup=keyboard)
    services.reminders_changed()
    services.wake_outbox()
    return text
