#!/bin/sh
# The whole bundle (issue 12): simulate N persons (default 1,000,000: about
# 10.0M transactions and 1.0M interactions with --transactions 12
# --interactions 1.2), then time
#   1. tessera resolve customers.csv (entity resolution of ~1.03M records),
#   2. tessera analyze DIR --no-db (ingest, resolution and re-key,
#      anomalies, sentiment, summary, RFM, BG/NBD + Gamma-Gamma, churn and
#      next-best-product models, clusters, profiles, segments, files),
#   3. the same with the SQLite store (skip with BENCH_NO_DB_RUN=1),
#   4. pandas doing the profile aggregations (bench/bundle_pandas.py; skip
#      with BENCH_NO_PEER=1).
# Each line: wall seconds, CPU seconds (user + sys: the stable figure on a
# shared machine) and peak memory. Targets: analyze under 60 s on 2 cores,
# resolve of 1M records under 30 s.
# Usage: bench/bench_bundle.sh BUILD/tessera [WORKDIR] [N]
#   N may also come from BENCH_N; BENCH_QUICK=1 means N=100000. The bundle
#   is simulated once per N and seed 1 and reused (BENCH_RESIM=1 redoes it).
# The 1M analyze takes minutes of CPU and over 2 GB: run it on a quiet box.
set -eu
TSR=${1:?usage: bench_bundle.sh BUILD/tessera [WORKDIR] [N]}
W=${2:-${TMPDIR:-/tmp}/tsr_bench_bundle}
N=${3:-${BENCH_N:-1000000}}
[ "${BENCH_QUICK:-0}" = 1 ] && N=100000
case $TSR in /*) ;; *) TSR=$(pwd)/$TSR ;; esac
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench_bundle: /usr/bin/time missing (apt-get install time)"; exit 1; }
mkdir -p "$W"
# run LABEL CMD...: one timed line "LABEL: W s wall, C CPU s (U user + S sys), M MB peak"
run() {
  label=$1
  shift
  "$TIME" -f '%e %U %S %M' -o "$W/time.txt" "$@" || { echo "$label: FAILED (exit $?)"; return 1; }
  read -r el us sy kb <"$W/time.txt"
  awk -v l="$label" -v e="$el" -v u="$us" -v s="$sy" -v k="$kb" \
    'BEGIN{printf "%s: %.2f s wall, %.2f CPU s (%.2f user + %.2f sys), %.0f MB peak\n", l, e, u + s, u, s, k / 1024}'
}
if [ ! -s "$W/b/transactions.csv" ] || [ "${BENCH_RESIM:-0}" = 1 ] || [ "$(cat "$W/b/.n" 2>/dev/null)" != "$N" ]; then
  rm -rf "$W/b"
  run "simulate --bundle ($N persons)" "$TSR" simulate --bundle "$W/b" --customers "$N" \
    --transactions 12 --interactions 1.2 --seed 1 --quiet
  echo "$N" >"$W/b/.n"
fi
for f in customers transactions interactions products_events; do
  printf '  %-16s %10d rows\n' "$f" "$(($(wc -l <"$W/b/$f.csv") - 1))"
done
run "tessera resolve customers.csv" "$TSR" resolve "$W/b/customers.csv" -o "$W/mapping.csv" --quiet
rm -rf "$W/out" "$W/out_db" "$W/t.db"
run "tessera analyze DIR --no-db (everything but the store)" \
  "$TSR" analyze "$W/b" -o "$W/out" --no-db --quiet
if [ "${BENCH_NO_DB_RUN:-0}" != 1 ]; then
  run "tessera analyze DIR (everything, SQLite store)" \
    "$TSR" analyze "$W/b" -o "$W/out_db" --db "$W/t.db" --quiet
fi
if [ "${BENCH_NO_PEER:-0}" = 1 ]; then
  :
elif python3 -c 'import pandas' 2>/dev/null; then
  run "pandas, the profile aggregations only" \
    python3 "$(dirname "$0")/bundle_pandas.py" "$W/b" "$W/pandas_profiles.csv"
else
  echo "pandas: not installed (python3-pandas), no peer"
fi
