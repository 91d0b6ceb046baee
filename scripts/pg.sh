#!/usr/bin/env bash
# A throw-away PostgreSQL server for Sealtrail's tests and benchmarks.
#
#   scripts/pg.sh start   install PostgreSQL if missing, initdb into a fresh
#                         temporary directory, start it on 127.0.0.1 with a
#                         free port, create the database, print its URL
#   scripts/pg.sh url     print the URL of the running server
#   scripts/pg.sh stop    stop the server and delete its directory
#
# The server listens on loopback only, trusts local connections (it holds
# nothing but test data) and keeps its unix socket inside its own directory,
# so it never touches a system cluster. State lives in $SEALTRAIL_PG_STATE
# (default: target/sealtrail-pg in the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

state="${SEALTRAIL_PG_STATE:-$PWD/target/sealtrail-pg}"
mkdir -p "$state"

find_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    echo "$d"
    return
  fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  return 1
}

install_pg() {
  if [ "$(id -u)" != 0 ]; then
    echo "pg.sh: PostgreSQL is not installed and this is not root; install the postgresql package" >&2
    exit 1
  fi
  echo "pg.sh: installing PostgreSQL" >&2
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# initdb and postgres refuse to run as root: run them as the `postgres`
# system user (created by the package) when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    fi
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_url() {
  if [ ! -f "$state/url" ]; then
    echo "pg.sh: no server started (run scripts/pg.sh start)" >&2
    exit 1
  fi
  cat "$state/url"
}

cmd_stop() {
  if [ -f "$state/dir" ]; then
    local dir bindir
    dir=$(cat "$state/dir")
    bindir=$(find_bindir || true)
    if [ -n "$bindir" ] && [ -d "$dir/data" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
  fi
  rm -f "$state/dir" "$state/url"
}

cmd_start() {
  if [ -f "$state/url" ] && [ -f "$state/dir" ]; then
    local dir bindir
    dir=$(cat "$state/dir")
    bindir=$(find_bindir || true)
    if [ -n "$bindir" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      cat "$state/url"
      return
    fi
    cmd_stop
  fi
  local bindir
  bindir=$(find_bindir) || { install_pg; bindir=$(find_bindir); }
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/sealtrail-pg.XXXXXX")
  chmod 755 "$dir"
  if [ "$(id -u)" = 0 ]; then
    as_owner true 2>/dev/null || true
    chown postgres: "$dir"
  fi
  as_owner "$bindir/initdb" -D "$dir/data" -U sealtrail --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  local port=""
  for _ in $(seq 1 50); do
    local p=$(( 20000 + RANDOM % 30000 ))
    if port_free "$p"; then port=$p; break; fi
  done
  [ -n "$port" ] || { echo "pg.sh: no free port found" >&2; exit 1; }
  # Many tests run at once, each with its own database and a few
  # connections per node, hence max_connections.
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=400 -c shared_buffers=256MB" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  as_owner "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U sealtrail -d postgres \
    -c "CREATE DATABASE sealtrail" >/dev/null
  echo "$dir" >"$state/dir"
  echo "postgres://sealtrail@127.0.0.1:$port/sealtrail" >"$state/url"
  cat "$state/url"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) cmd_url ;;
  *) echo "usage: scripts/pg.sh start|stop|url" >&2; exit 2 ;;
esac
