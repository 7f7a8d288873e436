#!/usr/bin/env bash
# Regenerates schema.rs from the migrations with the diesel CLI on a scratch database and compares it with the
# committed file. `scripts/schema-check.sh write` rewrites the committed file instead.
# Needs DATABASE_URL (the Makefile sets it); the diesel CLI comes from the per-machine tool cache (scripts/tools.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"
diesel="$(cargo_tool diesel_cli "$DIESEL_CLI_VERSION" diesel --no-default-features --features postgres)"
: "${DATABASE_URL:?DATABASE_URL must be set}"
scratch="schema_check_$$"
server="${DATABASE_URL%/*}"
query=""
case "$DATABASE_URL" in *\?*) query="?${DATABASE_URL#*\?}"; server="${DATABASE_URL%%\?*}"; server="${server%/*}";; esac
admin_url="$server/postgres$query"
scratch_url="$server/$scratch$query"
psql -X -q "$admin_url" -c "CREATE DATABASE $scratch" >/dev/null
trap 'psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null' EXIT
"$diesel" migration run --database-url "$scratch_url" --migration-dir "$root/migrations" >/dev/null
generated="$(mktemp)"
"$diesel" print-schema --database-url "$scratch_url" > "$generated"
committed="crates/adapters-postgres/src/schema.rs"
if [ "${1:-check}" = write ]; then
  cp "$generated" "$committed"
  echo "schema: wrote $committed"
elif diff -u "$committed" "$generated"; then
  echo "schema: $committed matches the migrations"
else
  echo "schema: $committed differs from the migrations; run 'make schema'" >&2
  exit 1
fi
