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
BENCH=bench_decisions
. "$(dirname "$0")/serve_common.sh"
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
serve_start --offers "$T/offers.csv" --policy "$POLICY"
# warm up: load the profiles, then 1000 rewards so the posterior is not flat
C1=$(head -1 "$T/ids.txt")
for k in $(seq 1 200); do
  D=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' -d "{\"customer_id\":\"$C1\"}" "$URL/api/v1/decisions" | sed 's/.*"decision_id":"\([^"]*\)".*/\1/')
  curl -sf -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' -d "{\"reward\":$((k % 7 == 0))}" "$URL/api/v1/decisions/$D/reward"
done
echo "bench_decisions: $CUSTOMERS customers, policy $POLICY, 4 offers; server threads $THREADS; wrk 2 threads, $CONN connections, ${DUR}s; $(nproc) cores; load average before $(cut -d' ' -f1-3 /proc/loadavg)"
CPU0=$(cpu_ticks)
wrk -t2 -c"$CONN" -d"${DUR}s" --latency -s "$T/post.lua" -H "$AUTH" "$URL/api/v1/decisions" >"$T/wrk.out" 2>&1
CPU1=$(cpu_ticks)
LOAD=$(cut -d' ' -f1 /proc/loadavg)
N=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$T/wrk.out")
CPUREQ=$(awk -v a="$CPU0" -v b="$CPU1" -v n="$N" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", n ? (b - a) / hz * 1e6 / n : 0}')
wrk_stats "$T/wrk.out"
OK=$(awk -v r="$RPS" -v p="$P99MS" 'BEGIN{print (r>=20000 && p<5) ? "meets" : "MISSES"}')
printf '  decisions %9.0f req/s  p50 %-8s p99 %-8s non-2xx %s  server CPU %s us/decision  load average (1 min) at the end %s  -> %s the target (>= 20000/s, p99 < 5 ms)\n' \
  "$RPS" "$P50" "$P99" "${NON2XX:-0}" "$CPUREQ" "$LOAD" "$OK"
inside_server
sleep 0.2
curl -sf -H "$AUTH" "$URL/api/v1/decisions" | sed 's/^/  state: /'
echo
echo "  server memory: $(awk '/^VmHWM/{printf "peak RSS %.1f MB", $2 / 1024}' /proc/$PID/status) after $N decisions"
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
echo "  stored: $(sqlite3 "$T/web.db" 'select count(*) || " decisions, " || count(reward) || " rewards" from act_decisions')"
[ "$OK" = meets ]
