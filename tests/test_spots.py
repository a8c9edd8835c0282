"""The spots core: opening hours (across midnight, exceptions, closures, moves), zones, the nearest search,
subscriptions and the staff actions that tell subscribers."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.platform.clock import to_db
from bot.platform.db import Database
from bot.platform.geo import haversine_m
from bot.vending import hours, search, spots, staff_actions, subscriptions, zones
from bot.vending.hours import ClosedDates, Window, parse_hours
from bot.vending.reminders import Timing
from bot.vending.spot_features import ImportBatch, SpotRecord, ZoneRecord
from bot.vending.spot_import import apply_batch
from bot.vending.spots import Spot

CITY = ZoneInfo("Asia/Shanghai")
TIMING = Timing(CITY, timedelta(minutes=30))
CENTRE = (30.50, 114.16)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CITY).astimezone(UTC)


MONDAY = date(2026, 11, 23)


def spot(hours: str, **changes: object) -> Spot:
    values: dict[str, object] = {
        "id": 1,
        "external_id": "s1",
        "name": "夜市",
        "district": "d",
        "lat": 30.5,
        "lon": 114.1,
    }
    values.update(changes)
    return Spot(hours=parse_hours(hours), **values)  # type: ignore[arg-type]


# ------------------------------------------------------------------ hours
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mo 22:00-04:00", [(1320, 1680)]),
        ("Su 22:00-04:00", [(9960, 10320)]),  # past the week's end
        ("Mo-We 06:00-08:30", [(360, 510), (1800, 1950), (3240, 3390)]),
        ("Sa-Mo 10:00-11:00", [(600, 660), (7800, 7860), (9240, 9300)]),
        ("Mo,Fr 00:00-24:00", [(0, 1440), (5760, 7200)]),
        ("06:00-08:30", [(d * 1440 + 360, d * 1440 + 510) for d in range(7)]),
        ("Mo 06:00-08:30,17:00-19:00; Tu 09:00-10:00", [(360, 510), (1020, 1140), (1980, 2040)]),
    ],
)
def test_parse_hours(text: str, expected: list[tuple[int, int]]) -> None:
    assert [tuple(w) for w in parse_hours(text)] == expected
    assert parse_hours(hours.format_hours(parse_hours(text))) == parse_hours(text)  # written back the same


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("Mo 25:00-26:00", "not a time"),
        ("Xy 10:00-11:00", "not a day"),
        ("Mo 10:00", "not a time range"),
        ("Mo", "no times"),
        ("Mo 10:00-12:00, 11:00-13:00", "overlap"),
        ("Su 22:00-04:00; Mo 03:00-05:00", "overlap"),  # across the week's end
        ("Mo 24:00-02:00", "24:00"),
    ],
)
def test_parse_hours_refuses_bad_text(text: str, hint: str) -> None:
    with pytest.raises(hours.HoursError, match=hint):
        parse_hours(text)


def test_window_across_midnight_belongs_to_the_day_it_opens() -> None:
    night = spot("Mo 22:00-04:00")
    assert not spots.is_open(night, local(2026, 11, 23, 21, 59), CITY)
    assert spots.is_open(night, local(2026, 11, 23, 22, 0), CITY)
    assert spots.is_open(night, local(2026, 11, 24, 3, 59), CITY)  # Tuesday early morning: Monday's window
    assert not spots.is_open(night, local(2026, 11, 24, 4, 0), CITY)
    assert not spots.is_open(night, local(2026, 11, 24, 23, 0), CITY)  # Tuesday night: no window


def test_window_across_the_end_of_the_week() -> None:
    sunday_night = spot("Su 22:00-04:00")
    assert spots.is_open(sunday_night, local(2026, 11, 30, 1, 0), CITY)  # Monday 01:00
    assert not spots.is_open(sunday_night, local(2026, 11, 30, 5, 0), CITY)
    assert spots.next_opening(sunday_night, local(2026, 11, 30, 5, 0), CITY) == hours.Opening(
        local(2026, 12, 6, 22, 0), local(2026, 12, 7, 4, 0)
    )


def test_several_windows_a_day_and_next_opening() -> None:
    farmers = spot("Mo-Su 06:00-08:30,16:30-19:30")
    assert spots.is_open(farmers, local(2026, 11, 23, 7, 0), CITY)
    assert not spots.is_open(farmers, local(2026, 11, 23, 12, 0), CITY)
    upcoming = spots.next_opening(farmers, local(2026, 11, 23, 12, 0), CITY)
    assert upcoming is not None and upcoming.opens_at == local(2026, 11, 23, 16, 30)
    day = spots.openings_on_day(farmers, MONDAY, CITY)
    assert [o.opens_at for o in day] == [local(2026, 11, 23, 6, 0), local(2026, 11, 23, 16, 30)]


def test_date_exception_cancels_the_windows_opening_on_it() -> None:
    closed_monday = ClosedDates(MONDAY, MONDAY, "market day off")
    night = spot("Mo-Su 22:00-04:00", exceptions=(closed_monday,))
    assert spots.is_open(night, local(2026, 11, 23, 2, 0), CITY)  # Sunday's window, still open on Monday
    assert not spots.is_open(night, local(2026, 11, 23, 23, 0), CITY)  # Monday's window is cancelled
    assert not spots.is_open(night, local(2026, 11, 24, 1, 0), CITY)
    upcoming = spots.next_opening(night, local(2026, 11, 23, 12, 0), CITY)
    assert upcoming is not None and upcoming.opens_at == local(2026, 11, 24, 22, 0)


def test_exception_over_a_range_of_days() -> None:
    spring = ClosedDates(date(2027, 2, 5), date(2027, 2, 11), "Spring Festival")
    daily = spot("06:00-08:30", exceptions=(spring,))
    assert not spots.is_open(daily, local(2027, 2, 8, 7, 0), CITY)
    upcoming = spots.next_opening(daily, local(2027, 2, 5, 0, 0), CITY)
    assert upcoming is not None and upcoming.opens_at == local(2027, 2, 12, 6, 0)


def test_temporary_closure_with_and_without_an_end() -> None:
    now = local(2026, 11, 23, 23, 0)
    until_further_notice = spot("22:00-04:00", status=spots.STATUS_CLOSED)
    assert not spots.is_open(until_further_notice, now, CITY)
    assert spots.next_opening(until_further_notice, now, CITY) is None
    until_midnight = spot("22:00-04:00", status=spots.STATUS_CLOSED, closed_until=local(2026, 11, 24, 0, 0))
    assert not spots.is_open(until_midnight, now, CITY)
    assert spots.is_open(until_midnight, local(2026, 11, 24, 0, 30), CITY)  # the window resumes at the end
    upcoming = spots.next_opening(until_midnight, now, CITY)
    assert upcoming is not None and upcoming.opens_at == local(2026, 11, 24, 0, 0)


def test_relocated_spot_never_opens() -> None:
    moved = spot("00:00-24:00", status=spots.STATUS_RELOCATED, relocated_to=2)
    assert not spots.is_open(moved, local(2026, 11, 23, 12, 0), CITY)
    assert spots.next_opening(moved, local(2026, 11, 23, 12, 0), CITY) is None


def test_fast_open_check_agrees_with_the_calendar() -> None:
    rng = random.Random(5)
    choices = ["Mo-Su 22:00-04:00", "Mo-Fr 09:00-17:00; Sa,Su 08:00-18:00", "Su 23:00-01:00", "06:00-08:30,16:30-19:30"]
    for _ in range(400):
        first = MONDAY + timedelta(days=rng.randrange(14))
        exception = ClosedDates(first, first + timedelta(days=rng.randrange(3)), "x") if rng.random() < 0.5 else None
        candidate = spot(rng.choice(choices), exceptions=(exception,) if exception else ())
        moment = local(2026, 11, 23, 0, 0) + timedelta(minutes=rng.randrange(14 * 1440))
        window = spots.open_window(
            candidate, moment, hours.minute_of_week(moment, CITY), moment.astimezone(CITY).date()
        )
        assert (window is not None) == spots.is_open(candidate, moment, CITY)
        if window is not None:
            assert spots.opening_of(*window, CITY) == spots.current_opening(candidate, moment, CITY)


def test_periods_tonight_and_tomorrow_morning() -> None:
    afternoon = local(2026, 11, 23, 14, 0)
    assert hours.period_for("tonight", afternoon, CITY) == hours.Period(
        "tonight", local(2026, 11, 23, 18, 0), local(2026, 11, 24, 4, 0)
    )
    assert hours.period_for("morning", afternoon, CITY).start == local(2026, 11, 24, 5, 0)
    small_hours = local(2026, 11, 24, 2, 0)  # still "tonight"; the coming morning is "tomorrow morning"
    assert hours.period_for("tonight", small_hours, CITY).start == small_hours
    assert hours.period_for("morning", small_hours, CITY).start == local(2026, 11, 24, 5, 0)


# ---------------------------------------------------------- the database
def record(external_id: str, lat: float, lon: float, hours: str = "00:00-24:00", **changes: object) -> SpotRecord:
    values: dict[str, object] = {
        "where": external_id,
        "external_id": external_id,
        "name": f"Spot {external_id}",
        "district": "wuhan-edz",
        "lat": lat,
        "lon": lon,
        "hours": parse_hours(hours),
    }
    values.update(changes)
    return SpotRecord(**values)  # type: ignore[arg-type]


def offset(meters_north: float, meters_east: float) -> tuple[float, float]:
    lat = CENTRE[0] + math.degrees(meters_north / 6_371_008.8)
    lon = CENTRE[1] + math.degrees(meters_east / (6_371_008.8 * math.cos(math.radians(CENTRE[0]))))
    return lat, lon


async def load(db: Database, *records: SpotRecord, zones: tuple[ZoneRecord, ...] = ()) -> dict[str, int]:
    await apply_batch(db, ImportBatch(list(records), list(zones)), local(2026, 11, 1, 12))
    return {row["external_id"]: row["id"] for row in await db.fetchall("SELECT id, external_id FROM spots")}


async def test_nearest_open_spots_in_order_with_distances(db: Database) -> None:
    ids = await load(
        db,
        record("near", *offset(200, 0), "22:00-04:00"),
        record("closed-now", *offset(100, 0), "06:00-08:30"),
        record("middle", *offset(0, 600), "22:00-04:00"),
        record("far", *offset(-2000, 0), "00:00-24:00"),
        record("farther", *offset(0, -5000), "00:00-24:00"),
    )
    result = await search.nearest_open_spots(db, *CENTRE, local(2026, 11, 23, 23, 0), CITY)
    assert [n.spot.id for n in result.spots] == [ids["near"], ids["middle"], ids["far"]]
    assert [round(n.distance_m) for n in result.spots] == [200, 600, 2000]
    assert all(n.open_now for n in result.spots) and not result.soonest and result.more
    assert result.spots[0].opening == hours.Opening(local(2026, 11, 23, 22, 0), local(2026, 11, 24, 4, 0))
    second = await search.nearest_open_spots(db, *CENTRE, local(2026, 11, 23, 23, 0), CITY, offset=3)
    assert [n.spot.id for n in second.spots] == [ids["farther"]] and not second.more


async def test_when_nothing_is_open_the_soonest_to_open(db: Database) -> None:
    ids = await load(
        db,
        record("opens-at-six", *offset(300, 0), "06:00-08:30"),
        record("opens-at-seven", *offset(100, 0), "07:00-09:00"),
        record("closed", *offset(50, 0), "06:00-08:30", status=spots.STATUS_CLOSED),
    )
    now = local(2026, 11, 23, 5, 20)
    result = await search.nearest_open_spots(db, *CENTRE, now, CITY)
    assert result.soonest
    assert [n.spot.id for n in result.spots] == [ids["opens-at-six"], ids["opens-at-seven"]]
    assert result.spots[0].opening is not None and result.spots[0].opening.opens_at - now == timedelta(minutes=40)


async def test_soonest_means_when_the_vendor_could_be_selling_there_walk_included(db: Database) -> None:
    # At 4.5 km/h: 12.1 km is 161 minutes on foot, 15 km is 200, 1.2 km is 16 and 0.8 km 11.
    ids = await load(
        db,
        record("far-early", *offset(12_100, 0), "06:00-09:00"),  # opens first, but the vendor gets there at 07:41
        record("near-later", *offset(1_200, 0), "06:30-09:00"),  # selling from 06:30
        record("nearer-same", *offset(0, 800), "06:30-09:00"),  # selling from 06:30 too, and nearer
        record("too-far-today", *offset(0, -15_000), "06:00-07:00"),  # closed again by 08:20: tomorrow
    )
    now = local(2026, 11, 23, 5, 0)
    result = await search.nearest_open_spots(db, *CENTRE, now, CITY, limit=4)
    assert result.soonest
    assert [n.spot.id for n in result.spots] == [
        ids["nearer-same"],
        ids["near-later"],
        ids["far-early"],
        ids["too-far-today"],
    ]
    assert [n.selling_from for n in result.spots[:2]] == [local(2026, 11, 23, 6, 30)] * 2
    far_early = result.spots[2]
    assert far_early.selling_from is not None
    assert far_early.selling_from.astimezone(CITY).strftime("%H:%M") == "07:41"
    tomorrow = result.spots[3]
    assert tomorrow.opening == hours.Opening(local(2026, 11, 24, 6, 0), local(2026, 11, 24, 7, 0))
    assert tomorrow.selling_from == local(2026, 11, 24, 6, 0)


async def test_soonest_looks_past_the_nearest_few_for_a_spot_that_opens_much_earlier(db: Database) -> None:
    crowd = [record(f"late-{n}", *offset(100 * n, 0), "10:00-12:00") for n in range(1, 13)]
    ids = await load(db, *crowd, record("early", *offset(0, 2_500), "06:00-08:00"))
    result = await search.nearest_open_spots(db, *CENTRE, local(2026, 11, 23, 5, 0), CITY)
    assert result.soonest and result.spots[0].spot.id == ids["early"]  # the 13th nearest, selling from 06:00
    assert [n.spot.id for n in result.spots[1:]] == [ids["late-1"], ids["late-2"]]


async def test_soonest_selling_equals_a_brute_force_ranking(db: Database) -> None:
    rng = random.Random(23)
    hours = ["22:00-04:00", "06:00-08:30", "Mo-Fr 09:00-17:00", "Sa,Su 10:00-12:00", "17:30-22:00", "05:30-06:00"]
    records = []
    for number in range(400):
        lat, lon = offset(rng.gauss(0, 6000), rng.gauss(0, 6000))
        status = spots.STATUS_CLOSED if rng.random() < 0.05 else spots.STATUS_OPEN
        records.append(record(f"r{number}", lat, lon, rng.choice(hours), status=status))
    await load(db, *records)
    now0 = local(2026, 11, 23, 0)
    everything = [await spots.get_spot(db, row["id"], now0, CITY) for row in await db.fetchall("SELECT id FROM spots")]
    for _ in range(40):
        lat, lon = offset(rng.gauss(0, 6000), rng.gauss(0, 6000))
        now = now0 + timedelta(minutes=rng.randrange(7 * 1440))
        expected = []
        for candidate in everything:
            distance = haversine_m(lat, lon, candidate.lat, candidate.lon)
            arrival = now + timedelta(minutes=distance / 75)
            opening = spots.selling_opening(candidate, now, arrival, CITY)
            if opening is not None:
                expected.append((max(arrival, opening.opens_at), distance, candidate.id))
        got = await search.soonest_selling(db, lat, lon, now, CITY, start=now, wanted=5)
        assert [n.spot.id for n in got[:5]] == [spot_id for _, _, spot_id in sorted(expected)[:5]]


async def test_goods_and_time_filters(db: Database) -> None:
    ids = await load(
        db,
        record("fruit-night", *offset(100, 0), "22:00-04:00", goods=("fruit",)),
        record("veg-morning", *offset(200, 0), "06:00-08:30", goods=("vegetables", "own_produce")),
        record("fruit-morning", *offset(300, 0), "06:00-08:30", goods=("fruit",)),
    )
    afternoon = local(2026, 11, 23, 14, 0)
    tonight = await search.nearest_open_spots(db, *CENTRE, afternoon, CITY, when="tonight")
    assert [n.spot.id for n in tonight.spots] == [ids["fruit-night"]] and not tonight.spots[0].open_now
    morning = await search.nearest_open_spots(db, *CENTRE, afternoon, CITY, when="morning", goods="fruit")
    assert [n.spot.id for n in morning.spots] == [ids["fruit-morning"]]
    assert morning.spots[0].opening is not None and morning.spots[0].opening.opens_at == local(2026, 11, 24, 6, 0)


async def test_temporarily_closed_and_relocated_spots_are_not_offered(db: Database) -> None:
    ids = await load(
        db,
        record("closed", *offset(50, 0), status=spots.STATUS_CLOSED, status_reason="road works"),
        record("moved", *offset(60, 0), status=spots.STATUS_RELOCATED, relocated_to="open"),
        record("open", *offset(500, 0)),
    )
    result = await search.nearest_open_spots(db, *CENTRE, local(2026, 11, 23, 12, 0), CITY)
    assert [n.spot.id for n in result.spots] == [ids["open"]]


async def test_nearest_through_the_index_equals_a_brute_force_scan(db: Database) -> None:
    rng = random.Random(11)
    hours = ["22:00-04:00", "06:00-08:30", "Mo-Fr 09:00-17:00", "00:00-24:00", "17:30-22:00"]
    records = []
    for number in range(600):
        lat, lon = offset(rng.gauss(0, 3000), rng.gauss(0, 3000))
        status = spots.STATUS_CLOSED if rng.random() < 0.05 else spots.STATUS_OPEN
        records.append(record(f"r{number}", lat, lon, rng.choice(hours), status=status))
    await load(db, *records)
    everything = [
        await spots.get_spot(db, row["id"], local(2026, 11, 23, 0), CITY)
        for row in await db.fetchall("SELECT id FROM spots")
    ]
    for _ in range(60):
        lat, lon = offset(rng.gauss(0, 4000), rng.gauss(0, 4000))
        now = local(2026, 11, 23, 0) + timedelta(minutes=rng.randrange(7 * 1440))
        scan = sorted((haversine_m(lat, lon, s.lat, s.lon), s.id) for s in everything if spots.is_open(s, now, CITY))
        result = await search.nearest_open_spots(db, lat, lon, now, CITY, limit=5)
        if scan:
            assert [n.spot.id for n in result.spots] == [spot_id for _, spot_id in scan[:5]]
        else:
            assert result.soonest


async def test_zones_with_hours_and_without(db: Database) -> None:
    square = {
        "type": "Polygon",
        "coordinates": [
            [[114.159, 30.499], [114.161, 30.499], [114.161, 30.501], [114.159, 30.501], [114.159, 30.499]]
        ],
    }
    school = ZoneRecord(
        "z1",
        "school",
        "小学门前",
        "school_gate",
        square,
        (30.499, 30.501, 114.159, 114.161),
        parse_hours("Mo-Fr 07:00-17:00"),
    )
    hospital = ZoneRecord("z2", "hospital", "医院", "hospital_entrance", square, (30.499, 30.501, 114.159, 114.161))
    await load(db, zones=(school, hospital))
    weekday_morning = await zones.zones_at(db, 30.5, 114.16, local(2026, 11, 23, 9, 0), CITY)
    assert [(hit.zone.external_id, hit.active) for hit in weekday_morning] == [("hospital", True), ("school", True)]
    assert weekday_morning[1].until == local(2026, 11, 23, 17, 0)
    evening = await zones.zones_at(db, 30.5, 114.16, local(2026, 11, 23, 19, 0), CITY)
    assert [(hit.zone.external_id, hit.active) for hit in evening] == [("hospital", True), ("school", False)]
    assert await zones.zones_at(db, 30.51, 114.16, local(2026, 11, 23, 9, 0), CITY) == []


async def test_search_by_name_and_district(db: Database) -> None:
    await load(
        db,
        record("a", *offset(0, 0), name="沌口夜市", address="沌阳大道"),
        record("b", *offset(10, 0), name="100% fruit_corner", address="东风大道"),
    )
    now = local(2026, 11, 23, 12)
    assert [s.name for s in await search.search_spots(db, "沌阳", now, CITY)] == ["沌口夜市"]
    assert [s.name for s in await search.search_spots(db, "100%", now, CITY)] == ["100% fruit_corner"]
    assert await search.search_spots(db, "沌%市", now, CITY) == []  # LIKE wildcards are taken literally
    listed, more = await search.spots_in_district(db, "wuhan-edz", now, CITY, limit=1)
    assert len(listed) == 1 and more


async def test_subscribe_and_unsubscribe(db: Database) -> None:
    ids = await load(db, record("a", *CENTRE))
    now = local(2026, 11, 23, 12)
    assert await subscriptions.subscribe(db, 4001, ids["a"], "en", now, TIMING)
    assert not await subscriptions.subscribe(db, 4001, ids["a"], "en", now, TIMING)  # once is enough
    assert await subscriptions.subscribers_of(db, ids["a"]) == [subscriptions.Subscriber(4001, "en")]
    assert [s.id for s in await subscriptions.subscriptions_of(db, 4001, now, CITY)] == [ids["a"]]
    assert await subscriptions.unsubscribe(db, 4001, ids["a"])
    assert not await subscriptions.unsubscribe(db, 4001, ids["a"])
    with pytest.raises(spots.SpotNotFound):
        await subscriptions.subscribe(db, 4001, 9999, "en", now, TIMING)


async def outbox(db: Database) -> list[tuple[int, str]]:
    rows = await db.fetchall("SELECT chat_id, params FROM outbox ORDER BY id")
    return [(row["chat_id"], json.loads(row["params"])["text"]) for row in rows]


async def test_closing_a_spot_tells_each_subscriber_in_their_language_with_an_alternative(db: Database) -> None:
    ids = await load(
        db,
        record("a", *CENTRE, name="沌口夜市", name_en="Zhuankou night market"),
        record("b", *offset(400, 0), name="神龙大道"),
    )
    now = local(2026, 11, 23, 12)
    await subscriptions.subscribe(db, 4001, ids["a"], "zh_Hans", now, TIMING)
    await subscriptions.subscribe(db, 4002, ids["a"], "en", now, TIMING)
    async with db.transaction() as conn:
        change = await staff_actions.close_spot(
            conn, ids["a"], local(2026, 11, 30, 0), "<road works>", now, timing=TIMING
        )
    assert change.notified == 2 and change.spot.status == spots.STATUS_CLOSED
    (chinese_id, chinese), (english_id, english) = await outbox(db)
    assert chinese_id == 4001 and "沌口夜市暂停开放" in chinese and "原因：&lt;road works&gt;" in chinese
    assert "神龙大道" in chinese and "400米" in chinese  # the nearest alternative
    assert english_id == 4002 and "Zhuankou night market is closed for now, until Nov 30" in english
    row = await db.fetchone("SELECT status, closed_until, status_reason FROM spots WHERE id = ?", (ids["a"],))
    assert (row["status"], row["closed_until"], row["status_reason"]) == (
        "closed_temporarily",
        to_db(local(2026, 11, 30, 0)),
        "<road works>",
    )

    async with db.transaction() as conn:
        reopened = await staff_actions.reopen_spot(conn, ids["a"], now + timedelta(hours=1), timing=TIMING)
    assert reopened.notified == 2
    assert "open again" in (await outbox(db))[-1][1]


@pytest.mark.parametrize(
    ("others", "offered", "says"),
    [
        (  # the case: 10.2 km away opens at 16:30, but on foot the vendor is there only at 18:16
            [("far-soon", 10_200, "16:30-19:30"), ("near-later", 1_600, "17:00-22:00")],
            "near-later",
            "相距1.6公里（步行约21分钟），1小时后开放（11月23日 17:00）",
        ),
        (  # open now, but 133 minutes away; the near one opens in half an hour
            [("far-open", 10_000, "00:00-24:00"), ("near-soon", 1_000, "16:30-19:30")],
            "near-soon",
            "相距1公里（步行约13分钟），30分钟后开放",
        ),
        (  # open now and near: selling can start on arrival
            [("near-open", 900, "00:00-24:00"), ("nearer-later", 300, "17:00-19:00")],
            "near-open",
            "相距900米（步行约12分钟），现在开放",
        ),
    ],
)
async def test_a_closure_offers_the_spot_where_selling_could_start_soonest(
    db: Database, others: list[tuple[str, float, str]], offered: str, says: str
) -> None:
    ids = await load(
        db,
        record("closing", *CENTRE, name="沌口夜市"),
        *(record(name, *offset(meters, 0), hours, name=name) for name, meters, hours in others),
    )
    now = local(2026, 11, 23, 16, 0)
    await subscriptions.subscribe(db, 4001, ids["closing"], "zh_Hans", now, TIMING)
    async with db.transaction() as conn:
        await staff_actions.close_spot(conn, ids["closing"], local(2026, 11, 25, 16), "道路施工", now, timing=TIMING)
    ((_, text),) = await outbox(db)
    assert f"附近最快能摆上摊的地方：{offered}，{says}" in text, text
    assert "最近" not in text  # a spot is called nearest only when it is


async def test_relocation_moves_the_subscriptions_to_the_new_spot(db: Database) -> None:
    ids = await load(
        db,
        record("old", *CENTRE, name="老市场"),
        record("new", *offset(0, 700), name="新市场", address="神龙大道128号"),
    )
    now = local(2026, 11, 23, 12)
    await subscriptions.subscribe(db, 4001, ids["old"], "zh_Hans", now, TIMING)
    async with db.transaction() as conn:
        change = await staff_actions.relocate_spot(conn, ids["old"], ids["new"], now, timing=TIMING)
    assert change.notified == 1
    ((_, text),) = await outbox(db)
    assert "老市场已搬到新市场（神龙大道128号），离原来的地方700米" in text
    assert await subscriptions.subscribers_of(db, ids["old"]) == []
    assert await subscriptions.subscribers_of(db, ids["new"]) == [subscriptions.Subscriber(4001, "zh_Hans")]


async def test_staff_actions_refuse_what_makes_no_sense_and_change_nothing(db: Database) -> None:
    ids = await load(db, record("a", *CENTRE), record("b", *offset(100, 0)))
    now = local(2026, 11, 23, 12)
    for action in (
        lambda conn: staff_actions.relocate_spot(conn, ids["a"], ids["a"], now, timing=TIMING),
        lambda conn: staff_actions.close_spot(conn, ids["a"], now - timedelta(hours=1), "", now, timing=TIMING),
        lambda conn: staff_actions.close_spot(conn, 9999, None, "", now, timing=TIMING),
    ):
        with pytest.raises(spots.SpotError):
            async with db.transaction() as conn:
                await action(conn)
    rows = await db.fetchall("SELECT status FROM spots")
    assert {row["status"] for row in rows} == {"open"}
    assert await outbox(db) == []


async def test_find_spot_by_number_or_import_id(db: Database) -> None:
    ids = await load(db, record("wh-001", *CENTRE))
    now = local(2026, 11, 23, 12)
    assert (await spots.find_spot(db, "wh-001", now, CITY)).id == ids["wh-001"]
    assert (await spots.find_spot(db, str(ids["wh-001"]), now, CITY)).external_id == "wh-001"
    with pytest.raises(spots.SpotNotFound):
        await spots.find_spot(db, "nope", now, CITY)


async def test_hours_are_kept_in_step_with_their_copies(db: Database) -> None:
    ids = await load(db, record("a", *CENTRE, "Mo 06:00-08:30; Su 22:00-04:00"))
    row = await db.fetchone("SELECT week, week_mask0, week_mask1, week_mask2 FROM spots WHERE id = ?", (ids["a"],))
    windows = [Window(r["start_m"], r["end_m"]) for r in await db.fetchall("SELECT * FROM spot_hours ORDER BY start_m")]
    assert row["week"] == hours.week_text(windows)
    assert (row["week_mask0"], row["week_mask1"], row["week_mask2"]) == hours.hour_masks(windows)
    assert row["week_mask0"] & (1 << 6) and row["week_mask0"] & (1 << 3)  # Monday 06:00 and (Sunday's) 03:00
