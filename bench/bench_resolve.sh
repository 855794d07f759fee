#!/bin/sh
# bench_resolve.sh - times `tessera resolve` on 10k and 1M generated CRM
# records (tests/profile/gen_people.py: duplicates after moves, new e-mails,
# typos, missing phones; households) and reports pairwise precision and
# recall against the truth, next to the pandas peer (bench/resolve_pandas.py:
# exact-key deduplication on folded name + birth date), in one run.
#
# usage: bench/bench_resolve.sh BUILD/tessera [N...]     (default: 10000 1000000)
# env:   BENCH_DIR (default /tmp/tessera-bench; generated files are reused),
#        PYTHON (interpreter with pandas, default /usr/bin/python3),
#        BENCH_SOURCE=bundle: the customers.csv of `tessera simulate --bundle
#        --customers N --seed 1` with its --latent truth instead of
#        gen_people.py (the issue's 1M-record figure; ~1.03 records/person)
# Columns: records; tessera s (elapsed, read + resolve + write); CPU s;
# RSS MB; precision, recall; pandas s, pandas precision, recall; ratio =
# pandas s / tessera s.
set -eu
TSR=${1:?usage: bench_resolve.sh BUILD/tessera [N...]}
shift
[ $# -gt 0 ] || set -- 10000 1000000
case $TSR in /*) ;; *) TSR=$(pwd)/$TSR ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${BENCH_DIR:-/tmp/tessera-bench}
PY=${PYTHON:-/usr/bin/python3}
mkdir -p "$DIR"
printf '%-9s %10s %7s %7s %9s %7s %9s %9s %7s %7s\n' records "tessera_s" cpu_s rss_MB precision recall pandas_s pandas_P pandas_R ratio
for n in "$@"; do
  if [ "${BENCH_SOURCE:-people}" = bundle ]; then
    c=$DIR/bundle_$n/customers.csv
    t=$DIR/bundle_${n}_latent/records.csv
    [ -s "$c" ] && [ -s "$t" ] || "$TSR" simulate --bundle "$DIR/bundle_$n" --latent "$DIR/bundle_${n}_latent" \
      --customers "$n" --seed 1 --quiet
  else
    c=$DIR/people_$n.csv
    t=$DIR/people_${n}_truth.csv
    [ -s "$c" ] || "$PY" "$HERE/../tests/profile/gen_people.py" customers "$n" "$c" "$t" 7
  fi
  /usr/bin/time -f '%e %U %S %M' -o "$DIR/time.txt" "$TSR" resolve "$c" -o "$DIR/map_$n.csv" --quiet
  read -r el us sy rss <"$DIR/time.txt"
  pr=$("$PY" "$HERE/../tests/profile/eval_resolve.py" "$DIR/map_$n.csv" "$t")
  p=$(echo "$pr" | sed 's/.*precision=\([0-9.]*\).*/\1/')
  r=$(echo "$pr" | sed 's/.*recall=\([0-9.]*\).*/\1/')
  pd_el=-; pd_p=-; pd_r=-; ratio=-
  if "$PY" -c 'import pandas' 2>/dev/null; then
    /usr/bin/time -f '%e' -o "$DIR/time_pd.txt" "$PY" "$HERE/resolve_pandas.py" "$c" "$DIR/map_pd_$n.csv"
    pd_el=$(cat "$DIR/time_pd.txt")
    pr=$("$PY" "$HERE/../tests/profile/eval_resolve.py" "$DIR/map_pd_$n.csv" "$t")
    pd_p=$(echo "$pr" | sed 's/.*precision=\([0-9.]*\).*/\1/')
    pd_r=$(echo "$pr" | sed 's/.*recall=\([0-9.]*\).*/\1/')
    ratio=$(awk -v a="$pd_el" -v b="$el" 'BEGIN{printf "%.2f", a/b}')
  fi
  printf '%-9s %10s %7.2f %7d %9s %7s %9s %9s %7s %7s\n' "$(wc -l <"$c" | awk '{print $1-1}')" "$el" \
    "$(awk -v a="$us" -v b="$sy" 'BEGIN{print a+b}')" $((rss / 1024)) "$p" "$r" "$pd_el" "$pd_p" "$pd_r" "$ratio"
done
