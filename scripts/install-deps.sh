#!/bin/sh
# Installs the Debian 12 packages Pretnum builds, runs and tests with, and nothing
# that is already there. Used by `make run`, `make check` and CI alike, so that a
# package a developer installed by hand can never hide a missing line here.
set -eu

PKGS="build-essential pkg-config git ca-certificates
libmicrohttpd-dev libpq-dev libsodium-dev libzip-dev libjansson-dev libxml2-dev
libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
postgresql-15 postgresql-contrib postgresql-common
libcmocka-dev libcurl4-openssl-dev curl
clang libclang-rt-14-dev
ffmpeg zip unzip"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

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
