"""The report core without Telegram: numbering, submission, limits, duplicates, states, the resident's view."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cases import drafts, duplicates, intake, mine, service, states
from bot.cases.config import ReportPolicy, desk_for
from bot.cases.drafts import Draft
from bot.cases.mine import detail_for_user
from bot.cases.states import (
    TRANSITIONS,
    InvalidTransition,
    NotReporter,
    ReportLimitReached,
    ReportNotFound,
    ReportState,
    StateChanged,
)
from bot.platform.db import Database
from bot.platform.geo import EARTH_RADIUS_M, load_service_area
from bot.platform.i18n import get_lang
from bot.platform.worktime import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in the city
HOME = (30.48, 114.15)  # inside the sample city's Wuhan district
STAFF_CHAT = -100777


def policy(**changes: object) -> ReportPolicy:
    base = ReportPolicy(
        calendar=WorkCalendar(SHANGHAI),
        per_hour=5,
        per_day=20,
        staff_chat_id=STAFF_CHAT,
        staff_lang=get_lang("en", SHANGHAI),
        area=load_service_area(),
    )
    return ReportPolicy(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def north_of(point: tuple[float, float], meters: float) -> tuple[float, float]:
    return point[0] + math.degrees(meters / EARTH_RADIUS_M), point[1]


def draft(category: str = "garbage", place: tuple[float, float] = HOME, **changes: object) -> Draft:
    values: dict[str, object] = {
        "category": category,
        "lat": place[0],
        "lon": place[1],
        "district": "wuhan-edz",
        "description": "Garbage bags piled at the bus stop",
        "photos": ["photo-a"],
        **changes,
    }
    return Draft(**values)  # type: ignore[arg-type]


async def file_report(
    db: Database, reporter: int = 1001, now: datetime = NOW, rules: ReportPolicy | None = None, **changes: object
) -> states.Report:
    return await service.submit(db, reporter, draft(**changes), now, rules or policy())


async def count(db: Database, table: str) -> int:
    row = await db.fetchone(f"SELECT COUNT(*) FROM {table}")
    return int(row[0])


async def force_state(db: Database, report_id: int, state: ReportState) -> None:
    await db.execute("UPDATE reports SET state = ? WHERE id = ?", (state.value, report_id))


# ------------------------------------------------------------------ numbering and submission
async def test_public_numbers_count_per_local_day(db: Database) -> None:
    first = await file_report(db)
    second = await file_report(db, reporter=1002)
    # 16:30 UTC is already 00:30 the next day in Shanghai: a new day, a new sequence.
    next_day = await file_report(db, reporter=1003, now=datetime(2026, 11, 23, 16, 30, tzinfo=UTC))
    assert (first.public_no, second.public_no, next_day.public_no) == (
        "R20261123-0001",
        "R20261123-0002",
        "R20261124-0001",
    )


async def test_submission_writes_report_photos_event_follower_and_staff_alert_together(db: Database) -> None:
    await service.save_draft(db, 1001, draft(), "review", NOW, policy())
    report = await file_report(db, photos=["p1", "p2"], show_name=True)

    assert report.state is ReportState.SUBMITTED
    assert not report.anonymous
    assert report.due_at == datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # 4 office hours: 15:30, lunch not counted
    photos = await db.fetchall("SELECT file_id, kind FROM report_photos WHERE report_id = ?", (report.id,))
    assert [(row["file_id"], row["kind"]) for row in photos] == [("p1", "report"), ("p2", "report")]
    events = await db.fetchall("SELECT kind, to_state, actor_id FROM report_events WHERE report_id = ?", (report.id,))
    assert [tuple(row) for row in events] == [("transition", "submitted", 1001)]
    assert await states.followers_of(db, report.id) == [1001]
    assert await drafts.load_draft(db, 1001) is None
    alert = await db.fetchone("SELECT chat_id, params, ref FROM outbox")
    assert alert["chat_id"] == STAFF_CHAT and alert["ref"] == f"report_card:{report.id}"
    text = json.loads(alert["params"])["text"]
    assert "R20261123-0001" in text and "Exposed garbage" in text and "Photos: 2" in text


async def test_no_staff_chat_means_no_alert(db: Database) -> None:
    await file_report(db, rules=policy(staff_chat_id=None))
    assert await count(db, "outbox") == 0


async def test_user_text_in_the_staff_alert_is_escaped(db: Database) -> None:
    await file_report(db, description="<b>bold</b> & sneaky", address_text="<script>", lat=None, lon=None)
    text = json.loads((await db.fetchone("SELECT params FROM outbox"))["params"])["text"]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; sneaky" in text and "&lt;script&gt;" in text


async def test_emergencies_get_a_clock_hour_deadline(db: Database) -> None:
    saturday_night = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)  # 23:00 in the city
    report = await file_report(db, category="manhole", now=saturday_night)
    assert report.due_at == saturday_night + timedelta(hours=2)


async def test_an_incomplete_draft_is_not_submitted(db: Database) -> None:
    with pytest.raises(states.IncompleteDraft):
        await service.submit(db, 1001, Draft(category="garbage"), NOW, policy())
    assert await count(db, "reports") == 0


async def test_every_category_has_a_positive_limit_and_unique_code() -> None:
    codes = [category.code for category in states.CATEGORIES]
    assert len(codes) == len(set(codes))
    assert all(category.limit_hours > 0 for category in states.CATEGORIES)
    assert [c.code for c in states.CATEGORIES if c.emergency] == ["manhole"]


# ------------------------------------------------------------------ drafts
async def test_drafts_round_trip_and_are_replaced(db: Database) -> None:
    await service.save_draft(db, 1001, Draft(category="noise"), "location", NOW, policy())
    await service.save_draft(db, 1001, draft(photos=["a", "b"]), "photos", NOW + timedelta(minutes=1), policy())
    assert await drafts.load_draft(db, 1001) == draft(photos=["a", "b"])
    row = await db.fetchone("SELECT step, updated_at FROM report_drafts WHERE telegram_id = 1001")
    assert tuple(row) == ("photos", "2026-11-23 02:01:00")
    await drafts.discard_draft(db, 1001)
    assert await drafts.load_draft(db, 1001) is None


def test_a_draft_keeps_at_most_three_photos() -> None:
    answers = Draft(photos=["a"])
    assert answers.add_photos(["b", "c", "d", "e"]) == (2, 2)
    assert answers.photos == ["a", "b", "c"]


# ------------------------------------------------------------------ limits
async def test_limits_per_hour_and_per_day(db: Database) -> None:
    rules = policy(per_hour=2, per_day=3)
    await file_report(db, rules=rules, now=NOW)
    await file_report(db, rules=rules, now=NOW + timedelta(minutes=10))
    with pytest.raises(ReportLimitReached) as hourly:
        await file_report(db, rules=rules, now=NOW + timedelta(minutes=20))
    assert hourly.value.window == "hour" and hourly.value.retry_at == NOW + timedelta(hours=1)
    await file_report(db, rules=rules, now=NOW + timedelta(hours=2))
    with pytest.raises(ReportLimitReached) as daily:
        await intake.check_limits(db, 1001, NOW + timedelta(hours=5), rules)
    assert daily.value.window == "day"
    assert await count(db, "reports") == 3
    await intake.check_limits(db, 1002, NOW, rules)  # somebody else is not limited


# ------------------------------------------------------------------ duplicates
async def test_nearby_open_reports_of_the_same_category(db: Database) -> None:
    here = await file_report(db, reporter=1, place=HOME)
    at_100 = await file_report(db, reporter=2, place=north_of(HOME, 100))
    at_240 = await file_report(db, reporter=3, place=north_of(HOME, 240))
    await file_report(db, reporter=4, place=north_of(HOME, 260))  # outside 250 m
    await file_report(db, reporter=5, place=north_of(HOME, 50), category="noise")  # another category
    closed = await file_report(db, reporter=6, place=north_of(HOME, 30))
    await force_state(db, closed.id, ReportState.CLOSED)
    await file_report(db, reporter=7, lat=None, lon=None, address_text="typed address")  # no coordinates

    found = await duplicates.find_nearby_open(db, "garbage", *north_of(HOME, 1), radius_m=250, limit=5)
    assert [item.report.id for item in found] == [here.id, at_100.id, at_240.id]
    assert [round(item.distance_m) for item in found] == [1, 99, 239]
    assert len(await duplicates.find_nearby_open(db, "garbage", *HOME, radius_m=250)) == 3
    assert await duplicates.find_nearby_open(db, "garbage", *HOME, radius_m=0.5) == [found[0].__class__(here, 0.0)]


async def test_mine_too_adds_a_follower_once(db: Database) -> None:
    report = await file_report(db)
    await service.save_draft(db, 2002, Draft(category="garbage"), "duplicates", NOW, policy())
    first = await service.follow(db, report.id, 2002, NOW, desk_for(policy()))
    again = await service.follow(db, report.id, 2002, NOW, desk_for(policy()))
    assert (first.already_following, first.report.follower_count) == (False, 2)
    assert (again.already_following, again.report.follower_count) == (True, 2)
    assert await states.followers_of(db, report.id) == [1001, 2002]
    assert await drafts.load_draft(db, 2002) is None
    await force_state(db, report.id, ReportState.CLOSED)
    with pytest.raises(InvalidTransition):
        await service.follow(db, report.id, 3003, NOW, desk_for(policy()))


# ------------------------------------------------------------------ the state machine
ALL_MOVES = [(a, b) for a in ReportState for b in ReportState]


@pytest.mark.parametrize(("from_state", "to_state"), ALL_MOVES, ids=[f"{a}->{b}" for a, b in ALL_MOVES])
async def test_only_the_moves_in_the_table_are_allowed(
    db: Database, from_state: ReportState, to_state: ReportState
) -> None:
    report = await file_report(db)
    other = await file_report(db, reporter=1002)
    await force_state(db, report.id, from_state)
    allowed = to_state in TRANSITIONS[from_state]
    async with db.transaction() as conn:
        if allowed:
            done = await states.transition(
                conn, report.id, 9, to_state, "note", NOW, actor_role="dispatcher", assignee=77, duplicate_of=other.id
            )
            assert (done.from_state, done.to_state) == (from_state, to_state)
        else:
            with pytest.raises(InvalidTransition):
                await states.transition(conn, report.id, 9, to_state, "note", NOW, assignee=77, duplicate_of=other.id)
    state = (await states.get_report(db, report.id)).state
    assert state == (to_state if allowed else from_state)
    events = await db.fetchone("SELECT COUNT(*) FROM report_events WHERE report_id = ?", (report.id,))
    assert events[0] == (2 if allowed else 1)


async def test_a_case_from_report_to_close_leaves_an_audit_trail(db: Database) -> None:
    report = await file_report(db)
    steps = [
        (ReportState.ACCEPTED, {}),
        (ReportState.DISPATCHED, {"assignee": 501}),
        (ReportState.IN_PROGRESS, {}),
        (ReportState.RESOLVED, {}),
        (ReportState.CLOSED, {}),
    ]
    for minute, (state, extra) in enumerate(steps, start=1):
        async with db.transaction() as conn:
            await states.transition(
                conn, report.id, 500, state, f"step {minute}", NOW + timedelta(minutes=minute), **extra
            )
    final = await states.get_report(db, report.id)
    assert final.state is ReportState.CLOSED and final.assignee == 501
    rows = await db.fetchall(
        "SELECT from_state, to_state, note, at FROM report_events WHERE report_id = ?", (report.id,)
    )
    assert [row["to_state"] for row in rows] == [
        "submitted",
        "accepted",
        "dispatched",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert rows[3]["from_state"] == "dispatched" and rows[3]["note"] == "step 3"
    assert rows[-1]["at"] == "2026-11-23 02:05:00"


async def test_a_stale_button_loses_to_the_first_press(db: Database) -> None:
    report = await file_report(db)
    async with db.transaction() as conn:
        await states.transition(conn, report.id, 1, ReportState.ACCEPTED, "", NOW, expected_from=ReportState.SUBMITTED)
    with pytest.raises(StateChanged) as lost:
        async with db.transaction() as conn:
            await states.transition(
                conn, report.id, 2, ReportState.REJECTED, "", NOW, expected_from=ReportState.SUBMITTED
            )
    assert lost.value.from_state is ReportState.ACCEPTED


async def test_dispatch_needs_an_officer_and_duplicate_needs_an_open_case(db: Database) -> None:
    report = await file_report(db)
    other = await file_report(db, reporter=1002)
    async with db.transaction() as conn:
        await states.transition(conn, report.id, 1, ReportState.ACCEPTED, "", NOW)
    with pytest.raises(states.ReportError, match="assignee"):
        async with db.transaction() as conn:
            await states.transition(conn, report.id, 1, ReportState.DISPATCHED, "", NOW)
    with pytest.raises(states.ReportError, match="another report"):
        async with db.transaction() as conn:
            await states.transition(conn, other.id, 1, ReportState.DUPLICATE, "", NOW)
    async with db.transaction() as conn:
        await states.transition(conn, other.id, 1, ReportState.DUPLICATE, "", NOW, duplicate_of=report.id)
    merged = await states.get_report(db, report.id)
    assert merged.follower_count == 2 and await states.followers_of(db, report.id) == [1001, 1002]
    assert (await states.get_report(db, other.id)).duplicate_of == report.id


# ------------------------------------------------------------------ the resident's view
async def test_my_reports_lists_filed_and_followed_newest_first(db: Database) -> None:
    older = await file_report(db, now=NOW)
    followed = await file_report(db, reporter=2002, now=NOW + timedelta(minutes=5))
    await service.follow(db, followed.id, 1001, NOW + timedelta(minutes=6), desk_for(policy()))
    newest = await file_report(db, now=NOW + timedelta(minutes=10))
    page = await mine.list_for_user(db, 1001, offset=0, limit=2)
    assert page.total == 3
    assert [(item.id, item.mine) for item in page.items] == [(newest.id, True), (followed.id, False)]
    rest = await mine.list_for_user(db, 1001, offset=2, limit=2)
    assert [item.id for item in rest.items] == [older.id]


async def test_nobody_else_sees_or_changes_a_report(db: Database) -> None:
    report = await file_report(db)
    with pytest.raises(ReportNotFound):
        await mine.detail_for_user(db, report.id, 6666)
    with pytest.raises(ReportNotFound):
        await service.withdraw(db, report.id, 6666, NOW, policy())
    with pytest.raises(ReportNotFound):
        await service.add_info(db, report.id, 6666, NOW, policy(), text="hi")
    with pytest.raises(ReportNotFound):
        await mine.detail_for_user(db, 99999, 1001)
    assert (await states.get_report(db, report.id)).state is ReportState.SUBMITTED


async def test_detail_shows_transitions_public_notes_and_own_information(db: Database) -> None:
    report = await file_report(db)
    async with db.transaction() as conn:
        await states.transition(conn, report.id, 500, ReportState.ACCEPTED, "We are on it", NOW, public=True)
    await service.add_info(db, report.id, 1001, NOW, policy(), text="It is getting worse")
    await service.follow(db, report.id, 2002, NOW, desk_for(policy()))
    await service.add_info(db, report.id, 2002, NOW, policy(), photo_file_id="photo-x")
    mine = await detail_for_user(db, report.id, 1001)
    assert [(e.kind, e.to_state, e.note) for e in mine.events] == [
        ("transition", ReportState.SUBMITTED, ""),
        ("transition", ReportState.ACCEPTED, "We are on it"),
        ("info", None, "It is getting worse"),
    ]
    assert mine.mine and mine.photo_count == 1 and mine.can_withdraw
    theirs = await detail_for_user(db, report.id, 2002)
    assert not theirs.mine and not theirs.can_withdraw
    refs = [
        row["ref"] for row in await db.fetchall("SELECT ref FROM outbox WHERE ref LIKE 'report_info:%' ORDER BY id")
    ]
    assert len(refs) == 2 and all(ref.startswith(f"report_info:{report.id}:") for ref in refs)
    photo = await db.fetchone("SELECT kind FROM report_photos WHERE file_id = 'photo-x'")
    assert photo["kind"] == "info"


async def test_withdraw_until_dispatched_and_only_by_the_reporter(db: Database) -> None:
    report = await file_report(db)
    await service.follow(db, report.id, 2002, NOW, desk_for(policy()))
    with pytest.raises(NotReporter):
        await service.withdraw(db, report.id, 2002, NOW, policy())
    done = await service.withdraw(db, report.id, 1001, NOW, policy())
    assert done.to_state is ReportState.WITHDRAWN
    dispatched = await file_report(db)
    await force_state(db, dispatched.id, ReportState.DISPATCHED)
    with pytest.raises(InvalidTransition):
        await service.withdraw(db, dispatched.id, 1001, NOW, policy())
    assert (await states.get_report(db, dispatched.id)).state is ReportState.DISPATCHED
    staff_refs = [row["ref"] for row in await db.fetchall("SELECT ref FROM outbox WHERE ref LIKE 'report_withdrawn:%'")]
    assert staff_refs == [f"report_withdrawn:{report.id}"]
