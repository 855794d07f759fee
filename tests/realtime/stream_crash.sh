#!/bin/sh
# kill -9 of the Redis consumer at random points, restarts (same name) and a
# second consumer claiming the dead one's pending entries (XAUTOCLAIM); every
# tenth event is delivered twice. Afterwards: every event is stored exactly
# once and the live profiles equal the batch analysis (1e-9).
# usage: stream_crash.sh TESSERA_BINARY
set -eu
TSR=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
. "$SRC/tests/realtime/lib.sh"
trap 'redis_stop; rm -rf "$T"' EXIT
export TESSERA_NO_PROGRESS=1
redis_start
"$TSR" simulate --customers 1500 --seed 5 -o "$T/tx.csv"
"$TSR" analyze "$T/tx.csv" -o "$T/res" --db "$T/t.db" >/dev/null
ROWS=$(($(wc -l < "$T/tx.csv") - 1))
xadd_cmds "$T/tx.csv" tx 10 | rcli > /dev/null
SENT=$(rcli XLEN tx)
[ "$SENT" -gt "$ROWS" ] || { echo "FAIL: $SENT entries for $ROWS rows"; exit 1; }
# kill -9 at random points (the consumer reads small batches, so it is
# always somewhere between read, commit, publish and XACK)
kills=0
progress=
for round in 1 2 3 4 5 6; do
  "$TSR" stream --redis "unix:$REDIS_SOCK" --stream tx --group g --consumer c1 --db "$T/t.db" \
    --batch 37 2>>"$T/stream.log" &
  pid=$!
  sleep "0.$(awk -v s="$round" 'BEGIN { srand(s * 7919); printf "%02d", 5 + int(rand() * 60) }')"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  progress="$progress $(sqlite3 "$T/t.db" "SELECT count(*) FROM rt_events" 2>/dev/null || echo 0)"
done
echo "events stored after each kill:$progress"
# another consumer claims what c1 left pending; then c1 finishes
"$TSR" stream --redis "unix:$REDIS_SOCK" --stream tx --group g --consumer c2 --db "$T/t.db" \
  --batch 37 --claim-idle 50 --idle-exit 800 2>>"$T/stream.log"
"$TSR" stream --redis "unix:$REDIS_SOCK" --stream tx --group g --consumer c1 --db "$T/t.db" \
  --idle-exit 500 2>>"$T/stream.log"
PENDING=$(rcli XPENDING tx g | head -1)
[ "$PENDING" = 0 ] || { echo "FAIL: $PENDING entries still pending"; cat "$T/stream.log"; exit 1; }
STORED=$(sqlite3 "$T/t.db" "SELECT count(*) FROM rt_events")
DISTINCT=$(sqlite3 "$T/t.db" "SELECT count(DISTINCT key) FROM rt_events")
[ "$STORED" = "$ROWS" ] && [ "$DISTINCT" = "$ROWS" ] || {
  echo "FAIL: $STORED events stored ($DISTINCT distinct) for $ROWS rows"; cat "$T/stream.log"; exit 1; }
END=$(cut -d, -f10 "$T/res/customers.csv" | tail -n +2 | sort | tail -1)
"$TSR" profile --all --at "$END" --db "$T/t.db" > "$T/live.csv"
python3 "$SRC/tests/realtime/compare.py" "$T/res/customers.csv" "$T/live.csv"
grep -c . "$T/stream.log" >/dev/null
echo "ok: $kills kills, $ROWS events stored once each of $SENT deliveries"
