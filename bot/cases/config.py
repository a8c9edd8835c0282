"""The settings the cases need, projected once at start (bot/app.py) and passed in: no rebuilding per update."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo

import aiosqlite

from bot.platform import users
from bot.platform.config import Settings
from bot.platform.geo import ServiceArea
from bot.platform.i18n import Lang, get_lang
from bot.platform.worktime import WorkCalendar


@dataclass(frozen=True)
class Timing:
    """How long the timers of a case and of a draft wait (ACK_ESCALATE_AFTER, FOLLOWUP_WAIT, …)."""

    ack_escalate_after: timedelta = timedelta(minutes=30)
    followup_wait: timedelta = timedelta(days=3)
    draft_reminder_after: timedelta = timedelta(hours=1)
    digest_time: time = time(8, 30)


@dataclass(frozen=True)
class ReportPolicy:
    """What filing a report needs: limits, the working calendar, the staff group and the served area."""

    calendar: WorkCalendar
    per_hour: int = 5
    per_day: int = 20
    duplicate_radius_m: float = 250.0
    staff_chat_id: int | None = None
    staff_lang: Lang | None = None  # the staff group's language (the bot's default)
    area: ServiceArea | None = None
    timing: Timing = field(default_factory=Timing)


@dataclass(frozen=True)
class Desk:
    """What the staff side needs: the group, its language, the area, the admins and the timers."""

    staff_chat_id: int | None
    staff_lang: Lang  # the group's language: the bot's default
    area: ServiceArea | None
    admin_ids: frozenset[int]
    default_language: str
    calendar: WorkCalendar | None = None
    timing: Timing = field(default_factory=Timing)
    auto_dispatch: str = "suggest"  # AUTO_DISPATCH: what the officer of a case's grid gets (bot/cases/grids.py)

    @property
    def timezone(self) -> tzinfo:
        return self.staff_lang.timezone

    @property
    def work_calendar(self) -> WorkCalendar:
        return self.calendar or WorkCalendar(self.timezone)


def timing_from(settings: Settings) -> Timing:
    return Timing(
        settings.ack_escalate_after, settings.followup_wait, settings.draft_reminder_after, settings.digest_time
    )


def policy_from(settings: Settings, staff_lang: Lang, area: ServiceArea | None) -> ReportPolicy:
    return ReportPolicy(
        calendar=WorkCalendar(settings.timezone, settings.work_hours),
        per_hour=settings.reports_per_hour,
        per_day=settings.reports_per_day,
        duplicate_radius_m=settings.duplicate_radius_m,
        staff_chat_id=settings.staff_chat_id,
        staff_lang=staff_lang,
        area=area,
        timing=timing_from(settings),
    )


def desk_from(settings: Settings, area: ServiceArea | None) -> Desk:
    return Desk(
        staff_chat_id=settings.staff_chat_id,
        staff_lang=get_lang(settings.default_language, settings.timezone),
        area=area,
        admin_ids=settings.admin_ids,
        default_language=settings.default_language,
        calendar=WorkCalendar(settings.timezone, settings.work_hours),
        timing=timing_from(settings),
        auto_dispatch=settings.auto_dispatch,
    )


def desk_for(policy: ReportPolicy) -> Desk:
    """The staff side's view of a filing policy (the new case's card is made with it)."""
    t = policy.staff_lang or get_lang("en", policy.calendar.timezone)
    return Desk(policy.staff_chat_id, t, policy.area, frozenset(), t.code, policy.calendar, policy.timing)


async def lang_of_user(conn: aiosqlite.Connection, telegram_id: int, desk: Desk) -> Lang:
    """The person's language for a push, by the one rule every path uses (bot.platform.users.answer_lang)."""
    return await users.lang_for(conn, telegram_id, desk.default_language, desk.timezone)


def next_daily(at: time, zone: tzinfo, now: datetime) -> datetime:
    """The next ``at`` o'clock in ``zone`` after ``now``."""
    local = now.astimezone(zone)
    moment = datetime.combine(local.date(), at, zone)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), at, zone)
    return moment
