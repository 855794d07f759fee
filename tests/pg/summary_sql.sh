#!/bin/sh
# summary_sql.sh TESSERA SRC DATA - the documented SQL summary
# (docs/sql/summary.sql) gives the same rows as `tessera summary`: a small
# hand-made log (same-day merges, refunds, a refund-only customer, one-time
# buyers, quoting) and the CDNOW sample, loaded into PostgreSQL with COPY.
# Runs inside tests/pg/with_pg.sh (TSR_TEST_PG_URL).
set -eu
TSR=$1
SRC=$2
DATA=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PSQL="psql -X -q -v ON_ERROR_STOP=1 $TSR_TEST_PG_URL"
PGBIN_PSQL=$(command -v psql || true)
[ -n "$PGBIN_PSQL" ] || { echo "summary_sql.sh: psql not found" >&2; exit 1; }

cat >"$T/small.csv" <<'X'
customer_id,date,amount
a,2024-01-01,10.5
a,2024-01-01,4.5
a,2024-01-08T23:30:00Z,20
a,2024-01-20,-5
a,2024-02-01,7.25
b,2024-01-03,100
"c,1",2024-01-05,1
"c,1",2024-03-01,2
d,2024-02-10,-3
e,2024-01-15,0
e,2024-01-29,30
X

check() { # check NAME FILE MULT
  name=$1 file=$2 mult=$3
  "$TSR" summary "$file" --freq D --freq-multiplier "$mult" >"$T/$name.tessera.csv" 2>/dev/null
  python3 - "$file" "$T/$name.copy.tsv" <<'PY'
import csv, sys
# customer_id, timestamp (UTC), amount as tab-separated COPY text
out = open(sys.argv[2], "w")
with open(sys.argv[1], newline="") as f:
    r = csv.DictReader(f)
    for row in r:
        d = row["date"]
        if len(d) == 8 and d.isdigit():
            d = d[:4] + "-" + d[4:6] + "-" + d[6:]
        cid = row["customer_id"].replace("\\", "\\\\").replace("\t", "\\t")
        out.write(f"{cid}\t{d}\t{row['amount']}\n")
PY
  $PSQL <<SQL
SET timezone = 'UTC';
SET client_min_messages = warning;
DROP TABLE IF EXISTS transactions;
CREATE TABLE transactions (customer_id text NOT NULL, ts timestamptz NOT NULL, amount numeric NOT NULL);
\copy transactions FROM '$T/$name.copy.tsv'
SQL
  $PSQL --csv -v mult="$mult" -f "$SRC/docs/sql/summary.sql" >"$T/$name.sql.csv"
  python3 - "$T/$name.tessera.csv" "$T/$name.sql.csv" "$name" <<'PY'
import csv, sys
def load(p):
    with open(p, newline="") as f:
        return {r["customer_id"]: r for r in csv.DictReader(f)}
a, b, name = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
if set(a) != set(b):
    sys.exit(f"{name}: customers differ: only tessera {sorted(set(a)-set(b))[:5]}, only SQL {sorted(set(b)-set(a))[:5]}")
bad = 0
for k in a:
    for col in ("frequency", "recency", "T", "monetary_value"):
        x, y = float(a[k][col]), float(b[k][col])
        if abs(x - y) > 1e-9 * max(1.0, abs(x)):
            bad += 1
            if bad < 5:
                print(f"{name}: {k} {col}: tessera {x!r}, SQL {y!r}", file=sys.stderr)
if bad:
    sys.exit(f"{name}: {bad} values differ")
print(f"{name}: {len(a)} customers identical")
PY
}
check small "$T/small.csv" 1
check small7 "$T/small.csv" 7
if [ -f "$DATA/cdnow/cdnow_sample.csv" ]; then
  check cdnow "$DATA/cdnow/cdnow_sample.csv" 7
else
  echo "summary_sql.sh: $DATA/cdnow/cdnow_sample.csv missing" >&2
  exit 1
fi
