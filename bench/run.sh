#!/bin/sh
# `make bench`: every benchmark, one after the other. Each is a self-contained script
# beside this one that starts what it needs, prints its tables and a closing summary
# line, and cleans up after itself. To add one, add its name to the list.
set -u
cd "$(dirname "$0")/.."

failed=""
for b in \
    search \
    lending \
    content \
    hls \
; do
    echo "==== bench/$b.sh"
    ./bench/"$b".sh || failed="$failed $b"
done
if [ -n "$failed" ]; then
    echo "bench: failed:$failed" >&2
    exit 1
fi
