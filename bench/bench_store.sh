#!/bin/sh
# Store insert benchmark (not a test): builds bench/bench_store.c against
# libtessera.a and reports customers rows/s (insert, and with the commit) and
# event appends/s.
# Usage: sh bench/bench_store.sh [BUILD/tessera] [N_CUSTOMERS] [DB_PATH]
#   (run `make` first; default N 1000000, 200000 with BENCH_QUICK=1;
#    bench/run.sh passes the tessera binary, whose folder holds libtessera.a)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
if [ $# -gt 0 ] && [ -x "$1" ] && [ ! -d "$1" ]; then
  BUILD=$(cd "$(dirname "$1")" && pwd)
  shift
fi
N=${1:-}
if [ -z "$N" ]; then
  if [ "${BENCH_QUICK:-0}" = 1 ]; then N=200000; else N=1000000; fi
fi
[ $# -gt 0 ] && shift
OUT=$BUILD/bench_store
cc -std=c11 -O2 -D_GNU_SOURCE -I"$SRC/include" "$SRC/bench/bench_store.c" \
  "$BUILD/libtessera.a" $(pkg-config --libs sqlite3 libpq jansson gsl) -lpthread -lm -o "$OUT"
"$OUT" "$N" "$@"
