#!/bin/sh
# Hostile entries on the Redis stream: each is acknowledged, copied with its
# error to tessera:rejected-events, never stored and never stops the others;
# a repeated transaction id is applied once; bad command lines are refused.
# usage: stream_hostile.sh TESSERA_BINARY
set -eu
TSR=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
. "$SRC/tests/realtime/lib.sh"
trap 'redis_stop; rm -rf "$T"' EXIT
export TESSERA_NO_PROGRESS=1
fail() { echo "FAIL: $*"; cat "$T/err" 2>/dev/null; exit 1; }
redis_start
"$TSR" simulate --customers 300 --seed 9 -o "$T/tx.csv"
"$TSR" analyze "$T/tx.csv" -o "$T/res" --db "$T/t.db" >/dev/null
BIG=$(head -c 70000 /dev/zero | tr '\0' x)
rcli XADD tx '*' event '{"customer_id":"C000001","date":"2025-03-01","amount":10,"transaction_id":"OK1"}' >/dev/null
rcli XADD tx '*' event '{"customer_id":"C000001","date":"2025-03-01","amount":10,"transaction_id":"OK1"}' >/dev/null
rcli XADD tx '*' event '{"customer_id":"C000001","date":"2025-02-30","amount":10}' >/dev/null
rcli XADD tx '*' event '{"customer_id":"C000001","date":"2025-03-01","amount":"12,50"}' >/dev/null
rcli XADD tx '*' event 'not json' >/dev/null
rcli XADD tx '*' something else >/dev/null
rcli XADD tx '*' event "{\"customer_id\":\"$BIG\"}" >/dev/null
rcli XADD tx '*' event '{"type":"product","customer_id":"C000001","date":"2025-03-02","product_opened":"savings"}' >/dev/null
set +e
"$TSR" stream --redis "unix:$REDIS_SOCK" --stream tx --group g --db "$T/t.db" --idle-exit 300 2>"$T/err"
rc=$?
set -e
[ $rc = 0 ] || fail "exit $rc"
grep -q "8 read, 2 applied, 1 duplicates, 5 rejected" "$T/err" || fail "counts"
[ "$(rcli XPENDING tx g | head -1)" = 0 ] || fail "entries left pending"
[ "$(rcli XLEN tessera:rejected-events)" = 5 ] || fail "rejected stream"
rcli XRANGE tessera:rejected-events - + > "$T/rej"
grep -q "date: expected an ISO 8601 date or timestamp, got '2025-02-30'" "$T/rej" || fail "date reason"
grep -q "amount: expected a number, got '12,50'" "$T/rej" || fail "amount reason"
grep -q "event: expected a field 'event'" "$T/rej" || fail "missing field reason"
grep -q "customer_id: expected at most 256 bytes\|expected an event of at most 65536 bytes" "$T/rej" || fail "size reason"
[ "$(sqlite3 "$T/t.db" 'SELECT count(*) FROM rt_events')" = 2 ] || fail "stored events"
"$TSR" profile C000001 --at 2025-12-31 --db "$T/t.db" > "$T/p"
grep -q '"products":1' "$T/p" || fail "product event counted"
grep -q '"products_held":\["savings"\]' "$T/p" || fail "product set"
# usage errors
set +e
"$TSR" stream --stream tx --group g --db "$T/t.db" 2>"$T/err"; rc1=$?
"$TSR" stream --redis "unix:$REDIS_SOCK" --stream tx --group g --batch 0 --db "$T/t.db" 2>>"$T/err"; rc2=$?
"$TSR" stream --redis "unix:$REDIS_SOCK" --stream tx --group g --partition 3/2 --db "$T/t.db" 2>>"$T/err"; rc3=$?
"$TSR" stream --redis "unix:$T/nothing.sock" --stream tx --group g --db "$T/t.db" 2>>"$T/err"; rc4=$?
"$TSR" profile --db "$T/t.db" 2>>"$T/err"; rc5=$?
"$TSR" profile C000001 --at 2025-13-01 --db "$T/t.db" 2>>"$T/err"; rc6=$?
"$TSR" profile NOBODY --db "$T/t.db" 2>>"$T/err"; rc7=$?
set -e
[ "$rc1 $rc2 $rc3 $rc4 $rc5 $rc6 $rc7" = "2 2 2 1 2 2 3" ] || fail "exit codes $rc1 $rc2 $rc3 $rc4 $rc5 $rc6 $rc7"
grep -q -- "--redis: expected the Redis URL" "$T/err" || fail "--redis message"
grep -q "customer 'NOBODY': no events" "$T/err" || fail "unknown customer message"
echo ok
