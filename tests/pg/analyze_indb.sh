#!/bin/sh
# analyze_indb.sh TESSERA SRC DATA - `tessera analyze --db URL --in-db TABLE`
# (app/analyze_indb.c) gives the results of `tessera analyze` on the same
# rows exported to CSV: a hand-made table (same-day merges, refunds, a
# refund-only customer, quoting, NULLs, an implausible amount, a timestamptz
# column; daily, weekly and calibration runs) compared exactly, then the
# CDNOW sample (and the master when present) with the whole pipeline,
# compared to 1e-12 relative on the summary and 1e-6 on model outputs (the
# database adds a day's amounts exactly, the file path in file order: the
# last bit may differ, see docs/pg-extension.md). Also the errors: missing
# table, wrong column type, no PostgreSQL store. Runs inside
# tests/pg/with_pg.sh (TSR_TEST_PG_URL); no extension needed.
set -eu
TSR=$1
SRC=$2
DATA=$3
T=$(mktemp -d)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
export TESSERA_NO_PROGRESS=1
PSQL="psql -X -q -v ON_ERROR_STOP=1 $TSR_TEST_PG_URL"
# tessera's tables in their own schema, the data in public (docs/pg-extension.md)
URL="$TSR_TEST_PG_URL&options=-csearch_path%3Dtessera,public"
fail() { echo "analyze_indb.sh: FAILED: $*" >&2; exit 1; }

# compare DIR1 DIR2 REL: the output folders agree (tests/pg/compare_runs.py)
compare() { python3 "$SRC/tests/pg/compare_runs.py" "$@"; }

# ---------------------------------------------------------- a hand-made table
$PSQL <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA tessera;
CREATE TABLE tx (customer text, ts timestamptz, spend numeric);
INSERT INTO tx VALUES
  ('a', '2024-01-01 08:00Z', 10.5), ('a', '2024-01-01 20:00Z', 4.5),
  ('a', '2024-01-08 23:30Z', 20), ('a', '2024-01-20 10:00Z', -5), ('a', '2024-01-20 11:00Z', -2.5),
  ('a', '2024-02-01 00:00Z', 7.25), ('a', '2024-03-15 00:00Z', 0.25), ('a', '2024-03-15 01:00Z', 0.5),
  ('b', '2024-01-03 12:00Z', 100), ('b', '2024-03-03 12:00Z', 50),
  ('c,1', '2024-01-05 00:00Z', 1), ('c,1', '2024-03-01 00:00Z', 2), ('c,1', '2024-03-01 00:00Z', 2),
  ('q"x', '2024-01-06 00:00Z', 3), ('q"x', '2024-02-06 00:00Z', 4),
  ('d', '2024-02-10 00:00Z', -3),
  ('e', '2024-01-15 00:00Z', 0), ('e', '2024-01-29 00:00Z', 30), ('e', '2024-01-29 06:00Z', 0),
  ('f', '2024-01-15 00:00Z', NULL), ('f', '2024-02-15 00:00Z', 1e13), ('f', '2024-03-31 00:00Z', 9),
  ('g', NULL, 5), (NULL, '2024-01-01 00:00Z', 5);
SQL
# the same rows as a file (NULL = empty field, rejected by the file reader too)
$PSQL -c "\copy (SELECT customer, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS ts, spend FROM tx) TO '$T/tx.csv' WITH (FORMAT csv, HEADER true)"
run_pair() { # NAME OPTIONS...: the file and the table with the same options
  name=$1
  shift
  "$TSR" analyze "$T/tx.csv" --no-db -o "$T/$name.file" -q --customer-col customer --date-col ts \
    --amount-col spend "$@" 2>"$T/$name.file.err" || { cat "$T/$name.file.err" >&2; fail "$name: file run"; }
  "$TSR" analyze --db "$URL" --in-db tx -o "$T/$name.db" -q --customer-col customer --date-col ts \
    --amount-col spend "$@" 2>"$T/$name.db.err" || { cat "$T/$name.db.err" >&2; fail "$name: in-db run"; }
  for f in customers.csv segments.csv; do
    cmp -s "$T/$name.file/$f" "$T/$name.db/$f" || { diff "$T/$name.file/$f" "$T/$name.db/$f" >&2; fail "$name: $f differs"; }
  done
}
run_pair daily --model none --cluster none
run_pair weekly --model none --cluster none --freq W --freq-multiplier 1
run_pair monthly --model none --cluster none --freq M --freq-multiplier 1 --end 2024-04-30
run_pair calib --model none --cluster none --calibration-end 2024-02-15 --end 2024-03-31
run_pair refunds_net --model none --cluster none --refunds net
# rows read, accepted and rejected as from the file (4 rejected: NULL amount,
# implausible amount, NULL date, NULL customer)
for r in daily calib; do
  for k in rows_read rows_rejected refunds; do
    x=$(grep -o "\"$k\":[0-9]*" "$T/$r.file/run.json" | head -1)
    y=$(grep -o "\"$k\":[0-9]*" "$T/$r.db/run.json" | head -1)
    [ -n "$x" ] && [ "$x" = "$y" ] || fail "$r: run.json $k: file $x, in-db $y"
  done
done
grep -q '"rows_rejected":4' "$T/daily.db/run.json" || fail "expected 4 rejected rows"
# the counts of merged days are kept: a made 6 purchases on 4 days and 2 refunds
grep -q '^a,.*,6,4,2024-01-01,2024-03-15,2,' "$T/daily.db/customers.csv" || {
  grep '^a,' "$T/daily.db/customers.csv" >&2; fail "customer a: counts"; }

# ---------------------------------------------------------- CDNOW, whole pipeline
cdnow() { # FILE TABLE
  tr -d '\r' <"$1" >"$T/$2.csv"
  $PSQL -c "CREATE TABLE $2 (customer_id text, date date, cds int, amount numeric)" \
    -c "\copy $2 FROM '$T/$2.csv' WITH (FORMAT csv, HEADER true)"
  "$TSR" analyze "$T/$2.csv" --no-db -o "$T/$2.file" -q
  "$TSR" analyze --db "$URL" --in-db "$2" -o "$T/$2.db" -q
  compare "$T/$2.file" "$T/$2.db" 1e-6 || fail "$2: outputs differ"
  "$TSR" analyze "$T/$2.csv" --no-db -o "$T/$2.cfile" -q --calibration-end 1997-09-30 --model bgnbd
  "$TSR" analyze --db "$URL" --in-db "$2" -o "$T/$2.cdb" -q --calibration-end 1997-09-30 --model bgnbd
  compare "$T/$2.cfile" "$T/$2.cdb" 1e-6 || fail "$2: calibration outputs differ"
  echo "analyze_indb.sh: $2: in-db equals the file"
}
cdnow "$SRC/tests/data/cdnow/cdnow_sample.csv" cdnow_sample
M=$DATA/cdnow/cdnow_master.csv
[ -f "$M" ] || M=$SRC/../shared/data/cdnow/cdnow_master.csv
if [ -f "$M" ]; then cdnow "$M" cdnow_master
else echo "analyze_indb.sh: skipped the CDNOW master part: cdnow/cdnow_master.csv missing (\$TSR_SHARED_DATA or ../shared/data)" >&2; fi
# the query is in the run's event log
"$TSR" log --db "$URL" 2 | grep -q 'customer-day rows computed in the database: SELECT' || fail "query not logged"

# ---------------------------------------------------------- errors
expect_err() { # MESSAGE CODE ARGS...
  msg=$1 code=$2
  shift 2
  rc=0
  "$TSR" analyze -q -o "$T/err" "$@" 2>"$T/err.txt" || rc=$?
  [ "$rc" = "$code" ] || { cat "$T/err.txt" >&2; fail "exit $rc, expected $code for: $*"; }
  grep -qF "$msg" "$T/err.txt" || { cat "$T/err.txt" >&2; fail "expected message: $msg"; }
}
$PSQL -c "CREATE TABLE textdates (customer_id text, date text, amount numeric)"
expect_err "nosuch: error: expected a table or view of that name" 3 --db "$URL" --in-db nosuch
expect_err "textdates: error: date: expected a column of type date, timestamp or timestamptz, got text" 3 --db "$URL" --in-db textdates
expect_err "needs a PostgreSQL database" 2 --db "$T/x.db" --in-db tx
expect_err "give no transaction file" 2 --db "$URL" --in-db tx "$T/tx.csv"
expect_err "expected a column named 'nope'" 3 --db "$URL" --in-db tx --customer-col nope
echo "analyze_indb.sh: all checks passed"
