"""Online backups: a consistent copy of the SQLite file while the bot keeps running (SQLite's backup API).

The copy is made in one step under a read transaction, so it is the database as of one moment (WAL mode lets
the bot keep writing meanwhile); it is written beside the target under a name of its own and renamed into place
only after it passed ``PRAGMA integrity_check`` and reached the disk, so a failed backup never leaves a half-written
file under the target's name. Two backups to the same file at once: the second is told so (an exclusive lock on
``.NAME.lock`` beside the target), instead of both writing one temporary file.

On PostgreSQL the copy is ``pg_dump``'s custom format (restored with ``pg_restore``), made the same way: beside the
target, read back before it is renamed into place.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class BackupError(Exception):
    """The copy could not be made or did not check out."""


class BackupBusy(BackupError):
    """Another backup is writing the same target right now."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    schema_version: int
    tables: int


def backup_database(source: Path, target: Path) -> BackupResult:
    """Copies ``source`` to ``target`` consistently; blocking (run it in a thread from async code).

    BackupBusy when another backup is writing the same target at this moment; BackupError for anything else."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target = target.resolve()
    if target == source.resolve():
        raise BackupError("the backup must not overwrite the database itself")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(target):
            return _copy(source, target)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from exc


@contextmanager
def _exclusive(target: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``.NAME.lock`` beside the target for the whole copy (released if the process
    dies); BackupBusy when another backup holds it. The lock file is removed afterwards."""
    lock_path = target.with_name(f".{target.name}.lock")
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BackupBusy(
                f"another backup is writing {target} right now; wait for it to finish, or choose another file"
            ) from None
        # The backup before us may have removed the file between our open and our lock: a lock on a file nobody
        # else can find guards nothing, so take the one now at that name instead.
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            break
        os.close(fd)
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # still holding the lock, so no one else is using this file
        os.close(fd)


def _copy(source: Path, target: Path) -> BackupResult:
    """Writes the copy under a name of its own beside the target, checks it, flushes it to disk, renames it."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    partial = Path(name)
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
        _fsync(partial, os.O_RDWR)  # the bytes are on disk before the name points at them
        os.replace(partial, target)
        _fsync(target.parent, os.O_RDONLY)  # and the rename itself survives a power cut
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(target, target.stat().st_size, version, tables)


def backup_postgres(url: str, target: Path) -> BackupResult:
    """PostgreSQL: ``pg_dump -Fc`` (one consistent snapshot, the bot may keep writing) into a name of its own beside
    the target, checked by reading it back with ``pg_restore``, then renamed into place; blocking.

    BackupBusy as for SQLite; BackupError when pg_dump is missing or fails, or the file does not read back."""
    dump, restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if dump is None or restore is None:
        raise BackupError("pg_dump and pg_restore are needed for a PostgreSQL backup: install postgresql-client")
    target = target.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(target):
            return _dump(dump, restore, url, target)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _dump(dump: str, restore: str, url: str, target: Path) -> BackupResult:
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    partial = Path(name)
    # The password goes to pg_dump in its environment, not on its command line where `ps` would show it.
    parts = urlsplit(url)
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if parts.password:
        env["PGPASSWORD"] = parts.password
        url = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@")).geturl()
    try:
        _run("pg_dump", [dump, "--format=custom", "--no-password", f"--dbname={url}", f"--file={partial}"], env)
        listing = _run("pg_restore", [restore, "--list", str(partial)], env)
        tables = sum(1 for line in listing.splitlines() if " TABLE DATA " in line)
        versions = _run(
            "pg_restore", [restore, "--data-only", "--table=schema_migrations", "--file=-", str(partial)], env
        )
        version = max((int(line.split("\t")[0]) for line in versions.splitlines() if line[:1].isdigit()), default=0)
        _fsync(partial, os.O_RDWR)
        os.replace(partial, target)
        _fsync(target.parent, os.O_RDONLY)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(target, target.stat().st_size, version, tables)


def _run(tool: str, command: list[str], env: dict[str, str]) -> str:
    """The tool's output; BackupError with its last line of complaint when it fails."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        complaint = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise BackupError(f"{tool} failed: {complaint}")
    return done.stdout


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
