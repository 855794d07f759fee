#!/bin/sh
# Benchmark of `tessera serve` with wrk on loopback (issue 6): customer
# lookup of the median customer by frequency (GET /api/v1/runs/RUN/customers/ID,
# profile + purchase history) and
# the dashboard JSON (GET /api/v1/runs/RUN/results), each for a bounded
# duration, with a bearer token. Target: >= 10,000 requests/s on 2 cores and
# p99 < 10 ms.
# Usage: bench/bench_web.sh [TESSERA_BINARY] [SECONDS] [CONNECTIONS]
set -eu
TSR=${1:-build/tessera}
DUR=${2:-10}
CONN=${3:-32}
CUSTOMERS=${CUSTOMERS:-20000}
THREADS=${THREADS:-2}
BENCH=bench_web
. "$(dirname "$0")/serve_common.sh"
serve_start
DS=$(curl -sf -H "$AUTH" -H 'Content-Type: text/csv' --data-binary @"$T/tx.csv" "$URL/api/v1/datasets?name=tx.csv" | sed 's/^{"id":\([0-9]*\),.*/\1/')
JOB=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' -d "{\"dataset_id\":$DS}" "$URL/api/v1/runs" | sed 's/^{"job":{"id":\([0-9]*\),.*/\1/')
while :; do
  J=$(curl -sf -H "$AUTH" "$URL/api/v1/jobs/$JOB")
  case $J in *'"state":"done"'*) break ;; *'"state":"failed"'*) echo "$J"; exit 1 ;; esac
  sleep 0.2
done
RUN=$(echo "$J" | sed 's/.*"run_id":\([0-9]*\),.*/\1/')
CUST=$(curl -sf -H "$AUTH" "$URL/api/v1/runs/$RUN/customers?sort=frequency&order=desc&limit=1&offset=$((CUSTOMERS / 2))" | sed 's/.*"customer_id":"\([^"]*\)".*/\1/')
echo "bench_web: $CUSTOMERS customers, run $RUN, customer $CUST; server threads $THREADS; wrk 2 threads, $CONN connections, ${DUR}s each; $(nproc) cores"
curl -sf -o /dev/null -w "  customer lookup: %{size_download} bytes per response\n" -H "$AUTH" "$URL/api/v1/runs/$RUN/customers/$CUST"
curl -sf -o /dev/null -w "  dashboard JSON:  %{size_download} bytes per response\n" -H "$AUTH" "$URL/api/v1/runs/$RUN/results"
status=0
for name in customer dashboard; do
  if [ $name = customer ]; then P="/api/v1/runs/$RUN/customers/$CUST"; else P="/api/v1/runs/$RUN/results"; fi
  wrk -t2 -c"$CONN" -d"${DUR}s" --latency -H "$AUTH" "$URL$P" >"$T/wrk.$name" 2>&1
  wrk_stats "$T/wrk.$name"
  OK=$(awk -v r="$RPS" -v p="$P99MS" 'BEGIN{print (r>=10000 && p<10) ? "meets" : "MISSES"}')
  [ "$OK" = meets ] || status=1
  printf '  %-10s %9.0f req/s  p50 %-8s p99 %-8s non-2xx %s  -> %s the target (>= 10000 req/s, p99 < 10 ms)\n' \
    "$name" "$RPS" "$P50" "$P99" "${NON2XX:-0}" "$OK"
done
# Responsiveness while an analysis runs in a worker thread (JOB_CUSTOMERS=0 skips).
JOB_CUSTOMERS=${JOB_CUSTOMERS:-100000}
if [ "$JOB_CUSTOMERS" -gt 0 ]; then
  "$TSR" simulate --customers "$JOB_CUSTOMERS" --seed 4 -o "$T/big.csv" >/dev/null
  ROWS=$(($(wc -l <"$T/big.csv") - 1))
  DS2=$(curl -sf -H "$AUTH" -H 'Content-Type: text/csv' --data-binary @"$T/big.csv" "$URL/api/v1/datasets?name=big.csv" | sed 's/^{"id":\([0-9]*\),.*/\1/')
  JOB2=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' -d "{\"dataset_id\":$DS2}" "$URL/api/v1/runs" | sed 's/^{"job":{"id":\([0-9]*\),.*/\1/')
  sleep 0.3
  wrk -t2 -c"$CONN" -d"${DUR}s" --latency -H "$AUTH" "$URL/api/v1/runs/$RUN/customers/$CUST" >"$T/wrk.job" 2>&1
  J=$(curl -sf -H "$AUTH" "$URL/api/v1/jobs/$JOB2")
  STATE=$(echo "$J" | sed 's/.*"state":"\([a-z]*\)".*/\1/')
  wrk_stats "$T/wrk.job"
  printf '  %-10s %9.0f req/s  p99 %-8s while analysing %s rows (job %s at the end of the run)\n' customer "$RPS" "$P99" "$ROWS" "$STATE"
  while :; do
    J=$(curl -sf -H "$AUTH" "$URL/api/v1/jobs/$JOB2")
    case $J in *'"state":"running"'*|*'"state":"queued"'*) sleep 0.5 ;; *) break ;; esac
  done
fi
M=$(curl -sf -H "$AUTH" "$URL/metrics" | grep -E '^tessera_(http_requests_total|request_log_dropped)' | tr '\n' ' ')
echo "  server metrics: $M"
inside_server
exit $status
