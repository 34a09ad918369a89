#!/bin/sh
# `make run`: the embedded PostgreSQL in ./var/pg (unless PRETNUM_DATABASE_URL names
# another), migrations, demo content once, then the server in the foreground. Ctrl-C
# (or SIGTERM) stops the server, which finishes its requests, and then the cluster.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/bin/pretnum
export PRETNUM_DATA_DIR=${PRETNUM_DATA_DIR:-$ROOT/var/data}
export PRETNUM_PORT=${PRETNUM_PORT:-8080}
mkdir -p "$ROOT/var" "$PRETNUM_DATA_DIR"
chmod 0700 "$PRETNUM_DATA_DIR"

embedded=0
if [ -z "${PRETNUM_DATABASE_URL:-}" ]; then
    embedded=1
    PG=$ROOT/var/pg
    if [ ! -f "$PG/data/PG_VERSION" ]; then
        echo "run: creating the embedded PostgreSQL cluster in var/pg" >&2
        rm -rf "$PG"
        mkdir -p "$PG"
        "$ROOT/scripts/pgcluster.sh" init "$PG"
    fi
    "$ROOT/scripts/pgcluster.sh" start "$PG"
    export PRETNUM_DATABASE_URL="host=$PG/sock user=pretnum dbname=pretnum"
    if ! psql -X -q -t "host=$PG/sock user=pretnum dbname=postgres" \
         -c "SELECT 1 FROM pg_database WHERE datname = 'pretnum'" | grep -q 1; then
        psql -X -q "host=$PG/sock user=pretnum dbname=postgres" -c "CREATE DATABASE pretnum"
    fi
fi

stop_cluster() {
    if [ "$embedded" -eq 1 ]; then
        "$ROOT/scripts/pgcluster.sh" stop "$ROOT/var/pg"
    fi
}

"$BIN" migrate || { stop_cluster; exit 1; }
if [ -x "$ROOT/scripts/demo.sh" ]; then
    "$ROOT/scripts/demo.sh" || { stop_cluster; exit 1; }
fi

"$BIN" serve &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
status=0
wait "$pid" || status=$?
# wait returns early when a trapped signal arrives: wait again for the server itself.
while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" || status=$?
done
stop_cluster
exit "$status"
