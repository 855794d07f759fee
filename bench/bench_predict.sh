#!/bin/sh
# Churn and next-best-product benchmark (not a test): a `tessera simulate
# --bundle` of N persons; tessera's XGBoost churn model vs scikit-learn's
# HistGradientBoostingClassifier on the same features and split (AUC, time
# ratio); scoring 1M rows; SHAP; `tessera recommend` end to end.
#   sh bench/bench_predict.sh build/tessera            # N = 200000
#   BENCH_N=50000 BENCH_SCORE=1000000 sh bench/bench_predict.sh build/tessera
set -eu
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
BUILD=$(dirname "$BIN")
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_N:-200000}
[ "${BENCH_QUICK:-0}" = 1 ] && N=${BENCH_N:-50000}
NSCORE=${BENCH_SCORE:-1000000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export OMP_WAIT_POLICY=PASSIVE
cc -std=c11 -O2 -D_GNU_SOURCE -I"$SRC/include" -I"$SRC/lib" "$SRC/bench/predict_bench.c" \
  "$BUILD/libtessera.a" $(pkg-config --libs sqlite3 libpq jansson gsl xgboost) -lpthread -lm \
  -o "$WORK/predict_bench"
"$BIN" simulate --bundle "$WORK/b" --customers "$N" --seed 11 >/dev/null 2>&1
"$WORK/predict_bench" "$WORK/b" 2025-06-30 180 "$WORK/f.csv" "$NSCORE" | tee "$WORK/t.txt"
"$PY" "$SRC/bench/churn_sklearn.py" "$WORK/f.csv" "$NSCORE" | tee "$WORK/s.txt"
awk '{ v[$1] = $2 } END {
  printf "AUC: tessera %.4f, scikit-learn %.4f, difference %+.4f\n", v["xgb_auc"], v["sk_auc"], v["xgb_auc"] - v["sk_auc"]
  printf "training: tessera %.2f s, scikit-learn %.2f s, ratio %.2f\n", v["xgb_train_s"], v["sk_train_s"], v["sk_train_s"] / v["xgb_train_s"]
  printf "scoring %d rows: tessera %.2f s, scikit-learn %.2f s, ratio %.2f\n", v["score_rows"], v["score_s"], v["sk_score_s"], v["sk_score_s"] / v["score_s"]
}' "$WORK/t.txt" "$WORK/s.txt"
start=$(date +%s.%N)
"$BIN" recommend "$WORK/b" --calibration-end 2025-06-30 --window 90 -q -o "$WORK/nbp.csv"
end=$(date +%s.%N)
echo "recommend for $N persons: $(echo "$end - $start" | bc) s, $(($(wc -l <"$WORK/nbp.csv") - 1)) rows"
start=$(date +%s.%N)
"$BIN" churn "$WORK/b" --calibration-end 2025-06-30 --window 180 -q -o "$WORK/churn.csv"
end=$(date +%s.%N)
echo "churn end to end for $N persons: $(echo "$end - $start" | bc) s"
