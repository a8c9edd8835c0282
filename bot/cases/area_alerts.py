"""Area alerts: a person subscribes to new public reports near a place (300 m, 1 km, 3 km), in a district or in a
grid (单元网格, bot.cases.grids), and hears of each one in one short message — its number, category, distance (or
district) and state, never who reported it.

Every case filed (from Telegram or Open311) is public: each new one is matched inside the filing transaction
(:func:`alert_new_report`, called by ``service.submit``). The reporter is not alerted about their own report, and a
person matched by several subscriptions hears once. Pacing, per person: at most one instant alert a minute. A
report matched within a minute of the last alert is *folded into the next*: it waits in ``alert_pending`` and one
message listing every waiting report goes when the minute is up (reminder :data:`FOLD`), so nothing is lost and
nobody gets more than one message a minute. A subscription with the daily cadence collects its reports instead and
gets one digest a day at DIGEST_TIME (reminder :data:`DIGEST`). Every message goes through the outbox with the ref
``area_alert:<telegram id>`` (the bulk lane's pushes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from bot.cases.config import Desk, lang_of_user, next_daily
from bot.cases.states import STATE_NAMES, Report, ReportState, category_of
from bot.platform import reminders, users
from bot.platform.clock import from_db, to_db
from bot.platform.db import Database, read_rows, returned_id
from bot.platform.geo import bounding_box, haversine_m
from bot.platform.i18n import Lang
from bot.platform.outbox import enqueue_text, enqueue_texts
from bot.platform.reminders import Reminder
from bot.platform.text import fit
from bot.platform.users import UserRecord, record_of

RADII_M = (300, 1000, 3000)  # the choices offered after a shared location
KINDS = ("near", "district", "grid")
CADENCES = ("instant", "daily")
ALERT_GAP = timedelta(minutes=1)  # at most one instant alert a minute per person
MAX_SUBSCRIPTIONS = 10
LISTED = 8  # reports listed in one folded message or digest; the rest are counted
FOLD = "area_alert_fold"
DIGEST = "area_alert_digest"
# Both fire however late (after a long stop): what waits is still news, and the digest plans the next one.
STALE_AFTER: dict[str, timedelta | None] = {FOLD: None, DIGEST: None}
REF_PREFIX = "area_alert:"  # every area alert's outbox ref: area_alert:<telegram id>


class AlertRefused(ValueError):
    """A subscription that cannot be made: ``reason`` is outside, unknown_area, bad_radius or too_many."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Subscription:
    id: int
    telegram_id: int
    kind: str  # near / district / grid
    lat: float | None
    lon: float | None
    radius_m: float | None
    area_code: str | None
    cadence: str  # instant / daily


@dataclass(frozen=True)
class Match:
    """Why a person hears of a report: the cadence of their best subscription and the distance from its place."""

    telegram_id: int
    cadence: str
    distance_m: float | None  # None: matched by district


def _subscription(row: Any) -> Subscription:
    return Subscription(
        row["id"],
        row["telegram_id"],
        row["kind"],
        row["lat"],
        row["lon"],
        row["radius_m"],
        row["area_code"],
        row["cadence"],
    )


def person_target(telegram_id: int) -> str:
    """The reminders' target for a person's folded alerts and digest (/forget purges it)."""
    return f"alerts:{telegram_id}"


def alert_ref(telegram_id: int) -> str:
    return f"{REF_PREFIX}{telegram_id}"


# ------------------------------------------------------------------ subscribing
async def subscriptions_of(db: Database | aiosqlite.Connection, telegram_id: int) -> list[Subscription]:
    rows = await read_rows(db, "SELECT * FROM alert_subscriptions WHERE telegram_id = ? ORDER BY id", (telegram_id,))
    return [_subscription(row) for row in rows]


async def subscribe(
    db: Database,
    telegram_id: int,
    kind: str,
    cadence: str,
    now: datetime,
    desk: Desk,
    *,
    lat: float | None = None,
    lon: float | None = None,
    radius_m: float | None = None,
    area_code: str | None = None,
) -> Subscription:
    """Adds a subscription (the same area again only changes its cadence); raises AlertRefused for a place outside
    the service area, an unknown district or grid (``area_code``: its external id), a radius not offered, or more
    than MAX_SUBSCRIPTIONS."""
    if cadence not in CADENCES or kind not in KINDS:
        raise ValueError(f"{kind}/{cadence}")
    if kind == "near":
        if lat is None or lon is None or desk.area is None or not desk.area.contains(lat, lon):
            raise AlertRefused("outside")
        if radius_m not in RADII_M:
            raise AlertRefused("bad_radius")
        area_code = None
    elif kind == "district":
        if desk.area is None or desk.area.by_code(area_code or "") is None:
            raise AlertRefused("unknown_area")
    if kind != "near":
        lat = lon = radius_m = None
    async with db.transaction() as conn:
        if kind == "grid" and not await read_rows(conn, "SELECT 1 FROM grids WHERE external_id = ?", (area_code,)):
            raise AlertRefused("unknown_area")
        same = await read_rows(
            conn,
            """SELECT id FROM alert_subscriptions WHERE telegram_id = ? AND kind = ?
               AND lat IS NOT DISTINCT FROM ? AND lon IS NOT DISTINCT FROM ?
               AND radius_m IS NOT DISTINCT FROM ? AND area_code IS NOT DISTINCT FROM ?""",
            (telegram_id, kind, lat, lon, radius_m, area_code),
        )
        if same:
            sub_id = int(same[0]["id"])
            await conn.execute("UPDATE alert_subscriptions SET cadence = ? WHERE id = ?", (cadence, sub_id))
        else:
            if len(await subscriptions_of(conn, telegram_id)) >= MAX_SUBSCRIPTIONS:
                raise AlertRefused("too_many")
            cursor = await conn.execute(
                """INSERT INTO alert_subscriptions (telegram_id, kind, lat, lon, radius_m, area_code, cadence,
                   created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                (telegram_id, kind, lat, lon, radius_m, area_code, cadence, to_db(now)),
            )
            sub_id = await returned_id(cursor) or 0
        await _plan_digest(conn, telegram_id, now, desk)
        rows = await read_rows(conn, "SELECT * FROM alert_subscriptions WHERE id = ?", (sub_id,))
    return _subscription(rows[0])


async def unsubscribe(db: Database, telegram_id: int, subscription_id: int, now: datetime, desk: Desk) -> bool:
    """Removes one of the person's subscriptions; False when it is not theirs (or already gone)."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "DELETE FROM alert_subscriptions WHERE id = ? AND telegram_id = ?", (subscription_id, telegram_id)
        )
        if not cursor.rowcount:
            return False
        await _plan_digest(conn, telegram_id, now, desk)
    return True


async def _plan_digest(conn: aiosqlite.Connection, telegram_id: int, now: datetime, desk: Desk) -> None:
    """One digest reminder while the person has a daily subscription; none (and nothing waiting) otherwise."""
    cadences = {sub.cadence for sub in await subscriptions_of(conn, telegram_id)}
    if "daily" in cadences:
        due = next_daily(desk.timing.digest_time, desk.timezone, now)
        pending = await read_rows(
            conn,
            "SELECT due_at FROM reminders WHERE state = 'pending' AND kind = ? AND target = ?",
            (DIGEST, person_target(telegram_id)),
        )
        if not pending:
            await reminders.schedule(conn, DIGEST, person_target(telegram_id), due, now)
    else:
        await reminders.cancel(conn, person_target(telegram_id), (DIGEST,))
        await conn.execute("DELETE FROM alert_pending WHERE telegram_id = ? AND cadence = 'daily'", (telegram_id,))
    if not cadences:
        await conn.execute("DELETE FROM alert_pending WHERE telegram_id = ?", (telegram_id,))


async def forget(conn: aiosqlite.Connection, telegram_id: int) -> int:
    """/forget: the person's subscriptions, waiting alerts and pace go; returns how many subscriptions."""
    cursor = await conn.execute("DELETE FROM alert_subscriptions WHERE telegram_id = ?", (telegram_id,))
    await conn.execute("DELETE FROM alert_pending WHERE telegram_id = ?", (telegram_id,))
    await conn.execute("DELETE FROM alert_pace WHERE telegram_id = ?", (telegram_id,))
    await reminders.purge(conn, (person_target(telegram_id),))
    return cursor.rowcount


async def grid_names(db: Database) -> dict[str, str]:
    """Every grid's name by its external id (a grid subscription names its grid by it)."""
    return {row["external_id"]: row["name"] for row in await read_rows(db, "SELECT external_id, name FROM grids")}


async def districts_with_grids(db: Database) -> list[str]:
    return [row["district"] for row in await read_rows(db, "SELECT DISTINCT district FROM grids ORDER BY district")]


async def grid_by_id(db: Database, grid_id: int) -> tuple[str, str] | None:
    """(external id, name) of a grid chosen by a button (which carries its row id), or None when it is gone."""
    rows = await read_rows(db, "SELECT external_id, name FROM grids WHERE id = ?", (grid_id,))
    return (rows[0]["external_id"], rows[0]["name"]) if rows else None


# ------------------------------------------------------------------ matching a new report
async def matches_for(conn: aiosqlite.Connection, report: Report) -> list[Match]:
    """Who hears of the report, once each: their instant subscription before a daily one, then the nearest."""
    rows: list[Any] = []
    if report.lat is not None and report.lon is not None:
        min_lat, max_lat, min_lon, max_lon = bounding_box(report.lat, report.lon, max(RADII_M))
        rows += await read_rows(
            conn,
            """SELECT * FROM alert_subscriptions WHERE kind = 'near' AND lat BETWEEN ? AND ?
               AND lon BETWEEN ? AND ?""",
            (min_lat, max_lat, min_lon, max_lon),
        )
    if report.district:
        rows += await read_rows(
            conn, "SELECT * FROM alert_subscriptions WHERE kind = 'district' AND area_code = ?", (report.district,)
        )
    rows += await read_rows(  # the grid the case was tagged with (bot.cases.grids), if any
        conn,
        """SELECT s.* FROM reports r JOIN alert_subscriptions s ON s.kind = 'grid' AND s.area_code = r.grid
           WHERE r.id = ?""",
        (report.id,),
    )
    best: dict[int, Match] = {}
    for sub in map(_subscription, rows):
        if sub.telegram_id == report.reporter_id:
            continue  # nobody is alerted about their own report
        distance = None
        if sub.kind == "near":
            assert sub.lat is not None and sub.lon is not None and report.lat is not None and report.lon is not None
            distance = haversine_m(sub.lat, sub.lon, report.lat, report.lon)
            if distance > (sub.radius_m or 0):
                continue
        match = Match(sub.telegram_id, sub.cadence, distance)
        if sub.telegram_id not in best or _rank(match) < _rank(best[sub.telegram_id]):
            best[sub.telegram_id] = match
    return sorted(best.values(), key=lambda m: m.telegram_id)


def _rank(match: Match) -> tuple[int, float]:
    return (0 if match.cadence == "instant" else 1, match.distance_m if match.distance_m is not None else 1e12)


async def alert_new_report(conn: aiosqlite.Connection, report: Report, now: datetime, desk: Desk) -> int:
    """Inside the filing transaction: an alert now for each subscriber free to get one, the report held for the
    others (their next folded message or digest); returns how many alerts were queued now. People who blocked the
    bot are left out. The subscribers' rows are read in batches: a district may have thousands."""
    matches = await matches_for(conn, report)
    people = await _people(conn, [match.telegram_id for match in matches])
    texts: dict[tuple[str, float | None], str] = {}  # the same words for everyone of a language and distance
    messages, sent, held, fold_at = [], [], [], []
    for match in matches:
        person = people.get(match.telegram_id)
        if person is not None and person.record is not None and person.record.blocked_bot:
            continue
        last = person.last_sent_at if person is not None else None
        if match.cadence == "daily" or (last is not None and now - last < ALERT_GAP):
            held.append((match.telegram_id, report.id, match.cadence, match.distance_m, to_db(now)))
            if match.cadence == "instant" and last is not None and not (person and person.folding):
                fold_at.append((match.telegram_id, last + ALERT_GAP))  # the first held: the fold is planned once
            continue
        t = users.answer_lang(person.record if person else None, None, desk.default_language, desk.timezone)
        key = (t.code, match.distance_m)
        if key not in texts:
            texts[key] = one_alert(t, report, match.distance_m, desk)
        telegram_id = match.telegram_id
        messages.append((telegram_id, texts[key], f"area_alert:{report.id}:{telegram_id}", alert_ref(telegram_id)))
        sent.append((telegram_id, to_db(now)))
    await enqueue_texts(conn, messages, now)
    await conn.executemany(
        """INSERT INTO alert_pending (telegram_id, report_id, cadence, distance_m, created_at)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
        held,
    )
    await conn.executemany(_MARK_SENT, sent)
    for telegram_id, due in fold_at:
        await reminders.schedule(conn, FOLD, person_target(telegram_id), due, now)
    return len(sent)


@dataclass(frozen=True)
class Recipient:
    record: UserRecord | None  # their language, whether they blocked the bot (None: never wrote)
    last_sent_at: datetime | None  # their last instant alert
    folding: bool  # reports already wait for their next folded message (its reminder is planned)


async def _people(conn: aiosqlite.Connection, ids: list[int]) -> dict[int, Recipient]:
    """What alerting each person needs, read in batches of ids."""
    found: dict[int, Recipient] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        marks = ", ".join("?" for _ in chunk)
        records = {
            row["telegram_id"]: record_of(row)
            for row in await read_rows(conn, f"SELECT * FROM users WHERE telegram_id IN ({marks})", chunk)
        }
        paced = {
            row["telegram_id"]: from_db(row["last_sent_at"])
            for row in await read_rows(conn, f"SELECT * FROM alert_pace WHERE telegram_id IN ({marks})", chunk)
        }
        folding = {
            row["telegram_id"]
            for row in await read_rows(
                conn,
                f"""SELECT DISTINCT telegram_id FROM alert_pending
                    WHERE cadence = 'instant' AND telegram_id IN ({marks})""",
                chunk,
            )
        }
        for telegram_id in chunk:
            found[telegram_id] = Recipient(records.get(telegram_id), paced.get(telegram_id), telegram_id in folding)
    return found


_BATCH = 500  # ids in one IN (…): well under SQLite's limit on parameters
_MARK_SENT = (
    "INSERT INTO alert_pace (telegram_id, last_sent_at) VALUES (?, ?) "
    "ON CONFLICT (telegram_id) DO UPDATE SET last_sent_at = excluded.last_sent_at"
)


async def _mark_sent(conn: aiosqlite.Connection, telegram_id: int, now: datetime) -> None:
    await conn.execute(_MARK_SENT, (telegram_id, to_db(now)))


# ------------------------------------------------------------------ the messages
def _where(t: Lang, distance_m: float | None, district: str | None, desk: Desk) -> str:
    if distance_m is not None:
        return t._("{distance} from your place", distance=t.distance(distance_m))
    found = desk.area.by_code(district) if desk.area is not None and district else None
    return t._("in {district}", district=found.name(t.code) if found else (district or ""))


def one_alert(t: Lang, report: Report, distance_m: float | None, desk: Desk) -> str:
    """One report: number, category, where and state (the reporter is never named)."""
    return t._(
        "🔔 New report <b>{number}</b>, {where}: {category}. State: {state}.\n/alerts to change your alerts.",
        number=report.public_no,
        where=_where(t, distance_m, report.district, desk),
        category=t._(category_of(report.category).name),
        state=t._(STATE_NAMES[report.state]),
    )


@dataclass(frozen=True)
class Waiting:
    number: str
    category: str
    state: ReportState
    district: str | None
    distance_m: float | None


async def _take_waiting(conn: aiosqlite.Connection, telegram_id: int, cadence: str) -> list[Waiting]:
    """The person's held reports of this cadence, oldest first; they are removed (told now)."""
    rows = await read_rows(
        conn,
        """SELECT r.public_no, r.category, r.state, r.district, p.distance_m FROM alert_pending p
           JOIN reports r ON r.id = p.report_id WHERE p.telegram_id = ? AND p.cadence = ?
           ORDER BY p.created_at, r.id""",
        (telegram_id, cadence),
    )
    await conn.execute("DELETE FROM alert_pending WHERE telegram_id = ? AND cadence = ?", (telegram_id, cadence))
    return [
        Waiting(row["public_no"], row["category"], ReportState(row["state"]), row["district"], row["distance_m"])
        for row in rows
    ]


def list_text(t: Lang, heading: str, waiting: list[Waiting], desk: Desk) -> str:
    """Several reports in one message: a heading, up to LISTED lines, the count of the rest."""
    lines = [heading]
    for item in waiting[:LISTED]:
        lines.append(
            t._(
                "• <b>{number}</b> {category}, {where} — {state}",
                number=item.number,
                category=t._(category_of(item.category).name),
                where=_where(t, item.distance_m, item.district, desk),
                state=t._(STATE_NAMES[item.state]),
            )
        )
    if len(waiting) > LISTED:
        rest = len(waiting) - LISTED
        lines.append(t.n_("…and {count} more.", "…and {count} more.", rest))
    lines.append(t._("/alerts to change your alerts."))
    return fit("\n".join(lines))


async def _send_waiting(
    conn: aiosqlite.Connection,
    telegram_id: int,
    cadence: str,
    now: datetime,
    desk: Desk,
    *,
    heading: Callable[[Lang, int], str],
    dedupe_key: str,
) -> bool:
    """One message listing the person's reports held for this cadence, under ``heading``; False if none were."""
    waiting = await _take_waiting(conn, telegram_id, cadence)
    if not waiting:
        return False
    t = await lang_of_user(conn, telegram_id, desk)
    text = list_text(t, heading(t, len(waiting)), waiting, desk)
    await enqueue_text(conn, telegram_id, text, now, dedupe_key=dedupe_key, ref=alert_ref(telegram_id))
    return True


async def send_folded(conn: aiosqlite.Connection, reminder: Reminder, now: datetime, desk: Desk) -> None:
    """When the minute is up: one message with every report held since the last alert."""
    telegram_id = int(reminder.target.split(":", 1)[1])
    if await _send_waiting(
        conn,
        telegram_id,
        "instant",
        now,
        desk,
        heading=lambda t, count: t.n_(
            "🔔 {count} new report in your alert areas:", "🔔 {count} new reports in your alert areas:", count
        ),
        dedupe_key=f"area_alert_fold:{reminder.id}",
    ):
        await _mark_sent(conn, telegram_id, now)


async def send_digest(conn: aiosqlite.Connection, reminder: Reminder, now: datetime, desk: Desk) -> None:
    """Once a day: the reports of the person's daily subscriptions (nothing is sent on a day without any)."""
    telegram_id = int(reminder.target.split(":", 1)[1])
    await _plan_digest(conn, telegram_id, now, desk)  # tomorrow's, while a daily subscription is left
    await _send_waiting(
        conn,
        telegram_id,
        "daily",
        now,
        desk,
        heading=lambda t, count: t.n_(
            "🗓 Your daily alert digest: {count} new report in your areas.",
            "🗓 Your daily alert digest: {count} new reports in your areas.",
            count,
        ),
        dedupe_key=f"area_alert_digest:{reminder.id}",
    )
