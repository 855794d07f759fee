#!/bin/sh
# Server CPU time per request of the customer views (view, message preview,
# churn/next-best-products API, at-risk list, segment profiles) of two
# tessera binaries on copies of one database, and whether their answers are
# byte-identical (bench/compare_views.py --time; docs/web.md "Views of big
# runs"). The first request of each kind pays for building the index of the
# run files; "per request" includes it.
#   bench/bench_views.sh OLD_BIN NEW_BIN DB [CUSTOMERS [PREVIEWS]]
# e.g. tessera analyze /work/data/bundle300k --db /tmp/r.db -o /tmp/out
#      bench/bench_views.sh /work/baseline/tessera-s13 build/tessera /tmp/r.db 200 6
set -eu
if [ $# -lt 3 ]; then
  sed -n '2,11p' "$0"
  exit 2
fi
here=$(dirname "$0")
exec python3 "$here/compare_views.py" "$1" "$2" "$3" --customers "${4:-200}" --previews "${5:-6}" --time
