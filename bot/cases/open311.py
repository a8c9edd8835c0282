"""Open311 GeoReport v2, read-only: the categories as services and the cases as service requests.

The shapes follow the GeoReport v2 specification (services.json, requests.json, requests/{id}.json): times are
W3C datetimes in the city's zone, ``expected_datetime`` is the handling deadline, ``service_request_id`` is the
public case number. Nothing about the reporter is published; photos are kept as Telegram file ids only, which
are no public URL, so ``media_url`` is always null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from bot.cases.insight import category_label
from bot.cases.states import CATEGORIES, CATEGORY_BY_CODE, OPEN_STATES, STATE_NAMES, ReportState
from bot.platform import dates
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database
from bot.platform.i18n import N_, Lang

DEFAULT_WINDOW = timedelta(days=90)  # the spec: without dates, the most recent 90 days
MAX_WINDOW = timedelta(days=90)  # and a range "may not span more than 90 days"
MAX_REQUESTS = 1000  # the spec's suggested cap on one answer
STATUSES = ("open", "closed")
SERVICE_GROUP = N_("City management")


class Open311Error(ValueError):
    """A request the spec says to refuse: ``status`` is the HTTP code, ``description`` says why."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description

    def as_json(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": self.description}]


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests.json."""

    service_request_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None


def w3c(moment: datetime, timezone: tzinfo) -> str:
    return moment.astimezone(timezone).isoformat(timespec="seconds")


def parse_w3c(text: str, name: str) -> datetime:
    try:
        return dates.parse_moment(text, UTC)
    except dates.DateOutOfRange:
        raise Open311Error(
            400, f"{name} is out of range: dates go from {dates.FIRST_DAY} to {dates.LAST_DAY}"
        ) from None
    except dates.BadDate:
        raise Open311Error(400, f"{name} is not a W3C datetime, e.g. 2026-01-01T00:00:00Z") from None


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def parse_query(params: dict[str, str]) -> RequestQuery:
    """Reads and checks the filters (comma-separated lists as the spec allows)."""
    codes = _list(params.get("service_code"))
    unknown = [code for code in codes if code not in CATEGORY_BY_CODE]
    if unknown:
        raise Open311Error(400, f"unknown service_code: {', '.join(unknown)}")
    statuses = tuple(status.lower() for status in _list(params.get("status")))
    if any(status not in STATUSES for status in statuses):
        raise Open311Error(400, "status must be open or closed")
    start = parse_w3c(params["start_date"], "start_date") if params.get("start_date") else None
    end = parse_w3c(params["end_date"], "end_date") if params.get("end_date") else None
    if start is not None and end is not None:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > MAX_WINDOW:
            raise Open311Error(400, "the date range may not span more than 90 days")
    return RequestQuery(_list(params.get("service_request_id")), codes, statuses, start, end)


def service_notice(t: Lang, code: str) -> str:
    category = CATEGORY_BY_CODE[code]
    hours = t.number(category.limit_hours)
    if category.emergency:
        return t._("Handled within {hours} hours, day and night.", hours=hours)
    return t._("Handled within {hours} office hours.", hours=hours)


def services(t: Lang) -> list[dict[str, Any]]:
    """GET services.json: one service per category."""
    return [
        {
            "service_code": category.code,
            "service_name": category_label(t, category.code),
            "description": service_notice(t, category.code),
            "metadata": False,
            "type": "realtime",
            "keywords": category.code,
            "group": t._(SERVICE_GROUP),
        }
        for category in CATEGORIES
    ]


def status_of(state: ReportState) -> str:
    """Open while the bureau still works on it; closed once handled or settled otherwise."""
    return "open" if state in OPEN_STATES else "closed"


async def requests(
    db: Database, query: RequestQuery, now: datetime, t: Lang, agency: str, limit: int = MAX_REQUESTS
) -> list[dict[str, Any]]:
    """GET requests.json: newest first, at most ``limit``; without dates, the last 90 days."""
    where: list[str] = []
    params: list[Any] = []
    if query.service_request_ids:
        where.append(f"r.public_no IN ({', '.join('?' for _ in query.service_request_ids)})")
        params.extend(number.upper() for number in query.service_request_ids)
    else:  # the spec: service_request_id overrides all other filters
        start, end = query.start, query.end
        if start is None and end is None:
            start, end = now - DEFAULT_WINDOW, now
        elif start is None:
            start = end - DEFAULT_WINDOW if end is not None else None
        elif end is None:
            end = start + DEFAULT_WINDOW
        where.append("r.created_at >= ? AND r.created_at <= ?")
        params.extend([to_db(start), to_db(end)])  # type: ignore[arg-type]
        if query.service_codes:
            where.append(f"r.category IN ({', '.join('?' for _ in query.service_codes)})")
            params.extend(query.service_codes)
        if query.statuses and len(set(query.statuses)) == 1:
            marks = ", ".join("?" for _ in OPEN_STATES)
            negate = "" if query.statuses[0] == "open" else "NOT "
            where.append(f"r.state {negate}IN ({marks})")
            params.extend(sorted(OPEN_STATES))
    rows = await db.fetchall(
        f"""SELECT r.*,
                   (SELECT e.note FROM report_events e WHERE e.report_id = r.id AND e.public = 1
                        AND e.kind IN ('transition', 'reply') AND e.note != ''
                        ORDER BY e.id DESC LIMIT 1) AS status_notes
            FROM reports r WHERE {" AND ".join(where)} ORDER BY r.created_at DESC, r.id DESC LIMIT ?""",
        (*params, limit),
    )
    return [_request(row, t, agency) for row in rows]


async def request(db: Database, number: str, now: datetime, t: Lang, agency: str) -> list[dict[str, Any]]:
    """GET requests/{id}.json: a list of one, as the spec shapes it; Open311Error 404 when unknown."""
    found = await requests(db, RequestQuery(service_request_ids=(number,)), now, t, agency, limit=1)
    if not found:
        raise Open311Error(404, f"no service request {number}")
    return found


def _request(row: Any, t: Lang, agency: str) -> dict[str, Any]:
    state = ReportState(row["state"])
    code = row["category"]
    return {
        "service_request_id": row["public_no"],
        "status": status_of(state),
        "status_notes": row["status_notes"] or t._(STATE_NAMES[state]),
        "service_name": category_label(t, code),
        "service_code": code,
        "description": "" if row["description_hidden"] else row["description"],  # hidden by a moderator
        "agency_responsible": agency,
        "service_notice": service_notice(t, code),
        "requested_datetime": w3c(from_db(row["created_at"]), t.timezone),
        "updated_datetime": w3c(from_db(row["updated_at"]), t.timezone),
        "expected_datetime": w3c(from_db(row["due_at"]), t.timezone),
        "address": row["address_text"] or "",
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": None,  # photos are Telegram file ids, not public URLs
    }


async def export(db: Database, now: datetime, t: Lang, agency: str) -> dict[str, list[dict[str, Any]]]:
    """The two files of an export, by name: services.json and requests.json (the last 90 days)."""
    return {
        "services.json": services(t),
        "requests.json": await requests(db, RequestQuery(), now, t, agency),
    }


def write_export(directory: Path, files: dict[str, list[dict[str, Any]]]) -> None:
    """Writes the export's files (UTF-8 JSON) into ``directory``, creating it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in files.items():
        (directory / name).write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
