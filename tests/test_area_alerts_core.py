"""Area alerts below the journeys: subscribing rules, the batch read of many subscribers, and who is left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.cases import area_alerts, config, service
from bot.cases.area_alerts import AlertRefused
from bot.cases.drafts import Draft
from bot.platform.clock import to_db
from bot.platform.config import load_settings
from bot.platform.db import Database
from bot.platform.geo import load_service_area

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
SETTINGS = load_settings(
    {"BOT_TOKEN": "123456:alerts-core-token-aaaaaaaaaaaaa", "DEFAULT_LANGUAGE": "en", "REPORTS_PER_HOUR": "100"}, None
)
AREA = load_service_area()
DESK = config.desk_from(SETTINGS, AREA)
POLICY = config.policy_from(SETTINGS, DESK.staff_lang, AREA)
GARBAGE = Draft("garbage", 30.48, 114.15, None, "wuhan-edz", "Bags by the gate")


async def queued_to(db: Database) -> list[int]:
    rows = await db.fetchall("SELECT chat_id FROM outbox WHERE ref LIKE 'area_alert:%' ORDER BY chat_id")
    return [int(row["chat_id"]) for row in rows]


async def test_the_same_area_again_only_changes_its_cadence_and_ten_is_the_most(db: Database) -> None:
    first = await area_alerts.subscribe(db, 8001, "district", "instant", NOW, DESK, area_code="wuhan-edz")
    again = await area_alerts.subscribe(db, 8001, "district", "daily", NOW, DESK, area_code="wuhan-edz")
    assert again.id == first.id and again.cadence == "daily"
    for step in range(9):
        await area_alerts.subscribe(
            db, 8001, "near", "instant", NOW, DESK, lat=30.48 + step / 1000, lon=114.15, radius_m=300
        )
    with pytest.raises(AlertRefused) as refused:
        await area_alerts.subscribe(db, 8001, "near", "instant", NOW, DESK, lat=30.47, lon=114.15, radius_m=300)
    assert refused.value.reason == "too_many"
    for kind, values, reason in (
        ("near", {"lat": 39.9, "lon": 116.4, "radius_m": 300}, "outside"),
        ("near", {"lat": 30.48, "lon": 114.15, "radius_m": 500}, "bad_radius"),
        ("district", {"area_code": "atlantis"}, "unknown_area"),
        ("grid", {"area_code": "no-such-grid"}, "unknown_area"),
    ):
        with pytest.raises(AlertRefused) as refused:
            await area_alerts.subscribe(db, 8002, kind, "instant", NOW, DESK, **values)  # type: ignore[arg-type]
        assert refused.value.reason == reason
    assert await area_alerts.subscriptions_of(db, 8002) == []


async def test_many_subscribers_each_get_one_alert_and_who_blocked_the_bot_none(db: Database) -> None:
    people = list(range(10_000, 10_000 + 1200))  # more than one batch of ids
    async with db.transaction() as conn:
        for telegram_id in people:
            await conn.execute(
                "INSERT INTO alert_subscriptions (telegram_id, kind, area_code, cadence, created_at) "
                "VALUES (?, 'district', 'wuhan-edz', 'instant', ?)",
                (telegram_id, to_db(NOW)),
            )
        await conn.execute(  # and one of them also near the place: still one message
            "INSERT INTO alert_subscriptions (telegram_id, kind, lat, lon, radius_m, cadence, created_at) "
            "VALUES (10000, 'near', 30.48, 114.15, 300, 'instant', ?)",
            (to_db(NOW),),
        )
        await conn.execute(
            "INSERT INTO users (telegram_id, first_name, blocked_bot, created_at, updated_at) "
            "VALUES (10001, 'Gone', 1, ?, ?)",
            (to_db(NOW), to_db(NOW)),
        )
    await service.submit(db, 10002, GARBAGE, NOW, POLICY)  # 10002 reports: not alerted about their own
    assert await queued_to(db) == [p for p in people if p not in (10001, 10002)]
    near = await db.fetchone("SELECT params FROM outbox WHERE chat_id = 10000")
    assert "0 m from your place" in near["params"]  # the nearest of their areas says how far

    await service.submit(db, 10003, GARBAGE, NOW + timedelta(seconds=10), POLICY)
    held = await db.fetchone("SELECT COUNT(*) FROM alert_pending")
    folds = await db.fetchone("SELECT COUNT(*) FROM reminders WHERE kind = ?", (area_alerts.FOLD,))
    # Held for everyone alerted ten seconds ago; 10002 had nothing yet and is told now; 10003 reported it.
    assert held[0] == folds[0] == len(people) - 3
    assert (await queued_to(db)).count(10002) == 1
    await service.submit(db, 10003, GARBAGE, NOW + timedelta(seconds=20), POLICY)
    folds = await db.fetchone("SELECT COUNT(*) FROM reminders WHERE kind = ?", (area_alerts.FOLD,))
    assert folds[0] == len(people) - 2  # now 10002 waits too; one fold each, however many reports wait
