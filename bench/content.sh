#!/bin/sh
# Reading a borrowed book: resource requests per second (`make bench`).
#
# Starts its own PostgreSQL, imports a corpus EPUB, borrows it as a patron over HTTP and
# takes two resources from its Web Publication Manifest: a page (XHTML) and the largest
# image. Each is fetched BENCH_SECONDS with wrk (BENCH_CONNS keep-alive connections, two
# threads) from bin/pretnum, which verifies the loan's token, checks the loan and reads the
# entry from the stored EPUB with libzip, and, side by side in the same run, from nginx
# serving the same resource extracted to disk with the same number of workers as the
# server has threads. Prints requests/s and MB/s of both, the ratio, and a closing line.
#
#   BENCH_SECONDS=10  BENCH_CONNS=32  BENCH_BOOK=epub/valid/idpf-haruko-html-jpeg.epub
#   BENCH_PRETNUM=path (another build of pretnum, to compare)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. "$ROOT/bench/lib.sh"
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-32}
CORPUS=${PRETNUM_CORPUS:-$ROOT/../shared/corpus}
BOOK=$CORPUS/${BENCH_BOOK:-epub/valid/idpf-haruko-html-jpeg.epub}
PRETNUM=${BENCH_PRETNUM:-$ROOT/bin/pretnum}
THREADS=$(nproc)

say() { printf '%s\n' "content: $*"; }
die() { printf '%s\n' "content: $*" >&2; exit 1; }

[ -x "$PRETNUM" ] || die "$PRETNUM is missing (run make)"
command -v wrk >/dev/null 2>&1 || die "wrk is missing (scripts/install-deps.sh bench)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx is missing (scripts/install-deps.sh bench)"
[ -f "$BOOK" ] || die "$BOOK is missing"

WORK=$(mktemp -d /tmp/pretnum-bench-content.XXXXXX)
chmod 0755 "$WORK"
PGDIR=$WORK/pg
SERVER_PID=""
NGINX_STARTED=""
PG_STARTED=""
cleanup() {
    status=$?
    trap - EXIT INT TERM
    [ -n "$SERVER_PID" ] && { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    [ -n "$NGINX_STARTED" ] && { kill -QUIT "$(cat "$WORK/nginx.pid" 2>/dev/null)" 2>/dev/null || true; }
    [ -n "$PG_STARTED" ] && "$ROOT/scripts/pgcluster.sh" stop "$PGDIR"
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- PostgreSQL, the catalogue, a patron and a loan
"$ROOT/scripts/pgcluster.sh" init "$PGDIR" >/dev/null || die "initdb failed"
"$ROOT/scripts/pgcluster.sh" start "$PGDIR" >/dev/null || die "PostgreSQL did not start"
PG_STARTED=1
CONN="host=$PGDIR/sock user=pretnum dbname=bench"
psql -X -q -v ON_ERROR_STOP=1 "host=$PGDIR/sock user=pretnum dbname=postgres" -c "CREATE DATABASE bench"
export PRETNUM_DATABASE_URL=$CONN PRETNUM_DATA_DIR=$WORK/data
"$PRETNUM" migrate >/dev/null || die "pretnum migrate failed"
C=$("$PRETNUM" consortium add "Bench")
"$PRETNUM" library add --consortium "$C" --code BENCH "Bench" >/dev/null
echo "bench-password" | "$PRETNUM" patron add --library BENCH --card 1 >/dev/null
TITLE=$("$PRETNUM" import "$BOOK")
"$PRETNUM" licence add --title "$TITLE" --consortium "$C" --concurrency 1 >/dev/null

PRETNUM_PORT=0 "$PRETNUM" serve 2>"$WORK/server.log" &
SERVER_PID=$!
URL=$(wait_for_url "$WORK/server.log" "$SERVER_PID") || die "the server did not start"

SESSION=$(curl -sf -X POST "$URL/api/v1/session" -H 'Content-Type: application/json' \
    -d '{"library":"BENCH","card":"1","password":"bench-password"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$SESSION" ] || die "could not sign in"
READ=$(curl -sf -X POST "$URL/api/v1/loans" -H "Authorization: Bearer $SESSION" -H 'Content-Type: application/json' \
    -d "{\"title_id\":\"$TITLE\"}" | sed -n 's/.*"read":"\([^"]*\)".*/\1/p')
[ -n "$READ" ] || die "could not borrow"
curl -sf "$URL$READ" >"$WORK/manifest.json" || die "could not read the manifest"

# The first page of the reading order and the largest image, as the manifest names them.
PAGE=$(node -e 'const m=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(m.readingOrder[0].href)' "$WORK/manifest.json")
TOKEN_BASE=${READ%manifest.json}

# ---- nginx: the same resources, extracted, same number of workers as server threads
mkdir -p "$WORK/www"
(cd "$WORK/www" && unzip -q "$BOOK")
IMAGE=$(cd "$WORK/www" && find . -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' \) -printf '%s %P\n' |
    sort -n | tail -1 | cut -d' ' -f2-)
[ -n "$IMAGE" ] || die "the book has no image"
PAGE_ENTRY=${PAGE#"$TOKEN_BASE"}
NPORT=$((20000 + $$ % 20000))
cat >"$WORK/nginx.conf" <<CONF
worker_processes $THREADS;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { application/xhtml+xml xhtml; image/jpeg jpg jpeg; image/png png; }
    client_body_temp_path $WORK/nginx-tmp;
    proxy_temp_path $WORK/nginx-tmp;
    fastcgi_temp_path $WORK/nginx-tmp;
    uwsgi_temp_path $WORK/nginx-tmp;
    scgi_temp_path $WORK/nginx-tmp;
    server {
        listen 127.0.0.1:$NPORT;
        etag on;
        # The same URL shape as the server's: /content/TOKEN/ + entry (a token is longer
        # than a file name may be, so the path is mapped rather than laid out).
        location ~ ^/content/[^/]+/(.*)\$ { alias $WORK/www/\$1; }
    }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" -g 'daemon on;' || die "nginx did not start"
NGINX_STARTED=1
NURL=http://127.0.0.1:$NPORT

# Both sides give the same bytes.
for path in "$PAGE_ENTRY" "$IMAGE"; do
    curl -sf "$URL$TOKEN_BASE$path" -o "$WORK/a" || die "pretnum did not serve $path"
    curl -sf "$NURL$TOKEN_BASE$path" -o "$WORK/b" || die "nginx did not serve $path"
    cmp -s "$WORK/a" "$WORK/b" || die "pretnum and nginx differ on $path"
done

# wrk's summary: requests/s and transfer/s in MB
run() { # URL -> "req_s mb_s"
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$1" 2>&1 | awk '
        /^Requests\/sec:/ { r = $2 }
        /^Transfer\/sec:/ { v = $2; u = substr(v, length(v) - 1); n = v + 0;
                            mb = u == "GB" ? n * 1024 : u == "MB" ? n : u == "KB" ? n / 1024 : n / 1048576 }
        /Non-2xx/ { bad = 1 }
        END { if (bad) print "error"; else printf "%.0f %.1f\n", r, mb }'
}

say "$THREADS server threads, nginx $THREADS workers; wrk 2 threads, $CONNS connections, ${SECS} s each"
say "book $(basename "$BOOK"); page $PAGE_ENTRY ($(stat -c %s "$WORK/www/$PAGE_ENTRY") B), image $IMAGE ($(stat -c %s "$WORK/www/$IMAGE") B)"
printf '%-8s %14s %10s %14s %10s %8s\n' resource "pretnum req/s" "MB/s" "nginx req/s" "MB/s" ratio
summary=""
for kind in page image; do
    if [ $kind = page ]; then path=$PAGE_ENTRY; else path=$IMAGE; fi
    set -- $(run "$URL$TOKEN_BASE$path")
    [ "$1" != error ] || die "pretnum answered errors on $path"
    p_req=$1 p_mb=$2
    set -- $(run "$NURL$TOKEN_BASE$path")
    [ "$1" != error ] || die "nginx answered errors on $path"
    n_req=$1 n_mb=$2
    ratio=$(awk -v a="$p_req" -v b="$n_req" 'BEGIN { printf "%.2f", a / b }')
    printf '%-8s %14s %10s %14s %10s %8s\n' $kind "$p_req" "$p_mb" "$n_req" "$n_mb" "$ratio"
    summary="$summary $kind $p_req/s vs nginx $n_req/s (ratio $ratio);"
done
say "summary:$summary"
