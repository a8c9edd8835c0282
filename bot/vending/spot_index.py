"""An in-process index of the spots that can open, for the nearest-spot searches, kept in step with the table.

Why: every aiosqlite call hops to its thread and back (0.2-0.3 ms), and a search that reads in steps pays that
several times. The index answers from memory and reads the database file through a small connection of its own,
synchronously, inside one read snapshot per search: first the newest number of the ``spot_changes`` log
(migration 0010: triggers append the id of every spot changed by any process: imports, staff actions, date
exceptions, edits), then the rows of the spots changed since the number it last saw, and at the end the full
rows of the spots found. So an answer is always the committed truth of the database, and a search costs a few
reads of pages already in memory instead of thread hops.

On PostgreSQL the same reads, with the same SQL, go through one read-only REPEATABLE READ transaction on a pooled
connection (Database.read_snapshot); the log's numbers are handed out in commit order there too (migration 0010).
Searches of one index take turns (a lock), so one never walks cells another is catching up.

The spots sit in the cells of bot.vending.spot_grid, walked nearest first.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from bot.platform.clock import from_db
from bot.platform.db import Database
from bot.vending.hours import ClosedDates, Window
from bot.vending.spot_grid import Entry, Grid, Prefilter, combined_mask
from bot.vending.spots import Spot

RELOAD_BEYOND = 2_000  # more changes than this (or a quarter of the spots) since the last search: reload all

_ENTRY_SQL = """SELECT s.id, s.lat, s.lon, s.status, s.closed_until, s.goods, s.week,
    s.week_mask0, s.week_mask1, s.week_mask2 FROM spots s
    WHERE (s.status = 'open' OR (s.status = 'closed_temporarily' AND s.closed_until IS NOT NULL))"""
_EXCEPTIONS_SQL = "SELECT spot_id, first_day, last_day, reason FROM spot_exceptions"
_CHANGED_SINCE = "IN (SELECT spot_id FROM spot_changes WHERE seq > ?)"


class Snapshot:
    """Reads that all see one committed state of the database."""

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        raise NotImplementedError


class _FileSnapshot(Snapshot):
    """SQLite: the index's own connection to the file inside BEGIN … COMMIT, read without leaving the thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        return self._conn.execute(sql, params).fetchall()


class _PooledSnapshot(Snapshot):
    """PostgreSQL: a pooled connection inside a read-only REPEATABLE READ transaction."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        return list(await self._conn.execute_fetchall(sql, tuple(params)))


class SpotIndex:
    """The spots that can open, in memory, for one database; one per running bot (held by its caller).

    Used from the event loop's thread only; ``reading()`` is one read snapshot, caught up with the log."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.path = db.path  # the SQLite file the index reads itself; None on PostgreSQL
        self._conn: sqlite3.Connection | None = None
        self._turn = asyncio.Lock()
        self._seen: int | None = None  # the last spot_changes number applied
        self._entries: dict[int, Entry] = {}
        self._grid = Grid.build([])
        self._built_with = 0  # how many entries the grid's cells were sized for
        self._hours: dict[tuple[str, int, int, int], tuple[tuple[Window, ...], int]] = {}
        self._goods: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    @staticmethod
    def can_index(path: str | Path) -> bool:
        """An in-memory database cannot be opened a second time."""
        return str(path) not in ("", ":memory:") and not str(path).startswith("file::memory:")

    @classmethod
    def for_database(cls, db: Database) -> SpotIndex | None:
        """An index of the database's spots; None for an in-memory SQLite database."""
        if db.path is not None and not cls.can_index(db.path):
            return None
        return cls(db)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[IndexReader]:
        """One read snapshot of the database, with the index caught up to it."""
        async with self._turn, self._snapshot() as snapshot:
            await self._catch_up(snapshot)
            yield IndexReader(self._grid, snapshot)

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[Snapshot]:
        if self.path is None:
            async with self._db.read_snapshot() as pooled:
                yield _PooledSnapshot(pooled)
            return
        conn = self._connection(self.path)
        conn.execute("BEGIN")
        try:
            yield _FileSnapshot(conn)
        finally:
            conn.execute("COMMIT")

    def _connection(self, path: Path) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0)
            conn.execute("PRAGMA query_only = 1")
            conn.execute("PRAGMA mmap_size = 268435456")
            self._conn = conn
        return self._conn

    async def _catch_up(self, snapshot: Snapshot) -> None:
        """Applies the spot changes committed since the last search (or loads every spot the first time)."""
        newest = (await snapshot.rows("SELECT max(seq) FROM spot_changes"))[0][0] or 0
        if newest == self._seen:
            return
        if (
            self._seen is None
            or newest < self._seen
            or newest - self._seen > max(RELOAD_BEYOND, len(self._entries) // 4)
        ):
            await self._reload(snapshot, newest)
            return
        oldest = (await snapshot.rows("SELECT min(seq) FROM spot_changes"))[0][0]
        if oldest is None or oldest > self._seen + 1:  # the log was trimmed past what this index saw
            await self._reload(snapshot, newest)
            return
        seen = (self._seen,)
        changed_rows = await snapshot.rows("SELECT DISTINCT spot_id FROM spot_changes WHERE seq > ?", seen)
        changed = [row[0] for row in changed_rows]
        for spot_id in changed:
            old = self._entries.pop(spot_id, None)
            if old is not None:
                self._grid.remove(old)
        exceptions = self._exceptions(await snapshot.rows(f"{_EXCEPTIONS_SQL} WHERE spot_id {_CHANGED_SINCE}", seen))
        for row in await snapshot.rows(f"{_ENTRY_SQL} AND s.id {_CHANGED_SINCE}", seen):
            entry = self._entry(row, exceptions.get(row[0], ()))
            self._entries[entry.id] = entry
            self._grid.add(entry)
        if len(self._entries) > 2 * self._built_with + 64:  # cells sized for far fewer spots: size them anew
            self._grid = Grid.build(list(self._entries.values()))
            self._built_with = len(self._entries)
        self._seen = newest

    async def _reload(self, snapshot: Snapshot, newest: int) -> None:
        exceptions = self._exceptions(await snapshot.rows(_EXCEPTIONS_SQL))
        # Read in squares of about 200 m, so neighbours sit side by side in memory: a search touches fewer pages.
        # (PostgreSQL's CAST rounds where SQLite's truncates: only the order in memory differs, never an answer.)
        in_squares = f"{_ENTRY_SQL} ORDER BY CAST(s.lat / 0.002 AS INTEGER), CAST(s.lon / 0.002 AS INTEGER)"
        entries = [self._entry(row, exceptions.get(row[0], ())) for row in await snapshot.rows(in_squares)]
        self._entries = {entry.id: entry for entry in entries}
        self._grid = Grid.build(entries)
        self._built_with = len(entries)
        self._seen = newest

    @staticmethod
    def _exceptions(rows: Sequence[Sequence[Any]]) -> dict[int, tuple[ClosedDates, ...]]:
        found: dict[int, list[ClosedDates]] = {}
        for spot_id, first, last, reason in rows:
            found.setdefault(spot_id, []).append(
                ClosedDates(date.fromisoformat(first), date.fromisoformat(last), reason)
            )
        return {spot_id: tuple(sorted(days, key=lambda e: e.first_day)) for spot_id, days in found.items()}

    def _entry(self, row: Sequence[Any], exceptions: tuple[ClosedDates, ...]) -> Entry:
        spot_id, lat, lon, status, closed_until, goods_text, week, mask0, mask1, mask2 = row
        hours_key = (week, mask0, mask1, mask2)
        hours = self._hours.get(hours_key)
        if hours is None:
            windows = tuple(Window(*map(int, part.split("-"))) for part in week.split(",")) if week else ()
            hours = self._hours[hours_key] = (windows, combined_mask(hours_key[1:]))
        goods = self._goods.get(goods_text)
        if goods is None:
            codes = tuple(g for g in goods_text.split(",") if g)
            goods = self._goods[goods_text] = (codes, tuple(g.lower() for g in codes))
        return Entry(
            id=spot_id,
            lat=lat,
            lon=lon,
            phi=math.radians(lat),
            cos_phi=math.cos(math.radians(lat)),
            status=status,
            closed_until=from_db(closed_until) if closed_until else None,
            goods=goods[0],
            folded_goods=goods[1],
            hours=hours[0],
            mask=hours[1],
            exceptions=exceptions,
        )


class IndexReader:
    """The index during one read snapshot: walk it, then read the full rows of the spots found."""

    def __init__(self, grid: Grid, snapshot: Snapshot) -> None:
        self._grid = grid
        self._snapshot = snapshot

    def walk(self, lat: float, lon: float, keep: Prefilter, max_radius_m: float) -> Iterator[tuple[float, Entry]]:
        return self._grid.walk(lat, lon, keep, max_radius_m)

    async def complete(self, found: Sequence[tuple[float, Spot]]) -> list[tuple[float, Spot]]:
        """The spots found, in full: the rest of their row from the same snapshot (the hours, goods and
        exceptions they carry already are the ones spot_from_row reads)."""
        if not found:
            return []
        marks = ",".join("?" * len(found))
        rows = {
            row[0]: row
            for row in await self._snapshot.rows(
                "SELECT id, external_id, name, name_en, district, address, address_en, fee_cents, capacity,"
                f" free_stalls, relocated_to, status_reason, note FROM spots WHERE id IN ({marks})",
                [spot.id for _, spot in found],
            )
        }
        completed = []
        for distance, spot in found:
            _, external_id, name, name_en, district, address, address_en, fee, capacity, free, moved, why, note = rows[
                spot.id
            ]
            whole = Spot(
                id=spot.id,
                external_id=external_id,
                name=name,
                name_en=name_en,
                district=district,
                lat=spot.lat,
                lon=spot.lon,
                address=address,
                address_en=address_en,
                goods=spot.goods,
                fee_cents=fee,
                capacity=capacity,
                free_stalls=free,
                status=spot.status,
                closed_until=spot.closed_until,
                relocated_to=moved,
                status_reason=why,
                note=note,
                hours=spot.hours,
                exceptions=spot.exceptions,
            )
            completed.append((distance, whole))
        return completed

    async def nearest(
        self,
        lat: float,
        lon: float,
        since: str,
        *,
        wanted: int,
        keep: Prefilter,
        accept: Callable[[Spot], bool],
        max_radius_m: float,
        in_full: slice,
    ) -> list[tuple[float, Spot]]:
        """Up to ``wanted`` spots nearest the point that pass ``keep`` and ``accept``, nearest first; those
        ``in_full`` selects are read in full (the page shown), the others carry what their openings need."""
        since_day = date.fromisoformat(since)
        found: list[tuple[float, Spot]] = []
        for distance, entry in self.walk(lat, lon, keep, max_radius_m):
            spot = entry.spot(since_day)
            if accept(spot):
                found.append((distance, spot))
                if len(found) == wanted:
                    break
        found[in_full] = await self.complete(found[in_full])
        return found
