#!/bin/sh
# `make check`: starts a throwaway PostgreSQL, migrates a template database, runs every
# test program (cmocka TAP), every fuzz corpus replay and every shell test, stops the
# cluster and prints one closing line "N passed, N failed".
set -u
BUILD=${1:-build/san}
ROOT=$(pwd)
export PRETNUM_CORPUS=${PRETNUM_CORPUS:-$ROOT/../shared/corpus}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export PRETNUM_BIN=$ROOT/$BUILD/pretnum

PGDIR=$(mktemp -d /tmp/pretnum-check.XXXXXX)
chmod 0755 "$PGDIR"
OUT=$(mktemp -d /tmp/pretnum-out.XXXXXX)
# Signing keys and files the tests' servers make go here, never into ./var.
export PRETNUM_DATA_DIR=$OUT/data
cleanup() {
    "$ROOT/scripts/pgcluster.sh" stop "$PGDIR"
    rm -rf "$PGDIR" "$OUT"
}
trap cleanup EXIT INT TERM

PRETNUM_PG_FSYNC=off "$ROOT/scripts/pgcluster.sh" init "$PGDIR" || exit 1
"$ROOT/scripts/pgcluster.sh" start "$PGDIR" || exit 1
export PRETNUM_TEST_PGDIR=$PGDIR
export PRETNUM_TEST_PG="host=$PGDIR/sock user=pretnum"
export PRETNUM_TEST_PGCTL="$ROOT/scripts/pgcluster.sh"

psql -X -q -v ON_ERROR_STOP=1 "$PRETNUM_TEST_PG dbname=postgres" -c "CREATE DATABASE pretnum_tmpl" || exit 1
PRETNUM_DATABASE_URL="$PRETNUM_TEST_PG dbname=pretnum_tmpl" "$PRETNUM_BIN" migrate >/dev/null || {
    echo "check: migrating the template database failed" >&2; exit 1; }

passed=0
failed=0
count() { # $1 = TAP file, $2 = exit code, $3 = name
    p=$(grep -c '^ok ' "$1")
    f=$(grep -c '^not ok ' "$1")
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $3 exited with status $2" >>"$1"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    grep -E '^(not ok|ok) ' "$1" | sed "s|^|$3: |"
    if [ "$f" -ne 0 ]; then
        echo "---- output of $3 ----"
        cat "$1" "$1.err" 2>/dev/null | tail -60
        echo "----"
    fi
}

export PRETNUM_BUILD=$BUILD
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    "$t" >"$OUT/$n" 2>"$OUT/$n.err"
    count "$OUT/$n" $? "$n"
done

for t in "$BUILD"/fuzz-replay/fuzz_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    name=${n#fuzz_}
    set -- "tests/fuzz/corpus/$name"
    if [ -f "tests/fuzz/corpus/$name.extra" ]; then
        while read -r rel; do
            [ -n "$rel" ] && set -- "$@" "$PRETNUM_CORPUS/$rel"
        done <"tests/fuzz/corpus/$name.extra"
    fi
    "$t" "$@" >"$OUT/$n" 2>"$OUT/$n.err"
    count "$OUT/$n" $? "$n"
done

for t in tests/sh/test_*.sh; do
    [ -f "$t" ] || continue
    n=$(basename "$t" .sh)
    sh "$t" >"$OUT/$n" 2>"$OUT/$n.err"
    count "$OUT/$n" $? "$n"
done

# The JavaScript side: independent implementations and parsers, and the browser tests.
for t in tests/js/test_*.mjs; do
    [ -f "$t" ] || continue
    n=$(basename "$t" .mjs)_js
    node "$t" >"$OUT/$n" 2>"$OUT/$n.err"
    count "$OUT/$n" $? "$n"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
