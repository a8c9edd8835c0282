"""What area alerts and Open311 keep about people goes when it should: /forget takes a person's alert areas, and
retention takes an Open311 sender's name, e-mail and phone from finished cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import privacy
from bot.cases import area_alerts, config, origins, service, states
from bot.cases.drafts import Draft
from bot.cases.states import ReportState
from bot.platform import reminders
from bot.platform.config import load_settings
from bot.platform.db import Database
from bot.platform.geo import load_service_area

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
SETTINGS = load_settings({"BOT_TOKEN": "123456:alerts-privacy-token-aaaaaaaaaa", "DEFAULT_LANGUAGE": "en"}, None)
AREA = load_service_area()
DESK = config.desk_from(SETTINGS, AREA)
POLICY = config.policy_from(SETTINGS, DESK.staff_lang, AREA)


async def test_forget_takes_the_persons_alert_areas(db: Database) -> None:
    await area_alerts.subscribe(db, 7001, "near", "daily", NOW, DESK, lat=30.48, lon=114.15, radius_m=1000)
    await area_alerts.subscribe(db, 7001, "district", "daily", NOW, DESK, area_code="wuhan-edz")
    await area_alerts.subscribe(db, 7002, "district", "instant", NOW, DESK, area_code="wuhan-edz")
    assert len(await reminders.pending(db, area_alerts.person_target(7001))) == 1  # the daily digest
    filed = await service.submit(db, 7003, Draft("garbage", 30.481, 114.15, None, "wuhan-edz", "Bags"), NOW, POLICY)
    assert await db.fetchone("SELECT 1 FROM alert_pending WHERE telegram_id = 7001 AND report_id = ?", (filed.id,))

    forgotten = await privacy.forget_user(db, 7001, NOW, DESK)
    assert forgotten.subscriptions_deleted == 2
    for table in ("alert_subscriptions", "alert_pending", "alert_pace"):
        assert await db.fetchone(f"SELECT 1 FROM {table} WHERE telegram_id = 7001") is None, table
    assert await db.fetchone("SELECT 1 FROM reminders WHERE target = ?", (area_alerts.person_target(7001),)) is None
    assert len(await area_alerts.subscriptions_of(db, 7002)) == 1  # someone else's stay


async def test_retention_takes_an_open311_senders_contact_from_finished_cases(db: Database) -> None:
    origin = origins.Origin(origins.OPEN311, "abc", "Zhang", "San", "z@example.com", "+86 1380", "https://x.cn/a.jpg")
    draft = Draft("garbage", 30.48, 114.15, None, "wuhan-edz", "Bags by the gate", show_name=True)
    done = await service.submit(db, origins.NO_TELEGRAM_REPORTER, draft, NOW, POLICY, origin=origin)
    still_open = await service.submit(db, origins.NO_TELEGRAM_REPORTER, draft, NOW, POLICY, origin=origin)
    async with db.transaction() as conn:
        await states.transition(conn, done.id, 9001, ReportState.REJECTED, "not ours", NOW, actor_role="dispatcher")

    async with db.transaction() as conn:
        await privacy.apply_retention(conn, NOW + timedelta(days=400), 365, DESK)
    cleared = await origins.origin_of(db, done.id)
    kept = await origins.origin_of(db, still_open.id)
    assert cleared is not None and kept is not None
    assert (cleared.name, cleared.email, cleared.phone, cleared.channel) == (None, None, None, "open311")
    assert cleared.media_url == "https://x.cn/a.jpg"  # the photo is the problem's, not the person's
    assert kept == origin
