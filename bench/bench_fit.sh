#!/bin/sh
# Benchmark: tessera fit (every model) vs the same likelihood fitted with
# scipy L-BFGS-B (bench/fit_scipy.py), on CDNOW and on simulated customers,
# in one run, with the ratios. Not part of `make test`.
#   sh bench/bench_fit.sh build/tessera               # 1M simulated customers
#   BENCH_N=100000 sh bench/bench_fit.sh build/tessera
# Env: BENCH_N (simulated customers, default 1000000), BENCH_SEED (1),
#      BENCH_SCIPY_RAW=0 to skip the uncompressed scipy fit on the big data.
# Times are wall-clock seconds: tessera = the whole `tessera fit` process
# (CSV read, fit, standard errors, JSON); library = tsr_btyd_fit alone
# (bench/btyd_bench.c); scipy = the fit after pandas read the CSV, on unique
# rows with counts ("scipy") and on one row per customer ("scipy raw", what
# lifetimes does).
set -eu
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
BUILD=$(dirname "$BIN")
DIR=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$DIR/.." && pwd)
DATA=${TSR_SHARED_DATA:-$SRC/../shared/data}
N=${BENCH_N:-1000000}
SEED=${BENCH_SEED:-1}
RAW=${BENCH_SCIPY_RAW:-1}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export TESSERA_NO_PROGRESS=1 OMP_WAIT_POLICY=PASSIVE

cc -O2 -I"$SRC/include" "$DIR/btyd_bench.c" "$BUILD/libtessera.a" \
  $(pkg-config --libs gsl jansson sqlite3) -lm -lpthread -o "$WORK/btyd_bench"

now() { date +%s.%N; }
# elapsed seconds of a command (its output discarded)
timeit() {
  t0=$(now)
  "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; return 1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l | awk '{ printf "%.3f", $1 }'
}
ratio() { echo "$1 $2" | awk '{ if ($1 != "-" && $2 > 0) printf "%.1fx", $1 / $2; else print "-" }'; }
scipy_secs() { "$PY" "$DIR/fit_scipy.py" "$@" | sed -n 's/.* seconds=\([0-9.]*\).*/\1/p'; }

"$BIN" summary "$DATA/cdnow/cdnow_sample.csv" --freq D --freq-multiplier 7 \
  --calibration-end 1997-09-30 --end 1998-06-30 -q -o "$WORK/cdnow.csv"

printf '%-8s %-10s %9s %9s %9s %9s %10s %10s\n' model data customers tessera scipy ratio "scipy raw" "ratio raw"
for m in bgnbd mbgnbd pnbd bgbb gg; do
  f=$WORK/cdnow.csv; name=cdnow
  [ "$m" = bgbb ] && { f=$DATA/cdnow/donations.csv; name=donations; }
  n=$(($(wc -l <"$f") - 1))
  tt=$(timeit "$BIN" fit --model "$m" -q "$f")
  ts=$(scipy_secs "$m" "$f")
  tr=$(scipy_secs "$m" "$f" raw)
  printf '%-8s %-10s %9s %9s %9s %9s %10s %10s\n' "$m" "$name" "$n" "$tt" "$ts" "$(ratio "$ts" "$tt")" "$tr" "$(ratio "$tr" "$tt")"
done
echo
for m in bgnbd mbgnbd pnbd bgbb gg; do
  f=$WORK/sim_$m.csv
  lib=$("$WORK/btyd_bench" "$m" "$N" "$SEED" "$f")
  tt=$(timeit "$BIN" fit --model "$m" -q "$f" -o "$WORK/$m.json")
  ts=$(scipy_secs "$m" "$f")
  tr=-
  [ "$RAW" = 1 ] && tr=$(scipy_secs "$m" "$f" raw)
  printf '%-8s %-10s %9s %9s %9s %9s %10s %10s\n' "$m" simulated "$N" "$tt" "$ts" "$(ratio "$ts" "$tt")" "$tr" "$(ratio "$tr" "$tt")"
  echo "         library: $lib"
done
echo
tf=$(timeit "$BIN" fit -q "$WORK/sim_bgnbd.csv" -o "$WORK/b.json")
tp=$(timeit "$BIN" predict "$WORK/b.json" "$WORK/sim_bgnbd.csv" --t 39 -q -o "$WORK/p.csv")
echo "bgnbd on $N customers: tessera fit ${tf}s + tessera predict (with intervals) ${tp}s (processes, including CSV I/O)"
