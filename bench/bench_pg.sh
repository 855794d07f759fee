#!/bin/sh
# PostgreSQL vs SQLite benchmark (not a test; issue 7):
#   1. load N transactions (customer_id, ts, amount) into PostgreSQL with
#      COPY (psql \copy: libpq COPY FROM STDIN, text format) and into SQLite
#      with the sqlite3 shell's .import (prepared INSERTs in one
#      transaction); rows/s of each;
#   2. the per-customer summary computed inside PostgreSQL
#      (docs/sql/summary.sql) vs `tessera summary` on the same CSV file; both
#      times, and a check that both give the same number of customers.
# A throwaway PostgreSQL server is started by tests/pg/with_pg.sh.
# Usage: sh bench/bench_pg.sh [BUILD/tessera]
#   BENCH_PG_N   transactions (default 10000000; 1000000 with BENCH_QUICK=1)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
TSR=${1:-$SRC/build/tessera}
N=${BENCH_PG_N:-}
if [ -z "$N" ]; then
  if [ "${BENCH_QUICK:-0}" = 1 ]; then N=1000000; else N=10000000; fi
fi
if [ -z "${TSR_TEST_PG_URL:-}" ]; then
  exec sh "$SRC/tests/pg/with_pg.sh" sh "$0" "$TSR"
fi
W=$(mktemp -d /tmp/tsr-bench-pg.XXXXXX)
trap 'rm -rf "$W"' EXIT
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.2f s, %.0f rows/s", b - a, n / (b - a) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f s", b - a }'; }

echo "bench_pg: generating $N transactions ($(( N / 10 )) customers, 2 years)"
awk -v n="$N" 'BEGIN {
  srand(42); nc = int(n / 10); if (nc < 1) nc = 1
  print "customer_id,date,amount"
  for (i = 0; i < n; i++) {
    d = int(rand() * 730); y = 2022 + int(d / 365); doy = d % 365
    m = int(doy / 31) + 1; if (m > 12) m = 12; dd = doy % 28 + 1
    printf "c%07d,%04d-%02d-%02d,%.2f\n", int(rand() * nc), y, m, dd, rand() * 100
  }
}' >"$W/tx.csv"
tail -n +2 "$W/tx.csv" | tr ',' '\t' >"$W/tx.tsv"

PSQL="psql -X -q -v ON_ERROR_STOP=1 $TSR_TEST_PG_URL"
$PSQL -c "CREATE TABLE transactions (customer_id text NOT NULL, ts timestamptz NOT NULL, amount numeric NOT NULL)"
t0=$(now)
$PSQL -c "SET timezone = 'UTC'" -c "\\copy transactions FROM '$W/tx.tsv'"
t1=$(now)
echo "PostgreSQL COPY:        $(rate "$N" "$t0" "$t1")"

t0=$(now)
sqlite3 "$W/tx.db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE transactions (customer_id TEXT NOT NULL, ts TEXT NOT NULL, amount REAL NOT NULL);
.mode tabs
.import $W/tx.tsv transactions
SQL
t1=$(now)
echo "SQLite one transaction: $(rate "$N" "$t0" "$t1")"

$PSQL -c "ANALYZE transactions"
t0=$(now)
$PSQL --csv -v mult=7 -f "$SRC/docs/sql/summary.sql" >"$W/sql.csv"
t1=$(now)
echo "summary in PostgreSQL:  $(secs "$t0" "$t1") ($(( $(wc -l <"$W/sql.csv") - 1 )) customers)"
t0=$(now)
"$TSR" summary "$W/tx.csv" --freq D --freq-multiplier 7 >"$W/tsr.csv" 2>/dev/null
t1=$(now)
echo "tessera summary (CSV):  $(secs "$t0" "$t1") ($(( $(wc -l <"$W/tsr.csv") - 1 )) customers)"
