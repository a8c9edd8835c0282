#!/usr/bin/env bash
# Every test on both engines: the suite on SQLite (the embedded default), then again on a throwaway PostgreSQL 15
# (scripts/postgres.sh, installed with apt-get when missing), where the tests of several instances run too.
# Four pytest-xdist workers each time: most tests wait on timers and sockets. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -n 4 "$@"
PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/citybot-pg-test.XXXXXX")"
export PG_DIR
trap 'bash scripts/postgres.sh stop >/dev/null' EXIT
url="$(bash scripts/postgres.sh)"
# The crash chaos test runs its one process on a SQLite file whatever the engine: once is enough.
TEST_DATABASE_URL="$url" .venv/bin/python -m pytest -n 4 --deselect tests/test_chaos.py "$@"
