"""Open311 GeoReport v2: the JSON field by field, the filters and caps, the export command, and a real client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.__main__ import main
from bot.cases import config, open311, service, states
from bot.cases.drafts import Draft
from bot.cases.states import ReportState
from bot.platform.config import load_settings
from bot.platform.db import Database
from bot.platform.i18n import get_lang
from bot.platform.services import Services
from bot.platform.worktime import WorkCalendar
from bot.web import Metrics, WebServer

CITY = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=CITY).astimezone(UTC)
POLICY = config.ReportPolicy(calendar=WorkCalendar(CITY), per_hour=100, per_day=100)
EN = get_lang("en", CITY)
AGENCY = "Wuhan EDZ City Management Bureau"
TOKEN = "123456:open311-test-token-aaaaaaaaaaaa"


async def file(db: Database, category: str, at: datetime, reporter: int = 101, **changes: Any) -> states.Report:
    values: dict[str, Any] = {
        "category": category,
        "lat": 30.48,
        "lon": 114.15,
        "district": "wuhan-edz",
        "description": "Broken lamp by the school gate",
        **changes,
    }
    return await service.submit(db, reporter, Draft(**values), at, POLICY)


async def close_with_note(db: Database, report_id: int, at: datetime, note: str) -> None:
    for state, text in ((ReportState.ACCEPTED, ""), (ReportState.RESOLVED, note), (ReportState.CLOSED, "")):
        async with db.transaction() as conn:
            await states.transition(conn, report_id, 9001, state, text, at, actor_role="dispatcher")


def test_services_follow_the_spec() -> None:
    services = open311.services(EN)
    assert [s["service_code"] for s in services] == [c.code for c in states.CATEGORIES]
    lamp = next(s for s in services if s["service_code"] == "facility")
    assert lamp == {
        "service_code": "facility",
        "service_name": "Street light, road, public facility",
        "description": "Handled within 14 office hours.",
        "metadata": False,
        "type": "realtime",
        "keywords": "facility",
        "group": "City management",
    }
    manhole = next(s for s in services if s["service_code"] == "manhole")
    assert manhole["description"] == "Handled within 2 hours, day and night."


async def test_a_request_field_by_field(db: Database) -> None:
    filed_at = NOW - timedelta(days=2)
    lamp = await file(db, "facility", filed_at, address_text="No. 18 Dongfeng Avenue")
    await close_with_note(db, lamp.id, filed_at + timedelta(hours=3), "New bulb fitted")
    [request] = await open311.request(db, lamp.public_no, NOW, EN, AGENCY)
    assert request == {
        "service_request_id": lamp.public_no,
        "status": "closed",
        "status_notes": "New bulb fitted",
        "service_name": "Street light, road, public facility",
        "service_code": "facility",
        "description": "Broken lamp by the school gate",
        "agency_responsible": AGENCY,
        "service_notice": "Handled within 14 office hours.",
        "requested_datetime": filed_at.astimezone(CITY).isoformat(timespec="seconds"),
        "updated_datetime": (filed_at + timedelta(hours=3)).astimezone(CITY).isoformat(timespec="seconds"),
        "expected_datetime": lamp.due_at.astimezone(CITY).isoformat(timespec="seconds"),
        "address": "No. 18 Dongfeng Avenue",
        "address_id": None,
        "zipcode": None,
        "lat": 30.48,
        "long": 114.15,
        "media_url": None,
    }
    assert request["requested_datetime"].endswith("+08:00")
    assert "101" not in json.dumps(request)  # nothing about the reporter


async def test_filters_window_and_cap(db: Database) -> None:
    old = await file(db, "garbage", NOW - timedelta(days=100))
    garbage = await file(db, "garbage", NOW - timedelta(days=3))
    stall = await file(db, "stall", NOW - timedelta(days=1))
    await close_with_note(db, garbage.id, NOW - timedelta(days=2), "Cleared")

    async def numbers(**params: str) -> list[str]:
        found = await open311.requests(db, open311.parse_query(params), NOW, EN, AGENCY)
        return [request["service_request_id"] for request in found]

    assert await numbers() == [stall.public_no, garbage.public_no]  # newest first, the last 90 days only
    assert await numbers(service_code="garbage") == [garbage.public_no]
    assert await numbers(service_code="garbage,stall", status="open") == [stall.public_no]
    assert await numbers(status="closed") == [garbage.public_no]
    assert await numbers(status="open,closed") == [stall.public_no, garbage.public_no]
    start = (NOW - timedelta(days=120)).isoformat()
    assert await numbers(start_date=start, end_date=(NOW - timedelta(days=95)).isoformat()) == [old.public_no]
    assert await numbers(service_request_id=f"{old.public_no},{stall.public_no}") == [stall.public_no, old.public_no]
    capped = await open311.requests(db, open311.RequestQuery(), NOW, EN, AGENCY, limit=1)
    assert len(capped) == 1
    assert open311.MAX_REQUESTS == 1000


@pytest.mark.parametrize(
    ("description", "params", "message"),
    [
        ("unknown service", {"service_code": "unicorns"}, "unknown service_code: unicorns"),
        ("unknown status", {"status": "pending"}, "status must be open or closed"),
        ("bad date", {"start_date": "last Tuesday"}, "start_date is not a W3C datetime"),
        ("backwards", {"start_date": "2026-11-10T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, "before"),
        ("too long", {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
    ],
)
def test_bad_filters_are_refused_as_the_spec_says(description: str, params: dict[str, str], message: str) -> None:
    with pytest.raises(open311.Open311Error) as caught:
        open311.parse_query(params)
    assert caught.value.status == 400, description
    assert message in caught.value.description
    assert caught.value.as_json() == [{"code": 400, "description": caught.value.description}]


# ------------------------------------------------------------------ over HTTP
OUT_OF_RANGE = "out of range: dates go from 1970-01-01 to 2100-12-31"
W3C = "e.g. 2026-01-01T00:00:00Z"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Services, str]]:
    """`python -m bot serve`'s server on a free port of 127.0.0.1, over a fresh database."""
    settings = load_settings(
        {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "bot.sqlite3"), "AGENCY_NAME": AGENCY},
        env_file=None,
    )
    services = Services(settings)
    await services.open()
    server = WebServer(services, Metrics())
    port = await server.start("127.0.0.1", 0)
    yield services, f"http://127.0.0.1:{port}/open311/v2"
    await server.stop()
    await services.close()


async def test_a_real_open311_client_reads_the_endpoint(
    served: tuple[Services, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from georeport import GeoReport

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the client uses requests, which honours proxy settings
    services, root = served
    now = services.clock.now()
    lamp = await file(services.db, "facility", now - timedelta(days=1))
    await file(services.db, "stall", now - timedelta(hours=2))
    client = GeoReport(root)

    service_list = await asyncio.to_thread(client.get_service_list)
    assert [s["service_code"] for s in service_list] == [c.code for c in states.CATEGORIES]
    assert service_list[0]["service_name"] == "占道经营"  # the bot's default language

    found = await asyncio.to_thread(client.get_service_requests, service_code="facility", status="open")
    assert [r["service_request_id"] for r in found] == [lamp.public_no]
    assert found[0]["agency_responsible"] == AGENCY
    one = await asyncio.to_thread(client.get_service_request, lamp.public_no)
    assert one["service_request_id"] == lamp.public_no and one["status"] == "open"
    assert one["expected_datetime"] == lamp.due_at.astimezone(CITY).isoformat(timespec="seconds")


@pytest.mark.parametrize(
    ("path", "status", "description"),
    [
        ("/requests/R20000101-0001.json", 404, "no service request R20000101-0001"),
        ("/requests.json?status=pending", 400, "status must be open or closed"),
        ("/services.xml", 400, "only the json format is served"),
        ("/requests.json?start_date=9999-12-31T00:00:00Z", 400, f"start_date is {OUT_OF_RANGE}"),
        ("/requests.json?end_date=0001-01-01T00:00:00Z", 400, f"end_date is {OUT_OF_RANGE}"),
        ("/requests.json?start_date=0001-01-01T00:00:00%2B14:00", 400, f"start_date is {OUT_OF_RANGE}"),
        ("/requests.json?end_date=9999-12-31T23:59:59-12:00", 400, f"end_date is {OUT_OF_RANGE}"),
        ("/requests.json?start_date=2101-01-01", 400, f"start_date is {OUT_OF_RANGE}"),
        ("/requests.json?start_date=0001-01-01T00:00:00+14:00", 400, f"start_date is not a W3C datetime, {W3C}"),
        ("/requests.json?end_date=99999-01-01T00:00:00Z", 400, f"end_date is not a W3C datetime, {W3C}"),
    ],
)
async def test_errors_over_http(served: tuple[Services, str], path: str, status: int, description: str) -> None:
    _, root = served
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(root + path)
    assert response.status_code == status
    assert response.json() == [{"code": status, "description": description}]


async def test_the_export_command_writes_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "bot.sqlite3"
    db = await Database.open(database)
    report = await file(db, "garbage", datetime.now(UTC) - timedelta(days=1))
    await db.close()
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_PATH", str(database))
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")

    assert await asyncio.to_thread(main, ["open311", "export", str(tmp_path / "out")]) == 0

    assert "wrote 9 services and 1 requests" in capsys.readouterr().out
    services_json = json.loads((tmp_path / "out" / "services.json").read_text(encoding="utf-8"))
    requests_json = json.loads((tmp_path / "out" / "requests.json").read_text(encoding="utf-8"))
    assert len(services_json) == len(states.CATEGORIES)
    assert requests_json[0]["service_request_id"] == report.public_no
    assert requests_json[0]["service_name"] == "Exposed garbage, sanitation"
    assert set(requests_json[0]) == REQUEST_FIELDS


REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
