#!/bin/sh
# Lending throughput and latency (`make bench`).
#
# Starts its own PostgreSQL, loads a consortium, one library, BENCH_PATRONS patrons with a
# session each (made as the server makes them: bench/lending_load.c) and BENCH_TITLES
# e-books with one consortium-wide licence each (BENCH_SCARCE of them with a single copy,
# so that some checkouts are refused; the others with plenty), serves them with
# bin/pretnum, and runs BENCH_SECONDS of borrow+return cycles over HTTP: one thread and
# one keep-alive connection per patron, each borrowing a random title and returning it.
# The reference, in the same run, from the same loan history: pgbench with one client
# per patron running the minimal SQL of the same cycle (bench/lending_cycle.sql, two
# transactions: lock the licence, count, insert the loan, spend, record; then lock, end
# the loan, record). pg_stat_statements counts the statements each side sends.
# Prints the tables and a closing summary line, and cleans everything up on exit.
#
#   BENCH_PATRONS=32  BENCH_TITLES=200  BENCH_SCARCE=40  BENCH_SECONDS=20  BENCH_WARMUP=2
#   BENCH_HISTORY=20000 (ended loans in the table before each run)
#   BENCH_PACED_FRACTION=0.5 BENCH_PACED_SECONDS=10 (then the same patrons at that fraction
#   of the saturated throughput, paced: the latency of a server that is not saturated)
#   BENCH_FSYNC=off (on: commits wait for the disk, on both sides)
#   BENCH_PERF=1 (perf record of the server and its PostgreSQL backends during the HTTP run)
#   BENCH_KEEP=1 (leave the cluster running and its directory in place, to investigate)
#   BENCH_PRETNUM=path (another build of pretnum, to compare)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. "$ROOT/bench/lib.sh"
NP=${BENCH_PATRONS:-32}
NT=${BENCH_TITLES:-200}
SCARCE=${BENCH_SCARCE:-40}
SECONDS_RUN=${BENCH_SECONDS:-20}
HISTORY=${BENCH_HISTORY:-20000}
WARMUP=${BENCH_WARMUP:-2}
PACED_FRACTION=${BENCH_PACED_FRACTION:-0.5}
PACED_SECONDS=${BENCH_PACED_SECONDS:-10}
FSYNC=${BENCH_FSYNC:-off}
TARGET_RATIO=0.7
TARGET_P99=20
PGBIN=/usr/lib/postgresql/15/bin
PRETNUM=${BENCH_PRETNUM:-$ROOT/bin/pretnum}
CONSORTIUM=00000000-0000-0000-0000-000000000001
LIBRARY=00000000-0000-0000-0000-000000000002

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '%s\n' "lending: $*"; }
die() { printf '%s\n' "lending: $*" >&2; exit 1; }

[ -x "$PRETNUM" ] || die "$PRETNUM is missing (run make)"
[ -x "$PGBIN/pgbench" ] || die "$PGBIN/pgbench is missing (postgresql-contrib, scripts/install-deps.sh)"
command -v psql >/dev/null 2>&1 || die "psql is missing (scripts/install-deps.sh)"
[ "$SCARCE" -le "$NT" ] || die "BENCH_SCARCE ($SCARCE) is more than BENCH_TITLES ($NT)"
[ "$NP" -ge 1 ] && [ "$NP" -le 90 ] || die "BENCH_PATRONS is 1 to 90 (one PostgreSQL connection each for pgbench)"

T_START=$(now)
WORK=$(mktemp -d /tmp/pretnum-bench-lending.XXXXXX)
chmod 0755 "$WORK"
PGDIR=$WORK/pg
SERVER_PID=""
PERF_PID=""
PG_STARTED=""
cleanup() {
    status=$?
    trap - EXIT INT TERM
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
    fi
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "${BENCH_KEEP:-}" ]; then
        say "kept $WORK; psql \"host=$PGDIR/sock user=pretnum dbname=bench\"; stop with scripts/pgcluster.sh stop $PGDIR"
    else
        [ -n "$PG_STARTED" ] && "$ROOT/scripts/pgcluster.sh" stop "$PGDIR"
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- tools
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -o "$WORK/lending_load" bench/lending_load.c \
    $(pkg-config --cflags --libs libcurl libsodium) -lpthread || die "could not build bench/lending_load.c"

# ---- PostgreSQL: the cluster `make run` makes (fsync off as in `make check` unless
# BENCH_FSYNC=on), with pg_stat_statements loaded to count what each side sends
PRETNUM_PG_FSYNC=$FSYNC "$ROOT/scripts/pgcluster.sh" init "$PGDIR" || die "initdb failed"
cat >>"$PGDIR/data/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track_utility = on
CONF
"$ROOT/scripts/pgcluster.sh" start "$PGDIR" || die "PostgreSQL did not start"
PG_STARTED=1
CONN="host=$PGDIR/sock user=pretnum dbname=bench"
export PGOPTIONS="-c client_min_messages=warning"
sql() { psql -X -q -v ON_ERROR_STOP=1 "$CONN" "$@"; }
val() { psql -X -At -v ON_ERROR_STOP=1 "$CONN" -c "$1"; }
psql -X -q -v ON_ERROR_STOP=1 "host=$PGDIR/sock user=pretnum dbname=postgres" -c "CREATE DATABASE bench"
PRETNUM_DATABASE_URL=$CONN "$PRETNUM" migrate >/dev/null || die "pretnum migrate failed"
sql -c "CREATE EXTENSION pg_stat_statements"
PGVER=$(val "SHOW server_version")

# ---- data: ids built from numbers, so that pgbench can compute them
# patron n 00000000-0000-0000-0001-<n>, title n ...-0002-<n>, licence of title n
# ...-0003-<n>, pseudonym of patron n ...-0004-<n> (n on 12 digits)
"$WORK/lending_load" sessions "$NP" "$WORK/tokens" >"$WORK/sessions.sql" || die "could not make the sessions"
sql <<SQL
BEGIN;
INSERT INTO consortium (id, name) VALUES ('$CONSORTIUM', 'Bench consortium');
INSERT INTO library (id, consortium_id, code, name, max_loans)
    VALUES ('$LIBRARY', '$CONSORTIUM', 'BENCH', 'Bench library', 100);
INSERT INTO patron (id, library_id, card, name, password_hash, pseudonym)
SELECT ('00000000-0000-0000-0001-' || lpad(n::text, 12, '0'))::uuid, '$LIBRARY', 'B' || n, 'Patron ' || n, 'x',
       ('00000000-0000-0000-0004-' || lpad(n::text, 12, '0'))::uuid
  FROM generate_series(1, $NP) n;
INSERT INTO title (id, kind, title, language, file_sha256, file_path, file_size, media_type)
SELECT ('00000000-0000-0000-0002-' || lpad(n::text, 12, '0'))::uuid, 'ebook', 'Bench title ' || n, 'en',
       lpad(to_hex(n), 64, '0'), 'files/00/' || lpad(to_hex(n), 64, '0') || '.epub', 100000, 'application/epub+zip'
  FROM generate_series(1, $NT) n;
-- the last BENCH_SCARCE titles have one copy, the others more than there are patrons
INSERT INTO licence (id, title_id, consortium_id, concurrency)
SELECT ('00000000-0000-0000-0003-' || lpad(n::text, 12, '0'))::uuid,
       ('00000000-0000-0000-0002-' || lpad(n::text, 12, '0'))::uuid, '$CONSORTIUM',
       CASE WHEN n > $NT - $SCARCE THEN 1 ELSE 1000 END
  FROM generate_series(1, $NT) n;
\i $WORK/sessions.sql
COMMIT;
VACUUM ANALYZE;
SQL

# Before each run: the same loan history (ended loans, a month old), spent on the licences,
# and fresh statistics. Not an empty table: the plans the server and pgbench prepare in
# their first seconds are kept, and on an empty table they are sequential scans of loan,
# which would grow slower with every loan until autovacuum analyzed it (up to a minute).
reset_loans() {
    sql >/dev/null <<SQL
TRUNCATE loan, usage_event CASCADE;
INSERT INTO loan (patron_id, title_id, licence_id, library_id, started, due, ended, end_reason)
SELECT ('00000000-0000-0000-0001-' || lpad((1 + i % $NP)::text, 12, '0'))::uuid,
       ('00000000-0000-0000-0002-' || lpad((1 + (i * 7919) % $NT)::text, 12, '0'))::uuid,
       ('00000000-0000-0000-0003-' || lpad((1 + (i * 7919) % $NT)::text, 12, '0'))::uuid,
       '$LIBRARY', now() - interval '40 days' + i * interval '100 ms',
       now() - interval '26 days' + i * interval '100 ms', now() - interval '33 days' + i * interval '100 ms', 'returned'
  FROM generate_series(1, $HISTORY) i;
UPDATE licence c SET checkouts_used = (SELECT count(*) FROM loan l WHERE l.licence_id = c.id);
VACUUM ANALYZE loan, usage_event, licence;
CHECKPOINT;
SQL
}
reset_loans

# CPU ticks: "machine_busy machine_all postgres server" (postgres: the postmaster, its
# exited children, its live children; server: pretnum serve, 0 when not running)
cpu_snapshot() {
    pm=$(head -1 "$PGDIR/data/postmaster.pid")
    # cat, not awk, opens the files: a process may be gone by the time its turn comes
    { head -1 /proc/stat; cat /proc/[0-9]*/stat 2>/dev/null; } | awk -v pm="$pm" -v srv="${SERVER_PID:-0}" '
        NR == 1 { busy = $2 + $3 + $4 + $7 + $8 + $9; all = busy + $5 + $6; next }
        {
            pid = $1
            sub(/^.*\) /, "")   # fields from state on: 1 state, 2 ppid, 12 utime, 13 stime, 14 cutime, 15 cstime
            if (pid == pm) pg += $12 + $13 + $14 + $15
            else if ($2 == pm) pg += $12 + $13
            if (pid == srv) sv += $12 + $13
        }
        END { printf "%d %d %d %d\n", busy, all, pg, sv }'
}
# the CPU ms of the shell's finished children, from what `times` wrote (called with no
# subshell: `times >FILE`)
children_ms() {
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } printf "%d\n", t * 1000 }' "$1"
}
# CPU ms per cycle between two snapshots, with the clients' CPU ms:
# "machine_busy% postgres server clients other_cores" (other_cores: the CPU that none of
# these used, in cores: other jobs, interrupts)
cpu_per_cycle() {
    awk -v a="$1" -v b="$2" -v n="$3" -v cl="$4" -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; all = y[2] - x[2]; pg = y[3] - x[3]; sv = y[4] - x[4]
        t = 1000 / hz   # ms per tick
        per = n > 0 ? 1 / n : 0
        other = busy * t - pg * t - sv * t - cl
        printf "%.0f %.3f %.3f %.3f %.2f\n", (all > 0 ? 100 * busy / all : 0), pg * t * per, sv * t * per, cl * per,
            (all > 0 ? other / (all * t / cores) : 0)
    }'
}

# statements per cycle and database time, from pg_stat_statements: name calls ms
stmt_stats() {
    psql -X -At -F '	' -v ON_ERROR_STOP=1 "$CONN" -c "
        SELECT regexp_replace(left(query, 60), '\s+', ' ', 'g'), calls, round(total_exec_time::numeric, 3)
          FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = 'bench' AND query !~* 'pg_stat_statements' AND calls > 0
           AND query !~* '^\s*(BEGIN|COMMIT|ROLLBACK|SET)\M'
         ORDER BY calls DESC, 1"
}

# ---- server
mkdir -p "$WORK/data"
PRETNUM_DATABASE_URL=$CONN PRETNUM_PORT=0 PRETNUM_DATA_DIR=$WORK/data "$PRETNUM" serve 2>"$WORK/server.log" &
SERVER_PID=$!
URL=$(wait_for_url "$WORK/server.log" "$SERVER_PID") || die "the server did not start"

# ---- HTTP run
say "PostgreSQL $PGVER (fsync $FSYNC), $(nproc) cores; server $URL; $NP patrons, $NT titles ($SCARCE with one copy)"
say "HTTP: $NP threads borrowing and returning for ${WARMUP} s warm-up + $SECONDS_RUN s"
sql -c "SELECT pg_stat_statements_reset()" >/dev/null
if [ -n "${BENCH_PERF:-}" ]; then
    command -v perf >/dev/null 2>&1 || die "BENCH_PERF: perf is not installed"
    # after the warm-up, when the server has its connections: the server and every backend
    (sleep "$WARMUP"
     pids=$(awk -v pm="$(head -1 "$PGDIR/data/postmaster.pid")" '$4 == pm { printf ",%s", $1 }' /proc/[0-9]*/stat 2>/dev/null)
     exec perf record -q -g -F 999 -p "$SERVER_PID$pids" -o "$WORK/perf.data" -- sleep "$SECONDS_RUN") \
        >"$WORK/perf.log" 2>&1 &
    PERF_PID=$!
fi
T0=$(now)
CPU0=$(cpu_snapshot)
"$WORK/lending_load" run "$URL" "$WORK/tokens" "$NT" "$SECONDS_RUN" "$WARMUP" >"$WORK/http.tsv" \
    2>"$WORK/load.err" || { cat "$WORK/load.err" >&2; die "the HTTP load generator failed"; }
CPU1=$(cpu_snapshot)
T_HTTP=$(since "$T0")
if [ -n "$PERF_PID" ]; then
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
fi
stmt_stats >"$WORK/stmts.server"

# What the database says must agree with what the clients were told.
get() { awk -F '\t' -v k="$1" '$1 == k { print $2 }' "$WORK/http.tsv"; }
check_db() { # $1 = 201s the clients saw since the history was laid down
    DB_LOANS=$(val "SELECT count(*) FROM loan") # the history included
    DB_LOANS=$((DB_LOANS - HISTORY))
    DB_OPEN=$(val "SELECT count(*) FROM loan WHERE ended IS NULL")
    DB_OVER=$(val "SELECT count(*) FROM licence c WHERE c.checkouts_used <> (SELECT count(*) FROM loan l WHERE l.licence_id = c.id)")
    CHECKS="loans in the database $DB_LOANS, 201s $1; open at the end $DB_OPEN; licences miscounted $DB_OVER"
    [ "$DB_LOANS" = "$1" ] && [ "$DB_OPEN" = 0 ] && [ "$DB_OVER" = 0 ] || die "inconsistent: $CHECKS"
}
SRV_CO_TOTAL=$(get checkouts_total)
check_db "$SRV_CO_TOTAL"

# ---- paced HTTP run: latency when the server is not saturated. With every patron
# asking again the moment it is answered, latency is only throughput seen from the
# other side (32 waiting patrons / cycles per second); patrons who borrow at a steady
# rate, PACED_FRACTION of the saturated throughput, see the server's own latency.
SAT_CPS=$(awk -v c="$(get cycles)" -v s="$(get seconds)" 'BEGIN { printf "%.0f", (s > 0 ? c / s : 0) }')
PACED_RATE=$(awk -v c="$SAT_CPS" -v f="$PACED_FRACTION" 'BEGIN { printf "%.0f", c * f }')
say "HTTP paced: $NP patrons, $PACED_RATE cycles/s in all ($PACED_FRACTION of $SAT_CPS), ${WARMUP} s warm-up + $PACED_SECONDS s"
LENDING_LOAD_RATE=$PACED_RATE "$WORK/lending_load" run "$URL" "$WORK/tokens" "$NT" "$PACED_SECONDS" "$WARMUP" \
    >"$WORK/paced.tsv" 2>"$WORK/paced.err" || { cat "$WORK/paced.err" >&2; die "the paced HTTP run failed"; }
PACED_CO=$(awk -F '\t' '$1 == "checkouts_total" { print $2 }' "$WORK/paced.tsv")
check_db "$((SRV_CO_TOTAL + PACED_CO))"
kill -TERM "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

SRV_SECONDS=$(get seconds)
SRV_CYCLES=$(get cycles)
SRV_RET_TOTAL=$(get returns_total)
[ -n "$SRV_CYCLES" ] || { cat "$WORK/http.tsv" >&2; die "no results from the load generator"; }

# ---- pgbench run, on the same loan history
sed -e "s/@CONSORTIUM@/$CONSORTIUM/g" -e "s/@LIBRARY@/$LIBRARY/g" -e "s/@TITLES@/$NT/g" \
    bench/lending_cycle.sql >"$WORK/cycle.sql"
reset_loans
PGB="$PGBIN/pgbench -n -M prepared -c $NP -j 2 -f $WORK/cycle.sql -h $PGDIR/sock -U pretnum bench"
say "pgbench: $NP clients, ${WARMUP} s warm-up + $SECONDS_RUN s"
T0=$(now)
if [ "$WARMUP" -gt 0 ]; then
    $PGB -T "$WARMUP" >"$WORK/pgbench.warmup" 2>&1 || { cat "$WORK/pgbench.warmup" >&2; die "pgbench failed"; }
fi
BEFORE=$(val "SELECT count(*) FILTER (WHERE type = 'return') || ' ' || count(*) FILTER (WHERE type LIKE 'turnaway%') FROM usage_event")
sql -c "SELECT pg_stat_statements_reset()" >/dev/null
CPU2=$(cpu_snapshot)
times >"$WORK/times.0"
$PGB -T "$SECONDS_RUN" -r >"$WORK/pgbench.out" 2>&1 || { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
sleep 0.3 # the backends' CPU reaches the postmaster once they have exited
CPU3=$(cpu_snapshot)
times >"$WORK/times.1"
T_PGB=$(since "$T0")
stmt_stats >"$WORK/stmts.pgbench"
AFTER=$(val "SELECT count(*) FILTER (WHERE type = 'return') || ' ' || count(*) FILTER (WHERE type LIKE 'turnaway%') FROM usage_event")
PGB_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
PGB_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -1)
PGB_FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
[ -n "$PGB_TX" ] && [ -n "$PGB_TPS" ] || { cat "$WORK/pgbench.out" >&2; die "could not read pgbench's output"; }
PGB_OPEN=$(val "SELECT count(*) FROM loan WHERE ended IS NULL")
# the cycles are the returns; the seconds those of pgbench's tps (connections excluded)
set -- $BEFORE $AFTER
PGB_CYCLES=$(($3 - $1))
PGB_REFUSED=$(($4 - $2))
PGB_SECONDS=$(awk -v n="$PGB_TX" -v t="$PGB_TPS" 'BEGIN { printf "%.3f", (t > 0 ? n / t : 0) }')
# per-part latency: the sums of the per-command averages (-r): checkout = lock and count
# (before \if) + the taking of the copy; return = the second transaction; refused = lock
# and count + the turnaway (after \else)
awk '/^statement latencies in milliseconds/ { on = 1; next } on && NF >= 2 && $1 ~ /^[0-9.]+$/ { print }' \
    "$WORK/pgbench.out" >"$WORK/pgbench.cmds"
PGB_PARTS=$(awk '
    { ms = $1; sub(/^ *[0-9.]+( +[0-9]+)*  */, ""); cmd = $0 }
    cmd ~ /^\\if/ { seg = "take"; next }
    cmd ~ /^\\else/ { seg = "refuse"; next }
    cmd ~ /^\\/ { next }
    cmd ~ /^BEGIN/ { seg = seg == "" ? "common" : "return" }
    { t[seg] += ms }
    END { printf "%.3f %.3f %.3f", t["common"] + t["take"], t["return"], t["common"] + t["refuse"] }' "$WORK/pgbench.cmds")
set -- $PGB_PARTS
PGB_CO_MS=$1
PGB_RET_MS=$2
PGB_REF_MS=$3

# ---- report
SRV_CPU=$(cpu_per_cycle "$CPU0" "$CPU1" "$SRV_RET_TOTAL" "$(get cpu_ms)")
PGB_CPU=$(cpu_per_cycle "$CPU2" "$CPU3" "$PGB_CYCLES" "$(($(children_ms "$WORK/times.1") - $(children_ms "$WORK/times.0")))")
ratio=$(awk -v s="$SRV_CYCLES" -v st="$SRV_SECONDS" -v p="$PGB_CYCLES" -v pt="$PGB_SECONDS" \
    'BEGIN { a = st > 0 ? s / st : 0; b = pt > 0 ? p / pt : 0; printf "%.1f %.1f %.2f", a, b, (b > 0 ? a / b : 0) }')
set -- $ratio
SRV_CPS=$1
PGB_CPS=$2
RATIO=$3
SRV_REFUSED=$(awk -F '\t' '$1 == "status" && $2 == "checkout" && $3 == 409 && $4 == "no_copy_available" { n += $5 } END { print n + 0 }' "$WORK/http.tsv")
ERRORS=$(awk -F '\t' '$1 == "status" && !(($2 == "checkout" && ($3 == 201 || ($3 == 409 && $4 == "no_copy_available"))) || ($2 == "return" && $3 == 200)) { n += $5 } END { print n + 0 }' "$WORK/http.tsv")

echo
echo "Lending: $NP patrons, $NT titles ($SCARCE with one copy, the others with 1000), one licence each, $HISTORY past loans;"
echo "server = HTTP over keep-alive, one thread and connection per patron (bench/lending_load.c);"
echo "pgbench = the minimal SQL of the same cycle, -M prepared, -c $NP -j 2 (bench/lending_cycle.sql)."
echo "Times in ms, measured after a ${WARMUP} s warm-up. 'refused' = 409 no_copy_available (then another title)."
echo
printf '%-26s %8s %8s %8s %8s %8s %8s\n' "server request" n p50 p90 p99 mean max
echo "------------------------------------------------------------------------------"
awk -F '\t' '$1 == "lat" {
    name = $2 == "checkout" ? "checkout (201)" : $2 == "refused" ? "checkout refused (409)" : $2 == "return" ? "return (200)" : "cycle (checkout+return)"
    printf "%-26s %8d %8.2f %8.2f %8.2f %8.2f %8.2f\n", name, $3, $4, $5, $6, $7, $8
}' "$WORK/http.tsv"
echo
echo "paced: the same patrons at $PACED_RATE cycles/s in all ($PACED_FRACTION of the saturated $SAT_CPS):"
printf '%-26s %8s %8s %8s %8s %8s %8s\n' "server request" n p50 p90 p99 mean max
echo "------------------------------------------------------------------------------"
awk -F '\t' '$1 == "lat" {
    name = $2 == "checkout" ? "checkout (201)" : $2 == "refused" ? "checkout refused (409)" : $2 == "return" ? "return (200)" : "cycle (checkout+return)"
    printf "%-26s %8d %8.2f %8.2f %8.2f %8.2f %8.2f\n", name, $3, $4, $5, $6, $7, $8
}' "$WORK/paced.tsv"
awk -F '\t' -v c="$(awk -F '\t' '$1 == "cycles" { print $2 }' "$WORK/paced.tsv")" '$1 == "seconds" { printf "achieved: %.1f cycles/s\n", ($2 > 0 ? c / $2 : 0) }' "$WORK/paced.tsv"
echo
printf '%-34s %12s %12s %8s\n' "" server pgbench ratio
echo "------------------------------------------------------------------------------"
CALLS_S=$(awk -F '\t' '{ n += $2; t += $3 } END { printf "%d %.3f", n, t }' "$WORK/stmts.server")
CALLS_P=$(awk -F '\t' '{ n += $2; t += $3 } END { printf "%d %.3f", n, t }' "$WORK/stmts.pgbench")
# the server's statements include the warm-up: divided by every cycle it completed
awk -v sc="$SRV_CPS" -v pc="$PGB_CPS" -v sr="$SRV_REFUSED" -v st="$SRV_SECONDS" -v pr="$PGB_REFUSED" -v pt="$PGB_SECONDS" \
    -v scy="$SRV_CYCLES" -v pcy="$PGB_CYCLES" -v sall="$SRV_RET_TOTAL" -v cs="$CALLS_S" -v cp="$CALLS_P" \
    -v scpu="$SRV_CPU" -v pcpu="$PGB_CPU" -v pco="$PGB_CO_MS" -v pret="$PGB_RET_MS" -v pref="$PGB_REF_MS" -v srvmean="$(awk -F '\t' '$1 == "lat" { m[$2] = $7 } END { printf "%.3f %.3f %.3f", m["checkout"], m["return"], m["refused"] }' "$WORK/http.tsv")" '
function row(name, a, b, fmt) { printf "%-34s " fmt " " fmt " %8s\n", name, a, b, (b > 0 ? sprintf("%.2f", a / b) : "-") }
function row2(name, a, b, fmt) { printf "%-34s " fmt " " fmt " %8s\n", name, a, b, "-" }
BEGIN {
    split(cs, s, " "); split(cp, p, " "); split(srvmean, m, " "); split(scpu, sx, " "); split(pcpu, px, " ")
    row("borrow+return cycles/s", sc, pc, "%12.1f")
    row("cycles", scy, pcy, "%12d")
    row("refused checkouts/s", (st > 0 ? sr / st : 0), (pt > 0 ? pr / pt : 0), "%12.1f")
    row("checkout mean ms", m[1], pco, "%12.2f")
    row("return mean ms", m[2], pret, "%12.2f")
    row("refused checkout mean ms", m[3], pref, "%12.2f")
    row("SQL statements per cycle (1)", (sall > 0 ? s[1] / sall : 0), (pcy > 0 ? p[1] / pcy : 0), "%12.1f")
    row("database time per cycle ms (1)", (sall > 0 ? s[2] / sall : 0), (pcy > 0 ? p[2] / pcy : 0), "%12.3f")
    row2("machine CPU busy % (2)", sx[1], px[1], "%12d")
    row("CPU ms per cycle: PostgreSQL", sx[2], px[2], "%12.3f")
    printf "%-34s %12.3f %12s\n", "CPU ms per cycle: pretnum serve", sx[3], "-"
    row("CPU ms per cycle: clients", sx[4], px[4], "%12.3f")
    row2("other load on the machine, cores", sx[5], px[5], "%12.2f")
}'
echo
echo "pgbench means: the sum of its per-statement averages (-r). (1) pg_stat_statements: executions and their"
echo "time in PostgreSQL, BEGIN/COMMIT left out (two of each per cycle on both sides), refusals spread over the"
echo "cycles, the server's warm-up included. (2) /proc and getrusage over the whole run (the server's warm-up"
echo "included); clients = lending_load's threads or pgbench; other load = CPU used by anything else (other"
echo "jobs, interrupts): the comparison only holds when it is near 0. The server's statements:"
awk -F '\t' -v n="$SRV_RET_TOTAL" 'n > 0 && $2 / n >= 0.01 { printf "  %7.2f /cycle %8.3f ms  %s\n", (n > 0 ? $2 / n : 0), (n > 0 ? $3 / n : 0), $1 }' "$WORK/stmts.server" | head -30
echo
if [ -s "$WORK/perf.data" ]; then
    pr() { perf report -i "$WORK/perf.data" --stdio --no-children -g none "$@" 2>/dev/null | grep -v '^#' | grep -v '^$'; }
    echo "perf, $SECONDS_RUN s of the server (MHD-worker) and its PostgreSQL backends, self time by process and object:"
    pr --sort comm,dso | head -12
    echo "the server's top symbols:"
    pr --comm MHD-worker --sort dso,sym | head -15
    echo "PostgreSQL's top symbols:"
    pr --comm postgres --sort dso,sym | head -15
    echo
fi
awk -F '\t' '$1 == "status" { printf "  %-8s %3s %-22s %8d\n", $2, $3, $4, $5 }' "$WORK/http.tsv" | sort >"$WORK/statuses"
echo "server answers (measured window):"
cat "$WORK/statuses"
awk -F '\t' '$1 == "patron_cycles" { printf "cycles per patron: slowest %d, median %d, fastest %d (an uneven split of the connections between the server'"'"'s threads shows here)\n", $2, $3, $4 }' "$WORK/http.tsv"
say "checks: $CHECKS; pgbench failed transactions ${PGB_FAILED:-0}, loans left open $PGB_OPEN"
say "timings: HTTP $T_HTTP s, pgbench $T_PGB s, total $(since "$T_START") s"
[ "$ERRORS" = 0 ] || die "$ERRORS unexpected answers from the server (see above)"
[ "${PGB_FAILED:-0}" = 0 ] && [ "$PGB_OPEN" = 0 ] || die "the pgbench run went wrong: $(tail -5 "$WORK/pgbench.out")"
PACED_P=$(awk -F '\t' '$1 == "lat" && $2 == "checkout" { printf "%.2f %.2f", $4, $6 }' "$WORK/paced.tsv")
awk -F '\t' -v np="$NP" -v sc="$SRV_CPS" -v pc="$PGB_CPS" -v r="$RATIO" -v tr="$TARGET_RATIO" -v tp="$TARGET_P99" \
    -v pr="$PACED_RATE" -v pp="$PACED_P" '
$1 == "lat" { p50[$2] = $4; p99[$2] = $6 }
END {
    split(pp, q, " ")
    printf "lending: %d patrons, %s borrow+return cycles/s (pgbench %s cycles/s, ratio %s), saturated checkout p50 %.2f ms p99 %.2f ms, return p50 %.2f ms p99 %.2f ms; paced at %s cycles/s checkout p50 %.2f ms p99 %.2f ms (targets: ratio >= %s, p99 < %d ms)\n",
        np, sc, pc, r, p50["checkout"], p99["checkout"], p50["return"], p99["return"], pr, q[1], q[2], tr, tp
}' "$WORK/http.tsv"
