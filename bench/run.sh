#!/bin/sh
# make bench: every benchmark, each against the peer a user would pick
# (pandas, scipy, scikit-learn), on the same data in one run, with ratios.
# Usage: bench/run.sh BUILD/tessera   (BENCH_QUICK=1 for smaller sizes)
set -u
TSR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")"
export OMP_WAIT_POLICY=PASSIVE
status=0
for b in bench_summary.sh bench_fit.sh bench_cluster.sh bench_resolve.sh bench_store.sh bench_pg.sh bench_web.sh; do
  [ -f "$b" ] || continue
  echo "=== $b"
  sh "$b" "$TSR" || { echo "bench: $b failed" >&2; status=1; }
  echo
done
exit $status
