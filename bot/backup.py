"""Online backups: a consistent copy of the SQLite file while the bot keeps running (SQLite's backup API).

The copy is made in one step under a read transaction, so it is the database as of one moment (WAL mode lets
the bot keep writing meanwhile); it is written beside the target and renamed into place only after it passed
``PRAGMA integrity_check``, so a failed backup never leaves a half-written file under the target's name.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


class BackupError(Exception):
    """The copy could not be made or did not check out."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    schema_version: int
    tables: int


def backup_database(source: Path, target: Path) -> BackupResult:
    """Copies ``source`` to ``target`` consistently; blocking (run it in a thread from async code)."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target = target.resolve()
    if target == source.resolve():
        raise BackupError("the backup must not overwrite the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        reader = sqlite3.connect(source, timeout=30)
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer)  # pages=-1: the whole file in one step, one consistent snapshot
            writer.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            check = writer.execute("PRAGMA integrity_check").fetchone()[0]
            version = int(writer.execute("PRAGMA user_version").fetchone()[0])
            tables = int(writer.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
        finally:
            writer.close()
            reader.close()
        if check != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(target, target.stat().st_size, version, tables)
