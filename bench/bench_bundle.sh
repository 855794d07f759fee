#!/bin/sh
# The whole bundle: simulate 1M persons / ~10M transactions / ~1M
# interactions (BENCH_QUICK=1: 100k), then time `tessera analyze DIR`
# (ingest, summary, RFM, BG/NBD + Gamma-Gamma, clusters, profiles from all
# tables, segments, files, SQLite store) against pandas doing the profile
# aggregations alone (bench/bundle_pandas.py), on the same files.
# Usage: bench/bench_bundle.sh BUILD/tessera [WORKDIR]
set -eu
TSR=$1
W=${2:-${TMPDIR:-/tmp}/tsr_bench_bundle}
N=1000000
[ "${BENCH_QUICK:-0}" = 1 ] && N=100000
mkdir -p "$W"
rm -rf "$W/b" "$W/out" "$W/t.db"
t0=$(date +%s.%N)
"$TSR" simulate --bundle "$W/b" --customers "$N" --transactions 12 --interactions 1.2 --seed 1 --quiet
t1=$(date +%s.%N)
wc -l "$W/b"/*.csv | sed 's/^/  /'
echo "simulate --bundle: $(echo "$t1 - $t0" | bc) s"
t0=$(date +%s.%N)
"$TSR" analyze "$W/b" -o "$W/out" --db "$W/t.db" --quiet
t1=$(date +%s.%N)
TA=$(echo "$t1 - $t0" | bc)
echo "tessera analyze DIR (all tables, profiles, segments, store): $TA s"
t0=$(date +%s.%N)
"$TSR" analyze "$W/b" -o "$W/out" --no-db --quiet --model none --cluster none
t1=$(date +%s.%N)
TP=$(echo "$t1 - $t0" | bc)
echo "tessera analyze DIR --no-db --model none --cluster none: $TP s"
if python3 -c 'import pandas' 2>/dev/null; then
  t0=$(date +%s.%N)
  python3 "$(dirname "$0")/bundle_pandas.py" "$W/b" "$W/pandas_profiles.csv"
  t1=$(date +%s.%N)
  TPD=$(echo "$t1 - $t0" | bc)
  echo "pandas profile aggregations only: $TPD s (ratio pandas / tessera without models: $(echo "scale=2; $TPD / $TP" | bc))"
else
  echo "pandas: not installed (python3-pandas), no ratio"
fi
