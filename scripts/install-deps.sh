#!/bin/sh
# Installs the Debian packages tessera builds, tests and benchmarks with.
# Idempotent: installs only what is missing; does nothing when all is there.
# Usage: scripts/install-deps.sh [--all]   (--all adds benchmark/browser peers)
set -eu

BUILD_PKGS="build-essential cmake pkg-config libgsl-dev libsqlite3-dev sqlite3 libjansson-dev libcmocka-dev python3 openssl libhiredis-dev redis-server"
EXTRA_PKGS="libpq-dev postgresql postgresql-server-dev-15 libmicrohttpd-dev libsodium-dev libxgboost-dev libhiredis-dev clang libclang-rt-14-dev"
PEER_PKGS="python3-pandas python3-sklearn python3-scipy chromium wrk curl"

pkgs="$BUILD_PKGS $EXTRA_PKGS"
if [ "${1:-}" = "--all" ]; then pkgs="$pkgs $PEER_PKGS"; fi

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
# node/npm only when absent (a machine may carry its own newer npm)
if [ "${1:-}" = "--all" ] && ! command -v npm >/dev/null 2>&1; then
  missing="$missing nodejs npm"
fi

if [ -z "$missing" ]; then
  exit 0
fi

echo "tessera: installing Debian packages:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
