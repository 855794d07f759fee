#!/bin/sh
# The whole bundle: simulate 1M persons / ~10M transactions / ~1M
# interactions (BENCH_QUICK=1: 100k persons), then time `tessera analyze DIR`
# (ingest, summary, RFM, BG/NBD + Gamma-Gamma, clusters, profiles from all
# tables, segments, files, SQLite store) and the profile part alone, against
# pandas doing the profile aggregations (bench/bundle_pandas.py) on the same
# files. Wall and CPU (user + sys) seconds and peak memory: on a shared
# machine the CPU seconds are the stable figure.
# Usage: bench/bench_bundle.sh BUILD/tessera [WORKDIR]
set -eu
TSR=$1
W=${2:-${TMPDIR:-/tmp}/tsr_bench_bundle}
N=1000000
[ "${BENCH_QUICK:-0}" = 1 ] && N=100000
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench_bundle: /usr/bin/time missing (apt-get install time)"; exit 1; }
FMT="%e s wall, %U s user + %S s sys, %M KB peak"
mkdir -p "$W"
if [ ! -s "$W/b/transactions.csv" ] || [ "${BENCH_RESIM:-0}" = 1 ] || [ "$(cat "$W/b/.n" 2>/dev/null)" != "$N" ]; then
  rm -rf "$W/b"
  $TIME -f "simulate --bundle ($N persons): $FMT" "$TSR" simulate --bundle "$W/b" --customers "$N" \
    --transactions 12 --interactions 1.2 --seed 1 --quiet
  echo "$N" >"$W/b/.n"
fi
wc -l "$W/b"/*.csv | sed 's/^/  /'
rm -rf "$W/out" "$W/t.db"
$TIME -f "tessera analyze DIR (everything, SQLite store): $FMT" \
  "$TSR" analyze "$W/b" -o "$W/out" --db "$W/t.db" --quiet
$TIME -f "tessera analyze DIR --no-db --model none --cluster none (ingest + profiles + segments): $FMT" \
  "$TSR" analyze "$W/b" -o "$W/out2" --no-db --quiet --model none --cluster none
if python3 -c 'import pandas' 2>/dev/null; then
  $TIME -f "pandas, the profile aggregations only: $FMT" \
    python3 "$(dirname "$0")/bundle_pandas.py" "$W/b" "$W/pandas_profiles.csv"
else
  echo "pandas: not installed (python3-pandas), no peer"
fi
