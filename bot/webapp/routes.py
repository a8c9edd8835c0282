"""The Mini App on the bot's HTTP server: ``GET /app/`` (the page), its static files and its JSON API.

Every API call carries Telegram's initData in ``X-Telegram-Init-Data``; missing, tampered or stale → 401, a bad
parameter → 400, both as ``{"error": "…"}``. The person's language is their choice in the bot, else their
Telegram app's (initData's ``user.language_code``), else the bot's default: the one rule of bot.platform.users.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import tornado.web

from bot.cases.public_map import open_cases_near
from bot.platform.config import SUPPORTED_LANGUAGES
from bot.platform.gcj02 import to_map_crs
from bot.platform.i18n import Lang
from bot.platform.services import Services
from bot.vending.map_view import spots_in_box, zones_in_box
from bot.vending.spots import GOODS
from bot.webapp import actions, geojson, strings
from bot.webapp.init_data import InitDataError, WebAppUser, validate
from handlers.webapp import MapSubscribe, parse_map_data

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
INIT_DATA_HEADER = "X-Telegram-Init-Data"
BOOT_MARK = "/*BOOT*/{}"
NEAR_ZOOM = 15  # the streets around the person's place
CITY_ZOOM = 13  # without a place: the district, so the first view shows its spots


class _Api(tornado.web.RequestHandler):
    """An API call: checks initData first, answers JSON."""

    def initialize(self, services: Services) -> None:
        self.services = services
        self.person: WebAppUser | None = None

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")

    def answer(self, status: int, payload: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(payload, ensure_ascii=False))

    async def prepare(self) -> None:
        services = self.services
        try:
            self.person = validate(
                self.request.headers.get(INIT_DATA_HEADER, ""), services.settings.bot_token, services.clock.now()
            )
        except InitDataError as error:
            log.info("mini app: refused %s (%s)", self.request.path, error)
            self.answer(401, {"error": str(error)})

    async def lang(self) -> Lang:
        """The person's language by the bot's one rule (their stored choice first)."""
        assert self.person is not None
        return await self.services.lang_for(self.person.id, self.person.language_code)

    def arg(self, name: str) -> str | None:
        return self.get_query_argument(name, None)

    @property
    def crs(self) -> str:
        return self.services.settings.map_tile_crs


class _ConfigHandler(_Api):
    async def get(self) -> None:
        services = self.services
        t = await self.lang()
        config = strings.page_config(t, services.settings, services.clock.now())
        try:  # the place the bot knows the person is at (WGS-84, put in the button's address), if any
            me = geojson.parse_point(self.arg("lat"), self.arg("lon"), "wgs84") if self.arg("lat") else None
        except geojson.BadQuery as error:
            self.answer(400, {"error": str(error)})
            return
        lat, lon = to_map_crs(self.crs, *(me or services.service_area.districts[0].center))
        config["center"] = {"lat": lat, "lon": lon}
        config["me"] = config["center"] if me is not None else None
        config["zoom"] = NEAR_ZOOM if me is not None else CITY_ZOOM
        self.answer(200, config)


class _SpotsHandler(_Api):
    async def get(self) -> None:
        services = self.services
        now = services.clock.now()
        goods = self.arg("goods") or None
        try:
            box = geojson.parse_box(self.arg("bbox"), self.crs)
            at = geojson.parse_moment(self.arg("at"), now)
            near = geojson.parse_point(self.arg("lat"), self.arg("lon"), self.crs) if self.arg("lat") else None
            if goods is not None and goods not in GOODS:
                raise geojson.BadQuery(f"goods must be one of {', '.join(GOODS)}")
        except geojson.BadQuery as error:
            self.answer(400, {"error": str(error)})
            return
        found = await spots_in_box(services.db, box, at, services.timezone, goods)
        self.answer(200, geojson.spots_collection(await self.lang(), found, at, self.crs, near))


class _ZonesHandler(_Api):
    async def get(self) -> None:
        services = self.services
        try:
            box = geojson.parse_box(self.arg("bbox"), self.crs)
            at = geojson.parse_moment(self.arg("at"), services.clock.now())
        except geojson.BadQuery as error:
            self.answer(400, {"error": str(error)})
            return
        found = await zones_in_box(services.db, box, at, services.timezone)
        self.answer(200, geojson.zones_collection(await self.lang(), found, self.crs))


class _CasesHandler(_Api):
    async def get(self) -> None:
        services = self.services
        try:
            lat, lon = geojson.parse_point(self.arg("lat"), self.arg("lon"), self.crs)
            radius = geojson.parse_radius(self.arg("radius"))
        except geojson.BadQuery as error:
            self.answer(400, {"error": str(error)})
            return
        found = await open_cases_near(services.db, lat, lon, radius)
        self.answer(200, geojson.cases_collection(await self.lang(), found, services.clock.now(), self.crs))


class _SendHandler(_Api):
    """``POST /app/api/send`` ``{"data": …}``: the page's sendData when Telegram cannot carry it (inline or menu
    button launches); the same messages the chat's web_app_data handler reads."""

    async def post(self) -> None:
        assert self.person is not None
        try:
            body = json.loads(self.request.body or b"{}")
            found = parse_map_data(body.get("data") if isinstance(body, dict) else None)
        except (ValueError, RecursionError):
            found = None
        if found is None:
            self.answer(400, {"error": "data must be one of the page's messages (subscribe or report)"})
            return
        t = await self.lang()
        try:
            if isinstance(found, MapSubscribe):
                text = await actions.subscribe(self.services, self.person.id, found.spot_id, t)
            else:
                text = await actions.report_here(self.services, self.person.id, found.category, found.lat, found.lon, t)
        except actions.PageRefused as refused:
            self.answer(409, {"error": str(refused)})
            return
        self.answer(200, {"sent": text})


class _PageHandler(tornado.web.RequestHandler):
    """The page, with the words it needs before it knows the person's language rendered in."""

    def initialize(self, services: Services) -> None:
        self.services = services

    def get(self) -> None:
        services = self.services
        boot = {"strings": strings.boot_strings([services.lang(code) for code in SUPPORTED_LANGUAGES])}
        boot["default_language"] = services.settings.default_language  # type: ignore[assignment]
        page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        # "</" cannot appear in the JSON (it is escaped), so the script element cannot be closed from inside.
        page = page.replace(BOOT_MARK, json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(page)


def webapp_routes(services: Services) -> list[Any]:
    """The Mini App's routes, for the bot's HTTP server (and the playground's)."""
    target = {"services": services}
    return [
        (r"/app", tornado.web.RedirectHandler, {"url": "/app/"}),
        (r"/app/", _PageHandler, target),
        (r"/app/api/config\.json", _ConfigHandler, target),
        (r"/app/api/spots\.geojson", _SpotsHandler, target),
        (r"/app/api/zones\.geojson", _ZonesHandler, target),
        (r"/app/api/cases\.geojson", _CasesHandler, target),
        (r"/app/api/send", _SendHandler, target),
        (r"/app/static/(.*)", tornado.web.StaticFileHandler, {"path": str(STATIC_DIR)}),
    ]
