#!/bin/sh
# Store insert benchmark (not a test): builds bench/bench_store.c against the
# Release libtessera.a and reports customers rows/s and events/s.
# Usage: sh bench/bench_store.sh [N_CUSTOMERS] [DB_PATH]   (run `make` first)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
OUT=$BUILD/bench_store
cc -std=c11 -O2 -D_GNU_SOURCE -I"$SRC/include" "$SRC/bench/bench_store.c" \
  "$BUILD/libtessera.a" $(pkg-config --libs sqlite3 jansson gsl) -lpthread -lm -o "$OUT"
"$OUT" "$@"
