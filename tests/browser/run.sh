#!/bin/sh
# Runs one browser test (tests/browser/*.test.mjs) under node with
# playwright-core driving headless Chromium. Exit 77 (ctest SKIP) only when
# node or chromium is missing; a missing playwright-core is a failure (the
# build vendors it with npm: scripts/vendor-js.sh).
# Usage: run.sh NODE CHROMIUM TEST.mjs TESSERA OUTDIR
set -u
NODE=$1 CHROMIUM=$2 TEST=$3 TSR=$4 OUT=$5
case "$NODE" in ""|*NOTFOUND) echo "SKIP: node not found"; exit 77;; esac
case "$CHROMIUM" in ""|*NOTFOUND) echo "SKIP: chromium not found"; exit 77;; esac
[ -x "$NODE" ] || { echo "SKIP: node not found"; exit 77; }
[ -x "$CHROMIUM" ] || { echo "SKIP: chromium not found"; exit 77; }
SRC=${TSR_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ ! -f "$SRC/node_modules/playwright-core/package.json" ]; then
  echo "FAIL: $SRC/node_modules/playwright-core missing: run scripts/vendor-js.sh (needs npm)"
  exit 1
fi
mkdir -p "$OUT"
TSR_TESSERA=$TSR TSR_CHROMIUM=$CHROMIUM TSR_OUT=$OUT TSR_SOURCE_DIR=$SRC exec "$NODE" "$TEST"
