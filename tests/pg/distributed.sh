#!/bin/sh
# distributed.sh TESSERA SRC BUILD - tessera over sharded PostgreSQL
# (scripts/pg-cluster.sh): a coordinator and two shard servers, the
# transactions hash-partitioned by customer id into postgres_fdw foreign
# partitions. Checks that the distributed tessera_summary, tessera_fit and
# scores equal the single-node results (the same rows in one local table)
# and `tessera summary`, and that EXPLAIN shows the aggregation pushed to the
# shards; then that `tessera analyze --in-db` on the coordinator equals the
# file run with its customer-day aggregate pushed to both shards. Installs
# the extension like pgext.sh; skipped (77) only when the server binaries or
# PGXS are missing.
set -eu
TSR=$1
SRC=$(cd "$2" && pwd) BUILD=$(cd "$3" && pwd)
PGXS=$(pg_config --pgxs 2>/dev/null || true)
if [ -z "$PGXS" ] || [ ! -f "$PGXS" ] || [ ! -f "$(pg_config --includedir-server)/postgres.h" ]; then
  echo "distributed.sh: skipped: PGXS not found (install postgresql-server-dev-15)" >&2; exit 77
fi
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "distributed.sh: skipped: PostgreSQL server binaries not found" >&2; exit 77; }
T=$(mktemp -d)
chmod 755 "$T"
C="$T/cluster"
trap 'sh "$SRC/scripts/pg-cluster.sh" stop "$C" >/dev/null 2>&1; rm -rf "$T"' EXIT
cp "$SRC"/pgext/Makefile "$SRC"/pgext/*.c "$SRC"/pgext/*.sql "$SRC"/pgext/*.control "$T/"
make -s -C "$T" TSR_SRC="$SRC" TSR_BUILD="$BUILD" install >"$T/make.log" 2>&1 || {
  cat "$T/make.log" >&2; echo "distributed.sh: building or installing the extension failed" >&2; exit 1; }
PORT=${TSR_TEST_PG_PORT:-5490}
URL=$(sh "$SRC/scripts/pg-cluster.sh" start "$C" 2 "$PORT")
PSQL="psql -X -q -At -v ON_ERROR_STOP=1 $URL"

"$TSR" simulate --customers 4000 --seed 11 -o "$T/sim.csv" 2>/dev/null
# transaction_id,customer_id,timestamp,amount,...
awk -F, 'NR > 1 { print $2 "\t" $3 "\t" $4 }' "$T/sim.csv" >"$T/sim.tsv"
END=$(awk -F'\t' '{ print substr($2, 1, 10) }' "$T/sim.tsv" | sort | tail -1)
"$TSR" summary "$T/sim.csv" --freq D --freq-multiplier 7 --end "$END" -q -o "$T/want.csv"

$PSQL <<SQL
SET client_min_messages = warning;
\copy transactions FROM '$T/sim.tsv'
CREATE TABLE local_tx (customer_id text, ts timestamptz, amount numeric);
\copy local_tx FROM '$T/sim.tsv'
CREATE TABLE want (customer_id text, frequency float8, recency float8, "T" float8, monetary_value float8);
\copy want FROM '$T/want.csv' WITH (FORMAT csv, HEADER true)
SQL
$PSQL >"$T/got.txt" <<SQL
SET timezone = 'UTC';
SELECT 'rows on shard partitions ' || (SELECT count(*) > 0 FROM transactions_p0) || ' ' || (SELECT count(*) > 0 FROM transactions_p1);
CREATE TEMP TABLE dist AS SELECT customer_id, (s).* FROM (SELECT customer_id,
  tessera_summary(ts, amount, '$END', 7) AS s FROM transactions GROUP BY customer_id) q WHERE s IS NOT NULL;
CREATE TEMP TABLE single AS SELECT customer_id, (s).* FROM (SELECT customer_id,
  tessera_summary(ts, amount, '$END', 7) AS s FROM local_tx GROUP BY customer_id) q WHERE s IS NOT NULL;
SELECT 'customers ' || (SELECT count(*) FROM dist) || ' ' || (SELECT count(*) FROM single) || ' ' || (SELECT count(*) FROM want);
SELECT 'distributed vs single ' || count(*) FROM dist d FULL JOIN single s USING (customer_id)
 WHERE d IS NULL OR s IS NULL OR (d.frequency, d.recency, d."T", d.monetary_value)
   IS DISTINCT FROM (s.frequency, s.recency, s."T", s.monetary_value);
SELECT 'distributed vs cli ' || count(*) FROM dist d FULL JOIN want w USING (customer_id)
 WHERE d.customer_id IS NULL OR w.customer_id IS NULL OR abs(d.frequency - w.frequency) > 1e-9
    OR abs(d.recency - w.recency) > 1e-9 OR abs(d."T" - w."T") > 1e-9
    OR abs(d.monetary_value - w.monetary_value) > 1e-9 * greatest(1, abs(w.monetary_value));
CREATE TEMP TABLE fits AS SELECT
  (SELECT tessera_fit('bgnbd', (s).frequency, (s).recency, (s)."T") FROM (SELECT tessera_summary(ts, amount, '$END', 7) s FROM transactions GROUP BY customer_id) q) AS dist,
  (SELECT tessera_fit('bgnbd', frequency, recency, "T") FROM single) AS single;
SELECT 'fit equal ' || ((dist -> 'params')::text = (single -> 'params')::text) FROM fits;
SELECT 'scores differ ' || count(*) FROM dist d JOIN single s USING (customer_id), fits f
 WHERE tessera_p_alive(f.dist, d.frequency, d.recency, d."T") <> tessera_p_alive(f.single, s.frequency, s.recency, s."T");
SQL
$PSQL -c "SET timezone = 'UTC'" -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT customer_id, tessera_summary(ts, amount, '$END', 7) FROM transactions GROUP BY customer_id" >"$T/plan.txt"
$PSQL -c "SET timezone = 'UTC'" -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT customer_id, tessera_summary(ts, amount, '$END', 'W', 1) FROM transactions GROUP BY customer_id" >>"$T/plan.txt"
n=$(grep -c 'Relations: Aggregate on' "$T/plan.txt" || true)
echo "aggregates pushed to shards $n" >>"$T/got.txt"
cat >"$T/want.txt" <<X
rows on shard partitions true true
customers $(($(wc -l <"$T/want.csv") - 1)) $(($(wc -l <"$T/want.csv") - 1)) $(($(wc -l <"$T/want.csv") - 1))
distributed vs single 0
distributed vs cli 0
fit equal true
scores differ 0
aggregates pushed to shards 4
X
if ! diff -u "$T/want.txt" "$T/got.txt"; then cat "$T/plan.txt"; echo "distributed.sh: FAILED" >&2; exit 1; fi

# tessera analyze --in-db on the coordinator (app/analyze_indb.c): equals the
# file run, and its customer-day aggregate is pushed to both shards
$PSQL -c "CREATE SCHEMA tessera"
DB="$URL&options=-csearch_path%3Dtessera,public"
{ echo "customer_id,ts,amount"; tr '\t' , <"$T/sim.tsv"; } >"$T/sim3.csv"
TESSERA_NO_PROGRESS=1 "$TSR" analyze "$T/sim3.csv" --no-db -o "$T/a.file" -q --end "$END"
TESSERA_NO_PROGRESS=1 "$TSR" analyze --db "$DB" --in-db transactions -o "$T/a.db" -q --end "$END"
python3 "$SRC/tests/pg/compare_runs.py" "$T/a.file" "$T/a.db" 1e-6 || { echo "distributed.sh: analyze --in-db differs from the file run" >&2; exit 1; }
SQL=$($PSQL -c "SELECT substr(message, strpos(message, 'SELECT')) FROM tessera.events WHERE message LIKE 'customer-day rows computed in the database:%' ORDER BY id DESC LIMIT 1")
$PSQL -c "EXPLAIN (VERBOSE, COSTS OFF) $SQL" >"$T/plan2.txt"
n=$(grep -c 'Relations: Aggregate on' "$T/plan2.txt" || true)
[ "$n" = 2 ] || { cat "$T/plan2.txt"; echo "distributed.sh: analyze --in-db: aggregate pushed to $n shards, expected 2" >&2; exit 1; }
echo "distributed.sh: 9 checks passed"
