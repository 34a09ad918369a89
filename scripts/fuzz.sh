#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c with libFuzzer against build/fuzz/libpretnum.a and
# runs it for $1 seconds (default 60) on a scratch copy of its corpus. Crashes are left
# in build/fuzz/artifacts/; add the minimised ones to the committed corpus.
set -eu
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
# Optional names (e.g. thumb range) fuzz only those targets.
ONLY="$*"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PKGS="libmicrohttpd libpq libsodium libzip zlib jansson libxml-2.0 libavformat libavcodec libavutil libswresample libswscale libcurl libcrypto"
mkdir -p build/fuzz/bin build/fuzz/artifacts
status=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    short=${name#fuzz_}
    if [ -n "$ONLY" ] && ! echo " $ONLY " | grep -q " $short "; then continue; fi
    clang -std=c11 -O1 -g -D_GNU_SOURCE -Iinclude $(pkg-config --cflags $PKGS) \
        -fsanitize=fuzzer,address,undefined -o "build/fuzz/bin/$name" "$src" build/fuzz/libpretnum.a \
        $(pkg-config --libs $PKGS) -lpthread -lm
    work=$(mktemp -d)
    [ -d "tests/fuzz/corpus/$short" ] && cp -r "tests/fuzz/corpus/$short/." "$work/"
    dict=""
    [ -f "tests/fuzz/$short.dict" ] && dict="-dict=tests/fuzz/$short.dict"
    echo "fuzzing $name for ${SECONDS_EACH}s"
    # shellcheck disable=SC2086
    if ! "build/fuzz/bin/$name" "$work" $dict -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 \
        -artifact_prefix="build/fuzz/artifacts/$name-" -print_final_stats=1 2>"build/fuzz/$name.log"; then
        echo "$name: found a failure, see build/fuzz/$name.log and build/fuzz/artifacts/" >&2
        status=1
    fi
    grep -E "stat::number_of_executed_units|cov:" "build/fuzz/$name.log" | tail -2
    rm -rf "$work"
done
exit $status
