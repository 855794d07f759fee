#!/bin/sh
# Benchmark of the offer decisions API (issue 15): POST /api/v1/decisions
# through `tessera serve` with wrk on loopback (bearer token, a different
# customer per request, Thompson sampling per segment over 4 offers with
# eligibility rules), then the decisions and rewards stored. Target:
# >= 20,000 decisions/s on 2 cores with p99 < 5 ms. Also printed: the
# server's CPU time per decision (user + system, from /proc; it depends less
# on other load of the machine than the rate does) and the load average
# before the run (the rate and p99 are only meaningful on an idle machine).
# Usage: bench/bench_decisions.sh [TESSERA_BINARY] [SECONDS] [CONNECTIONS] [POLICY]
set -eu
TSR=${1:-build/tessera}
DUR=${2:-10}
CONN=${3:-32}
POLICY=${4:-thompson}
CUSTOMERS=${CUSTOMERS:-20000}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "bench_decisions: wrk is missing (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench_decisions: curl is missing" >&2; exit 1; }
T=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
export TESSERA_NO_PROGRESS=1
printf 'bench-password\n' | "$TSR" user add bench --role analyst --db "$T/web.db"
TOKEN=$("$TSR" user token bench --db "$T/web.db")
"$TSR" simulate --customers "$CUSTOMERS" --seed 3 -o "$T/tx.csv" >/dev/null
"$TSR" analyze --db "$T/web.db" -o "$T/out" "$T/tx.csv" >/dev/null 2>&1
cat >"$T/offers.csv" <<'X'
offer_id,name,eligible
O1,cashback,
O2,premium card,monetary_value >= 20
O3,savings boost,frequency >= 1 or segment = champions
O4,loyalty points,
X
cut -d, -f1 "$T/out/customers.csv" | tail -n +2 >"$T/ids.txt"
{
  echo 'local ids = {}'
  echo 'for line in io.lines("'"$T"'/ids.txt") do ids[#ids + 1] = line end'
  echo 'local i = 0'
  echo 'wrk.method = "POST"'
  echo 'wrk.headers["Content-Type"] = "application/json"'
  echo 'request = function()'
  echo '  i = i % #ids + 1'
  echo '  return wrk.format(nil, nil, nil, "{\"customer_id\":\"" .. ids[i] .. "\"}")'
  echo 'end'
} >"$T/post.lua"
"$TSR" serve --listen 127.0.0.1:0 --db "$T/web.db" --threads "$THREADS" --offers "$T/offers.csv" \
  --policy "$POLICY" >"$T/serve.out" 2>"$T/serve.err" &
PID=$!
i=0
while ! grep -q listening "$T/serve.out" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 200 ] || { cat "$T/serve.err"; exit 1; }; sleep 0.05
done
URL=$(sed -n 's/^tessera: listening on //p' "$T/serve.out")
AUTH="Authorization: Bearer $TOKEN"
# warm up: load the profiles, then 1000 rewards so the posterior is not flat
C1=$(head -1 "$T/ids.txt")
for k in $(seq 1 200); do
  D=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' -d "{\"customer_id\":\"$C1\"}" "$URL/api/v1/decisions" | sed 's/.*"decision_id":"\([^"]*\)".*/\1/')
  curl -sf -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' -d "{\"reward\":$((k % 7 == 0))}" "$URL/api/v1/decisions/$D/reward"
done
echo "bench_decisions: $CUSTOMERS customers, policy $POLICY, 4 offers; server threads $THREADS; wrk 2 threads, $CONN connections, ${DUR}s; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
CPU0=$(awk '{print $14 + $15}' /proc/$PID/stat)
wrk -t2 -c"$CONN" -d"${DUR}s" --latency -s "$T/post.lua" -H "$AUTH" "$URL/api/v1/decisions" >"$T/wrk.out" 2>&1
CPU1=$(awk '{print $14 + $15}' /proc/$PID/stat)
N=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$T/wrk.out")
CPUREQ=$(awk -v a="$CPU0" -v b="$CPU1" -v n="$N" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", n ? (b - a) / hz * 1e6 / n : 0}')
RPS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$T/wrk.out")
P50=$(awk '$1=="50%"{print $2}' "$T/wrk.out")
P99=$(awk '$1=="99%"{print $2}' "$T/wrk.out")
NON2XX=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$T/wrk.out")
P99MS=$(echo "$P99" | awk '/us$/{sub("us","");print $1/1000;next} /ms$/{sub("ms","");print $1;next} /s$/{sub("s","");print $1*1000;next}')
OK=$(awk -v r="$RPS" -v p="$P99MS" 'BEGIN{print (r>=20000 && p<5) ? "meets" : "MISSES"}')
printf '  decisions %9.0f req/s  p50 %-8s p99 %-8s non-2xx %s  server CPU %s us/decision  -> %s the target (>= 20000/s, p99 < 5 ms)\n' \
  "$RPS" "$P50" "$P99" "${NON2XX:-0}" "$CPUREQ" "$OK"
sleep 0.2
curl -sf -H "$AUTH" "$URL/api/v1/decisions" | sed 's/^/  state: /'
echo
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
echo "  stored: $(sqlite3 "$T/web.db" 'select count(*) || " decisions, " || count(reward) || " rewards" from act_decisions')"
[ "$OK" = meets ]
