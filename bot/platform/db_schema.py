"""What both database engines share: errors, numbered migrations and the placeholders' types (bot/platform/db.py is
the API callers use)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
POSTGRES_MIGRATIONS_DIR = MIGRATIONS_DIR / "postgres"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# A row indexes by position and by name on both engines (sqlite3.Row, asyncpg.Record); typed as SQLite's.
Row = sqlite3.Row
Params = Iterable[Any] | dict[str, Any]


class DatabaseError(Exception):
    """The database cannot be used as it is."""


class DatabaseTooNew(DatabaseError):
    """The file was written by a newer version of the bot."""


class DatabaseUnavailable(DatabaseError):
    """The database server cannot be reached or refuses us; the message names the setting to check."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Reads the migration files in order; their numbers must run 1, 2, 3… without gaps or repeats."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise DatabaseError(f"badly named migration file: {path.name}")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise DatabaseError(f"migration {migration.name} should be numbered {expected:04d}")
    return migrations


def split_sql(script: str) -> list[str]:
    """Splits a migration script into complete statements (sqlite3.complete_statement knows about triggers)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise DatabaseError(f"incomplete SQL statement in migration: {buffer.strip()[:80]}")
    return statements
