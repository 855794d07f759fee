#!/bin/sh
# Benchmark: tessera cluster vs scikit-learn KMeans(n_init=10),
# GaussianMixture and DBSCAN on simulated customers (not part of `make test`).
#   sh bench/bench_cluster.sh build/tessera            # 1M customers
#   BENCH_N=100000 sh bench/bench_cluster.sh build/tessera
# Env: BENCH_N, BENCH_K, BENCH_SEED, BENCH_SK_DBSCAN_N (see cluster_sklearn.py).
set -eu
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DIR=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Debian's interpreter: python3-sklearn is installed for it
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export OMP_WAIT_POLICY=PASSIVE
"$PY" "$DIR/cluster_sklearn.py" "$BIN" "$WORK"
