#!/bin/sh
# pgext.sh TESSERA SRC BUILD DATA - the PostgreSQL extension (pgext/) gives
# the same numbers as the tessera command: tessera_summary equals
# `tessera summary` (plain and calibration/holdout; days, weeks and
# months), tessera_fit equals
# `tessera fit` for bgnbd, mbgnbd, pnbd and gg, and the scoring functions
# equal `tessera predict`; with parallel query forced on (partial
# aggregates in 2 workers, combine/serialise/deserialise) and off.
# Runs inside tests/pg/with_pg.sh. Builds the extension from pgext/ against
# BUILD/libtessera.a into a temporary folder and installs it (needs write
# access to PostgreSQL's extension folders, as root in CI): skipped (77)
# only when PGXS (postgresql-server-dev-15) is missing.
set -eu
TSR=$1 DATA=$4
SRC=$(cd "$2" && pwd) BUILD=$(cd "$3" && pwd)
SAMPLE="$DATA/cdnow/CDNOW_sample.txt"
[ -f "$SAMPLE" ] || SAMPLE="$SRC/tests/data/cdnow/CDNOW_sample.txt"
if [ ! -f "$SAMPLE" ]; then
  echo "pgext.sh: skipped: needs the CDNOW sample (cdnow/CDNOW_sample.txt)" >&2; exit 77
fi
PGXS=$(pg_config --pgxs 2>/dev/null || true)
if [ -z "$PGXS" ] || [ ! -f "$PGXS" ] || [ ! -f "$(pg_config --includedir-server)/postgres.h" ]; then
  echo "pgext.sh: skipped: PGXS not found (install postgresql-server-dev-15: make pg-extension does)" >&2; exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp "$SRC"/pgext/Makefile "$SRC"/pgext/*.c "$SRC"/pgext/*.sql "$SRC"/pgext/*.control "$T/"
make -s -C "$T" TSR_SRC="$SRC" TSR_BUILD="$BUILD" install >"$T/make.log" 2>&1 || {
  cat "$T/make.log" >&2; echo "pgext.sh: building or installing the extension failed" >&2; exit 1; }
PSQL="psql -X -q -v ON_ERROR_STOP=1 -At $TSR_TEST_PG_URL"

# the CDNOW sample: id_full id date qty amount, whitespace separated
awk '{ printf "%s\t%s-%s-%s\t%s\n", $2, substr($3,1,4), substr($3,5,2), substr($3,7,2), $5 }' "$SAMPLE" >"$T/tx.tsv"
COMMON="--no-header --delimiter whitespace --customer-col 2 --date-col 3 --amount-col 5 --freq D --freq-multiplier 7 -q"
"$TSR" summary "$SAMPLE" $COMMON --end 1998-06-30 -o "$T/sum.csv"
"$TSR" summary "$SAMPLE" $COMMON --end 1998-06-30 --calibration-end 1997-09-30 -o "$T/cal.csv"
# calendar periods (0.3): weeks Monday..Sunday, months; and weeks with a calibration end
P1="--no-header --delimiter whitespace --customer-col 2 --date-col 3 --amount-col 5 -q --end 1998-06-30"
"$TSR" summary "$SAMPLE" $P1 --freq W --freq-multiplier 1 -o "$T/w.csv"
"$TSR" summary "$SAMPLE" $P1 --freq M --freq-multiplier 1 -o "$T/m.csv"
"$TSR" summary "$SAMPLE" $P1 --freq W --freq-multiplier 4 --calibration-end 1997-09-30 -o "$T/wcal.csv"
for m in bgnbd mbgnbd pnbd; do "$TSR" fit --model $m "$T/sum.csv" -q >"$T/$m.json"; done
"$TSR" fit --model gg "$T/sum.csv" -q >"$T/gg.json"
"$TSR" predict "$T/bgnbd.json" "$T/sum.csv" --t 39 -q -o "$T/pred.csv"

$PSQL <<SQL
SET client_min_messages = warning;
CREATE EXTENSION tessera VERSION '0.1';
ALTER EXTENSION tessera UPDATE;
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'tessera';
CREATE TABLE tx (customer_id text, ts timestamptz, amount numeric);
\copy tx FROM '$T/tx.tsv'
CREATE TABLE want_sum (customer_id text, frequency float8, recency float8, "T" float8, monetary_value float8);
\copy want_sum FROM '$T/sum.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE want_cal (customer_id text, frequency_cal float8, recency_cal float8, "T_cal" float8,
  monetary_value_cal float8, frequency_holdout float8, monetary_value_holdout float8, duration_holdout float8);
\copy want_cal FROM '$T/cal.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE want_w (LIKE want_sum);
\copy want_w FROM '$T/w.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE want_m (LIKE want_sum);
\copy want_m FROM '$T/m.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE want_wcal (LIKE want_cal);
\copy want_wcal FROM '$T/wcal.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE want_pred (customer_id text, expected_purchases float8, lo float8, hi float8, p_alive float8);
\copy want_pred (customer_id, expected_purchases, lo, hi, p_alive) FROM '$T/pred.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE models (name text, model json);
SQL
for m in bgnbd mbgnbd pnbd gg; do
  printf "INSERT INTO models VALUES ('%s', \$j\$%s\$j\$);\n" "$m" "$(cat "$T/$m.json")" | $PSQL
done

check() { # check LABEL: the summary, fits and scores against the CLI's
  $PSQL <<'SQL' >"$T/out.txt"
SET timezone = 'UTC';
CREATE TEMP TABLE got_sum AS SELECT customer_id, (s).* FROM (SELECT customer_id,
  tessera_summary(ts, amount, '1998-06-30', 7) AS s FROM tx GROUP BY customer_id) q WHERE s IS NOT NULL;
CREATE TEMP TABLE got_cal AS SELECT customer_id, (s).* FROM (SELECT customer_id,
  tessera_summary(ts, amount, '1998-06-30', 7, '1997-09-30') AS s FROM tx GROUP BY customer_id) q WHERE s IS NOT NULL;
SELECT 'sum rows ' || count(*) FROM got_sum;
CREATE TEMP TABLE got_w AS SELECT customer_id, (s).* FROM (SELECT customer_id,
  tessera_summary(ts, amount, '1998-06-30', 'W', 1) AS s FROM tx GROUP BY customer_id) q WHERE s IS NOT NULL;
CREATE TEMP TABLE got_m AS SELECT customer_id, (s).* FROM (SELECT customer_id,
  tessera_summary(ts, amount, '1998-06-30', 'M', 1) AS s FROM tx GROUP BY customer_id) q WHERE s IS NOT NULL;
CREATE TEMP TABLE got_wcal AS SELECT customer_id, (s).* FROM (SELECT customer_id,
  tessera_summary(ts, amount, '1998-06-30', 'W', 4, '1997-09-30') AS s FROM tx GROUP BY customer_id) q WHERE s IS NOT NULL;
SELECT 'W diffs ' || count(*) FROM want_w w FULL JOIN got_w g USING (customer_id)
 WHERE g IS NULL OR w IS NULL OR (w.frequency, w.recency, w."T") IS DISTINCT FROM (g.frequency, g.recency, g."T")
    OR abs(w.monetary_value - g.monetary_value) > 1e-9 * greatest(1, abs(w.monetary_value));
SELECT 'M diffs ' || count(*) FROM want_m w FULL JOIN got_m g USING (customer_id)
 WHERE g IS NULL OR w IS NULL OR (w.frequency, w.recency, w."T") IS DISTINCT FROM (g.frequency, g.recency, g."T")
    OR abs(w.monetary_value - g.monetary_value) > 1e-9 * greatest(1, abs(w.monetary_value));
SELECT 'W cal diffs ' || count(*) FROM want_wcal w FULL JOIN got_wcal g USING (customer_id)
 WHERE g IS NULL OR w IS NULL OR abs(w.frequency_cal - g.frequency_cal) > 1e-9
    OR abs(w.recency_cal - g.recency_cal) > 1e-9 OR abs(w."T_cal" - g."T_cal") > 1e-9
    OR abs(w.monetary_value_cal - g.monetary_value_cal) > 1e-9 * greatest(1, abs(w.monetary_value_cal))
    OR abs(w.frequency_holdout - g.frequency_holdout) > 1e-9
    OR abs(w.duration_holdout - g.duration_holdout) > 1e-9;
SELECT 'sum diffs ' || count(*) FROM want_sum w FULL JOIN got_sum g USING (customer_id)
 WHERE g.customer_id IS NULL OR w.customer_id IS NULL OR abs(w.frequency - g.frequency) > 1e-9
    OR abs(w.recency - g.recency) > 1e-9 OR abs(w."T" - g."T") > 1e-9
    OR abs(w.monetary_value - g.monetary_value) > 1e-9 * greatest(1, abs(w.monetary_value));
SELECT 'cal diffs ' || count(*) FROM want_cal w FULL JOIN got_cal g USING (customer_id)
 WHERE g.customer_id IS NULL OR w.customer_id IS NULL OR abs(w.frequency_cal - g.frequency_cal) > 1e-9
    OR abs(w.recency_cal - g.recency_cal) > 1e-9 OR abs(w."T_cal" - g."T_cal") > 1e-9
    OR abs(w.monetary_value_cal - g.monetary_value_cal) > 1e-9 * greatest(1, abs(w.monetary_value_cal))
    OR abs(w.frequency_holdout - g.frequency_holdout) > 1e-9
    OR abs(w.monetary_value_holdout - g.monetary_value_holdout) > 1e-9 * greatest(1, abs(w.monetary_value_holdout))
    OR abs(w.duration_holdout - g.duration_holdout) > 1e-9;
CREATE TEMP TABLE got_fit AS
  SELECT 'bgnbd' AS name, tessera_fit('bgnbd', frequency, recency, "T") AS model FROM got_sum
  UNION ALL SELECT 'mbgnbd', tessera_fit('mbgnbd', frequency, recency, "T") FROM got_sum
  UNION ALL SELECT 'pnbd', tessera_fit('pnbd', frequency, recency, "T") FROM got_sum
  UNION ALL SELECT 'gg', tessera_fit('gg', frequency, monetary_value) FROM got_sum;
SELECT 'fit ' || g.name || ' ' || (max(abs(gp.value::float8 / wp.value::float8 - 1)) < 1e-6)::text
  FROM got_fit g JOIN models w USING (name),
       LATERAL json_each_text(g.model -> 'params') gp,
       LATERAL json_each_text(w.model -> 'params') wp
 WHERE gp.key = wp.key GROUP BY g.name ORDER BY g.name;
-- the CLI prints predictions with 10 significant digits
SELECT 'pred diffs ' || count(*) FROM want_pred w JOIN got_sum g USING (customer_id), models m
 WHERE m.name = 'bgnbd' AND (
   abs(tessera_p_alive(m.model, g.frequency, g.recency, g."T") - w.p_alive) > 1e-8 * greatest(1, w.p_alive)
   OR abs(tessera_expected_purchases(m.model, 39, g.frequency, g.recency, g."T") - w.expected_purchases) > 1e-8 * greatest(1, w.expected_purchases));
SQL
  sed "s/^/$1: /" "$T/out.txt"
}
# parallel: partial aggregates in workers, states serialised, combined
cat >"$T/par.sql" <<'SQL'
SET timezone = 'UTC';
SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF) SELECT customer_id, tessera_summary(ts, amount, '1998-06-30', 7) FROM tx GROUP BY customer_id;
EXPLAIN (COSTS OFF) SELECT customer_id, tessera_summary(ts, amount, '1998-06-30', 'W', 1) FROM tx GROUP BY customer_id;
EXPLAIN (COSTS OFF) SELECT tessera_fit('bgnbd', amount::float8, amount::float8, amount::float8) FROM tx;
SQL
$PSQL -f "$T/par.sql" >"$T/plan.txt"
grep -q 'Partial' "$T/plan.txt" || { cat "$T/plan.txt"; echo "pgext.sh: no partial aggregate in the parallel plan" >&2; exit 1; }
sed 's/^/plan: /' "$T/plan.txt"

cat >"$T/want.txt" <<'X'
serial: sum rows 2357
serial: W diffs 0
serial: M diffs 0
serial: W cal diffs 0
serial: sum diffs 0
serial: cal diffs 0
serial: fit bgnbd true
serial: fit gg true
serial: fit mbgnbd true
serial: fit pnbd true
serial: pred diffs 0
parallel: sum rows 2357
parallel: W diffs 0
parallel: M diffs 0
parallel: W cal diffs 0
parallel: sum diffs 0
parallel: cal diffs 0
parallel: fit bgnbd true
parallel: fit gg true
parallel: fit mbgnbd true
parallel: fit pnbd true
parallel: pred diffs 0
X
{ check serial; PGOPTIONS="-c force_parallel_mode=on -c parallel_setup_cost=0 -c parallel_tuple_cost=0 -c min_parallel_table_scan_size=0 -c max_parallel_workers_per_gather=2" check parallel; } >"$T/got.txt"
if ! diff -u "$T/want.txt" "$T/got.txt"; then echo "pgext.sh: results differ from the tessera command" >&2; exit 1; fi
echo "pgext.sh: 22 checks passed"
