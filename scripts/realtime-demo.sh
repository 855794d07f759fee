#!/bin/sh
# The real-time path on the demo data (after `make demo`): starts a
# throwaway redis-server, adds every demo transaction to the stream `tx` as
# one entry each, runs `tessera stream` until the stream is drained, then
# prints a live profile and the first segment changes.
# Usage: sh scripts/realtime-demo.sh [BUILD/tessera] [DEMO_DIR]
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
TSR=${1:-$SRC/build/tessera}
DIR=${2:-$SRC/build/demo}
[ -f "$DIR/tessera.db" ] || { echo "tessera: run 'make demo' first ($DIR/tessera.db is missing)" >&2; exit 1; }
T=$(mktemp -d)
. "$SRC/tests/realtime/lib.sh"
trap 'redis_stop; rm -rf "$T"' EXIT
redis_start
awk -F, 'NR > 1 {
  j = sprintf("{\"customer_id\":\"%s\",\"timestamp\":\"%s\",\"amount\":%s,\"transaction_id\":\"%s\"}", $2, $3, $4, $1)
  printf "*5\r\n$4\r\nXADD\r\n$2\r\ntx\r\n$1\r\n*\r\n$5\r\nevent\r\n$%d\r\n%s\r\n", length(j), j
}' "$DIR/transactions.csv" | rcli --pipe > /dev/null
echo "tessera: $(rcli XLEN tx) events in the Redis stream tx"
"$TSR" stream --redis "unix:$REDIS_SOCK" --stream tx --group demo --db "$DIR/tessera.db" --idle-exit 1000
CUST=$(sed -n 2p "$DIR/customers.csv" | cut -d, -f1)
END=$(cut -d, -f10 "$DIR/customers.csv" | tail -n +2 | sort | tail -1)
echo "tessera: live profile of $CUST at $END:"
"$TSR" profile "$CUST" --at "$END" --db "$DIR/tessera.db"
echo "tessera: $(rcli XLEN tessera:segment-changes) segment changes published; the first:"
rcli --no-raw XRANGE tessera:segment-changes - + COUNT 1
