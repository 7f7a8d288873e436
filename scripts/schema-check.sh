#!/usr/bin/env bash
# Regenerates schema.rs from the migrations with the diesel CLI on a scratch database and compares it with the
# committed file. `scripts/schema-check.sh write` rewrites the committed file instead.
# Needs DATABASE_URL (the Makefile sets it) and installs the diesel CLI under target/tools when missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
diesel="$root/target/tools/bin/diesel"
if [ ! -x "$diesel" ]; then
  echo "schema: installing the diesel CLI into target/tools (once)" >&2
  cargo install --quiet --root "$root/target/tools" diesel_cli --version '^2.3' \
    --no-default-features --features postgres --locked >&2
fi
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
