#!/bin/sh
# Benchmark: uplift training time (T- and X-learner, 5-fold cross-fitting,
# 100 rounds of XGBoost each) on a simulated bundle with BENCH_N customers
# (default 1,000,000; the campaign holds about 20% of them), and the
# evaluation against the simulator's true effect. Not part of `make test`.
#   sh bench/bench_uplift.sh build/tessera
#   BENCH_N=100000 sh bench/bench_uplift.sh build/tessera
set -eu
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
N=${BENCH_N:-1000000}
THREADS=${BENCH_THREADS:-2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE TESSERA_NO_PROGRESS=1
t0=$(date +%s.%N)
"$BIN" simulate --bundle "$WORK/b" --latent "$WORK/lat" --customers "$N" --seed 7 >/dev/null 2>&1
t1=$(date +%s.%N)
echo "bench_uplift: $N customers, $(($(wc -l <"$WORK/b/campaign.csv") - 1)) campaign rows; bundle simulated in $(echo "$t1 - $t0" | bc) s; $(nproc) cores, $THREADS XGBoost threads"
for L in t x; do
  s0=$(date +%s.%N)
  "$BIN" uplift "$WORK/b" --learner "$L" --threads "$THREADS" --truth "$WORK/lat/campaign_truth.csv" -o "$WORK/u.csv" >"$WORK/out.$L"
  s1=$(date +%s.%N)
  echo "  $L-learner: $(echo "$s1 - $s0" | bc) s wall (features, 5-fold training, scoring all customers, evaluation)"
  grep -E "Qini coefficient|Spearman|training and cross-fitted" "$WORK/out.$L" | sed 's/^/    /'
done
