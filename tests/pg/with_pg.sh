#!/bin/sh
# with_pg.sh CMD [ARGS...] - runs CMD beside a throwaway PostgreSQL server.
#
# initdb --no-sync + pg_ctl on a unix socket in a fresh temporary directory
# (no TCP), fsync off; as the postgres user when run as root (initdb and
# pg_ctl refuse root). CMD sees:
#   TSR_TEST_PG_HOST  socket directory
#   TSR_TEST_PG_PORT  port (names the socket file)
#   TSR_TEST_PG_USER  superuser name
#   TSR_TEST_PG_URL   postgresql:// URL of the "postgres" database
# The server is stopped (SIGINT to the postmaster, then wait for
# postmaster.pid to vanish) however CMD ends. Exit status: CMD's, or 77
# (skip) when the PostgreSQL server binaries are not installed.
set -u
PGBIN=${TSR_PGBIN:-}
if [ -z "$PGBIN" ]; then
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && PGBIN=$d
  done
fi
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "with_pg.sh: skipped: PostgreSQL server binaries not found (install the postgresql package)" >&2
  exit 77
fi

DIR=$(mktemp -d /tmp/tsr-pg.XXXXXX) || exit 1
chmod 755 "$DIR"
AS=""
PGUSER_NAME=$(id -un)
if [ "$(id -u)" = 0 ]; then
  chown postgres "$DIR" || exit 1
  AS="runuser -u postgres --"
  PGUSER_NAME=postgres
fi
PORT=${TSR_TEST_PG_PORT:-5439}

cleanup() {
  if [ -f "$DIR/data/postmaster.pid" ]; then
    pid=$(head -n 1 "$DIR/data/postmaster.pid")
    kill -INT "$pid" 2>/dev/null
    i=0
    while [ -f "$DIR/data/postmaster.pid" ] && [ $i -lt 100 ]; do
      sleep 0.1
      i=$((i + 1))
    done
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! $AS "$PGBIN/initdb" --no-sync -D "$DIR/data" -U "$PGUSER_NAME" --auth=trust \
     --encoding=UTF8 --locale=C >"$DIR/initdb.log" 2>&1; then
  echo "with_pg.sh: initdb failed:" >&2
  cat "$DIR/initdb.log" >&2
  exit 1
fi
if ! $AS "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -s \
     -o "-k $DIR -p $PORT -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start; then
  echo "with_pg.sh: pg_ctl start failed:" >&2
  cat "$DIR/server.log" >&2
  exit 1
fi

export TSR_TEST_PG_HOST="$DIR"
export TSR_TEST_PG_PORT="$PORT"
export TSR_TEST_PG_USER="$PGUSER_NAME"
export TSR_TEST_PG_URL="postgresql://$PGUSER_NAME@/postgres?host=$DIR&port=$PORT"
"$@"
rc=$?
exit $rc
