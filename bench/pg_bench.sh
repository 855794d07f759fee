# pg_bench.sh - shell functions shared by bench_indb.sh and bench_pgext.sh
# (sourced, not run): the simulated transactions they both load, the
# throwaway PostgreSQL clusters of scripts/pg-cluster.sh, and timing.
# The caller sets TSR (the tessera binary), N (customers) and SRC (the
# source tree).

# pgb_init: a temporary folder T (removed on exit, with the clusters c1 and
# c2 in it stopped) holding N simulated customers' transactions as
# $T/sim.csv and, without header, as customer_id TAB ts TAB amount in
# $T/sim.tsv; ROWS = their number.
pgb_init() {
  T=$(mktemp -d)
  chmod 755 "$T"
  trap 'sh "$SRC/scripts/pg-cluster.sh" stop "$T/c1" >/dev/null 2>&1; sh "$SRC/scripts/pg-cluster.sh" stop "$T/c2" >/dev/null 2>&1; rm -rf "$T"' EXIT
  "$TSR" simulate --customers "$N" --seed 3 -o "$T/sim.csv" 2>/dev/null
  awk -F, 'NR > 1 { print $2 "\t" $3 "\t" $4 }' "$T/sim.csv" >"$T/sim.tsv"
  ROWS=$(wc -l <"$T/sim.tsv")
}

# pgb_cluster NAME SHARDS PORT [local]: starts the coordinator and SHARDS
# shards in $T/NAME and copies sim.tsv into its transactions table; with
# "local", also into a plain table local_tx (vacuumed and analysed). Sets U
# (the coordinator's URL) and P (psql on it).
pgb_cluster() {
  U=$(sh "$SRC/scripts/pg-cluster.sh" start "$T/$1" "$2" "$3")
  P="psql -X -q -At -v ON_ERROR_STOP=1 $U"
  $P -c "\copy transactions FROM '$T/sim.tsv'"
  if [ "${4:-}" = local ]; then
    $P -c "CREATE TABLE local_tx AS SELECT * FROM transactions" -c "VACUUM ANALYZE local_tx"
  fi
}

now() { date +%s.%N; }
# secs A B [DIGITS]: the seconds from A to B (now), DIGITS decimals (2).
secs() { echo "$2 - $1" | bc -l | awk -v d="${3:-2}" '{ printf "%." d "f", $1 }'; }
