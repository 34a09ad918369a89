#!/bin/sh
# A private PostgreSQL 15 cluster in a directory of ours: no TCP, a Unix socket in
# DIR/sock, superuser "pretnum" trusted on that socket only.
#   pgcluster.sh init  DIR    create it (once)
#   pgcluster.sh start DIR    start it, waiting until it answers
#   pgcluster.sh stop  DIR    fast shutdown
#   pgcluster.sh conninfo DIR print a libpq conninfo for it
# As root the server runs as the unprivileged "postgres" user (PostgreSQL refuses root).
set -eu

PGBIN=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
[ -n "$PGBIN" ] || { echo "pgcluster: PostgreSQL 15 is not installed (run scripts/install-deps.sh)" >&2; exit 1; }

cmd=$1
dir=$(cd "$2" 2>/dev/null && pwd || echo "$2")

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "$cmd" in
init)
    mkdir -p "$dir/data" "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir" "$dir/data" "$dir/sock"
        if ! runuser -u postgres -- test -w "$dir/sock"; then
            echo "pgcluster: user postgres cannot reach \"$dir\"; make its parent folders searchable (chmod o+x) or set PRETNUM_DATABASE_URL" >&2
            exit 1
        fi
    fi
    chmod 0700 "$dir/data"
    as_owner "$PGBIN/initdb" -D "$dir/data" -U pretnum --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; echo "pgcluster: initdb failed" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/sock'
unix_socket_permissions = 0770
fsync = ${PRETNUM_PG_FSYNC:-on}
max_connections = 100
shared_buffers = 128MB
log_min_messages = warning
CONF
    ;;
start)
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 start >/dev/null ||
        { tail -20 "$dir/data/server.log" >&2; echo "pgcluster: could not start PostgreSQL in \"$dir\"" >&2; exit 1; }
    ;;
stop)
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    ;;
conninfo)
    echo "host=$dir/sock user=pretnum dbname=${3:-pretnum}"
    ;;
*)
    echo "usage: pgcluster.sh init|start|stop|conninfo DIR" >&2
    exit 2
    ;;
esac
