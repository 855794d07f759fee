#!/bin/sh
# bench_pgext.sh TESSERA [CUSTOMERS] - tessera inside PostgreSQL (issue 16).
#  1. single node: tessera_summary over the rows with 0, 1 and 2 parallel
#     workers vs `tessera summary` on the same rows exported to CSV;
#  2. distributed: the same query over 1 and 2 postgres_fdw shards
#     (scripts/pg-cluster.sh; on one 2-core machine the shards share the
#     cores), and the bytes sent from the shards to the coordinator (the
#     per-customer summary rows) vs the raw rows' size on the shards.
# Needs the extension installed (make pg-extension). Prints one table.
set -eu
TSR=$1
N=${2:-200000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/pg_bench.sh"
pgb_init
END=$(awk -F'\t' '{ print substr($2, 1, 10) }' "$T/sim.tsv" | sort | tail -1)

# the CLI on the exported CSV (best of 3)
best=999999
for i in 1 2 3; do
  a=$(now); "$TSR" summary "$T/sim.csv" --freq D --freq-multiplier 7 --end "$END" -q -o "$T/s.csv"; b=$(now)
  s=$(secs "$a" "$b" 3); best=$(echo "if ($s < $best) $s else $best" | bc -l)
done
cli=$best

pgb_cluster c1 1 5520 local
U1=$U P1=$P
q() { # q PSQL SETTINGS TABLE: best-of-3 seconds of the summary query
  best=999999
  for i in 1 2 3; do
    a=$(now)
    $1 -c "SET timezone='UTC'" -c "$2" -c "SELECT count(*) FROM (SELECT customer_id, tessera_summary(ts, amount, '$END', 7) FROM $3 GROUP BY customer_id) q" >/dev/null
    b=$(now)
    s=$(secs "$a" "$b" 3); best=$(echo "if ($s < $best) $s else $best" | bc -l)
  done
  echo "$best"
}
PAR="SET parallel_setup_cost=0; SET parallel_tuple_cost=0; SET min_parallel_table_scan_size=0; SET enable_hashagg=off"
w0=$(q "$P1" "SET max_parallel_workers_per_gather=0" local_tx)
w1=$(q "$P1" "$PAR; SET max_parallel_workers_per_gather=1" local_tx)
w2=$(q "$P1" "$PAR; SET max_parallel_workers_per_gather=2" local_tx)
d1=$(q "$P1" "SELECT 1" transactions)
raw=$($P1 -c "SELECT sum(pg_column_size(t.*)) FROM transactions t")
moved=$($P1 -c "SET timezone='UTC'" -c "SELECT sum(pg_column_size(customer_id) + pg_column_size(s)) FROM (SELECT customer_id, tessera_summary(ts, amount, '$END', 7) s FROM transactions GROUP BY customer_id) q")
sh "$SRC/scripts/pg-cluster.sh" stop "$T/c1"

pgb_cluster c2 2 5530
U2=$U P2=$P
d2=$(q "$P2" "SELECT 1" transactions)

rate() { echo "$ROWS / $1" | bc -l | awk '{ printf "%.0f", $1 }'; }
printf '| what (%s rows, %s customers) | seconds | rows/s | vs tessera summary |\n|---|---|---|---|\n' "$ROWS" "$N"
printf '| tessera summary (CSV file) | %s | %s | 1.00 |\n' "$cli" "$(rate "$cli")"
for x in "aggregate, 0 workers:$w0" "aggregate, 1 worker:$w1" "aggregate, 2 workers:$w2" "1 shard (postgres_fdw):$d1" "2 shards (postgres_fdw):$d2"; do
  name=${x%%:*} s=${x##*:}
  printf '| %s | %s | %s | %.2f |\n' "$name" "$s" "$(rate "$s")" "$(echo "$cli / $s" | bc -l)"
done
printf '\nbytes from the shards: %s of per-customer summaries vs %s of raw rows (%.1f%%)\n' \
  "$moved" "$raw" "$(echo "100 * $moved / $raw" | bc -l)"
