# Helpers of the real-time tests: a throwaway redis-server on a unix socket.
# Sourced with $T (a temporary directory) set. Exits 77 when redis-server is
# missing (the only reason to skip).
command -v redis-server >/dev/null 2>&1 || { echo "SKIP: redis-server not installed"; exit 77; }
command -v redis-cli >/dev/null 2>&1 || { echo "SKIP: redis-cli not installed"; exit 77; }
REDIS_SOCK=$T/r.sock
redis_start() {
  redis-server --port 0 --unixsocket "$REDIS_SOCK" --save '' --appendonly no \
    --daemonize yes --pidfile "$T/redis.pid" --logfile "$T/redis.log" --dir "$T" >/dev/null 2>&1
  i=0
  while [ ! -S "$REDIS_SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  [ -S "$REDIS_SOCK" ] || { echo "FAIL: redis-server did not start"; cat "$T/redis.log"; exit 1; }
}
redis_stop() {
  if [ -f "$T/redis.pid" ]; then
    kill "$(cat "$T/redis.pid")" 2>/dev/null || true
    i=0
    while [ -f "$T/redis.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  fi
}
rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
# XADD commands (for redis-cli) of a tessera simulate CSV: one event per row,
# every DUP-th row sent twice (same transaction id).
xadd_cmds() { # CSV STREAM DUP
  awk -F, -v s="$2" -v dup="$3" 'NR > 1 {
    line = sprintf("XADD %s * event \x27{\"customer_id\":\"%s\",\"timestamp\":\"%s\",\"amount\":%s,\"transaction_id\":\"%s\"}\x27", s, $2, $3, $4, $1)
    print line
    if (dup > 0 && NR % dup == 0) print line
  }' "$1"
}
