#!/usr/bin/env bash
# Project-local PostgreSQL for development and tests.
#
#   scripts/db.sh start   start (creating if needed) the cluster under target/pgdata; idempotent
#   scripts/db.sh stop    stop it (no error when it is not running)
#   scripts/db.sh url     print the DATABASE_URL of the project-local cluster
#   scripts/db.sh status  exit 0 when it answers
#   scripts/db.sh bindir  print the directory of PostgreSQL's binaries (installing them when missing)
#
# COALESCE_PGPORT, COALESCE_PGDATA and COALESCE_PGDATABASE move the cluster and its database (the benchmark runs
# its own cluster beside the tests' this way); COALESCE_PGOPTIONS adds server options at start (e.g.
# "-c shared_preload_libraries=pg_stat_statements"); they apply when the cluster is started, not to one that runs.
#
# When DATABASE_URL is set, `start` only checks that database answers and starts nothing: the caller's
# database wins. Works as root (initdb refuses root, so the server runs as the `postgres` user via
# runuser) and as a normal user. Where no PostgreSQL binaries exist it installs them with apt as root on
# Debian/Ubuntu, otherwise it stops with a one-line instruction.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${COALESCE_PGDATA:-$root/target/pgdata}"
port="${COALESCE_PGPORT:-54329}"
dbname="${COALESCE_PGDATABASE:-coalesce}"
local_url="postgres://postgres@127.0.0.1:${port}/${dbname}"

# As root the server runs as `postgres`, which must be able to reach the data directory. A checkout under a
# private home (e.g. /root) is not reachable, so the cluster then lives under /var/tmp, keyed by checkout.
if [ "$(id -u)" = 0 ] && [ -z "${COALESCE_PGDATA:-}" ] && id postgres >/dev/null 2>&1 \
   && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
  data="/var/tmp/coalesce-$(printf '%s' "$root" | sha256sum | cut -c1-12)/pgdata"
fi

log() { printf 'db: %s\n' "$*" >&2; }

find_bindir() {
  local candidate
  if command -v pg_config >/dev/null 2>&1; then
    candidate="$(pg_config --bindir 2>/dev/null || true)"
    [ -x "$candidate/initdb" ] && { echo "$candidate"; return 0; }
  fi
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/pgsql/bin /usr/bin; do
    [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ] && { echo "$candidate"; return 0; }
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

install_postgres() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "no PostgreSQL binaries found; installing them with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >&2
  else
    echo "db: PostgreSQL server binaries not found: install PostgreSQL (initdb, pg_ctl) or set DATABASE_URL" >&2
    exit 1
  fi
}

# Runs a command as the cluster's owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
  # from / so that the owner is not left in a directory it cannot enter (every path given is absolute)
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

bindir() {
  local dir
  dir="$(find_bindir)" || { install_postgres; dir="$(find_bindir)" || { echo "db: PostgreSQL install failed" >&2; exit 1; }; }
  echo "$dir"
}

running() {
  local bin="$1"
  [ -f "$data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

psql_local() {
  local bin="$1"; shift
  "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres "$@"
}

start() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "DATABASE_URL is set; using it and starting nothing"
    return 0
  fi
  local bin; bin="$(bindir)"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating cluster in $data"
    mkdir -p "$(dirname "$data")"
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
      mkdir -p "$(dirname "$data")"
      chmod o+x "$(dirname "$data")" 2>/dev/null || true
      install -d -o postgres -g postgres -m 700 "$data"
    else
      install -d -m 700 "$data"
    fi
    as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
    # trust only over loopback TCP and the cluster's own socket directory
    cat > "$data/pg_hba.conf.coalesce" <<HBA
local   all all               trust
host    all all 127.0.0.1/32  trust
HBA
    as_owner cp "$data/pg_hba.conf.coalesce" "$data/pg_hba.conf"
    rm -f "$data/pg_hba.conf.coalesce"
  fi
  if running "$bin"; then
    log "already running on port $port"
  else
    log "starting on 127.0.0.1:$port"
    as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$data -c max_connections=300 -c shared_buffers=256MB ${COALESCE_PGOPTIONS:-}" \
      start >/dev/null
  fi
  if ! psql_local "$bin" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
    psql_local "$bin" -d postgres -c "CREATE DATABASE \"$dbname\"" >/dev/null
    log "created database $dbname"
  fi
}

stop() {
  [ -n "${DATABASE_URL:-}" ] && { log "DATABASE_URL is set; nothing to stop"; return 0; }
  local bin; bin="$(find_bindir)" || return 0
  if running "$bin"; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    log "stopped"
  else
    log "not running"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "${DATABASE_URL:-$local_url}" ;;
  status) bin="$(find_bindir)" && running "$bin" ;;
  bindir) bindir ;;
  *) echo "usage: $0 start|stop|url|status|bindir" >&2; exit 2 ;;
esac
