#!/bin/sh
# Installs the Debian 12 packages Pretnum builds, runs and tests with, and nothing
# that is already there. Used by `make run`, `make check` and CI alike, so that a
# package a developer installed by hand can never hide a missing line here.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config git ca-certificates
libmicrohttpd-dev libpq-dev libsodium-dev libzip-dev zlib1g-dev libjansson-dev libxml2-dev
libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev
postgresql-15 postgresql-contrib postgresql-common
libcmocka-dev libcurl4-openssl-dev libssl-dev curl
clang libclang-rt-14-dev
ffmpeg zip unzip
default-jre-headless epubcheck chromium"

# The JavaScript side (the portal's libraries and the browser tests) needs Node.js and
# npm; Debian's nodejs/npm when the machine has neither.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"

# `install-deps.sh bench` adds the references the benchmarks measure against.
[ "${1:-}" = bench ] && PKGS="$PKGS nginx-light wrk hyperfine"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
npm_deps() {
    # npm packages pinned in each package-lock.json, installed again only when the lock
    # file changed; never fetched at run time.
    for dir in tests/js web; do
        [ -f "$dir/package-lock.json" ] || continue
        if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
           [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
            echo "installing npm packages in $dir" >&2
            (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || exit 1
        fi
    done
}

if [ -z "$missing" ]; then
    npm_deps
    exit 0
fi

echo "installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install:$missing" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
npm_deps
