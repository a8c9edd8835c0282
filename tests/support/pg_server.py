"""A PostgreSQL server for the tests that are about PostgreSQL itself (db copy, pg_dump backups, the instances'
claims): the one TEST_DATABASE_URL names, or else a throwaway one started with scripts/postgres.sh in a folder of its
own and stopped after (so these tests run on every machine, not only where a server was set up)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.pg import TEST_DATABASE_URL

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a server whose databases a test may create and drop."""
    if TEST_DATABASE_URL is not None:
        yield TEST_DATABASE_URL
        return
    # Its own folder, so its socket (and the port in the socket's name) clashes with nobody else's cluster.
    env = {**os.environ, "PG_DIR": tempfile.mkdtemp(prefix="citybot-pg-test-")}
    started = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=900, check=True)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120, check=False)
