#!/bin/sh
# bench_summary.sh - times `tessera summary` against pandas (bench/summary_pandas.py,
# Debian's python3-pandas) on the same simulated transaction logs, checks that
# both give the same per-customer summary, and prints a table.
#
# usage: bench/bench_summary.sh BUILD/tessera [ROWS...]     (default: 1000000 10000000)
# env:   BENCH_DIR  where logs and outputs go (default /tmp/tessera-bench; logs are
#                   reused when present)
#        REPEAT     tessera runs per size, the fastest is reported (default 3)
#        THREADS    passed as --threads when set
#        PYTHON     interpreter with pandas (default /usr/bin/python3)
#
# Logs come from `tessera simulate` (about 5.7 rows per customer, sorted by
# time); without it, from an awk generator (10 rows per customer, random order).
# Columns: MB = size of the log; tessera s = elapsed; MB/s = MB / elapsed;
# MB/s/core = MB / (user + sys CPU seconds); pandas s = its own elapsed time
# (read + compute + write); ratio = pandas s / tessera s; RSS = peak resident
# set size. The machine may be shared: elapsed times are noisy, CPU times less.
set -eu
TSR=${1:?usage: bench_summary.sh BUILD/tessera [ROWS...]}
shift
[ $# -gt 0 ] || set -- 1000000 10000000
case $TSR in /*) ;; *) TSR=$(pwd)/$TSR ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${BENCH_DIR:-/tmp/tessera-bench}
REPEAT=${REPEAT:-3}
PY=${PYTHON:-/usr/bin/python3}
TIME=/usr/bin/time
mkdir -p "$DIR"
"$PY" -c 'import pandas' 2>/dev/null || { echo "bench: $PY lacks pandas (apt-get install python3-pandas)" >&2; exit 1; }
[ -x "$TIME" ] || { echo "bench: needs $TIME (apt-get install time)" >&2; exit 1; }

gen() { # gen ROWS FILE
  if "$TSR" simulate --help >/dev/null 2>&1; then
    # about 5.67 rows per customer with the simulator's defaults
    "$TSR" simulate --customers $(( $1 * 100 / 567 )) --seed 1 -o "$2"
  else
    awk -v n="$1" 'BEGIN{srand(1); nc=int(n/10); if(nc<1)nc=1; print "customer_id,timestamp,amount,channel,category";
      for(i=0;i<n;i++){c=int(rand()*nc); d=int(rand()*700);
      printf "C%06d,%s,%.2f,online,groceries\n", c, strftime("%Y-%m-%dT%H:%M:%SZ", 1704067200+d*86400+int(rand()*86400), 1), rand()*100}}' > "$2"
  fi
}

results=$DIR/results.txt
: > "$results"
for rows in "$@"; do
  log=$DIR/tx_$rows.csv
  if [ ! -s "$log" ]; then
    echo "bench: generating $log" >&2
    gen "$rows" "$log.tmp" && mv "$log.tmp" "$log"
  fi
  nrows=$(( $(wc -l < "$log") - 1 ))
  bytes=$(wc -c < "$log")
  cat "$log" > /dev/null # page cache
  best=""
  i=0
  while [ $i -lt "$REPEAT" ]; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    $TIME -f "%e %U %S %M" -o "$DIR/t.time" "$TSR" summary "$log" -q -o "$DIR/tessera_$rows.csv" ${THREADS:+--threads $THREADS}
    read -r e u s m < "$DIR/t.time"
    if [ -z "$best" ] || awk -v a="$e" -v b="$best" 'BEGIN{exit !(a < b)}'; then
      best=$e; bu=$u; bs=$s; bm=$m
    fi
  done
  echo "bench: pandas on $rows rows" >&2
  $TIME -f "%e %U %S %M" -o "$DIR/p.time" "$PY" "$HERE/summary_pandas.py" "$log" "$DIR/pandas_$rows.csv" > "$DIR/p.out"
  read -r pe pu ps pm < "$DIR/p.time"
  pself=$(cat "$DIR/p.out")
  if "$PY" "$HERE/compare_summary.py" "$DIR/tessera_$rows.csv" "$DIR/pandas_$rows.csv" > "$DIR/cmp.out"; then
    same=yes
  else
    same=NO
  fi
  echo "$nrows $bytes $best $bu $bs $bm $pself $pu $ps $pm $same $(cat "$DIR/cmp.out" | tail -1)" >> "$results"
done

echo
printf '%10s %8s %10s %8s %10s %10s %8s %10s %10s %6s\n' rows MB "tessera s" "MB/s" "MB/s/core" "pandas s" ratio "RSS tess" "RSS pand" same
while read -r n b e u s m pe pu ps pm same rest; do
  awk -v n="$n" -v b="$b" -v e="$e" -v u="$u" -v s="$s" -v m="$m" -v pe="$pe" -v pm="$pm" -v same="$same" 'BEGIN{
    mb=b/1e6; cpu=u+s; if (e<=0) e=0.01; if (cpu<=0) cpu=0.01;
    printf "%10d %8.1f %10.3f %8.0f %10.0f %10.2f %7.1fx %8.0fMB %8.0fMB %6s\n", n, mb, e, mb/e, mb/cpu, pe, pe/e, m/1024, pm/1024, same }'
done < "$results"
echo
echo "(tessera CPU s, pandas CPU s per size:)"
while read -r n b e u s m pe pu ps pm same rest; do
  echo "  $n rows: tessera $(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}') s, pandas $(awk -v u="$pu" -v s="$ps" 'BEGIN{printf "%.2f", u+s}') s; check: $rest"
done < "$results"
