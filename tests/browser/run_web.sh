#!/bin/sh
# Browser test of `tessera serve` (ctest browser/web): run_web.sh TESSERA BUILD_DIR
# Starts the server on a free loopback port with a temporary database and an
# analyst account, then drives Debian's chromium with playwright-core
# (web.test.mjs). Screenshots go to BUILD_DIR/screenshots/web. Exit 77 (skip)
# only when node or chromium is missing.
set -eu
TSR=$1
BUILD=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null 2>&1 || [ ! -x "$CHROMIUM" ]; then
  echo "SKIP: node or $CHROMIUM missing"
  exit 77
fi
if [ ! -f "$SRC/node_modules/playwright-core/package.json" ]; then
  if [ -x "$SRC/scripts/vendor-js.sh" ]; then
    sh "$SRC/scripts/vendor-js.sh" >&2
  fi
  if [ ! -f "$SRC/node_modules/playwright-core/package.json" ]; then
    (cd "$SRC" && npm ci --no-audit --no-fund >&2 2>/dev/null || npm install --no-audit --no-fund >&2)
  fi
fi
T=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
export TESSERA_TEST_FAST_HASH=1 TESSERA_NO_PROGRESS=1
PW=browser-test-pass
printf '%s\n' "$PW" | "$TSR" user add ana --role analyst --db "$T/web.db"
"$TSR" simulate --customers 800 --seed 5 -o "$T/demo.csv" >/dev/null
"$TSR" simulate --bundle "$T/bundle" --customers 150 --seed 3 >/dev/null
"$TSR" serve --listen 127.0.0.1:0 --db "$T/web.db" >"$T/serve.out" 2>"$T/serve.err" &
PID=$!
i=0
while ! grep -q listening "$T/serve.out" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then echo "server did not start"; cat "$T/serve.err"; exit 1; fi
  sleep 0.05
done
URL=$(sed -n 's/^tessera: listening on //p' "$T/serve.out")
mkdir -p "$BUILD/screenshots/web"
cd "$SRC"
TSR_BIN=$TSR TSR_DB="$T/web.db" TSR_BUNDLE="$T/bundle" TSR_TMP="$T" \
TSR_URL=$URL TSR_USER=ana TSR_PASS=$PW TSR_TX="$T/demo.csv" TSR_SHOTS="$BUILD/screenshots/web" \
  TSR_PROFILE="$T/profile" CHROMIUM="$CHROMIUM" node tests/browser/web.test.mjs
