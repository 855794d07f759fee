#!/bin/sh
# make bench: the table of issue 18 (bench/perf_table.sh: summary, BG/NBD
# and Pareto/NBD fits, k-means, analyze end to end), each step against the
# peer a user would pick (pandas, scipy, scikit-learn), on the same data in
# one run, with the ratios. BENCH_ALL=1 adds the detailed benchmarks
# (every model, GMM/DBSCAN, the stores, the web server).
# Usage: bench/run.sh BUILD/tessera   (sizes: see bench/perf_table.sh)
set -u
TSR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")"
export OMP_WAIT_POLICY=PASSIVE
status=0
if [ "${BENCH_ALL:-0}" = 1 ]; then
  for b in bench_summary.sh bench_fit.sh bench_cluster.sh bench_store.sh bench_pg.sh bench_web.sh bench_bundle.sh bench_predict.sh bench_realtime.sh bench_pgext.sh; do
    [ -f "$b" ] || continue
    echo "=== $b"
    sh "$b" "$TSR" || { echo "bench: $b failed" >&2; status=1; }
    echo
  done
fi
sh perf_table.sh "$TSR" || { echo "bench: perf_table.sh failed" >&2; status=1; }
exit $status
