#!/bin/sh
# bench_indb.sh TESSERA [CUSTOMERS] - `tessera analyze --in-db` (issue 16)
# vs `tessera analyze` on the same rows exported to CSV: on one node and on
# a coordinator with 1 and 2 postgres_fdw shards (scripts/pg-cluster.sh; on
# one machine the shards share the cores), and the bytes the database sends
# (the customer-day rows, as counted by tessera: protocol DataRow bytes) vs
# the raw rows in the same wire format. Needs the extension installed (make
# pg-extension) for the cluster script. Prints one table.
set -eu
TSR=$1
N=${2:-100000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/pg_bench.sh"
export TESSERA_NO_PROGRESS=1
pgb_init
{ echo "customer_id,ts,amount"; tr '\t' , <"$T/sim.tsv"; } >"$T/sim3.csv"
OPTS="--cluster none -q"

a=$(now); "$TSR" analyze "$T/sim3.csv" --no-db -o "$T/o.file" $OPTS; b=$(now)
file=$(secs "$a" "$b")
run_db() { # URL NAME: seconds of analyze --in-db; bytes in $T/NAME.bytes
  $2 -c "CREATE SCHEMA IF NOT EXISTS tessera" >/dev/null
  a=$(now)
  "$TSR" analyze --db "$1&options=-csearch_path%3Dtessera,public" --in-db transactions -o "$T/o.$3" $OPTS
  b=$(now)
  "$TSR" log --db "$1&options=-csearch_path%3Dtessera,public" "$("$TSR" runs --db "$1&options=-csearch_path%3Dtessera,public" --format csv | awk -F, 'NR == 2 { print $1 }')" |
    grep -o 'rows ([0-9]* bytes)' | head -1 | tr -dc 0-9 >"$T/$3.bytes"
  secs "$a" "$b"
}
pgb_cluster c1 1 5560 local
U1=$U P1=$P
raw=$($P1 -c "SELECT sum(7 + 3 * 4 + octet_length(customer_id) + octet_length(ts::text) + octet_length(amount::text)) FROM local_tx")
$P1 -c "ALTER TABLE transactions RENAME TO transactions_fdw" -c "ALTER TABLE local_tx RENAME TO transactions"
local=$(run_db "$U1" "$P1" local)
$P1 -c "ALTER TABLE transactions RENAME TO local_tx" -c "ALTER TABLE transactions_fdw RENAME TO transactions"
d1=$(run_db "$U1" "$P1" d1)
sh "$SRC/scripts/pg-cluster.sh" stop "$T/c1"
pgb_cluster c2 2 5570
U2=$U P2=$P
d2=$(run_db "$U2" "$P2" d2)

printf '| analyze (%s rows, %s customers, --cluster none) | seconds | vs the file |\n|---|---|---|\n' "$ROWS" "$N"
printf '| file (CSV) | %s | 1.00 |\n' "$file"
for x in "--in-db, one node:$local" "--in-db, 1 shard:$d1" "--in-db, 2 shards:$d2"; do
  name=${x%%:*} s=${x##*:}
  printf '| %s | %s | %.2f |\n' "$name" "$s" "$(echo "$file / $s" | bc -l)"
done
moved=$(cat "$T/d2.bytes")
printf '\nbytes sent by the database: %s customer-day bytes vs %s raw-row bytes (%.1f%%)\n' \
  "$moved" "$raw" "$(echo "100 * $moved / $raw" | bc -l)"
