#!/bin/sh
# Search latency over a synthetic catalogue (`make bench`).
#
# Starts its own PostgreSQL, loads BENCH_TITLES (1,000,000) generated titles with COPY,
# serves them with bin/pretnum, and times ~20 searches of the kind patrons type through
# HTTP (bench/latency.c, one keep-alive client). The reference, in the same run: pgbench
# (-c 1) running the SQL the server ran for each search, parameters written in as
# literals (bench/stmt_sql.c prints it from lending/statements.c itself). Prints a table
# per search and the ratio server / pgbench, and cleans everything up on exit.
#
#   BENCH_TITLES=1000000  BENCH_REPEAT=50  BENCH_WARMUP=3  BENCH_BUDGET_MS=4000 (per search:
#   fewer timed requests, at least 3, for a slow one; see bench/latency.c)
#   BENCH_SEED=42  BENCH_EXPLAIN=1 (EXPLAIN ANALYZE of searches slower than the target)
#   BENCH_KEEP=1 (leave the cluster running and its directory in place, to investigate)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. "$ROOT/bench/lib.sh"
N=${BENCH_TITLES:-1000000}
REPEAT=${BENCH_REPEAT:-50}
WARMUP=${BENCH_WARMUP:-3}
BUDGET=${BENCH_BUDGET_MS:-4000}
SEED=${BENCH_SEED:-42}
TARGET_P95=50
PGBIN=/usr/lib/postgresql/15/bin
PRETNUM=$ROOT/bin/pretnum

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '%s\n' "search: $*"; }
die() { printf '%s\n' "search: $*" >&2; exit 1; }

[ -x "$PRETNUM" ] || die "bin/pretnum is missing (run make)"
[ -x "$PGBIN/pgbench" ] || die "$PGBIN/pgbench is missing (postgresql-contrib, scripts/install-deps.sh)"
command -v psql >/dev/null 2>&1 || die "psql is missing (scripts/install-deps.sh)"

T_START=$(now)
WORK=$(mktemp -d /tmp/pretnum-bench.XXXXXX)
chmod 0755 "$WORK"
PGDIR=$WORK/pg
SERVER_PID=""
PG_STARTED=""
cleanup() {
    status=$?
    trap - EXIT INT TERM
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
CFLAGS="-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra"
gcc $CFLAGS -o "$WORK/gen_titles" bench/gen_titles.c -lm
gcc $CFLAGS -o "$WORK/latency" bench/latency.c $(pkg-config --cflags --libs libcurl)
gcc $CFLAGS -Iinclude -Ilending $(pkg-config --cflags libpq jansson) -o "$WORK/stmt_sql" \
    bench/stmt_sql.c lending/statements.c

# ---- PostgreSQL: the cluster `make run` makes, fsync off as in `make check`
PRETNUM_PG_FSYNC=off "$ROOT/scripts/pgcluster.sh" init "$PGDIR" || die "initdb failed"
"$ROOT/scripts/pgcluster.sh" start "$PGDIR" || die "PostgreSQL did not start"
PG_STARTED=1
CONN="host=$PGDIR/sock user=pretnum dbname=bench"
# psql and pgbench get the settings the server makes on each of its connections
SESSION=$(sed -n 's/.*PQexec([a-z>-]*conn, "SET \([a-z_.]*\) *= *\([^"]*\)").*/-c \1=\2/p' lending/db.c | paste -sd' ' -)
export PGOPTIONS="-c client_min_messages=error $SESSION"
sql() { psql -X -q -v ON_ERROR_STOP=1 "$CONN" "$@"; }
psql -X -q -v ON_ERROR_STOP=1 "host=$PGDIR/sock user=pretnum dbname=postgres" -c "CREATE DATABASE bench"
# For the load only (no checkpoints in the middle); query-time settings stay pgcluster's.
sql -c "ALTER SYSTEM SET max_wal_size = '16GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" \
    -c "SELECT pg_reload_conf()" >/dev/null
PRETNUM_DATABASE_URL=$CONN "$PRETNUM" migrate >/dev/null || die "pretnum migrate failed"
PGVER=$(psql -X -At "$CONN" -c "SHOW server_version")

# ---- load
# The migration's secondary indexes are dropped, the rows COPYed in parallel, then the
# indexes re-made from their own definitions (pg_get_indexdef) and compared.
COLS="kind, title, creators, creator_names, language, publisher, published, description, subjects,"
COLS="$COLS file_sha256, file_path, file_size, media_type, duration_s, created_at"
IDX_QUERY="SELECT c.relname, pg_get_indexdef(i.indexrelid), coalesce(obj_description(i.indexrelid, 'pg_class'), '')
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE i.indrelid = 'title'::regclass AND NOT i.indisprimary AND NOT i.indisunique ORDER BY 1"
psql -X -At -F '	' "$CONN" -c "$IDX_QUERY" >"$WORK/indexes.before"
[ -s "$WORK/indexes.before" ] || die "no indexes on title?"
sql -c "DROP INDEX $(cut -f1 "$WORK/indexes.before" | paste -sd, -)"

JOBS=$(nproc 2>/dev/null || echo 2)
[ "$JOBS" -gt 4 ] && JOBS=4
[ "$JOBS" -lt 1 ] && JOBS=1
say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%d", $2 / 1048576 }' /proc/meminfo) GiB, load average $(cut -d' ' -f1-3 /proc/loadavg) (other work skews the timings; the ratio less)"
say "loading $N titles ($JOBS COPY streams) into PostgreSQL $PGVER"
T0=$(now)
pids=""
s=0
while [ "$s" -lt "$JOBS" ]; do
    ("$WORK/gen_titles" "$N" "$SEED" "$s" "$JOBS" | sql -c "\\copy title ($COLS) FROM STDIN") &
    pids="$pids $!"
    s=$((s + 1))
done
for p in $pids; do wait "$p" || die "COPY failed"; done
T_COPY=$(since "$T0")

T0=$(now)
# Two sessions build the indexes side by side, the largest first in each.
: >"$WORK/idx.0.sql"
: >"$WORK/idx.1.sql"
k=0
while IFS='	' read -r name def comment; do
    f="$WORK/idx.$((k % 2)).sql"
    [ -s "$f" ] || echo "SET maintenance_work_mem = '1GB';" >"$f"
    printf '%s;\n' "$def" >>"$f"
    [ -n "$comment" ] && printf "COMMENT ON INDEX %s IS '%s';\n" "$name" "$(printf '%s' "$comment" | sed "s/'/''/g")" >>"$f"
    k=$((k + 1))
done <<EOF
$(grep 'USING gin' "$WORK/indexes.before"; grep -v 'USING gin' "$WORK/indexes.before")
EOF
sql -f "$WORK/idx.0.sql" &
p0=$!
[ -s "$WORK/idx.1.sql" ] && sql -f "$WORK/idx.1.sql"
wait "$p0" || die "CREATE INDEX failed"
psql -X -At -F '	' "$CONN" -c "$IDX_QUERY" >"$WORK/indexes.after"
cmp -s "$WORK/indexes.before" "$WORK/indexes.after" || die "the indexes re-made differ from the migration's"
T_INDEX=$(since "$T0")

T0=$(now)
sql -c "VACUUM ANALYZE title"
T_VACUUM=$(since "$T0")
COUNT=$(psql -X -At "$CONN" -c "SELECT count(*) FROM title")
[ "$COUNT" = "$N" ] || die "loaded $COUNT titles, not $N"
SIZES=$(psql -X -At "$CONN" -c "SELECT format('table %s, indexes %s (full text %s, trigram %s)',
    pg_size_pretty(pg_table_size('title')), pg_size_pretty(pg_indexes_size('title')),
    pg_size_pretty(pg_relation_size('title_search_idx')), pg_size_pretty(pg_relation_size('title_search_text_idx')))")
say "load: COPY $T_COPY s ($(awk -v n="$N" -v t="$T_COPY" 'BEGIN { printf "%d", n / (t > 0 ? t : 1) }') rows/s, generated columns included), indexes $T_INDEX s, VACUUM ANALYZE $T_VACUUM s"
say "size: $SIZES"

# ---- server
mkdir -p "$WORK/data"
: >"$WORK/server.log"
PRETNUM_DATABASE_URL=$CONN PRETNUM_PORT=0 PRETNUM_DATA_DIR=$WORK/data "$PRETNUM" serve 2>"$WORK/server.log" &
SERVER_PID=$!
URL=$(wait_for_url "$WORK/server.log" "$SERVER_PID") || die "the server did not start"

# ---- searches: name, q, kind, language, page
: >"$WORK/queries"
query() { printf '%s|%s|%s|%s|%s\n' "$1" "$2" "${3:-}" "${4:-}" "${5:-}" >>"$WORK/queries"; }
query "exact title"         "Les Misérables"
query "unaccented"          "les miserables"
query "accented word"       "misérables"
query "author surname"      "hugo"
query "author full name"    "Victor Hugo"
query "hyphenated title"    "Notre-Dame de Paris"
query "title fr"            "Le Petit Prince"
query "author hyphenated"   "saint-exupéry"
query "title en"            "Pride and Prejudice"
query "author en"           "austen"
query "title, ebooks"       "Madame Bovary" ebook
query "fr stem"             "chevaux"
query "en stem"             "running"
query "two words"           "jardin secret"
query "typo 1"              "miserbles"
query "typo 2"              "flaubrt"
query "prefix"              "petit pri"
query "not in catalogue"    "harry potter"
query "common word"         "amour"
query "common word, p5"     "amour" "" "" 5
query "common, audio fr"    "nuit" audio fr
query "common en, en"       "love" "" en
query "browse video"        "" video

say "server $URL; $(wc -l <"$WORK/queries") searches, $WARMUP warm-up + up to $REPEAT timed requests each (${BUDGET} ms budget)"
T0=$(now)
LATENCY_RAW="$WORK/server.raw" "$WORK/latency" "$URL" "$REPEAT" "$WARMUP" "$BUDGET" <"$WORK/queries" \
    >"$WORK/server.tsv" 2>"$WORK/latency.err" || { cat "$WORK/latency.err" >&2; die "the HTTP client failed"; }
T_HTTP=$(since "$T0")

# ---- reference: pgbench on the same SQL, as many times (and warm-ups) as the server had
T0=$(now)
: >"$WORK/pgbench.raw"
: >"$WORK/rows.tsv"
line=0
while IFS="|" read -r name q kind lang page; do
    line=$((line + 1))
    res=$(sed -n "${line}p" "$WORK/server.tsv")
    n=$(printf '%s' "$res" | cut -f2)
    hits=$(printf '%s' "$res" | cut -f9)
    match=$(printf '%s' "$res" | cut -f10)
    warm=$(printf '%s' "$res" | cut -f11)
    p1=${q:-\\N}
    p2=${kind:-\\N}
    p3=${lang:-\\N}
    offset=$(((${page:-1} - 1) * 20))
    # the words as typed, the last a prefix, as lend_titles_search builds them
    pq=$(printf '%s' "$q" | LC_ALL=C awk '{
        n = 0; out = ""
        while (match($0, /[A-Za-z0-9\200-\377]+/)) {
            out = out (n++ ? " & " : "") "'\''" substr($0, RSTART, RLENGTH) "'\''"
            $0 = substr($0, RSTART + RLENGTH)
        }
        if (n) printf "%s:*", out }')
    case "$match" in
    text) stmts="titles_text" ;;
    prefix) stmts="titles_text titles_prefix" ;; # the server tried full text first
    similar) stmts="titles_text${pq:+ titles_prefix} titles_similar" ;;
    all) stmts="titles_all" ;;
    *) die "$name: unknown match \"$match\"" ;;
    esac
    script="$WORK/q$line.sql"
    : >"$script"
    for st in $stmts; do
        a=$p1
        [ "$st" = titles_prefix ] && a=$pq
        "$WORK/stmt_sql" "$st" "$a" "$p2" "$p3" 20 "$offset" false '\N' '\N' >>"$script"
    done
    # the same total from the same SQL, or the comparison is void
    a=$p1
    [ "${stmts##* }" = titles_prefix ] && a=$pq
    last=$("$WORK/stmt_sql" "${stmts##* }" "$a" "$p2" "$p3" 20 "$offset" false '\N' '\N')
    sqltotal=$(printf '%s\n' "$last" | psql -X -At -F '|' "$CONN" | head -1 | cut -d'|' -f1)
    [ "$sqltotal" = "$hits" ] || die "$name: the server found $hits, its SQL finds $sqltotal"
    rm -f "$WORK"/pgblog.*
    "$PGBIN/pgbench" -n -c 1 -t $((n + warm)) -f "$script" -l --log-prefix="$WORK/pgblog" \
        -h "$PGDIR/sock" -U pretnum bench >"$WORK/pgbench.out" 2>&1 ||
        { cat "$WORK/pgbench.out" >&2; die "$name: pgbench failed"; }
    # log lines: client transaction latency_us ...; the warm-up ones left out
    cat "$WORK"/pgblog.* | tail -n +$((warm + 1)) |
        awk -v name="$name" '{ printf "%s\t%.3f\n", name, $3 / 1000 }' >"$WORK/pgb_raw"
    cat "$WORK/pgb_raw" >>"$WORK/pgbench.raw"
    ref=$(cut -f2 "$WORK/pgb_raw" | sort -n | awk '{ v[NR] = $1; s += $1 }
        function pct(p,  k) { k = int(p / 100 * NR + 0.999999); if (k < 1) k = 1; return v[k] }
        END { printf "%.3f\t%.3f\t%.3f", s / NR, pct(50), pct(95) }')
    filters=""
    [ -n "$kind" ] && filters="kind=$kind"
    [ -n "$lang" ] && filters="${filters:+$filters,}language=$lang"
    [ -n "$page" ] && filters="${filters:+$filters,}page=$page"
    # server: name n p50 p95 p99 mean min max total match warmups | pgbench: mean p50 p95 | filters q stmts
    printf '%s\t%s\t%s\t%s\t%s\n' "$res" "$ref" "${filters:--}" "$q" "$stmts" >>"$WORK/rows.tsv"
    if [ -n "${BENCH_EXPLAIN:-}" ] && awk -v p="$(printf '%s' "$res" | cut -f4)" -v t="$TARGET_P95" 'BEGIN { exit !(p > t) }'; then
        echo "---- EXPLAIN (ANALYZE, BUFFERS) $name: ${stmts##* } q='$q' $filters" >>"$WORK/explain.txt"
        printf 'EXPLAIN (ANALYZE, BUFFERS) %s\n' "$last" | psql -X -At "$CONN" >>"$WORK/explain.txt"
    fi
done <"$WORK/queries"
T_PGB=$(since "$T0")

# ---- report
# Over all searches, each weighing the same however many times it ran: mean p50 p95
overall() {
    awk -F '\t' '{ c[$1]++; name[NR] = $1; v[NR] = $2 }
        END { for (i = 1; i <= NR; i++) printf "%s\t%.9f\n", v[i], 1 / c[name[i]] }' "$1" | sort -g |
    awk -F '\t' '{ v[NR] = $1; w[NR] = $2; tw += $2; s += $1 * $2 }
        function pct(p,  i, acc) { acc = 0; for (i = 1; i <= NR; i++) { acc += w[i]; if (acc >= p / 100 * tw - 1e-9) return v[i] } return v[NR] }
        END { printf "%.3f\t%.3f\t%.3f", s / tw, pct(50), pct(95) }'
}
SRV_ALL=$(overall "$WORK/server.raw")
PG_ALL=$(overall "$WORK/pgbench.raw")
NREQ=$(wc -l <"$WORK/server.raw")

LINE="----------------------------------------------------------------------------------------------------------------------"
echo
echo "Search latency over $N titles, in ms. srv: GET /api/v1/titles, HTTP keep-alive, one client."
echo "pgb: pgbench -c 1 running the SQL the server ran, parameters as literals (a 'similar' search"
echo "ran titles_text, found nothing, then titles_similar: both). ratio = srv p50 / pgb p50."
echo
awk -F '\t' -v target="$TARGET_P95" -v line="$LINE" '
BEGIN {
    printf "%-18s %-7s %6s %3s | %7s %7s %7s | %7s %7s %7s | %6s  %s\n", "search", "match", "hits", "n",
        "srv p50", "srv p95", "mean", "pgb p50", "pgb p95", "mean", "ratio", "q (filters)"
    print line
}
{
    ratio = $13 > 0 ? $3 / $13 : 0
    slow = $4 > target ? "  SLOW" : ""
    printf "%-18s %-7s %6s %3d | %7.2f %7.2f %7.2f | %7.2f %7.2f %7.2f | %6.2f  \"%s\"%s%s\n", $1, $10, $9, $2,
        $3, $4, $6, $13, $14, $12, ratio, $16, ($15 == "-" ? "" : " (" $15 ")"), slow
}' "$WORK/rows.tsv"
echo "$LINE"
printf '%s\t%s\n' "$SRV_ALL" "$PG_ALL" | awk -F '\t' -v nreq="$NREQ" '{
    printf "%-18s %-7s %6s %3s | %7.2f %7.2f %7.2f | %7.2f %7.2f %7.2f | %6.2f  (%d requests; each search weighs the same)\n",
        "all searches", "", "", "", $2, $3, $1, $5, $6, $4, ($5 > 0 ? $2 / $5 : 0), nreq
}'
echo
if [ -s "$WORK/explain.txt" ]; then
    cat "$WORK/explain.txt"
    echo
fi
SLOW=$(awk -F '\t' -v t="$TARGET_P95" '$4 > t { printf "%s%s", sep, $1; sep = "; " }' "$WORK/rows.tsv")
say "time: load $T_COPY s, indexes $T_INDEX s, vacuum $T_VACUUM s, HTTP $T_HTTP s, pgbench $T_PGB s, total $(since "$T_START") s"
[ -z "$SLOW" ] || say "p95 above $TARGET_P95 ms: $SLOW"
printf '%s\t%s\n' "$SRV_ALL" "$PG_ALL" | awk -F '\t' -v n="$N" -v target="$TARGET_P95" '{
    printf "search: %d titles, p50 %.2f ms, p95 %.2f ms (target p95 < %d ms), server/pgbench ratio %.2f (p50; means %.2f)\n",
        n, $2, $3, target, ($5 > 0 ? $2 / $5 : 0), ($4 > 0 ? $1 / $4 : 0)
}'
