"""The cells of the spot index (bot.vending.spot_index): what a search needs of each spot that can open, the
twin of the search's SQL prefilter, and square cells of a few sizes, each LEVEL_FACTOR times wider than the one
below. A walk goes round rings of the smallest cells around the point, then of the larger ones, and yields the
spots in exact distance order; each cell knows the hours of the week at which any of its spots opens, so cells
with none in the period asked about are skipped whole.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import NamedTuple

from bot.platform.geo import EARTH_RADIUS_M
from bot.vending.hours import ClosedDates, Period, Window, hour_masks, minute_of_week
from bot.vending.spots import STATUS_OPEN, Spot

LEVEL_FACTOR = 4  # a cell of one level holds 4 x 4 cells of the level below
RINGS_PER_LEVEL = 3  # rings walked on a level before the walk moves up to the next
CELL_TARGET = 3  # spots in the cell of a typical spot, at the smallest level
MIN_CELL_M, MAX_CELL_M = 20.0, 20_000.0
FLAT_EARTH_TOLERANCE = 0.05  # a cell edge's flat distance is within 5 % of haversine inside 50 km
_METERS_PER_DEGREE = math.radians(1) * EARTH_RADIUS_M

Key = tuple[int, int]


def combined_mask(words: Sequence[int]) -> int:
    """The three 56-bit hour-mask words of a spot row (hours.hour_masks) as one number of 168 bits."""
    return words[0] | words[1] << 56 | words[2] << 112


def period_mask(period: Period, tz: tzinfo) -> int:
    """The hours of the week a period touches, as the SQL prefilter of bot.vending.search counts them."""
    start_m = minute_of_week(period.start, tz)
    length = 1 if period.choice == "now" else max(1, math.ceil((period.end - period.start).total_seconds() / 60))
    return combined_mask(hour_masks([(start_m, start_m + length)]))


class Entry(NamedTuple):
    """What a search needs of a spot that can open: where, its status, goods, hours and date exceptions."""

    id: int
    lat: float
    lon: float
    phi: float  # the latitude in radians, and its cosine: the parts of haversine_m that belong to the spot
    cos_phi: float
    status: str
    closed_until: datetime | None
    goods: tuple[str, ...]
    folded_goods: tuple[str, ...]  # lower case, as SQL's LIKE compares (a tuple: no container for the GC to chase)
    hours: tuple[Window, ...]
    mask: int  # the hours of the week in which it is open at some time
    exceptions: tuple[ClosedDates, ...]

    def spot(self, since: date) -> Spot:
        """The spot as far as its openings go (names and the rest are read for the answers only)."""
        return Spot(
            id=self.id,
            external_id="",
            name="",
            district="",
            lat=self.lat,
            lon=self.lon,
            goods=self.goods,
            status=self.status,
            closed_until=self.closed_until,
            hours=self.hours,
            exceptions=tuple(e for e in self.exceptions if e.last_day >= since),
        )


@dataclass
class Prefilter:
    """The twin of the search's SQL prefilter: spots that may give an opening (a superset; exact checks follow).

    A search may narrow it while it walks (the soonest ranking does): later cells and spots are held to the
    narrower one, and the walk's caller checks the spots it gets again."""

    mask: int | None = None  # hours of the week one of the spot's windows must touch (None: any)
    before: datetime | None = None  # a closed spot passes only if it reopens before this (None: if it reopens)
    goods: str | None = None
    exclude: int | None = None

    def passes(self, entry: Entry) -> bool:
        if entry.id == self.exclude or (self.mask is not None and not entry.mask & self.mask):
            return False
        if entry.status != STATUS_OPEN and self.before is not None:
            if entry.closed_until is None or entry.closed_until >= self.before:
                return False
        return not self.goods or self.goods.lower() in entry.folded_goods


class Grid:
    """Square cells of several sizes over the entries; level 0 holds entries, a higher level its occupied
    child cells; every cell has the OR of its entries' hour masks (a superset once an entry left)."""

    def __init__(self, side_m: float, lat0: float, levels: int) -> None:
        self.side_lat = math.degrees(side_m / EARTH_RADIUS_M)
        self.side_lon = self.side_lat / max(math.cos(math.radians(lat0)), 1e-6)
        self.levels = levels
        self.cells: dict[Key, list[Entry]] = {}
        self.children: list[dict[Key, list[Key]]] = [{} for _ in range(levels)]  # [0] unused
        self.masks: list[dict[Key, int]] = [{} for _ in range(levels)]
        self.extent: list[int] | None = None  # level-0 min_i, max_i, min_j, max_j

    @classmethod
    def build(cls, entries: Sequence[Entry]) -> Grid:
        if not entries:
            return cls(200.0, 0.0, 1)
        lat0 = sum(e.lat for e in entries) / len(entries)
        side = _cell_side(entries, lat0)
        probe = cls(side, lat0, 1)
        keys = [probe.key(e.lat, e.lon) for e in entries]
        rows, cols = [k[0] for k in keys], [k[1] for k in keys]
        width, levels = max(max(rows) - min(rows), max(cols) - min(cols)), 1
        while width >= 2 * RINGS_PER_LEVEL + 1 and levels < 16:
            width //= LEVEL_FACTOR
            levels += 1
        grid = cls(side, lat0, levels)
        for entry in entries:
            grid.add(entry)
        return grid

    def key(self, lat: float, lon: float) -> Key:
        return math.floor(lat / self.side_lat), math.floor(lon / self.side_lon)

    def add(self, entry: Entry) -> None:
        key = self.key(entry.lat, entry.lon)
        cell = self.cells.get(key)
        created = cell is None
        if cell is None:
            cell = self.cells[key] = []
        cell.append(entry)
        if self.extent is None:
            self.extent = [key[0], key[0], key[1], key[1]]
        else:
            extent = self.extent
            extent[:] = min(extent[0], key[0]), max(extent[1], key[0]), min(extent[2], key[1]), max(extent[3], key[1])
        self.masks[0][key] = self.masks[0].get(key, 0) | entry.mask
        for level in range(1, self.levels):
            child, key = key, (key[0] // LEVEL_FACTOR, key[1] // LEVEL_FACTOR)
            if created:
                kids = self.children[level].get(key)
                created = kids is None
                if kids is None:
                    self.children[level][key] = [child]
                else:
                    kids.append(child)
            self.masks[level][key] = self.masks[level].get(key, 0) | entry.mask

    def remove(self, entry: Entry) -> None:
        cell = self.cells.get(self.key(entry.lat, entry.lon), [])
        cell[:] = [e for e in cell if e.id != entry.id]

    def walk(self, lat: float, lon: float, keep: Prefilter, max_radius_m: float) -> Iterator[tuple[float, Entry]]:
        """The entries that pass ``keep`` within ``max_radius_m``, nearest first (ties by id).

        After each ring, nothing unvisited is nearer than the edge of the square walked so far (less the
        flat-earth tolerance and the few metres of a cell's rounding): what the heap holds up to there is final.
        """
        if self.extent is None:
            return
        meters_lon = _METERS_PER_DEGREE * math.cos(math.radians(lat))
        row0, col0 = self.key(lat, lon)
        heap: list[tuple[float, int, Entry]] = []
        visited: list[tuple[int, int, int, int] | None] = [None] * self.levels
        bound = 0.0
        for level in range(self.levels):
            scale = LEVEL_FACTOR**level
            row, col, side_lat, side_lon = row0 // scale, col0 // scale, self.side_lat * scale, self.side_lon * scale
            extent = tuple(edge // scale for edge in self.extent)
            top, ring = level == self.levels - 1, 0
            while True:
                for key in _ring(row, col, ring, extent):
                    self._visit(level, key, keep, visited, heap, lat, lon, max_radius_m)
                visited[level] = (row - ring, row + ring, col - ring, col + ring)
                if (
                    row - ring <= extent[0]
                    and row + ring >= extent[1]
                    and col - ring <= extent[2] <= extent[3] <= col + ring
                ):
                    bound = math.inf
                else:
                    to_lat = min(lat - (row - ring) * side_lat, (row + ring + 1) * side_lat - lat) * _METERS_PER_DEGREE
                    to_lon = min(lon - (col - ring) * side_lon, (col + ring + 1) * side_lon - lon) * meters_lon
                    bound = max(bound, min(to_lat, to_lon) * (1 - FLAT_EARTH_TOLERANCE) - 5)
                limit = min(bound, max_radius_m)
                while heap and heap[0][0] <= limit:
                    distance, _, entry = heapq.heappop(heap)
                    yield distance, entry
                if bound >= max_radius_m:
                    return
                ring += 1
                if ring > RINGS_PER_LEVEL and not top:
                    break

    def _visit(
        self,
        level: int,
        key: Key,
        keep: Prefilter,
        visited: list[tuple[int, int, int, int] | None],
        heap: list[tuple[float, int, Entry]],
        lat: float,
        lon: float,
        max_radius_m: float,
    ) -> None:
        """Pushes the passing entries under a cell, skipping cells already walked on a lower level."""
        if keep.mask is not None and not self.masks[level].get(key, 0) & keep.mask:
            return
        if level == 0:
            # keep.passes and geo.haversine_m written out (the same arithmetic, bit for bit): the hot loop.
            mask, before, exclude = keep.mask, keep.before, keep.exclude
            goods = keep.goods.lower() if keep.goods else None
            phi1 = math.radians(lat)
            cos_phi1, sin, asin = math.cos(phi1), math.sin, math.asin
            for entry in self.cells.get(key, ()):
                if (mask is not None and not entry.mask & mask) or entry.id == exclude:
                    continue
                if entry.status != STATUS_OPEN and before is not None:
                    if entry.closed_until is None or entry.closed_until >= before:
                        continue
                if goods is not None and goods not in entry.folded_goods:
                    continue
                dlmb = math.radians(entry.lon - lon)
                a = sin((entry.phi - phi1) / 2) ** 2 + cos_phi1 * entry.cos_phi * sin(dlmb / 2) ** 2
                distance = 2 * EARTH_RADIUS_M * asin(min(1.0, math.sqrt(a)))
                if distance <= max_radius_m:
                    heapq.heappush(heap, (distance, entry.id, entry))
            return
        below = visited[level - 1]
        for child in self.children[level].get(key, ()):
            if below is not None and below[0] <= child[0] <= below[1] and below[2] <= child[1] <= below[3]:
                continue
            self._visit(level - 1, child, keep, visited, heap, lat, lon, max_radius_m)


def _ring(row: int, col: int, ring: int, extent: tuple[int, ...]) -> Iterator[Key]:
    """The cells at Chebyshev distance ``ring`` from (row, col), inside the occupied extent."""
    min_row, max_row, min_col, max_col = extent
    if ring == 0:
        if min_row <= row <= max_row and min_col <= col <= max_col:
            yield row, col
        return
    first_col, last_col = max(col - ring, min_col), min(col + ring, max_col)
    for edge in (row - ring, row + ring):
        if min_row <= edge <= max_row:
            for c in range(first_col, last_col + 1):
                yield edge, c
    first_row, last_row = max(row - ring + 1, min_row), min(row + ring - 1, max_row)
    for edge in (col - ring, col + ring):
        if min_col <= edge <= max_col:
            for r in range(first_row, last_row + 1):
                yield r, edge


def _cell_side(entries: Sequence[Entry], lat0: float) -> float:
    """A cell size holding about CELL_TARGET spots around a typical spot (judged on a sample of up to 20,000)."""
    meters_lon = _METERS_PER_DEGREE * math.cos(math.radians(lat0))
    height = (max(e.lat for e in entries) - min(e.lat for e in entries)) * _METERS_PER_DEGREE
    width = (max(e.lon for e in entries) - min(e.lon for e in entries)) * meters_lon
    side = math.sqrt(max(height, 1.0) * max(width, 1.0) * CELL_TARGET / len(entries))
    side = min(MAX_CELL_M, max(MIN_CELL_M, side))
    sample = entries[:: max(1, len(entries) // 20_000)]
    for _ in range(4):
        probe = Grid(side, lat0, 1)
        counts = Counter(probe.key(e.lat, e.lon) for e in sample)
        typical = 1 + sum(c * (c - 1) for c in counts.values()) / len(sample) * len(entries) / len(sample)
        if typical <= 2 * CELL_TARGET or side <= MIN_CELL_M:
            break
        side = max(MIN_CELL_M, side / math.sqrt(typical / CELL_TARGET))
    return side
