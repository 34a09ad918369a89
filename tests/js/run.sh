#!/bin/sh
# Optional cross-check of lending/paseto.c against the paseto npm package (an independent
# implementation on Node's Ed25519). Skips cleanly, with exit status 0, when node or
# tests/js/node_modules is absent; install it once with `cd tests/js && npm ci`.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
if ! command -v node >/dev/null 2>&1 || [ ! -d tests/js/node_modules/paseto ]; then
    echo "1..0 # SKIP paseto cross-check: node or tests/js/node_modules absent (cd tests/js && npm ci)"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
${CC:-gcc} -std=c11 -D_GNU_SOURCE -Iinclude -O1 -g $(pkg-config --cflags libsodium jansson) \
    -o "$work/paseto_cli" tests/js/paseto_cli.c lending/paseto.c $(pkg-config --libs libsodium jansson)
node tests/js/crosscheck.mjs "$work/paseto_cli"
