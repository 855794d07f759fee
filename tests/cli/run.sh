#!/bin/sh
# Golden CLI test runner: run.sh TESSERA_BINARY TEST_FILE
# A .test file is a shell script using these helpers:
#   tsr ARGS...            run tessera; stdout -> $OUT, stderr -> $ERR, exit -> $RC
#   tsr_in FILE ARGS...    same with stdin from FILE
#   expect_rc N            exit code must be N
#   expect_out <<'EOF'     stdout must equal the heredoc exactly
#   expect_err <<'EOF'     stderr must equal the heredoc exactly
#   expect_out_has STR / expect_err_has STR   substring checks
#   expect_file_eq A B     files must be identical
#   fail MSG               fail the test
# $T is a fresh temporary directory, $DATA the reference data folder
# (tests/data, or $TSR_SHARED_DATA), need_data FILE skips (77) without it,
# $SRC the source tree.
set -eu
TSR_BIN=$1
TEST=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${TSR_SHARED_DATA:-$SRC/tests/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
OUT=$T/.stdout
ERR=$T/.stderr
RC=0
export TESSERA_NO_PROGRESS=1

fail() {
  echo "FAIL: $TEST: $*" >&2
  echo "--- stdout" >&2; head -c 4000 "$OUT" >&2 2>/dev/null || true
  echo "--- stderr" >&2; head -c 4000 "$ERR" >&2 2>/dev/null || true
  exit 1
}
tsr() {
  set +e
  "$TSR_BIN" "$@" >"$OUT" 2>"$ERR" </dev/null
  RC=$?
  set -e
}
tsr_in() {
  f=$1; shift
  set +e
  "$TSR_BIN" "$@" >"$OUT" 2>"$ERR" <"$f"
  RC=$?
  set -e
}
need_data() { # larger outside files live in ../shared/data beside the checkout
  if [ ! -f "$DATA/$1" ] && [ -f "$SRC/../shared/data/$1" ]; then DATA=$SRC/../shared/data; fi
  [ -f "$DATA/$1" ] || { echo "skip: $TEST: reference file $1 missing (\$TSR_SHARED_DATA or ../shared/data)" >&2; exit 77; }
}
expect_rc() { [ "$RC" -eq "$1" ] || fail "exit code $RC, expected $1"; }
expect_out() {
  cat >"$T/.expect"
  diff -u "$T/.expect" "$OUT" >&2 || fail "stdout differs (diff above: - expected, + got)"
}
expect_err() {
  cat >"$T/.expect"
  diff -u "$T/.expect" "$ERR" >&2 || fail "stderr differs (diff above: - expected, + got)"
}
expect_out_has() { grep -qF -- "$1" "$OUT" || fail "stdout lacks '$1'"; }
expect_err_has() { grep -qF -- "$1" "$ERR" || fail "stderr lacks '$1'"; }
expect_file_eq() { cmp -s "$1" "$2" || { diff -u "$1" "$2" | head -40 >&2; fail "$1 and $2 differ"; }; }

. "$TEST"
echo "ok: $TEST"
