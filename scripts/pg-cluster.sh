#!/bin/sh
# pg-cluster.sh - a local sharded PostgreSQL layout for tessera (issue 16,
# docs/pg-extension.md): one coordinator and N shard servers, each a
# throwaway cluster (initdb + pg_ctl, unix socket only, as the postgres user
# when run as root). The transactions table on the coordinator is
# hash-partitioned by customer_id; partition K is a postgres_fdw foreign
# table stored on shard K. Every server has CREATE EXTENSION tessera, and
# the foreign servers list it as shippable (OPTIONS extensions 'tessera'),
# so with enable_partitionwise_aggregate each shard computes its customers'
# tessera_summary and the coordinator only collects per-customer rows.
#
#   pg-cluster.sh start DIR N [PORT]  start coordinator (node0) + N shards
#                                     (ports PORT..PORT+N, default 5480), lay out
#                                     the partitioned table; prints the URL
#   pg-cluster.sh url DIR             the coordinator's URL
#   pg-cluster.sh stop DIR            stop every server and remove DIR
#
# The extension must be installed first (make pg-extension).
set -eu
cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { sed -n '2,22p' "$0" >&2; exit 2; }

PGBIN=${TSR_PGBIN:-}
if [ -z "$PGBIN" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && PGBIN=$d; done
fi
AS=""
USER_NAME=$(id -un)
if [ "$(id -u)" = 0 ]; then AS="runuser -u postgres --"; USER_NAME=postgres; fi

url() { # url K
  port=$(cat "$DIR/node$1/port")
  echo "postgresql://$USER_NAME@/postgres?host=$DIR/node$1&port=$port"
}

case "$cmd" in
start)
  N=${3:?number of shards}
  PORT=${4:-5480}
  [ -n "$PGBIN" ] || { echo "pg-cluster.sh: PostgreSQL server binaries not found" >&2; exit 77; }
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  [ -z "$AS" ] || chown postgres "$DIR"
  k=0
  while [ $k -le "$N" ]; do
    d="$DIR/node$k"
    $AS mkdir -p "$d"
    $AS "$PGBIN/initdb" --no-sync -D "$d/data" -U "$USER_NAME" --auth=trust --encoding=UTF8 \
      --locale=C >"$DIR/initdb$k.log" 2>&1 || { cat "$DIR/initdb$k.log" >&2; exit 1; }
    $AS "$PGBIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -s -o "-k $d -p $((PORT + k)) \
      -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
      -c max_parallel_workers_per_gather=2" start || { cat "$d/server.log" >&2; exit 1; }
    echo $((PORT + k)) | $AS tee "$d/port" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 "$(url $k)" -c "CREATE EXTENSION tessera" >/dev/null
    k=$((k + 1))
  done
  C=$(url 0)
  {
    echo "CREATE EXTENSION postgres_fdw;"
    echo "CREATE TABLE transactions (customer_id text NOT NULL, ts timestamptz NOT NULL, amount numeric NOT NULL) PARTITION BY HASH (customer_id);"
    k=1
    while [ $k -le "$N" ]; do
      r=$((k - 1))
      echo "CREATE SERVER shard$k FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$DIR/node$k', port '$((PORT + k))', dbname 'postgres', extensions 'tessera', async_capable 'true', fetch_size '50000');"
      echo "CREATE USER MAPPING FOR CURRENT_USER SERVER shard$k OPTIONS (user '$USER_NAME');"
      echo "CREATE FOREIGN TABLE transactions_p$r PARTITION OF transactions FOR VALUES WITH (MODULUS $N, REMAINDER $r) SERVER shard$k OPTIONS (table_name 'transactions_p$r');"
      psql -X -q -v ON_ERROR_STOP=1 "$(url $k)" -c "CREATE TABLE transactions_p$r (customer_id text NOT NULL, ts timestamptz NOT NULL, amount numeric NOT NULL)" >/dev/null
      k=$((k + 1))
    done
    echo "ALTER DATABASE postgres SET enable_partitionwise_aggregate = on;"
  } | psql -X -q -v ON_ERROR_STOP=1 "$C" >/dev/null
  echo "$C"
  ;;
url)
  url 0
  ;;
stop)
  for d in "$DIR"/node*; do
    [ -f "$d/data/postmaster.pid" ] || continue
    pid=$(head -n 1 "$d/data/postmaster.pid")
    kill -INT "$pid" 2>/dev/null || true
    i=0
    while [ -f "$d/data/postmaster.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  done
  rm -rf "$DIR"
  ;;
*)
  sed -n '2,22p' "$0" >&2
  exit 2
  ;;
esac
