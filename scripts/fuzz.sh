#!/usr/bin/env bash
# Fuzzes the running API from the committed OpenAPI document with schemathesis: no 5xx, and every response
# conforms to the documented schema. schemathesis comes from the per-machine tool cache
# (scripts/tools.sh: installed there from PyPI on first use, pinned version).
#
#   FUZZ_EXAMPLES=25 scripts/fuzz.sh     examples per operation (default 25; CI keeps it small)
#
# Needs DATABASE_URL (the Makefile sets it). Runs against a fresh database on the same server.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
: "${DATABASE_URL:?DATABASE_URL must be set}"
examples="${FUZZ_EXAMPLES:-25}"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
venv="$(python_tool schemathesis "$SCHEMATHESIS_VERSION")"

cargo build --quiet --bin coalesce
bin="$root/target/debug/coalesce"

# a fresh database on the same server
server_url="${DATABASE_URL%%\?*}"; server_url="${server_url%/*}"
query=""; case "$DATABASE_URL" in *\?*) query="?${DATABASE_URL#*\?}";; esac
db="coalesce_fuzz_$$"
psql -X -q "$server_url/postgres$query" -c "CREATE DATABASE $db" >/dev/null
fuzz_url="$server_url/$db$query"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="$root/target/fuzz-server.log"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  psql -X -q "$server_url/postgres$query" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
}
trap cleanup EXIT

demo=$(DATABASE_URL="$fuzz_url" "$bin" admin demo)
token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["access_token"])' "$demo")
export COALESCE_FUZZ_ACCOUNT_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["account_id"])' "$demo")
# some contacts and a conversation so that ids the fuzzer tries sometimes exist
psql -X -q "$fuzz_url" -c "INSERT INTO contacts (account_id, name, email) SELECT $COALESCE_FUZZ_ACCOUNT_ID, 'Fuzz ' || g, 'fuzz' || g || '@example.com' FROM generate_series(1, 2000) g" >/dev/null

# No deliveries (worker off) and webhook hosts may be private: generated hosts are mostly unresolvable or
# reserved names, and the address rule has its own acceptance tests (tests/acceptance/webhooks.rs).
DATABASE_URL="$fuzz_url" RUST_LOG=warn COALESCE_RATE_LIMIT_PER_SECOND=0 COALESCE_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE=0 \
  COALESCE_WEBHOOK_WORKER=false COALESCE_WEBHOOK_ALLOW_PRIVATE=true COALESCE_METRICS_BIND= \
  "$bin" serve --bind "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "fuzz: $examples examples per operation against http://127.0.0.1:$port" >&2
status=0
# the hooks make state-bound values (Idempotency-Key, source_id, email, webhook URL) unique per request; see the file
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH="$root/scripts${PYTHONPATH:+:$PYTHONPATH}" \
"$venv/bin/python" -m schemathesis.cli run "$root/openapi/openapi.json" \
  --url "http://127.0.0.1:$port" \
  --header "api_access_token: $token" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$examples" \
  --seed 20261129 \
  --generation-deterministic \
  --no-color \
  --request-timeout 30 || status=$?
if grep -q "internal error" "$log"; then
  echo "fuzz: the server answered 500 (see $log)" >&2
  status=1
fi
exit $status
