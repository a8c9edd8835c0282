"""Open311 GeoReport v2 intake: ``POST requests.json`` files a case through the same case service as Telegram.

The form's fields are read and checked here (``api_key``, ``service_code``, ``lat``+``long`` or ``address_string``,
``description``, and the optional ``media_url``, ``first_name``, ``last_name``, ``email``, ``phone``); the case is
then filed by :func:`bot.cases.service.submit` exactly as the report wizard files one — public number, deadline,
timers, the staff group's card, area alerts — with an :class:`~bot.cases.origins.Origin` instead of a Telegram
reporter. Errors are :class:`~bot.cases.open311.Open311Error` (403 for the key, 404 for the service, 400 for the
rest), answered as the spec's ``[{"code", "description"}]``. Nothing is written when a field is refused.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.cases import open311, service
from bot.cases.config import ReportPolicy
from bot.cases.drafts import Draft
from bot.cases.duplicates import find_nearby_open
from bot.cases.open311 import Open311Error
from bot.cases.origins import NO_TELEGRAM_REPORTER, OPEN311, Origin, client_fingerprint
from bot.cases.service import NOTHING, AfterCommit
from bot.cases.states import ADDRESS_MAX, ADDRESS_MIN, CATEGORY_BY_CODE, DESCRIPTION_MAX
from bot.platform.db import Database
from bot.platform.geo import ServiceArea, valid_coordinates
from bot.platform.i18n import Lang

NAME_MAX = 64
EMAIL_MAX = 254
PHONE_MAX = 32
URL_MAX = 2048
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]*")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")  # but \t and \n; bidi overrides
_DECIMAL = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*")


@dataclass(frozen=True)
class Open311Intake:
    """What filing over Open311 needs from the running bot: the filing policy, the keys, the after-commit wake."""

    policy: ReportPolicy
    api_keys: frozenset[str]
    after: AfterCommit = NOTHING


def check_api_key(given: str | None, keys: frozenset[str]) -> str:
    """The key when it is one of OPEN311_API_KEYS; Open311Error 403 otherwise (each compared in constant time)."""
    found = None
    for key in keys:
        if given and hmac.compare_digest(given.encode(), key.encode()):
            found = key
    if found is None:
        raise Open311Error(403, "api_key is missing or not valid")
    return found


def _optional(params: Mapping[str, str], name: str, most: int) -> str | None:
    """The field stripped, control characters taken out (a form can carry what no Telegram client sends)."""
    value = _CONTROL.sub("", params.get(name) or "").strip()
    if len(value) > most:
        raise Open311Error(400, f"{name} is longer than {most} characters")
    return value or None


def _coordinate(text: str, name: str, limit: float) -> float:
    if not _DECIMAL.fullmatch(text):
        raise Open311Error(400, f"{name} is not a decimal number of degrees")
    value = float(text)
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise Open311Error(400, f"{name} is out of range")
    return value


def _district_named(address: str, area: ServiceArea) -> str | None:
    """The district an address names (its Chinese or English name, or its code), when exactly one is named."""
    folded = address.casefold()
    named = [
        district.code
        for district in area.districts
        if any(name and name.casefold() in folded for name in (district.name_zh, district.name_en, district.code))
    ]
    return named[0] if len(named) == 1 else None


def _place(params: Mapping[str, str], area: ServiceArea) -> tuple[float | None, float | None, str | None, str]:
    """(lat, lon, address, district): a point in the service area, or an address naming one of its districts."""
    lat_text, lon_text = (params.get("lat") or "").strip(), (params.get("long") or "").strip()
    address = _optional(params, "address_string", ADDRESS_MAX)
    if lat_text or lon_text:
        if not (lat_text and lon_text):
            raise Open311Error(400, "lat and long go together: give both, or address_string instead")
        lat, lon = _coordinate(lat_text, "lat", 90), _coordinate(lon_text, "long", 180)
        district = area.district_at(lat, lon) if valid_coordinates(lat, lon) else None
        if district is None:
            raise Open311Error(400, "the location is outside the service area")
        return lat, lon, address, district.code
    if address is None:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    if len(address) < ADDRESS_MIN:
        raise Open311Error(400, f"address_string is shorter than {ADDRESS_MIN} characters")
    code = _district_named(address, area)
    if code is None:
        names = ", ".join(f"{d.name_zh} / {d.name_en}" for d in area.districts)
        raise Open311Error(
            400, f"address_string must name one district of the service area ({names}), or give lat and long"
        )
    return None, None, address, code


def read_request(params: Mapping[str, str], area: ServiceArea, api_key: str) -> tuple[Draft, Origin]:
    """The form as a draft and its origin; Open311Error for the first field refused."""
    code = (params.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if code not in CATEGORY_BY_CODE:
        raise Open311Error(404, f"unknown service_code: {code[:64]}")
    lat, lon, address, district = _place(params, area)
    description = _optional(params, "description", DESCRIPTION_MAX)
    if description is None:
        raise Open311Error(400, "description is required")
    media_url = _optional(params, "media_url", URL_MAX)
    if media_url is not None and not _URL.fullmatch(media_url):
        raise Open311Error(400, "media_url is not an http(s) address")
    email = _optional(params, "email", EMAIL_MAX)
    if email is not None and not _EMAIL.fullmatch(email):
        raise Open311Error(400, "email is not an e-mail address")
    phone = _optional(params, "phone", PHONE_MAX)
    if phone is not None and not _PHONE.fullmatch(phone):
        raise Open311Error(400, "phone is not a telephone number")
    origin = Origin(
        channel=OPEN311,
        client=client_fingerprint(api_key),
        first_name=_optional(params, "first_name", NAME_MAX),
        last_name=_optional(params, "last_name", NAME_MAX),
        email=email,
        phone=phone,
        media_url=media_url,
    )
    draft = Draft(
        category=code,
        lat=lat,
        lon=lon,
        address_text=address,
        district=district,
        description=description,
        show_name=origin.name is not None,  # anonymous unless the sender gave a name
    )
    return draft, origin


async def file_request(
    db: Database, intake: Open311Intake, params: Mapping[str, str], now: datetime, t: Lang
) -> list[dict[str, Any]]:
    """POST requests.json: checks the key and the form, looks for the same problem open nearby, files the case."""
    api_key = check_api_key(params.get("api_key"), intake.api_keys)
    if intake.policy.area is None:
        raise Open311Error(503, "the service area is not loaded")
    draft, origin = read_request(params, intake.policy.area, api_key)
    assert draft.category is not None
    nearby = []
    if draft.lat is not None and draft.lon is not None:
        nearby = await find_nearby_open(
            db, draft.category, draft.lat, draft.lon, intake.policy.duplicate_radius_m, limit=1
        )
    report = await service.submit(db, NO_TELEGRAM_REPORTER, draft, now, intake.policy, intake.after, origin)
    notice = open311.service_notice(t, draft.category)
    if nearby:
        notice += " " + t._(
            "The same problem was already reported nearby as {number}; staff may merge the two.",
            number=nearby[0].report.public_no,
        )
    return [{"service_request_id": report.public_no, "service_notice": notice}]


def service_definition(code: str) -> dict[str, Any]:
    """GET services/{service_code}.json: our services ask nothing beyond the standard fields (no attributes)."""
    if code not in CATEGORY_BY_CODE:
        raise Open311Error(404, f"unknown service_code: {code[:64]}")
    return {"service_code": code, "attributes": []}
