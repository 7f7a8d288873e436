#!/usr/bin/env bash
# `make test-ha`: a fresh pg_auto_failover formation (scripts/ha.sh, data in target/ha-test), the failover test
# against it (crates/server/tests/binary/ha.rs: a planned switchover and a kill -9 of the primary under load
# from several HTTP clients on two `coalesce serve` processes), then the formation is deleted, pass or fail.
# It uses the ports of `make ha` (COALESCE_HA_PORT_BASE, default 54370-54372), so stop that one first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export COALESCE_HA_DATA="${COALESCE_HA_TEST_DATA:-$root/target/ha-test}"
base="${COALESCE_HA_PORT_BASE:-54370}"
for port in "$base" $((base + 1)) $((base + 2)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "test-ha: port $port is in use (is \`make ha\` running? \`make ha-stop\` first)" >&2
    exit 1
  fi
done
# the test binary first, so that the formation does not idle while it builds
cargo test -p server --test binary --no-run
trap 'scripts/ha.sh destroy || true' EXIT
scripts/ha.sh destroy >/dev/null 2>&1 || true
scripts/ha.sh start
cargo test -p server --test binary ha:: -- --ignored --nocapture --test-threads 1
