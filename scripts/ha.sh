#!/usr/bin/env bash
# A local highly available PostgreSQL: a pg_auto_failover formation of a monitor and two data nodes (a primary
# and a synchronous standby), for `make ha` and `make test-ha`.
#
#   scripts/ha.sh start     create (first time) or restart the formation; idempotent; prints the DATABASE_URL
#   scripts/ha.sh stop      stop every pg_autoctl of the formation (their data stays)
#   scripts/ha.sh destroy   stop it and delete its data
#   scripts/ha.sh url       print the multi-host DATABASE_URL
#   scripts/ha.sh state     `pg_autoctl show state`
#   scripts/ha.sh primary   print the name of the current primary (node1 or node2), nothing while there is none
#   scripts/ha.sh failover  a planned switchover (`pg_autoctl perform failover`)
#   scripts/ha.sh kill NODE kill -9 the node's pg_autoctl process group (its pg_autoctl and its postmaster)
#   scripts/ha.sh run NODE  start the node's pg_autoctl again (after `kill`; it rejoins as a standby)
#   scripts/ha.sh wait-healthy  wait until one node is primary and the other a healthy secondary
#   scripts/ha.sh promoted-after EPOCH  seconds from EPOCH (Unix time, fractional) until a node first reported
#                           itself (wait_)primary after it, as the monitor recorded it
#
# COALESCE_HA_DATA (default target/ha) holds everything; COALESCE_HA_PORT_BASE (default 54370) is the monitor's
# port, the nodes take the next two. The database is COALESCE_HA_DATABASE (default coalesce), user postgres,
# trust on 127.0.0.1 only. The packages (pg-auto-failover-cli, postgresql-15-auto-failover) are installed with
# apt when missing (as root).
#
# Facts of this machine kind (see README, "Running highly available"): pg_autoctl runs as the `postgres` user
# with its XDG_* directories under the data directory; a CHECKPOINT on the primary before the second node is
# created spares its base backup a ~60 s spread checkpoint; the monitor's health checks and the nodes'
# network partition timeout are tuned down so that a crashed primary is replaced in about 10 s instead of 50
# (the demote timeout stays above the partition timeout: a primary cut off from the monitor demotes itself
# before the monitor promotes the standby).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${COALESCE_HA_DATA:-$root/target/ha}"
base="${COALESCE_HA_PORT_BASE:-54370}"
dbname="${COALESCE_HA_DATABASE:-coalesce}"
monitor_port=$base
node_port_1=$((base + 1))
node_port_2=$((base + 2))
host=127.0.0.1
pgversion=15
bindir="/usr/lib/postgresql/$pgversion/bin"
# A primary that can reach neither the monitor nor its standby for the partition timeout demotes itself; the
# monitor promotes the standby only after the demote timeout, which must stay above it (two seconds above).
# pg_auto_failover's defaults (20 s and 30 s) make a crash last about 50 s; 5 s and 8 s about 12 s; these about
# 9 s (see README, "Running highly available").
partition_timeout_s="${COALESCE_HA_PARTITION_TIMEOUT_S:-2}"
demote_timeout_ms="${COALESCE_HA_DEMOTE_TIMEOUT_MS:-4000}"
[ $((partition_timeout_s * 1000 + 2000)) -le "$demote_timeout_ms" ] \
  || { echo "ha: the demote timeout must be at least 2 s above the partition timeout" >&2; exit 2; }

# As root pg_autoctl runs as `postgres`, which must reach the data directory; a checkout under a private home is
# not reachable, so the formation then lives under /var/tmp (as the project-local cluster does, see db.sh).
if [ "$(id -u)" = 0 ] && [ -z "${COALESCE_HA_DATA:-}" ] && id postgres >/dev/null 2>&1 \
   && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
  data="/var/tmp/coalesce-$(printf '%s' "$root" | sha256sum | cut -c1-12)/ha"
fi

log() { printf 'ha: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

node_port() { case "$1" in node1) echo "$node_port_1" ;; node2) echo "$node_port_2" ;; monitor) echo "$monitor_port" ;; *) die "unknown node $1" ;; esac; }
monitor_url() { echo "postgres://autoctl_node@$host:$monitor_port/pg_auto_failover?sslmode=disable"; }
url() { echo "postgres://postgres@$host:$node_port_1,$host:$node_port_2/$dbname?target_session_attrs=read-write"; }

install_packages() {
  command -v pg_autoctl >/dev/null 2>&1 && [ -x "$bindir/pg_ctl" ] \
    && [ -f "/usr/share/postgresql/$pgversion/extension/pgautofailover.control" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing pg_auto_failover with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pg-auto-failover-cli "postgresql-$pgversion-auto-failover" >&2
  else
    die "pg_auto_failover is missing: install pg-auto-failover-cli and postgresql-$pgversion-auto-failover"
  fi
}

# Runs a command as the formation's owner (`postgres` when we are root), with pg_autoctl's XDG directories
# under the data directory and PostgreSQL's binaries on the PATH.
as_owner() {
  local env=(env "HOME=$data" "XDG_CONFIG_HOME=$data/xdg/config" "XDG_DATA_HOME=$data/xdg/share" "XDG_RUNTIME_DIR=$data/xdg/run"
    "PATH=$bindir:/usr/bin:/bin" "PG_CONFIG=$bindir/pg_config")
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "${env[@]}" "$@"); else "${env[@]}" "$@"; fi
}

psql_at() {
  local port=$1; shift
  "$bindir/psql" -X -q -h "$host" -p "$port" -U postgres "$@"
}

# Starts `pg_autoctl run` for a node in its own session (so its process group is the node: pg_autoctl and the
# postmaster it supervises), logging to $data/NODE.log.
run_node() {
  local node=$1
  if node_running "$node"; then return 0; fi
  local as=()
  # setpriv execs (runuser would fork): the recorded pid is pg_autoctl's and leads the node's process group
  [ "$(id -u)" = 0 ] && as=(setpriv --reuid=postgres --regid=postgres --init-groups)
  (cd /
    setsid "${as[@]}" env "HOME=$data" "XDG_CONFIG_HOME=$data/xdg/config" "XDG_DATA_HOME=$data/xdg/share" \
    "XDG_RUNTIME_DIR=$data/xdg/run" "PATH=$bindir:/usr/bin:/bin" \
    pg_autoctl run --pgdata "$data/$node" >>"$data/$node.log" 2>&1 </dev/null &
    echo $! >"$data/$node.pid")
}

node_running() {
  local pid
  pid=$(cat "$data/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q pg_autoctl "/proc/$pid/cmdline" 2>/dev/null
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what (logs in $data/*.log)"
    sleep 0.2
  done
}

answers() { psql_at "$1" -d "${2:-postgres}" -tAc 'SELECT 1' | grep -q 1; }
writable() { psql_at "$1" -d "$dbname" -tAc 'SHOW transaction_read_only' | grep -qx off; }

# `pg_autoctl show state` as name/state pairs, e.g. "node1 primary".
states() {
  psql_at "$monitor_port" -d pg_auto_failover -tA -F' ' \
    -c "SELECT nodename, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid" 2>/dev/null
}

# The node that takes writes: primary, or wait_primary (a primary whose standby is not back yet).
primary() { states | awk '($2 == "primary" || $2 == "wait_primary") && $3 == $2 {print $1}'; }

healthy() {
  local s; s=$(states) || return 1
  [ "$(awk '$2 == "primary" && $3 == "primary"' <<<"$s" | wc -l)" = 1 ] \
    && [ "$(awk '$2 == "secondary" && $3 == "secondary"' <<<"$s" | wc -l)" = 1 ]
}

create() {
  log "creating the formation in $data (monitor :$monitor_port, nodes :$node_port_1 and :$node_port_2)"
  rm -rf "$data"
  mkdir -p "$data"
  if [ "$(id -u)" = 0 ]; then
    chmod o+x "$(dirname "$data")" 2>/dev/null || true
    chown postgres:postgres "$data"
  fi
  as_owner mkdir -p "$data/xdg/config" "$data/xdg/share" "$data/xdg/run"
  as_owner chmod 700 "$data/xdg/run"

  as_owner pg_autoctl create monitor --pgdata "$data/monitor" --pgport "$monitor_port" --hostname "$host" \
    --auth trust --no-ssl --pgctl "$bindir/pg_ctl" >>"$data/monitor.log" 2>&1 || die "create monitor failed (see $data/monitor.log)"
  tune_monitor_files
  run_node monitor
  wait_for 60 "the monitor" answers "$monitor_port" pg_auto_failover
  tune_monitor_live

  create_node node1 "$node_port_1"
  run_node node1
  wait_for 90 "node1 to become primary" writable "$node_port_1"
  # Without a checkpoint node2's base backup waits for a spread one (about 60 s).
  psql_at "$node_port_1" -d "$dbname" -c CHECKPOINT >/dev/null

  create_node node2 "$node_port_2"
  run_node node2
  wait_for 120 "node2 to become a secondary" healthy
  touch "$data/created"
}

# The monitor's PostgreSQL listens on 127.0.0.1 only (pg_autoctl's default is '*') and trusts only it.
tune_monitor_files() {
  as_owner pg_autoctl config set --pgdata "$data/monitor" postgresql.listen_addresses "$host" >/dev/null
  restrict_hba monitor
}

# pg_hba.conf: trust over loopback only (local socket and 127.0.0.1), for every database, user and replication.
restrict_hba() {
  as_owner sh -c "printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' \
    'local replication all trust' 'host replication all 127.0.0.1/32 trust' > '$data/$1/pg_hba.conf'"
}

# The tuned failure detection: health checks every second, a node unhealthy after 3 s, and the standby promoted
# once the unreachable primary has had the demote timeout to notice it is cut off and demote itself.
tune_monitor_live() {
  psql_at "$monitor_port" -d pg_auto_failover >/dev/null <<SQL
ALTER SYSTEM SET pgautofailover.health_check_period = 1000;
ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000;
ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1;
ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500;
ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 3000;
ALTER SYSTEM SET pgautofailover.primary_demote_timeout = $demote_timeout_ms;
SELECT pg_reload_conf();
SQL
}

create_node() {
  local node=$1 port=$2
  as_owner pg_autoctl create postgres --pgdata "$data/$node" --pgport "$port" --pgctl "$bindir/pg_ctl" \
    --hostname "$host" --listen "$host" --name "$node" --dbname "$dbname" --username postgres \
    --monitor "$(monitor_url)" --auth trust --no-ssl >>"$data/$node.log" 2>&1 \
    || die "create $node failed (see $data/$node.log)"
  restrict_hba "$node"
  as_owner pg_autoctl config set --pgdata "$data/$node" timeout.network_partition_timeout "$partition_timeout_s" >/dev/null
}

start() {
  install_packages
  if [ -f "$data/created" ]; then
    if node_running monitor && node_running node1 && node_running node2; then
      log "already running"
    else
      log "starting the formation in $data"
      run_node monitor
      wait_for 60 "the monitor" answers "$monitor_port" pg_auto_failover
      run_node node1
      run_node node2
      wait_for 120 "a primary and a secondary" healthy
    fi
  else
    stop_all 2>/dev/null || true
    create
  fi
  log "primary: $(primary)"
  echo "DATABASE_URL=$(url)"
}

stop_node() {
  local node=$1 pid
  pid=$(cat "$data/$node.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  # a postmaster left behind by a killed pg_autoctl
  if [ -f "$data/$node/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$data/$node" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$data/$node.pid"
}

stop_all() {
  [ -d "$data" ] || { log "not created"; return 0; }
  stop_node node1
  stop_node node2
  stop_node monitor
  log "stopped"
}

kill_node() {
  local node=$1 pid
  pid=$(cat "$data/$node.pid" 2>/dev/null) || die "$node is not running"
  kill -KILL -- "-$pid"
  log "killed $node's process group $pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop_all ;;
  destroy) stop_all; rm -rf "$data"; log "deleted $data" ;;
  url) url ;;
  state) as_owner pg_autoctl show state --monitor "$(monitor_url)" ;;
  primary) primary ;;
  failover) as_owner pg_autoctl perform failover --monitor "$(monitor_url)" --formation default --group 0 --wait 60 >&2 ;;
  kill) kill_node "${2:?node}" ;;
  run) run_node "${2:?node}" ;;
  promoted-after)
    psql_at "$monitor_port" -d pg_auto_failover -tAc "SELECT round((extract(epoch FROM min(eventtime)) - ${2:?epoch})::numeric, 2) \
      FROM pgautofailover.event WHERE reportedstate IN ('wait_primary', 'primary') AND reportedstate = goalstate \
      AND description LIKE 'New state is reported%' AND eventtime > to_timestamp(${2:?epoch})" ;;
  wait-healthy) wait_for "${2:-120}" "a primary and a secondary" healthy ;;
  *) echo "usage: $0 start|stop|destroy|url|state|primary|failover|kill NODE|run NODE|wait-healthy [SECS]|promoted-after EPOCH" >&2; exit 2 ;;
esac
