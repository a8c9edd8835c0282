"""The bot's HTTP side, one tornado server: the Telegram webhook, /healthz, /metrics, the Open311 endpoints and the
map Mini App (/app/, bot.webapp).

In webhook mode the server listens on WEBHOOK_LISTEN:WEBHOOK_PORT and takes Telegram's POSTs at the path of
WEBHOOK_URL (refusing any without the right ``X-Telegram-Bot-Api-Secret-Token`` with 403) beside the other
pages; ``python -m bot serve`` (and polling mode, when HTTP_PORT is set) serves the other pages alone on
HTTP_LISTEN:HTTP_PORT. The webhook hands each update to a ``feed`` coroutine the composition root gives, so
this module knows nothing of telegram.ext.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import tornado.routing
import tornado.web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.cases import intake_open311, open311
from bot.cases.states import ReportState
from bot.platform.services import Services
from bot.webapp.routes import webapp_routes

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_TIMEOUT = 2.0  # seconds the database may take to answer before /healthz says it is unreachable
MAX_WEBHOOK_BODY = 1024 * 1024  # Telegram's updates are far smaller; anything bigger is not from Telegram

Feed = Callable[[dict[str, Any]], Awaitable[None]]


class MalformedUpdate(ValueError):
    """An update by its outer shape whose inside cannot be read (a feed raises it; the webhook drops the update)."""


class Metrics:
    """The Prometheus metrics of one running bot, in a registry of its own (tests run several bots at once)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter("citybot_updates_handled", "Telegram updates handled", registry=self.registry)
        self.latency = Histogram(
            "citybot_update_seconds",
            "Time to handle one Telegram update",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.webhook_refused = Counter(
            "citybot_webhook_refused", "Webhook requests refused (wrong secret or body)", registry=self.registry
        )
        self.reports = Gauge("citybot_reports", "Reports by state", ["state"], registry=self.registry)
        self.outbox_backlog = Gauge("citybot_outbox_backlog", "Pushes waiting in the outbox", registry=self.registry)
        self.reminders_pending = Gauge("citybot_reminders_pending", "Reminders not yet fired", registry=self.registry)
        self.last_update_at: datetime | None = None
        self.handled = 0

    def observe_update(self, seconds: float, at: datetime) -> None:
        self.handled += 1
        self.updates.inc()
        self.latency.observe(seconds)
        self.last_update_at = at

    async def refresh(self, services: Services) -> None:
        """Reads the gauges from the database (at scrape time, so they are never stale)."""
        from bot.edge.courier import backlog

        rows = await services.db.fetchall("SELECT state, COUNT(*) AS n FROM reports GROUP BY state")
        by_state = {row["state"]: int(row["n"]) for row in rows}
        for state in ReportState:
            self.reports.labels(state=state.value).set(by_state.get(state.value, 0))
        self.outbox_backlog.set(await backlog(services))
        row = await services.db.fetchone("SELECT COUNT(*) FROM reminders WHERE state = 'pending'")
        self.reminders_pending.set(int(row[0]) if row else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def health(services: Services, metrics: Metrics) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 200 when the database answers, 503 when it does not."""
    try:
        row = await asyncio.wait_for(services.db.fetchone("SELECT 1"), HEALTH_TIMEOUT)
        database = "ok" if row is not None and row[0] == 1 else "unreachable"
    except Exception as exc:  # whatever the reason, the answer is the same: not healthy
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        database = "unreachable"
    last = metrics.last_update_at
    body = {
        "status": "ok" if database == "ok" else "unavailable",
        "database": database,
        "last_update_at": last.isoformat(timespec="seconds") if last else None,
        "updates_handled": metrics.handled,
    }
    return (200 if database == "ok" else 503), body


def webhook_path(url: str) -> str:
    """The path Telegram posts to: the path of WEBHOOK_URL, or / when it has none."""
    return urlsplit(url).path or "/"


# ------------------------------------------------------------------ handlers
class _Base(tornado.web.RequestHandler):
    def initialize(self, server: WebServer) -> None:
        self.server = server

    def check_xsrf_cookie(self) -> None:  # machines post here, not browsers with cookies
        return None

    def write_json(self, status: int, payload: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(payload, ensure_ascii=False))


class _WebhookHandler(_Base):
    async def post(self) -> None:
        secret = self.server.webhook_secret or ""
        given = self.request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            self.server.metrics.webhook_refused.inc()
            log.warning("webhook: refused a request with a missing or wrong secret token")
            self.set_status(403)
            self.finish()
            return
        try:
            update = json.loads(self.request.body)
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if type(update_id) is not int:
                raise ValueError("not an update")
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
            self.server.metrics.webhook_refused.inc()
            log.warning("webhook: refused a body that is not a Telegram update")
            self.set_status(400)
            self.finish()
            return
        assert self.server.feed is not None
        try:
            await self.server.feed(update)
        except MalformedUpdate as exc:
            # 200, not 5xx: Telegram would send the same unreadable update again and again.
            self.server.metrics.webhook_refused.inc()
            log.warning("webhook: dropped update %s that could not be read (%s)", update_id, exc)
        self.set_status(200)
        self.finish()


class _HealthHandler(_Base):
    async def get(self) -> None:
        status, body = await health(self.server.services, self.server.metrics)
        self.write_json(status, body)


class _MetricsHandler(_Base):
    async def get(self) -> None:
        try:
            await self.server.metrics.refresh(self.server.services)
        except Exception:
            log.exception("metrics: could not read the database")
            self.set_status(503)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(self.server.metrics.render())


class _Open311Handler(_Base):
    def set_default_headers(self) -> None:
        self.set_header("Access-Control-Allow-Origin", "*")  # public data; filing needs an api_key anyway

    async def get(self, resource: str, number: str | None, extension: str) -> None:
        if extension != "json":
            self.write_json(400, [{"code": 400, "description": "only the json format is served"}])
            return
        services = self.server.services
        t = services.lang(services.settings.default_language)
        agency = services.settings.agency_name
        now = services.clock.now()
        params = {name: self.get_argument(name) for name in self.request.query_arguments}
        try:
            if resource == "services" and number:
                payload: Any = intake_open311.service_definition(number)
            elif resource == "services":
                payload = open311.services(t)
            elif number:
                payload = await open311.request(services.db, number, now, t, agency)
            else:
                payload = await open311.requests(services.db, open311.parse_query(params), now, t, agency)
        except open311.Open311Error as error:
            self.write_json(error.status, error.as_json())
            return
        self.write_json(200, payload)

    async def post(self, resource: str, number: str | None, extension: str) -> None:
        """POST requests.json: another channel files a case (form-encoded, api_key in the form or the query)."""
        if resource != "requests" or number:
            self.write_json(405, [{"code": 405, "description": "only requests.json takes a POST"}])
            return
        if extension != "json":
            self.write_json(400, [{"code": 400, "description": "only the json format is served"}])
            return
        services = self.server.services
        intake = self.server.intake
        try:
            params = {name: self.get_argument(name) for name in self.request.arguments}
        except tornado.web.HTTPError:  # e.g. a field that is not UTF-8
            self.write_json(400, [{"code": 400, "description": "the form could not be read (UTF-8 expected)"}])
            return
        try:
            if intake is None:
                raise open311.Open311Error(403, "this server takes no service requests")
            t = services.lang(services.settings.default_language)
            payload = await intake_open311.file_request(services.db, intake, params, services.clock.now(), t)
        except open311.Open311Error as error:
            log.info("open311: refused a service request (%s)", error.status)
            self.write_json(error.status, error.as_json())
            return
        log.info("open311: filed %s", payload[0]["service_request_id"])
        self.write_json(200, payload)


# ------------------------------------------------------------------ the server
class WebServer:
    """The routes above on one tornado server in the running event loop."""

    def __init__(
        self,
        services: Services,
        metrics: Metrics,
        *,
        webhook_path: str | None = None,
        webhook_secret: str | None = None,
        feed: Feed | None = None,
        intake: intake_open311.Open311Intake | None = None,
    ) -> None:
        if webhook_path is not None and (not webhook_secret or feed is None):
            raise ValueError("a webhook needs its secret token and somewhere to feed the updates")
        self.services = services
        self.metrics = metrics
        self.webhook_path = webhook_path
        self.webhook_secret = webhook_secret
        self.feed = feed
        self.intake = intake  # None: POST requests.json is refused (403)
        self.port = 0
        self._server: HTTPServer | None = None

    def routes(self) -> list[Any]:
        target = {"server": self}
        routes: list[Any] = [
            (r"/healthz", _HealthHandler, target),
            (r"/metrics", _MetricsHandler, target),
            (r"/open311/v2/(services)()\.(\w+)", _Open311Handler, target),
            (r"/open311/v2/(services)/([A-Za-z0-9_-]+)\.(\w+)", _Open311Handler, target),
            (r"/open311/v2/(requests)()\.(\w+)", _Open311Handler, target),
            (r"/open311/v2/(requests)/([A-Za-z0-9-]+)\.(\w+)", _Open311Handler, target),
            *webapp_routes(self.services),
        ]
        if self.webhook_path is not None:
            routes.insert(0, (tornado.routing.PathMatches(self.webhook_path + "$"), _WebhookHandler, target))
        return routes

    async def start(self, listen: str, port: int) -> int:
        """Starts listening (port 0: any free port); returns the port."""
        app = tornado.web.Application(self.routes(), log_function=_log_request)
        sockets = bind_sockets(port, listen)
        self.port = sockets[0].getsockname()[1]
        self._server = HTTPServer(app, max_body_size=MAX_WEBHOOK_BODY, xheaders=True)
        self._server.add_sockets(sockets)
        log.info("http: serving on %s:%s (webhook %s)", listen, self.port, "on" if self.webhook_path else "off")
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """One line per request at DEBUG (the path only: Open311 queries and webhook bodies stay out of the log)."""
    status = handler.get_status()
    level = logging.WARNING if status >= 500 else logging.DEBUG
    log.log(
        level,
        "http: %s %s -> %s in %.1f ms",
        handler.request.method,
        handler.request.path,
        status,
        1000 * handler.request.request_time(),
    )
