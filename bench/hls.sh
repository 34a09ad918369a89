#!/bin/sh
# Streaming (`make bench`), each figure beside its reference in the same run:
#
#  1. ingest: `pretnum import` of a BENCH_FILM_SECONDS (300) 720p H.264 + AAC film made by
#     ffmpeg (copy and hash into the data dir, probe, HLS packaging, the row), against
#     the ffmpeg command line's own `-c copy -f hls -hls_segment_type fmp4` of the same
#     file; best of BENCH_INGEST_RUNS (3), page cache warm for both.   target <= 1.2x
#  2. segment bytes/s and playlist requests/s of `pretnum serve` through a loan's token,
#     against nginx serving the same files from disk (sendfile, same keep-alive), with
#     wrk (BENCH_WRK_SECONDS 10 s, BENCH_WRK_CONNS 32 connections, 2 threads).
#                                       targets: segments >= 0.9x, playlists >= 0.5x nginx
#  3. a fresh borrow to the first segment: POST /api/v1/loans, then master playlist, media
#     playlist, init segment and first segment, one keep-alive connection, BENCH_BORROWS
#     (30) times (each loan returned after).             target: median < 50 ms
#
# Starts its own PostgreSQL, server and nginx; cleans up on exit (BENCH_KEEP=1 keeps).
# bin/pretnum must be built (`make`).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PRETNUM=${BENCH_PRETNUM:-$ROOT/bin/pretnum}
FILM_S=${BENCH_FILM_SECONDS:-300}
RUNS=${BENCH_INGEST_RUNS:-3}
WRK_S=${BENCH_WRK_SECONDS:-10}
CONNS=${BENCH_WRK_CONNS:-32}
BORROWS=${BENCH_BORROWS:-30}

say() { printf '%s\n' "hls: $*"; }
die() { printf '%s\n' "hls: $*" >&2; exit 1; }
now() { date +%s.%N; }

[ -x "$PRETNUM" ] || die "$PRETNUM is missing (run make)"
for c in ffmpeg wrk nginx node psql curl; do
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
say "making a ${FILM_S} s 1280x720 25 fps H.264 + AAC film with ffmpeg"
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=duration=$FILM_S:size=1280x720:rate=25" \
    -f lavfi -i "sine=duration=$FILM_S:frequency=440" -c:v libx264 -preset ultrafast -b:v 3000k \
    -maxrate 3500k -bufsize 7000k -g 50 -c:a aac -b:a 128k -shortest "$WORK/film.mp4"
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
pt_import() {
    psql -X -q "$CONN" -c "TRUNCATE title CASCADE" >/dev/null
    rm -rf "$WORK/data"
    PRETNUM_DATA_DIR=$WORK/data "$PRETNUM" import "$WORK/film.mp4"
}
ff_hls >/dev/null 2>&1 # the page cache, for both
best_ff="" best_pt=""
i=0
while [ "$i" -lt "$RUNS" ]; do
    t=$(elapsed ff_hls)
    best_ff=$(awk -v a="$t" -v b="${best_ff:-1e9}" 'BEGIN { print (a < b ? a : b) }')
    t=$(elapsed pt_import)
    best_pt=$(awk -v a="$t" -v b="${best_pt:-1e9}" 'BEGIN { print (a < b ? a : b) }')
    i=$((i + 1))
done
TITLE=$(psql -X -tA "$CONN" -c "SELECT id FROM title")
SHA=$(psql -X -tA "$CONN" -c "SELECT file_sha256 FROM title")
NSEG=$(ls "$WORK/data/hls/$SHA" | grep -c '^seg-')
FFSEG=$(ls "$WORK/ffhls" | grep -c '^seg-')
INGEST_RATIO=$(awk -v a="$best_pt" -v b="$best_ff" 'BEGIN { printf "%.2f", a / b }')

# ---- accounts, server, a loan
C=$("$PRETNUM" consortium add "Bench")
"$PRETNUM" library add --consortium "$C" --code BENCH "Bench" >/dev/null
echo 'bench password' | "$PRETNUM" patron add --library BENCH --card 1 >/dev/null
"$PRETNUM" licence add --title "$TITLE" --consortium "$C" --concurrency 1000 >/dev/null
PRETNUM_PORT=0 PRETNUM_DATA_DIR=$WORK/data "$PRETNUM" serve 2>"$WORK/server.log" &
SERVER_PID=$!
URL=""
i=0
while [ $i -lt 300 ]; do
    URL=$(sed -n 's/.*serving on \(http:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "pretnum serve exited"; }
    sleep 0.1
    i=$((i + 1))
done
[ -n "$URL" ] || die "pretnum serve did not say where it serves"
BEARER=$(curl -sf -X POST "$URL/api/v1/session" -H 'Content-Type: application/json' \
    -d '{"library":"BENCH","card":"1","password":"bench password"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$BEARER" ] || die "sign-in failed"

# ---- 3. borrow to first segment (before wrk, on a quiet server)
cat >"$WORK/first.mjs" <<'EOF'
const [base, bearer, title, n] = process.argv.slice(2);
const h = { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' };
const ms = [];
let stream = null;
for (let i = 0; i < Number(n) + 3; i++) {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/v1/loans`, { method: 'POST', headers: h, body: JSON.stringify({ title_id: title }) });
  const loan = (await r.json()).loan;
  if (r.status !== 201) throw new Error(`borrow: ${r.status}`);
  const master = new URL(loan.links.stream, base);
  const m = await (await fetch(master)).text();
  const index = new URL(m.split('\n').find((l) => l && !l.startsWith('#')), master);
  const pl = await (await fetch(index)).text();
  const init = new URL(pl.match(/URI="([^"]+)"/)[1], index);
  const seg = new URL(pl.split('\n').find((l) => l && !l.startsWith('#')), index);
  await (await fetch(init)).arrayBuffer();
  const bytes = (await (await fetch(seg)).arrayBuffer()).byteLength;
  const t = performance.now() - t0;
  if (!bytes) throw new Error('empty segment');
  if (i >= 3) ms.push(t); // three warm-ups
  stream = loan.links.stream;
  if (i < Number(n) + 2) {
    const ret = await fetch(`${base}/api/v1/loans/${loan.id}/return`, { method: 'POST', headers: h });
    await ret.arrayBuffer();
  }
}
ms.sort((a, b) => a - b);
const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
console.log(`${q(0.5).toFixed(1)} ${q(0.9).toFixed(1)} ${ms[ms.length - 1].toFixed(1)} ${stream}`);
EOF
read -r FIRST_P50 FIRST_P90 FIRST_MAX STREAM <<EOF
$(node "$WORK/first.mjs" "$URL" "$BEARER" "$TITLE" "$BORROWS")
EOF
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
say "wrk: ${WRK_S} s each, $CONNS connections, 2 threads; segment $SEG ($SEG_BYTES bytes)"
read -r P_SEG_RPS P_SEG_BPS <<EOF
$(wrk_run "$URL$BASE_PATH$SEG")
EOF
read -r N_SEG_RPS N_SEG_BPS <<EOF
$(wrk_run "http://127.0.0.1:$NPORT/hls/$SHA/$SEG")
EOF
read -r P_PL_RPS P_PL_BPS <<EOF
$(wrk_run "$URL${BASE_PATH}index.m3u8")
EOF
read -r N_PL_RPS N_PL_BPS <<EOF
$(wrk_run "http://127.0.0.1:$NPORT/hls/$SHA/index.m3u8")
EOF
SEG_RATIO=$(awk -v a="$P_SEG_BPS" -v b="$N_SEG_BPS" 'BEGIN { printf "%.2f", a / b }')
PL_RATIO=$(awk -v a="$P_PL_RPS" -v b="$N_PL_RPS" 'BEGIN { printf "%.2f", a / b }')

# ---- report
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == "<=" ? v <= t : op == ">=" ? v >= t : v < t); print (ok ? "met" : "MISSED") }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB/s", b / 1048576 }'; }
echo
printf '%-44s %14s %14s %7s %8s %s\n' "" pretnum reference ratio target ""
printf '%-44s %13ss %13ss %7s %8s %s\n' "ingest, best of $RUNS (ffmpeg -c copy -f hls)" "$best_pt" "$best_ff" "$INGEST_RATIO" "<= 1.2" "$(verdict "$INGEST_RATIO" "<=" 1.2)"
printf '%-44s %14s %14s %7s %8s %s\n' "segment bytes/s (nginx, same file)" "$(mb "$P_SEG_BPS")" "$(mb "$N_SEG_BPS")" "$SEG_RATIO" ">= 0.9" "$(verdict "$SEG_RATIO" ">=" 0.9)"
printf '%-44s %14s %14s %7s %8s %s\n' "media playlist requests/s (nginx)" "$P_PL_RPS" "$N_PL_RPS" "$PL_RATIO" ">= 0.5" "$(verdict "$PL_RATIO" ">=" 0.5)"
printf '%-44s %12sms %14s %7s %8s %s\n' "fresh borrow to first segment, median" "$FIRST_P50" "-" "-" "< 50ms" "$(verdict "$FIRST_P50" "<" 50)"
echo
echo "ingest: $NSEG segments (ffmpeg: $FFSEG); the import also copies and hashes the $(awk -v s="$SIZE" 'BEGIN { printf "%.0f MB", s / 1e6 }') file into the data dir."
echo "borrow to first segment over $BORROWS borrows: p50 $FIRST_P50 ms, p90 $FIRST_P90 ms, max $FIRST_MAX ms"
echo "segments: pretnum $P_SEG_RPS req/s, nginx $N_SEG_RPS req/s; $(nproc) cores shared by server, wrk and whatever else runs."
say "summary: ingest ${INGEST_RATIO}x ffmpeg, segments ${SEG_RATIO}x nginx, playlists ${PL_RATIO}x nginx, first segment ${FIRST_P50} ms"
