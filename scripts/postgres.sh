#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for trying the bot and running the tests on it: Debian's packages, a cluster in a
# temporary folder owned by the `postgres` user (initdb and pg_ctl refuse to run as root), listening only on a
# Unix socket in that folder. Prints the DATABASE_URL to use.
#   bash scripts/postgres.sh          # start (installs postgresql-15 with apt-get when missing), print the URL
#   bash scripts/postgres.sh stop     # stop it and delete its folder
#   PG_DIR=/tmp/other bash scripts/postgres.sh   # another folder (default /tmp/citybot-pg), e.g. a second cluster
#
# Spatial search uses the contrib `cube` and `earthdistance` extensions (in postgresql-contrib, no extra package):
# they index points for nearest-first queries with GiST, which is all the spots and zones need. PostGIS would add
# a package and polygons in the database, which the zones do not need yet (their polygons are tested in Python).
set -euo pipefail
PG_DIR="${PG_DIR:-/tmp/citybot-pg}"
PG_BIN="/usr/lib/postgresql/15/bin"
DB_NAME="${PG_DB:-citybot}"
PORT="${PG_PORT:-5432}"

as_postgres() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [[ "${1:-start}" == stop ]]; then
    if [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    fi
    rm -rf "$PG_DIR"
    echo "stopped; removed $PG_DIR"
    exit 0
fi

if [[ ! -x "$PG_BIN/initdb" || ! -f /usr/share/postgresql/15/extension/earthdistance.control ]]; then
    echo "installing postgresql-15 and postgresql-contrib-15 with apt-get" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 postgresql-contrib-15 >&2
fi

if [[ ! -f "$PG_DIR/data/PG_VERSION" ]]; then
    mkdir -p "$PG_DIR"
    chown postgres:postgres "$PG_DIR" 2>/dev/null || true
    as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        >"$PG_DIR/initdb.log"
fi
if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    # No TCP: only the socket in the folder; fsync off, as the cluster is thrown away anyway.
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start \
        -o "-k $PG_DIR -c listen_addresses='' -p $PORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null
fi
if ! as_postgres "$PG_BIN/psql" -h "$PG_DIR" -p "$PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" postgres | grep -q 1; then
    as_postgres "$PG_BIN/createdb" -h "$PG_DIR" -p "$PORT" -U postgres "$DB_NAME"
fi
echo "postgresql://postgres@/$DB_NAME?host=$PG_DIR&port=$PORT"
