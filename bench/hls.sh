#!/bin/sh
# Streaming (`make bench`), each figure beside its reference in the same run:
#
#  1. ingest: `pretnum import` of a BENCH_FILM_SECONDS (300) 720p H.264 + AAC film made by
#     ffmpeg (copy and hash into the data dir, probe, HLS packaging, the row), against
#     the ffmpeg command line's own `-c copy -f hls -hls_segment_type fmp4` of the same
#     file; best of BENCH_INGEST_RUNS (3), page cache warm for both.   target <= 1.2x
#  2. segment bytes/s and playlist requests/s of `pretnum serve` through a loan's token,
#     against nginx serving the same files from disk (sendfile, same keep-alive), with
#     wrk (BENCH_WRK_ROUNDS 3 rounds of BENCH_WRK_SECONDS 5 s, the two sides in turn, the
#     best round of each; BENCH_WRK_CONNS 32 connections, 2 threads).
#                                       targets: segments >= 0.9x, playlists >= 0.5x nginx
#  3. a fresh borrow to the first segment (bench/stream_first.c, libcurl, one keep-alive
#     connection): from the borrow's answer, master playlist, media playlist, init
#     segment and first segment; BENCH_BORROWS (30) times, each loan returned after.
#                                                        target: median < 50 ms
#
# Starts its own PostgreSQL, server and nginx; cleans up on exit (BENCH_KEEP=1 keeps).
# BENCH_FILM=path uses that film instead of making one.
# bin/pretnum must be built (`make`).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. "$ROOT/bench/lib.sh"
PRETNUM=${BENCH_PRETNUM:-$ROOT/bin/pretnum}
FILM_S=${BENCH_FILM_SECONDS:-300}
RUNS=${BENCH_INGEST_RUNS:-3}
WRK_S=${BENCH_WRK_SECONDS:-5}
ROUNDS=${BENCH_WRK_ROUNDS:-3}
CONNS=${BENCH_WRK_CONNS:-32}
BORROWS=${BENCH_BORROWS:-30}

say() { printf '%s\n' "hls: $*"; }
die() { printf '%s\n' "hls: $*" >&2; exit 1; }
now() { date +%s.%N; }

[ -x "$PRETNUM" ] || die "$PRETNUM is missing (run make)"
for c in ffmpeg wrk nginx gcc psql curl; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
        die "$c is missing (./scripts/install-deps.sh bench)"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d /tmp/pretnum-bench-hls.XXXXXX)
chmod 0755 "$WORK"
PGDIR=$WORK/pg
SERVER_PID=""
PG_STARTED=""
NGINX_STARTED=""
cleanup() {
    status=$?
    trap - EXIT INT TERM
    [ -n "$SERVER_PID" ] && { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    [ -n "$NGINX_STARTED" ] && { "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -s stop 2>/dev/null || true; }
    if [ -n "${BENCH_KEEP:-}" ]; then
        say "kept $WORK"
    else
        [ -n "$PG_STARTED" ] && "$ROOT/scripts/pgcluster.sh" stop "$PGDIR"
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the film
if [ -n "${BENCH_FILM:-}" ]; then
    cp "$BENCH_FILM" "$WORK/film.mp4"
else
say "making a ${FILM_S} s 1280x720 25 fps H.264 + AAC film with ffmpeg"
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=duration=$FILM_S:size=1280x720:rate=25" \
    -f lavfi -i "sine=duration=$FILM_S:frequency=440" -c:v libx264 -preset ultrafast -b:v 3000k \
    -maxrate 3500k -bufsize 7000k -g 50 -c:a aac -b:a 128k -shortest "$WORK/film.mp4"
fi
SIZE=$(stat -c %s "$WORK/film.mp4")
say "film: $(awk -v s="$SIZE" 'BEGIN { printf "%.1f MB", s / 1e6 }')"

# ---- PostgreSQL
PRETNUM_PG_FSYNC=off "$ROOT/scripts/pgcluster.sh" init "$PGDIR" >/dev/null || die "initdb failed"
"$ROOT/scripts/pgcluster.sh" start "$PGDIR" >/dev/null || die "PostgreSQL did not start"
PG_STARTED=1
CONN="host=$PGDIR/sock user=pretnum dbname=bench"
psql -X -q -v ON_ERROR_STOP=1 "host=$PGDIR/sock user=pretnum dbname=postgres" -c "CREATE DATABASE bench"
export PRETNUM_DATABASE_URL="$CONN"
"$PRETNUM" migrate >/dev/null || die "pretnum migrate failed"

# ---- 1. ingest
elapsed() { s=$(now); "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; die "$1 failed"; }; awk -v a="$s" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
ff_hls() {
    rm -rf "$WORK/ffhls" && mkdir "$WORK/ffhls"
    ffmpeg -nostdin -v error -y -i "$WORK/film.mp4" -c copy -f hls -hls_time 6 -hls_playlist_type vod \
        -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
        -hls_segment_filename "$WORK/ffhls/seg-%05d.m4s" "$WORK/ffhls/index.m3u8"
}
ff_hls_sync() { ff_hls && sync "$WORK"/ffhls/*; }
pt_import() {
    psql -X -q "$CONN" -c "TRUNCATE title CASCADE" >/dev/null
    rm -rf "$WORK/data"
    PRETNUM_DATA_DIR=$WORK/data "$PRETNUM" import "$WORK/film.mp4"
}
ff_hls >/dev/null 2>&1 # the page cache, for both
best_ff="" best_pt="" best_ffs=""
i=0
while [ "$i" -lt "$RUNS" ]; do
    t=$(elapsed ff_hls)
    best_ff=$(awk -v a="$t" -v b="${best_ff:-1e9}" 'BEGIN { print (a < b ? a : b) }')
    t=$(elapsed ff_hls_sync)
    best_ffs=$(awk -v a="$t" -v b="${best_ffs:-1e9}" 'BEGIN { print (a < b ? a : b) }')
    t=$(elapsed pt_import)
    best_pt=$(awk -v a="$t" -v b="${best_pt:-1e9}" 'BEGIN { print (a < b ? a : b) }')
    i=$((i + 1))
done
TITLE=$(psql -X -tA "$CONN" -c "SELECT id FROM title")
SHA=$(psql -X -tA "$CONN" -c "SELECT file_sha256 FROM title")
NSEG=$(ls "$WORK/data/hls/$SHA" | grep -c '^seg-')
FFSEG=$(ls "$WORK/ffhls" | grep -c '^seg-')
INGEST_RATIO=$(awk -v a="$best_pt" -v b="$best_ff" 'BEGIN { printf "%.2f", a / b }')
INGEST_RATIO_SYNC=$(awk -v a="$best_pt" -v b="$best_ffs" 'BEGIN { printf "%.2f", a / b }')

# ---- accounts, server, a loan
C=$("$PRETNUM" consortium add "Bench")
"$PRETNUM" library add --consortium "$C" --code BENCH "Bench" >/dev/null
echo 'bench password' | "$PRETNUM" patron add --library BENCH --card 1 >/dev/null
"$PRETNUM" licence add --title "$TITLE" --consortium "$C" --concurrency 1000 >/dev/null
PRETNUM_PORT=0 PRETNUM_DATA_DIR=$WORK/data "$PRETNUM" serve 2>"$WORK/server.log" &
SERVER_PID=$!
URL=$(wait_for_url "$WORK/server.log" "$SERVER_PID") || die "the server did not start"
BEARER=$(curl -sf -X POST "$URL/api/v1/session" -H 'Content-Type: application/json' \
    -d '{"library":"BENCH","card":"1","password":"bench password"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$BEARER" ] || die "sign-in failed"

# ---- 3. borrow to first segment (before wrk, on a quiet server)
gcc -std=c11 -O2 -D_GNU_SOURCE -o "$WORK/stream_first" bench/stream_first.c $(pkg-config --cflags --libs libcurl)
"$WORK/stream_first" "$URL" "$BEARER" "$TITLE" "$BORROWS" >"$WORK/first.out" || die "stream_first failed"
read -r _ TOTAL_P50 TOTAL_P90 TOTAL_MAX <<EOF
$(grep '^borrow_to_segment' "$WORK/first.out")
EOF
read -r _ FIRST_P50 FIRST_P90 FIRST_MAX <<EOF
$(grep '^loan_to_segment' "$WORK/first.out")
EOF
STREAM=$(sed -n 's/^stream //p' "$WORK/first.out")
BASE_PATH=${STREAM%master.m3u8}

# ---- nginx with the same files
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/root/hls"
cp -r "$WORK/data/hls/$SHA" "$WORK/nginx/root/hls/"
chmod -R a+rX "$WORK/nginx/root"
NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
cat >"$WORK/nginx/nginx.conf" <<EOF
$USER_LINE
worker_processes $(nproc);
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { application/vnd.apple.mpegurl m3u8; video/mp4 mp4 m4s; }
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    server {
        listen 127.0.0.1:$NPORT;
        root $WORK/nginx/root;
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" || die "nginx did not start"
NGINX_STARTED=1
sleep 0.3

# ---- 2. throughput
SEG=$(printf 'seg-%05d.m4s' $((NSEG / 2)))
SEG_BYTES=$(stat -c %s "$WORK/data/hls/$SHA/$SEG")
# wrk_run URL: "requests/s bytes/s"
wrk_run() {
    wrk -t2 -c"$CONNS" -d"${WRK_S}s" --latency "$1" >"$WORK/wrk.out" 2>&1 || { cat "$WORK/wrk.out" >&2; die "wrk failed"; }
    if grep -q 'Non-2xx' "$WORK/wrk.out"; then cat "$WORK/wrk.out" >&2; die "wrk saw errors on $1"; fi
    awk '/^Requests\/sec/ { r = $2 }
         /^Transfer\/sec/ { v = $2; u = substr(v, length(v) - 1); n = v + 0
             if (u == "GB") n *= 1073741824; else if (u == "MB") n *= 1048576; else if (u == "KB") n *= 1024
             b = n }
         END { printf "%.1f %.0f\n", r, b }' "$WORK/wrk.out"
}
say "wrk: $ROUNDS rounds of ${WRK_S} s, each side in turn, best of each; $CONNS connections, 2 threads; segment $SEG ($SEG_BYTES bytes)"
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0 ? a : b) }'; }
P_SEG_BPS=0 N_SEG_BPS=0 P_PL_RPS=0 N_PL_RPS=0 P_SEG_RPS=0 N_SEG_RPS=0
r=0
while [ "$r" -lt "$ROUNDS" ]; do
    read -r a b <<EOF
$(wrk_run "$URL$BASE_PATH$SEG")
EOF
    P_SEG_RPS=$(best "$P_SEG_RPS" "$a"); P_SEG_BPS=$(best "$P_SEG_BPS" "$b")
    read -r a b <<EOF
$(wrk_run "http://127.0.0.1:$NPORT/hls/$SHA/$SEG")
EOF
    N_SEG_RPS=$(best "$N_SEG_RPS" "$a"); N_SEG_BPS=$(best "$N_SEG_BPS" "$b")
    read -r a b <<EOF
$(wrk_run "$URL${BASE_PATH}index.m3u8")
EOF
    P_PL_RPS=$(best "$P_PL_RPS" "$a")
    read -r a b <<EOF
$(wrk_run "http://127.0.0.1:$NPORT/hls/$SHA/index.m3u8")
EOF
    N_PL_RPS=$(best "$N_PL_RPS" "$a")
    r=$((r + 1))
done
SEG_RATIO=$(awk -v a="$P_SEG_BPS" -v b="$N_SEG_BPS" 'BEGIN { printf "%.2f", a / b }')
PL_RATIO=$(awk -v a="$P_PL_RPS" -v b="$N_PL_RPS" 'BEGIN { printf "%.2f", a / b }')

# ---- report
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == "<=" ? v <= t : op == ">=" ? v >= t : v < t); print (ok ? "met" : "MISSED") }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB/s", b / 1048576 }'; }
echo
printf '%-44s %14s %14s %7s %8s %s\n' "" pretnum reference ratio target ""
printf '%-44s %13ss %13ss %7s %8s %s\n' "ingest, best of $RUNS (ffmpeg -c copy -f hls)" "$best_pt" "$best_ff" "$INGEST_RATIO" "<= 1.2" "$(verdict "$INGEST_RATIO" "<=" 1.2)"
printf '%-44s %13ss %13ss %7s %8s %s\n' "  the same, ffmpeg's output synced to disk" "$best_pt" "$best_ffs" "$INGEST_RATIO_SYNC" "-" ""
printf '%-44s %14s %14s %7s %8s %s\n' "segment bytes/s (nginx, same file)" "$(mb "$P_SEG_BPS")" "$(mb "$N_SEG_BPS")" "$SEG_RATIO" ">= 0.9" "$(verdict "$SEG_RATIO" ">=" 0.9)"
printf '%-44s %14s %14s %7s %8s %s\n' "media playlist requests/s (nginx)" "$P_PL_RPS" "$N_PL_RPS" "$PL_RATIO" ">= 0.5" "$(verdict "$PL_RATIO" ">=" 0.5)"
printf '%-44s %12sms %14s %7s %8s %s\n' "borrowed to first segment, median" "$FIRST_P50" "-" "-" "< 50ms" "$(verdict "$FIRST_P50" "<" 50)"
echo
echo "ingest: $NSEG segments (ffmpeg: $FFSEG); the import also copies, hashes and syncs the $(awk -v s="$SIZE" 'BEGIN { printf "%.0f MB", s / 1e6 }') file into the data dir"
echo "  (in a thread, beside the packaging) before the title commits; the presentation is synced after, in the background; ffmpeg syncs nothing."
echo "over $BORROWS borrows, from the borrow's answer to the first segment's last byte: p50 $FIRST_P50 ms, p90 $FIRST_P90 ms, max $FIRST_MAX ms;"
echo "  with the borrow request itself: p50 $TOTAL_P50 ms, p90 $TOTAL_P90 ms, max $TOTAL_MAX ms"
echo "segments: pretnum $P_SEG_RPS req/s, nginx $N_SEG_RPS req/s; $(nproc) cores shared by server, wrk and whatever else runs."
say "summary: ingest ${INGEST_RATIO}x ffmpeg (${INGEST_RATIO_SYNC}x ffmpeg + sync), segments ${SEG_RATIO}x nginx, playlists ${PL_RATIO}x nginx, first segment ${FIRST_P50} ms"
