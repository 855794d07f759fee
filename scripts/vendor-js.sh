#!/bin/sh
# Vendors the report's JavaScript from npm (package.json + package-lock.json)
# into node_modules/ at build time: chart.js, chartjs-chart-matrix (embedded
# into the tessera binary by cmake/gen_assets.cmake) and playwright-core
# (the browser tests' driver). Called by the build (CMake) before the assets
# are generated; safe to run by hand.
#
# Never fails the build: without npm, or when the install fails (offline),
# it warns and exits 0; an existing node_modules/ is then used as it is, and
# with none the report is written without charts (see docs/report.md).
# Usage: scripts/vendor-js.sh [SOURCE_DIR]
set -u
cd "${1:-$(dirname "$0")/..}" || exit 0

want="node_modules/chart.js/dist/chart.umd.min.js node_modules/chartjs-chart-matrix/dist/chartjs-chart-matrix.min.js node_modules/playwright-core/package.json"

# Up to date: npm writes node_modules/.package-lock.json on every install.
uptodate=1
for f in $want node_modules/.package-lock.json; do
  [ -f "$f" ] || uptodate=0
done
if [ "$uptodate" = 1 ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "tessera: warning: npm not found; the HTML report is built without charts (install npm and rebuild)" >&2
  exit 0
fi

echo "tessera: vendoring JavaScript from npm (npm ci)" >&2
if npm ci --no-audit --no-fund --loglevel=error >&2 ||
   npm install --no-audit --no-fund --loglevel=error >&2; then
  exit 0
fi
echo "tessera: warning: npm install failed (offline?); using node_modules as it is" >&2
exit 0
