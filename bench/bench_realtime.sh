#!/bin/sh
# Real-time path benchmark (issue 14; not a test):
#   core   one event's update (state + re-scoring) p50/p99, events/s; memory
#          of the live table per customer at 1M customers (bench_realtime_core.c)
#   redis  events/s through `tessera stream` (XREADGROUP, SQLite commit,
#          segment changes XADDed, XACK), update and batch latency
#   http   events/s through POST /api/v1/events (tests the same engine)
# No peer: pandas has no incremental path (the batch peer is bench_summary.sh).
# Usage: sh bench/bench_realtime.sh [BUILD/tessera] [CUSTOMERS]
#   (default 30000 simulated customers, about 170k events; BENCH_QUICK=1: 5000)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
TSR=${1:-$SRC/build/tessera}
TSR=$(cd "$(dirname "$TSR")" && pwd)/$(basename "$TSR")
BUILD=$(dirname "$TSR")
C=${2:-}
if [ -z "$C" ]; then
  if [ "${BENCH_QUICK:-0}" = 1 ]; then C=5000; else C=30000; fi
fi
T=$(mktemp -d)
. "$SRC/tests/realtime/lib.sh"
trap 'redis_stop; [ -n "${SRV:-}" ] && kill $SRV 2>/dev/null; rm -rf "$T"' EXIT
export TESSERA_NO_PROGRESS=1 OMP_WAIT_POLICY=PASSIVE

echo "--- core"
cc -std=c11 -O2 -D_GNU_SOURCE -I"$SRC/include" "$SRC/bench/bench_realtime_core.c" \
  "$BUILD/libtessera.a" $(pkg-config --libs sqlite3 libpq jansson gsl) -lpthread -lm \
  -o "$BUILD/bench_realtime_core"
if [ "${BENCH_QUICK:-0}" = 1 ]; then "$BUILD/bench_realtime_core" 200000 5000; else "$BUILD/bench_realtime_core"; fi

echo "--- redis"
redis_start
"$TSR" simulate --customers "$C" --seed 42 -o "$T/tx.csv"
"$TSR" analyze "$T/tx.csv" -o "$T/res" --db "$T/r.db" > /dev/null
cp "$T/r.db" "$T/h.db"
N=$(($(wc -l < "$T/tx.csv") - 1))
# RESP for redis-cli --pipe: XADD tx * event JSON
awk -F, 'NR > 1 {
  j = sprintf("{\"customer_id\":\"%s\",\"timestamp\":\"%s\",\"amount\":%s,\"transaction_id\":\"%s\"}", $2, $3, $4, $1)
  printf "*5\r\n$4\r\nXADD\r\n$2\r\ntx\r\n$1\r\n*\r\n$5\r\nevent\r\n$%d\r\n%s\r\n", length(j), j
}' "$T/tx.csv" | rcli --pipe > /dev/null
echo "$N events queued in the stream tx"
"$TSR" stream --redis "unix:$REDIS_SOCK" --stream tx --group bench --db "$T/r.db" --batch 1000 \
  --idle-exit 1000 2>&1 | sed 's/^tessera stream: /redis: /'

echo "--- http"
awk -F, 'NR > 1 { printf "{\"customer_id\":\"%s\",\"timestamp\":\"%s\",\"amount\":%s,\"transaction_id\":\"%s\"}\n", $2, $3, $4, $1 }' \
  "$T/tx.csv" > "$T/events.ndjson"
printf '%s\n' 'bench-password-123' | TESSERA_TEST_FAST_HASH=1 "$TSR" user add bench --role analyst --db "$T/h.db" > /dev/null
TESSERA_TEST_FAST_HASH=1 "$TSR" serve --listen 127.0.0.1:0 --db "$T/h.db" --threads 2 > "$T/serve.out" 2>&1 &
SRV=$!
i=0
while ! grep -q listening "$T/serve.out" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$T/serve.out" | head -1)
TOKEN=$(python3 -c "
import http.client, json
c = http.client.HTTPConnection('127.0.0.1', $PORT)
c.request('POST', '/api/v1/login', json.dumps({'name': 'bench', 'password': 'bench-password-123', 'token': True}), {'Content-Type': 'application/json'})
print(json.loads(c.getresponse().read())['token'])")
python3 "$SRC/bench/realtime_http.py" "$PORT" "$TOKEN" "$T/events.ndjson" 5000 2
kill $SRV
wait $SRV 2>/dev/null || true
SRV=
