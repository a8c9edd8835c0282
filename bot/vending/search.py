"""Finding spots: the nearest open in a period, where a vendor could be selling soonest, by district, by name.

With a SpotIndex (what the bot's vendor search passes), the nearest-spot searches walk that in-process index, in
one read snapshot of the database and without a thread hop (bot.vending.spot_index). Without one, or inside a
caller's transaction (whose own changes only its connection sees), spatial lookups go through SQLite's R*Tree
(``spots_rtree``): an expanding box around the point, rows ordered in SQL by a flat-earth distance, then the exact
haversine distance in Python. Both give the same answers.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from functools import partial
from typing import Any

from bot.platform.clock import to_db
from bot.platform.db import Database, Reader, read_rows
from bot.platform.geo import (
    EARTH_RADIUS_M,
    bounding_box,
    haversine_m,
    walking_time,
)
from bot.vending.hours import Opening, Period, hour_masks, minute_of_week, period_for
from bot.vending.spot_grid import Prefilter, period_mask
from bot.vending.spot_index import SpotIndex
from bot.vending.spots import (
    EXCEPTIONS_COLUMN,
    ROW_COLUMNS,
    SPOT_COLUMNS,
    Spot,
    current_opening,
    exceptions_since,
    get_spot,
    is_open,
    next_opening,
    open_window,
    opening_of,
    openings_in,
    selling_opening,
    spot_from_row,
)
from bot.vending.subscriptions import is_subscribed

INITIAL_RADIUS_M = 150.0
MIN_RADIUS_M = 30.0
MAX_RADIUS_M = 50_000.0
FLAT_EARTH_TOLERANCE = 0.05  # the flat-earth SQL ordering is within 5 % of haversine inside MAX_RADIUS_M
SOONEST_CANDIDATES = 10  # ranking by when a vendor could sell there starts from this many nearest spots
SOONEST_ROUNDS = 4  # at most this many more searches for a farther spot where selling could start sooner


@dataclass(frozen=True)
class Nearby:
    """A spot near the vendor: how far, and its opening that matters (the current one, or the next)."""

    spot: Spot
    distance_m: float
    opening: Opening | None
    open_now: bool
    selling_from: datetime | None = None  # the later of walking there and the opening: when selling could start


@dataclass(frozen=True)
class NearbyResult:
    spots: list[Nearby]
    soonest: bool  # nothing is open in the period: these are where the vendor could be selling soonest
    more: bool  # a further page exists


@dataclass(frozen=True)
class SpotDetail:
    spot: Spot
    open_now: bool
    current: Opening | None
    next: Opening | None
    relocated_to: Spot | None
    subscribed: bool


@dataclass
class DensityHint:
    """The densest crowd of spots a search met lately: the first box is sized for it, so a search in the city
    centre takes one step and one in the outskirts two. Held by whoever searches often (one per database); a hint
    only: any first box gives the same answer."""

    density: float | None = None

    def first_radius(self, target_rows: int) -> float:
        if self.density is None:
            return INITIAL_RADIUS_M
        return max(MIN_RADIUS_M, math.sqrt(target_rows / self.density) / 2)

    def remember(self, density: float) -> None:
        self.density = max(density, 0.9 * (self.density or 0.0))


async def _nearest(
    source: Reader,
    lat: float,
    lon: float,
    now: datetime,
    tz: tzinfo,
    *,
    wanted: int,
    accept: Callable[[Spot], bool],
    prefilter: str,
    params: dict[str, Any],
    exclude: int | None = None,
    max_radius_m: float = MAX_RADIUS_M,
    hint: DensityHint,
) -> list[tuple[float, Spot]]:
    """Up to ``wanted`` spots nearest the point that pass the SQL ``prefilter`` and ``accept``, nearest first.

    One statement per step: the R*Tree alone yields the first ``batch`` entries of a box around the point,
    ordered by a flat-earth distance (no other table is touched for the rest of the box); only those are
    looked up and prefiltered, and a summary row tells how full the box was. A spot is certain once it lies
    within both the box's inscribed circle and the flat distance of the last entry read (less the tolerance);
    otherwise more of the box is read, or a bigger box is tried, sized from how crowded the last one was.
    """
    cos_lat = math.cos(math.radians(lat))
    meters_per_degree = math.radians(1) * EARTH_RADIUS_M
    batch = 3 * wanted + 8
    target_rows = 2 * batch  # entries a box should hold: enough to finish, few enough to sort at once
    radius = min(hint.first_radius(target_rows), max_radius_m)
    base = {**params, "lat": lat, "lon": lon, "k": cos_lat, "since": exceptions_since(now, tz)}
    base["exclude"] = -1 if exclude is None else exclude
    while True:
        min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius)
        rows = await read_rows(
            source,
            f"""WITH near AS MATERIALIZED (
                    SELECT r.id,
                           ((r.min_lat + r.max_lat) / 2 - :lat) * ((r.min_lat + r.max_lat) / 2 - :lat)
                           + ((r.min_lon + r.max_lon) / 2 - :lon) * :k * ((r.min_lon + r.max_lon) / 2 - :lon) * :k
                           AS flat2,
                           count(*) OVER () AS in_box
                    FROM spots_rtree r
                    WHERE r.max_lat >= :min_lat AND r.min_lat <= :max_lat
                      AND r.max_lon >= :min_lon AND r.min_lon <= :max_lon AND r.id <> :exclude
                    ORDER BY flat2 LIMIT :batch
                )
                SELECT near.flat2, near.in_box, ({prefilter}) AS passes, {ROW_COLUMNS},
                       CASE WHEN ({prefilter}) THEN {EXCEPTIONS_COLUMN} END AS closed_days
                FROM near JOIN spots s ON s.id = near.id ORDER BY near.flat2""",
            {**base, "min_lat": min_lat, "max_lat": max_lat, "min_lon": min_lon, "max_lon": max_lon, "batch": batch},
        )
        read, in_box = len(rows), rows[0]["in_box"] if rows else 0
        truncated = in_box > read
        # Nearer than this, no spot can be missing. The index keeps 32-bit coordinates: allow a few metres.
        certain = radius * (1 - FLAT_EARTH_TOLERANCE) - 5 if radius < max_radius_m else max_radius_m
        if truncated:
            last_flat = math.sqrt(rows[-1]["flat2"]) * meters_per_degree
            certain = min(certain, last_flat * (1 - FLAT_EARTH_TOLERANCE) - 5)
        found = sorted(
            ((haversine_m(lat, lon, row["lat"], row["lon"]), row) for row in rows if row["passes"]),
            key=lambda pair: pair[0],
        )
        accepted: list[tuple[float, Spot]] = []
        for distance, row in found:
            if distance > certain:
                break
            spot = spot_from_row(row)
            if accept(spot):
                accepted.append((distance, spot))
                if len(accepted) == wanted:
                    return accepted
        # The share of entries that pass says how many more to read for the rest.
        taken = max(len(accepted), sum(1 for row in rows if row["passes"]), 1) / max(read, 1)
        if in_box:
            hint.remember(in_box / (2 * radius) ** 2)
        if truncated:
            batch = max(2 * batch, math.ceil(1.5 * wanted / taken))  # read more of this box first
        elif radius >= max_radius_m:
            return accepted
        elif in_box == 0:
            radius = min(max_radius_m, 4 * radius)
        else:
            # A box holding enough entries at the density seen here (1.5 to 16 times wider).
            density = in_box / (2 * radius) ** 2
            wider = math.sqrt(max(target_rows, 2 * wanted / taken) / density) / 2
            radius = min(max_radius_m, max(1.5 * radius, min(16 * radius, wider)))


def _prefilter(period: Period | None, goods: str | None, tz: tzinfo) -> tuple[str, dict[str, Any]]:
    """SQL keeping the spots that may give an opening in the period (all operating ones for None).

    A superset of the exact rule (date exceptions are left to Python), applied only to the entries read.
    """
    params: dict[str, Any] = {"goods": f"%,{goods},%" if goods else "%"}
    sql = "(',' || s.goods || ',') LIKE :goods AND "
    if period is None:
        return sql + "(s.status = 'open' OR (s.status = 'closed_temporarily' AND s.closed_until IS NOT NULL))", params
    start_m = minute_of_week(period.start, tz)
    length = 1 if period.choice == "now" else max(1, math.ceil((period.end - period.start).total_seconds() / 60))
    masks = hour_masks([(start_m, start_m + length)])
    sql += """(s.status = 'open' OR (s.status = 'closed_temporarily' AND s.closed_until < :period_end))
        AND ((s.week_mask0 & :m0) <> 0 OR (s.week_mask1 & :m1) <> 0 OR (s.week_mask2 & :m2) <> 0)"""
    return sql, {**params, "m0": masks[0], "m1": masks[1], "m2": masks[2], "period_end": to_db(period.end)}


async def nearest_open_spots(
    source: Reader,
    lat: float,
    lon: float,
    now: datetime,
    tz: tzinfo,
    *,
    limit: int = 3,
    offset: int = 0,
    goods: str | None = None,
    when: str = "now",
    exclude: int | None = None,
    max_radius_m: float = MAX_RADIUS_M,
    hint: DensityHint | None = None,
    index: SpotIndex | None = None,
) -> NearbyResult:
    """The nearest spots open in the period (``now``, ``tonight``, ``morning``), nearest first.

    When none is open in the period within ``max_radius_m``, the spots where the vendor could be selling
    soonest after the period starts, walking time included, instead (``soonest=True``; see soonest_selling).
    """
    hint = hint or DensityHint()
    period = period_for(when, now, tz)
    week_minute, today = minute_of_week(now, tz), now.astimezone(tz).date()

    def wanted_goods(spot: Spot) -> bool:
        return goods is None or goods in spot.goods

    def open_in_period(spot: Spot) -> bool:
        if not wanted_goods(spot):
            return False
        if period.choice == "now":
            return open_window(spot, now, week_minute, today) is not None
        return bool(openings_in(spot, period, tz))

    def nearby(spot: Spot, distance: float) -> Nearby:
        current = open_window(spot, now, week_minute, today)
        arrival = now + walking_time(distance)
        if period.choice == "now" and current is not None:
            return Nearby(spot, distance, opening_of(*current, tz), True, arrival)
        opening = openings_in(spot, period, tz)[0]
        return Nearby(spot, distance, opening, current is not None, max(arrival, opening.opens_at))

    wanted = offset + limit + 1  # one more tells whether another page exists
    if indexed := _usable(source, index):
        async with indexed.reading() as reader:
            found = await reader.nearest(
                lat,
                lon,
                exceptions_since(now, tz),
                wanted=wanted,
                keep=Prefilter(period_mask(period, tz), period.end, goods, exclude),
                accept=open_in_period,
                max_radius_m=max_radius_m,
                in_full=slice(offset, offset + limit),
            )
    else:
        prefilter, params = _prefilter(period, goods, tz)
        found = await _nearest(
            source,
            lat,
            lon,
            now,
            tz,
            wanted=wanted,
            accept=open_in_period,
            prefilter=prefilter,
            params=params,
            exclude=exclude,
            max_radius_m=max_radius_m,
            hint=hint,
        )
    if found:
        page = [nearby(spot, distance) for distance, spot in found[offset : offset + limit]]
        return NearbyResult(page, soonest=False, more=len(found) > offset + limit)
    ranked = await soonest_selling(
        source,
        lat,
        lon,
        now,
        tz,
        start=period.start,
        wanted=wanted,
        goods=goods,
        exclude=exclude,
        max_radius_m=max_radius_m,
        hint=hint,
        index=index,
    )
    return NearbyResult(ranked[offset : offset + limit], soonest=True, more=len(ranked) > offset + limit)


def _usable(source: Reader, index: SpotIndex | None) -> SpotIndex | None:
    """The index answers reads through the Database; inside a caller's transaction SQL sees its own changes."""
    return index if isinstance(source, Database) else None


async def soonest_selling(
    source: Reader,
    lat: float,
    lon: float,
    now: datetime,
    tz: tzinfo,
    *,
    start: datetime,
    wanted: int,
    goods: str | None = None,
    exclude: int | None = None,
    max_radius_m: float = MAX_RADIUS_M,
    hint: DensityHint | None = None,
    index: SpotIndex | None = None,
) -> list[Nearby]:
    """Spots by the moment a vendor at the point could be selling there, then by distance (the first ``wanted``
    exact; a few more may follow).

    That moment is the later of walking there (from ``now``) and the spot's first opening from ``start`` on that
    is still open on arrival. A spot d metres away cannot be reached before now + walk(d), so once the nearest
    few are ranked, only spots within walking reach of the ``wanted``-th best moment can still come first: they
    are looked for among the spots with an opening before that moment (the hour masks), nearest first, and the
    search repeats with the better moment until nothing nearer is left (at most SOONEST_ROUNDS times).
    """
    if indexed := _usable(source, index):
        return await _soonest_indexed(indexed, lat, lon, now, tz, start, wanted, goods, exclude, max_radius_m)
    hint = hint or DensityHint()
    chances: dict[int, Nearby] = {}

    def chance(spot: Spot, before: datetime | None) -> bool:
        distance = haversine_m(lat, lon, spot.lat, spot.lon)
        arrival = now + walking_time(distance)
        opening = selling_opening(spot, start, arrival, tz)
        if opening is None:
            return False
        near = Nearby(spot, distance, opening, opening.contains(now), max(arrival, opening.opens_at, start))
        if before is not None and near.selling_from is not None and near.selling_from >= before:
            return False
        chances[spot.id] = near
        return True

    def ranked() -> list[Nearby]:
        return sorted(chances.values(), key=lambda near: (near.selling_from, near.distance_m, near.spot.id))

    async def candidates(batch: int, before: datetime | None, radius_m: float) -> list[tuple[float, Spot]]:
        """The ``batch`` nearest spots within ``radius_m`` with an opening before ``before`` (None: any)."""
        prefilter, params = _prefilter(None if before is None else Period("soonest", start, before), goods, tz)
        return await _nearest(
            source,
            lat,
            lon,
            now,
            tz,
            wanted=batch,
            accept=partial(chance, before=before),
            prefilter=prefilter,
            params=params,
            exclude=exclude,
            max_radius_m=radius_m,
            hint=hint,
        )

    batch = max(SOONEST_CANDIDATES, wanted)
    found = await candidates(batch, None, max_radius_m)
    for _ in range(SOONEST_ROUNDS):
        if len(found) < batch:
            break  # every spot that could come sooner has been read
        best = ranked()[wanted - 1].selling_from
        assert best is not None
        reach = (best - now) / walking_time(1.0)  # metres walked by then
        if found[-1][0] >= reach:
            break  # the spots not read yet are too far to be reached before it
        batch *= 2
        found = await candidates(batch, best, min(max_radius_m, reach))
    return ranked()


async def _soonest_indexed(
    index: SpotIndex,
    lat: float,
    lon: float,
    now: datetime,
    tz: tzinfo,
    start: datetime,
    wanted: int,
    goods: str | None,
    exclude: int | None,
    max_radius_m: float,
) -> list[Nearby]:
    """soonest_selling in one walk of the index, nearest first: once ``wanted`` spots are ranked, only spots
    with an opening before the ``wanted``-th moment are read, and the walk ends where walking there takes
    until that moment (the same rule as the rounds over SQL, without rounds)."""
    since = exceptions_since(now, tz)
    since_day = date.fromisoformat(since)
    keep = Prefilter(goods=goods, exclude=exclude)
    chances: list[Nearby] = []
    moments: list[datetime] = []  # the chances' selling moments, in order
    async with index.reading() as reader:
        for distance, entry in reader.walk(lat, lon, keep, max_radius_m):
            arrival = now + walking_time(distance)
            best = moments[wanted - 1] if len(moments) >= wanted else None
            if best is not None and arrival >= best:
                break  # nothing farther can be selling before the wanted-th
            if not keep.passes(entry):
                continue  # read before the filter narrowed
            if best is not None and not entry.mask & period_mask(Period("soonest", max(arrival, start), best), tz):
                continue  # not open at any time between getting there and the wanted-th moment
            spot = entry.spot(since_day)
            opening = selling_opening(spot, start, arrival, tz)
            if opening is None:
                continue
            moment = max(arrival, opening.opens_at, start)
            if best is not None and moment >= best:
                continue
            chances.append(Nearby(spot, distance, opening, opening.contains(now), moment))
            bisect.insort(moments, moment)
            if len(moments) >= wanted:
                best = moments[wanted - 1]
                keep.mask, keep.before = period_mask(Period("soonest", start, best), tz), best
        ranked = sorted(chances, key=lambda near: (near.selling_from, near.distance_m, near.spot.id))[:wanted]
        full = await reader.complete([(near.distance_m, near.spot) for near in ranked])
    return [replace(near, spot=spot) for near, (_, spot) in zip(ranked, full, strict=True)]


async def spots_in_district(
    source: Reader, district: str, now: datetime, tz: tzinfo, *, limit: int = 8, offset: int = 0
) -> tuple[list[Spot], bool]:
    """A district's spots: open now first, then by name; and whether more follow."""
    rows = await read_rows(
        source,
        f"SELECT {SPOT_COLUMNS} FROM spots s WHERE s.district = :district ORDER BY s.name",
        {"district": district, "since": exceptions_since(now, tz)},
    )
    spots = sorted((spot_from_row(row) for row in rows), key=lambda s: (not is_open(s, now, tz), s.status != "open"))
    return spots[offset : offset + limit], len(spots) > offset + limit


def _like_escape(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


async def search_spots(source: Reader, text: str, now: datetime, tz: tzinfo, *, limit: int = 8) -> list[Spot]:
    """Spots whose name or address contains the text (either language), by name."""
    # lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not; lower() reads the same on both.
    pattern = f"%{_like_escape(text.strip().lower())}%"
    rows = await read_rows(
        source,
        f"""SELECT {SPOT_COLUMNS} FROM spots s
            WHERE lower(s.name) LIKE :p ESCAPE '\\' OR lower(s.address) LIKE :p ESCAPE '\\'
               OR lower(s.name_en) LIKE :p ESCAPE '\\' OR lower(s.address_en) LIKE :p ESCAPE '\\'
            ORDER BY s.status <> 'open', s.name LIMIT :limit""",
        {"p": pattern, "limit": limit, "since": exceptions_since(now, tz)},
    )
    return [spot_from_row(row) for row in rows]


async def spot_detail(db: Reader, spot_id: int, user_id: int | None, now: datetime, tz: tzinfo) -> SpotDetail:
    """Everything the spot's page shows: status, current and next opening, the new place if it moved."""
    spot = await get_spot(db, spot_id, now, tz)
    relocated = await get_spot(db, spot.relocated_to, now, tz) if spot.relocated_to else None
    subscribed = user_id is not None and await is_subscribed(db, user_id, spot_id)
    current = current_opening(spot, now, tz)
    return SpotDetail(spot, current is not None, current, next_opening(spot, now, tz), relocated, subscribed)
