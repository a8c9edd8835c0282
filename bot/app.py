"""The composition root: builds the telegram.ext Application and wires every journey in one place."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from telegram import BotCommand, BotCommandScopeAllPrivateChats, MenuButtonWebApp, Update, WebAppInfo
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    ContextTypes,
    Defaults,
    TypeHandler,
)
from telegram.warnings import PTBUserWarning

from bot.cases import digest
from bot.cases.config import desk_from, policy_from
from bot.cases.intake_open311 import Open311Intake
from bot.cases.service import AfterCommit
from bot.edge import calls as edge
from bot.edge.courier import Notifier
from bot.edge.inbound import SharedInbound
from bot.edge.pacing import Pacer
from bot.edge.persistence import SQLitePersistence
from bot.edge.transport import BotAPIRequest
from bot.platform import claims
from bot.platform.config import SUPPORTED_LANGUAGES, Settings
from bot.platform.i18n import N_, get_lang
from bot.platform.ratelimit import AlertThrottle, UserRateLimiter
from bot.platform.reminders import ReminderKinds, ReminderTimer
from bot.platform.services import Services
from bot.privacy import ensure_retention
from bot.scheduled import Dispatcher
from bot.vending import reminders as spot_reminders
from bot.vending.spot_import import ensure_sample_spots
from bot.vending.spot_index import SpotIndex
from bot.web import MalformedUpdate, Metrics, WebServer, webhook_path
from handlers import (
    alerts,
    case_cards,
    case_desk,
    errors,
    followup,
    insight,
    moderation,
    my_reports,
    privacy,
    report,
    spot_admin,
    start,
    team,
    vendor,
    webapp,
)
from handlers.common import MAP_OPEN, BotContext, lang_of

log = logging.getLogger(__name__)

# The commands in the client's menu, per language (Telegram wants a language code, not a locale name).
COMMANDS = (
    ("start", N_("Main menu")),
    ("report", N_("Report a problem")),
    ("myreports", N_("My reports")),
    ("help", N_("What this bot can do")),
    ("language", N_("Change language")),
    ("settings", N_("Reminders on or off")),
    ("alerts", N_("Alerts about new reports near you")),
    ("privacy", N_("Your data and privacy")),
    ("cancel", N_("Stop what you are doing")),
)
TELEGRAM_LANGUAGE_CODES = {"zh_Hans": "zh", "en": "en"}

GUARD_GROUP = -10  # runs before every journey

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]

H = TypeVar("H")


def conversations(build: Callable[[], list[H]]) -> list[H]:
    """Builds ConversationHandlers without PTB's per_message warning (silenced here, where they are built)."""
    with warnings.catch_warnings():
        # Our conversations follow a person across messages on purpose (per_message=False); PTB warns that buttons
        # are then tracked per chat and user rather than per message, which is exactly what we want.
        warnings.filterwarnings("ignore", message="If .per_message=False.", category=PTBUserWarning)
        return build()


async def guard(update: Update, context: BotContext) -> None:
    """Ignores channel posts, bots and floods; records that a person wrote (so pushes reach them again)."""
    user = update.effective_user
    if update.channel_post or update.edited_channel_post or user is None or user.is_bot:
        raise ApplicationHandlerStop
    if update.edited_message is not None:
        raise ApplicationHandlerStop  # an edit of something already answered: nothing new to do
    verdict = context.application.bot_data["flood"].check(user.id, ARRIVED.get(time.monotonic()))
    if not verdict.allowed:
        chat, pressed = update.effective_chat, update.callback_query
        warn_here = verdict.warn and chat is not None and chat.type == "private"
        # Most dropped messages get no answer: look up the language only for the ones that do.
        if pressed is not None or warn_here:
            slow_down = (await lang_of(update, context))._("You are sending messages very fast. Please wait a moment.")
            if pressed is not None:
                await edge.answer(pressed, slow_down)  # or the person's button keeps spinning
            elif chat is not None:
                await context.bot.send_message(chat.id, slow_down)
        raise ApplicationHandlerStop
    await context.services.users.seen(
        user.id, user.first_name, user.language_code, context.services.clock.now(), user.username
    )


UPDATES_WAITING = 100_000  # updates waiting for their chat's turn (a lock each: cheap)
# When the update reached the bot: the guard judges a person's pace by arrival, not by when their chat's turn came
# (their answers leave at about one a second, so the end of a flood is handled long after it arrived).
ARRIVED: ContextVar[float] = ContextVar("arrived")


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Handles different chats' updates concurrently but each chat's in order, so a conversation never races."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        # PTB takes its slot before the chat's lock: one person's flood, each update waiting for their chat's turn
        # (their replies paced at about one a second), would hold every slot and stall everyone else. So PTB's
        # slots are plenty, and the limit on updates being handled is taken inside the chat's turn.
        super().__init__(UPDATES_WAITING)
        self._handling = asyncio.Semaphore(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # chat id -> (its lock, updates holding or waiting)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        ARRIVED.set(time.monotonic())  # this update's own task: seen by its handlers only
        chat = update.effective_chat if isinstance(update, Update) else None
        key = chat.id if chat is not None else 0
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock, self._handling:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]  # nobody else holds or waits for it: keep the table small
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


async def publish_commands(application: BotApplication) -> None:
    """setMyCommands in every language, the bot's default language also for everyone else."""
    services: Services = application.bot_data["services"]
    for code in SUPPORTED_LANGUAGES:
        t = get_lang(code, services.timezone)
        commands = [BotCommand(name, t._(description)) for name, description in COMMANDS]
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeAllPrivateChats(), language_code=TELEGRAM_LANGUAGE_CODES[code]
        )
        if code == services.settings.default_language:
            await application.bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())
    url = services.settings.webapp_url
    if url is not None:  # the chat's menu button opens the map; without WEBAPP_URL it stays Telegram's default
        t = get_lang(services.settings.default_language, services.timezone)
        await application.bot.set_chat_menu_button(menu_button=MenuButtonWebApp(t._(MAP_OPEN), WebAppInfo(url)))


async def post_init(application: BotApplication) -> None:
    """Opens the database, announces the commands, starts the outbox courier and re-arms the reminders."""
    services: Services = application.bot_data["services"]
    await services.open()
    if services.settings.service_area_file is None:  # the sample city gets its sample spots on first start
        await ensure_sample_spots(services.db, services.clock.now())
    await publish_commands(application)

    if claims.shared(services.db):  # what this name held before a restart (INSTANCE_NAME) is free at once
        await claims.release_all(services.db, services.instance)
    notifier = Notifier(application.bot, services, lease=services.settings.instance_lease)
    application.bot_data["notifier"] = notifier
    services.outbox_listeners.append(notifier.wake)
    notifier.start()

    assert application.job_queue is not None
    kinds = Dispatcher(services, application.bot_data["desk"]).kinds()
    more: ReminderKinds | None = application.bot_data.get("more_reminder_kinds")
    timer = ReminderTimer(services, application.job_queue, kinds.with_more(more) if more else kinds)
    timer.lease = services.settings.instance_lease
    application.bot_data["reminder_timer"] = timer
    services.reminder_listeners.append(timer.changed)
    services.time_listeners.append(timer.catch_up)
    await digest.ensure_digest(services.db, application.bot_data["desk"], services.clock.now())
    await spot_reminders.ensure_spot_reminders(services, services.clock.now())
    await ensure_retention(services, services.clock.now())
    await timer.restore()
    index = SpotIndex.for_database(services.db)
    if index is not None:  # the first search reads every spot (a second at 100k): before anyone asks, not then
        async with index.reading():
            application.bot_data["spot_index"] = index
    log.info("bot started as @%s", application.bot.username)


async def post_stop(application: BotApplication) -> None:
    """Stops the courier before the database closes (a row in flight is re-sent after restart)."""
    timer: ReminderTimer | None = application.bot_data.get("reminder_timer")
    if timer is not None:
        timer.stop()
    notifier: Notifier | None = application.bot_data.get("notifier")
    if notifier is not None:
        await notifier.stop()
    services: Services = application.bot_data["services"]
    if notifier is not None and claims.shared(services.db):
        # Several instances share the database: what this one claimed is free for the others now, not at lease end.
        try:
            await claims.release_all(services.db, services.instance)
        except Exception:
            log.warning("claims not given back at stop; other instances take them over when their lease ends")


async def post_shutdown(application: BotApplication) -> None:
    index: SpotIndex | None = application.bot_data.pop("spot_index", None)
    if index is not None:
        index.close()
    services: Services = application.bot_data["services"]
    await services.close()


class MeteredApplication(Application[Any, BotContext, Any, Any, Any, Any]):
    """The Application, counting each update it handles and how long that took (for /metrics and /healthz)."""

    async def process_update(self, update: object) -> None:
        started = time.perf_counter()
        try:
            await super().process_update(update)
        finally:
            metrics: Metrics | None = self.bot_data.get("metrics")
            if metrics is not None:
                services: Services = self.bot_data["services"]
                metrics.observe_update(time.perf_counter() - started, services.clock.now())


def build_application(
    settings: Settings, services: Services | None = None, more_reminder_kinds: ReminderKinds | None = None
) -> BotApplication:
    """The bot, ready to run by polling or webhook; `services` may be given to share a clock with a test, and
    `more_reminder_kinds` adds reminder kinds of a test's own."""
    services = services or Services(settings)
    # Several instances share the work only on PostgreSQL in webhook mode (see bot/edge/inbound.py).
    shared = settings.shares_instances
    application: BotApplication = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.timezone))
        .context_types(ContextTypes(context=BotContext))
        .persistence(SQLitePersistence(services.open, update_interval=settings.persistence_interval, shared=shared))
        .rate_limiter(Pacer())  # Telegram's limits per scope, replies first: see bot/edge/pacing.py
        .request(BotAPIRequest())  # a third of the CPU of PTB's default client per call: see bot/edge/transport.py
        .get_updates_request(BotAPIRequest(pool_size=1))
        .concurrent_updates(PerChatUpdateProcessor())
        .application_class(MeteredApplication)
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data["services"] = services
    # The settings projections of the cases, built once: handlers and the reminder dispatcher get them from here.
    application.bot_data["policy"] = policy_from(
        settings, services.lang(settings.default_language), services.service_area
    )
    application.bot_data["desk"] = desk_from(settings, services.service_area)
    application.bot_data["after_commit"] = AfterCommit(services.wake_outbox, services.reminders_changed)
    # POST /open311/v2/requests.json files cases with the same policy, waking this bot's courier and timer.
    application.bot_data["open311_intake"] = Open311Intake(
        application.bot_data["policy"], settings.open311_api_keys, application.bot_data["after_commit"]
    )
    if more_reminder_kinds is not None:
        application.bot_data["more_reminder_kinds"] = more_reminder_kinds
    application.bot_data["metrics"] = Metrics()
    application.bot_data["flood"] = UserRateLimiter()
    application.bot_data["alerts"] = AlertThrottle(window=60.0 * errors.ALERT_WINDOW_MINUTES)
    if shared:
        application.bot_data["inbound"] = SharedInbound(application, settings.instance_lease.total_seconds())

    # Order matters: the guard first, then every journey, then the catch-alls for what nobody claimed.
    application.add_handler(TypeHandler(Update, guard), group=GUARD_GROUP)
    for handler in moderation.build_guard():  # a blocked person's new reports and messages stop here
        application.add_handler(handler, moderation.BLOCK_GROUP)
    for handler in start.build_handlers():
        application.add_handler(handler)
    for handler in conversations(lambda: [*report.build_handlers(settings), *my_reports.build_handlers()]):
        application.add_handler(handler)
    # /alerts: the place it asks for is claimed ahead of the journeys (a vendor's search also takes locations).
    for handler in conversations(lambda: alerts.build_place_handlers(settings)):
        application.add_handler(handler, alerts.PLACE_GROUP)
    for handler in alerts.build_handlers():
        application.add_handler(handler)
    for handler in conversations(vendor.build_handlers):
        application.add_handler(handler)
    for handler in followup.build_handlers():
        application.add_handler(handler)
    for handler in [*case_cards.build_handlers(), *team.build_handlers(), *spot_admin.build_handlers()]:
        application.add_handler(handler)
    for handler in [*case_desk.build_handlers(), *moderation.build_handlers()]:  # notes, replies, moderation
        application.add_handler(handler)
    # Answers to the bot's questions are claimed ahead of every journey (the desk's first: notes, moderation).
    application.add_handler(case_desk.build_answer_handler(), case_desk.DESK_ANSWER_GROUP)
    application.add_handler(case_cards.build_answer_handler(), case_cards.ANSWER_GROUP)
    for handler in [*insight.build_handlers(), *privacy.build_handlers()]:
        application.add_handler(handler)
    for handler in webapp.build_handlers():  # what the map Mini App sends ("report here" is the wizard's)
        application.add_handler(handler)
    for handler in start.build_catch_alls():
        application.add_handler(handler)
    application.add_error_handler(errors.on_error)
    return application


async def start_polling(application: BotApplication, poll_timeout: float = 10) -> None:
    """Starts the bot as run_polling does, but inside a running event loop (tests, playground)."""
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(
        timeout=int(poll_timeout), poll_interval=0.0, allowed_updates=Update.ALL_TYPES
    )
    await application.start()


async def stop_polling(application: BotApplication) -> None:
    """Stops the bot as run_polling does on a signal: updater, application, persistence flush, database."""
    assert application.updater is not None
    if application.updater.running:
        await application.updater.stop()
    await _stop_application(application)


async def _stop_application(application: BotApplication) -> None:
    """The tail of every stop: the application, the courier, persistence flush and shutdown, the database."""
    if application.running:
        await application.stop()
    if application.post_stop:
        await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)


async def start_webhook(application: BotApplication, settings: Settings) -> WebServer:
    """Starts the bot fed by Telegram's webhook POSTs, with /healthz, /metrics and Open311 on the same server."""
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.start()
    inbound: SharedInbound | None = application.bot_data.get("inbound")
    if inbound is not None:
        await inbound.start()

    async def feed(data: dict[str, Any]) -> None:
        try:
            update = Update.de_json(data, application.bot)
        except Exception as exc:  # PTB raises whatever a constructor meets: KeyError, TypeError, OverflowError…
            raise MalformedUpdate(type(exc).__name__) from exc
        if inbound is not None:
            await inbound.receive(update, data)  # stored before Telegram hears 200: no instance loses it
        else:
            await application.update_queue.put(update)

    server = WebServer(
        application.bot_data["services"],
        application.bot_data["metrics"],
        webhook_path=webhook_path(settings.webhook_url),
        webhook_secret=settings.webhook_secret,
        feed=feed,
        intake=application.bot_data["open311_intake"],
    )
    await server.start(settings.webhook_listen, settings.webhook_port)
    application.bot_data["web"] = server
    await application.bot.set_webhook(
        settings.webhook_url, secret_token=settings.webhook_secret, allowed_updates=Update.ALL_TYPES
    )
    return server


async def stop_webhook(application: BotApplication) -> None:
    """Stops taking updates, lets the queued ones finish, then stops the bot (the webhook stays registered)."""
    server: WebServer | None = application.bot_data.pop("web", None)
    if server is not None:
        await server.stop()
    inbound: SharedInbound | None = application.bot_data.get("inbound")
    if inbound is not None:
        await inbound.stop()
    await _stop_application(application)
