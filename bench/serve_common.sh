# Shared part of the `tessera serve` benchmarks (bench_web.sh,
# bench_decisions.sh), sourced after TSR, CUSTOMERS, THREADS and BENCH (the
# script's name, for messages) are set. Sets T (a temporary directory,
# removed on exit with the server stopped), TOKEN (an analyst's bearer
# token in $T/web.db) and $T/tx.csv (CUSTOMERS simulated customers, seed 3).
# serve_start ARGS... starts `tessera serve` on a free loopback port with
# ARGS and sets PID, URL and AUTH; wrk_stats FILE reads a `wrk --latency`
# output into RPS, P50, P99, P99MS (p99 in ms) and NON2XX; cpu_ticks prints
# the server's user + system CPU time in clock ticks (/proc/PID/stat);
# inside_server prints the share of requests served within 1, 5 and 10 ms
# inside the server (request start to response done, its /metrics
# histogram), which tells the server's own tail from queueing outside it.
command -v wrk >/dev/null || { echo "$BENCH: wrk is missing (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "$BENCH: curl is missing" >&2; exit 1; }
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

serve_start() {
  "$TSR" serve --listen 127.0.0.1:0 --db "$T/web.db" --threads "$THREADS" "$@" >"$T/serve.out" 2>"$T/serve.err" &
  PID=$!
  _i=0
  while ! grep -q listening "$T/serve.out" 2>/dev/null; do
    _i=$((_i + 1)); [ $_i -lt 200 ] || { cat "$T/serve.err"; exit 1; }; sleep 0.05
  done
  URL=$(sed -n 's/^tessera: listening on //p' "$T/serve.out")
  AUTH="Authorization: Bearer $TOKEN"
}

wrk_stats() {
  RPS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1")
  P50=$(awk '$1=="50%"{print $2}' "$1")
  P99=$(awk '$1=="99%"{print $2}' "$1")
  NON2XX=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1")
  P99MS=$(echo "$P99" | awk '/us$/{sub("us","");print $1/1000;next} /ms$/{sub("ms","");print $1;next} /s$/{sub("s","");print $1*1000;next}')
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

inside_server() {
  curl -sf -H "$AUTH" "$URL/metrics" >"$T/metrics"
  awk -F'[ "]' '/^tessera_http_request_duration_seconds_bucket/{b[$2]=$NF}
    /^tessera_http_request_duration_seconds_count/{n=$NF}
    END{if(n>0) printf "  inside the server: %.2f%% of %d requests under 1 ms, %.3f%% under 5 ms, %.3f%% under 10 ms\n", 100*b["0.001"]/n, n, 100*b["0.005"]/n, 100*b["0.01"]/n}' "$T/metrics"
}
